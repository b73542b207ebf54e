"""Sensitive columns in the prediction log: a keyed hash, or nothing at all.

A column marked ``--sensitive`` in the data a model was trained on is flagged in the model's
signature; every process that logs that model's inputs (``dcai serve``, ``dcai predict``) then
writes, per ``[serve] sensitive``:

* ``"hash"`` (default) — ``hmac-sha256:<32 hex>``, HMAC-SHA256 under a key of the workspace
  (``[serve] log_hash_key``, ``DCAI_LOG_HASH_KEY``, else a random key created once in
  ``<workspace>/secrets/log-hash-key``, readable by its owner only). Equal values give equal
  hashes, so rows can still be grouped and joined; without the key a hash cannot be reversed by
  trying every age or postcode, which a plain hash of a low-entropy value allows
  (pseudonymisation in the sense of GDPR art. 4(5); NIST SP 800-122 §4.2.3).
* ``"drop"`` — the column is left out of the logged inputs.

Missing values stay ``null`` (a missing value tells nothing about a person). The raw values
are never written: the logs, the datasets made from them and the ramp's guards only see the
hash or nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dcai.deploy._models import LoadedModel
    from dcai.store import Stores

__all__ = ["HASH_PREFIX", "Redactor", "log_hash_key", "redactor_for", "sensitive_inputs"]

HASH_PREFIX = "hmac-sha256:"
_KEY_FILE = ("secrets", "log-hash-key")


def log_hash_key(stores: Stores) -> bytes:
    """The workspace's HMAC key for the logs: configured, else created once (mode 0600)."""
    configured = stores.settings.log_hash_key
    if configured:
        return configured.encode()
    path = stores.path.joinpath(*_KEY_FILE)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:  # created once, atomically: two servers starting together agree on one key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def sensitive_inputs(*models: LoadedModel | None) -> frozenset[str]:
    """The input columns any of ``models`` was trained with marked sensitive."""
    return frozenset(
        str(item["name"])
        for model in models
        if model is not None
        for item in model.inputs
        if item.get("sensitive")
    )


def _canonical(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Redactor:
    """Applies ``mode`` (``hash`` or ``drop``) to ``columns`` of a logged record.

    >>> redact = Redactor(frozenset({"age"}), "hash", b"key")
    >>> redact({"age": 41, "x": 1.5})["age"] == redact({"age": 41.0, "x": 0})["age"]
    True
    >>> Redactor(frozenset({"age"}), "drop", b"key")({"age": 41, "x": 1.5})
    {'x': 1.5}
    """

    columns: frozenset[str]
    mode: str
    key: bytes

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        if not self.columns or not self.columns.intersection(record):
            return record
        out = {}
        for name, value in record.items():
            if name not in self.columns or value is None or value != value:  # NaN stays null
                out[name] = value
            elif self.mode == "hash":
                out[name] = self.hash_value(value)
        return out

    def hash_value(self, value: Any) -> str:
        """The logged form of one value (mode ``hash``), to look a value up in the log."""
        digest = hmac.new(self.key, _canonical(value).encode(), hashlib.sha256)
        return HASH_PREFIX + digest.hexdigest()[:32]


def redactor_for(stores: Stores, models: Iterable[LoadedModel | None]) -> Redactor:
    """The redactor for a deployment's models (a no-op when none has sensitive inputs)."""
    columns = sensitive_inputs(*models)
    key = log_hash_key(stores) if columns and stores.settings.log_sensitive == "hash" else b""
    return Redactor(columns, stores.settings.log_sensitive, key)
