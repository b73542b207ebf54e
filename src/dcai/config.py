"""Workspace settings: explicit argument > ``DCAI_*`` environment > ``dcai.toml`` > default.

The store is chosen by URL, so the same code runs on SQLite and local files (the default)
or on PostgreSQL and object storage once a team outgrows one machine.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> s = Settings.load(root)
>>> s.metadata_url.startswith("sqlite:///")
True
>>> s.objects_url == str(root / "objects")
True
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dcai.errors import WorkspaceError

__all__ = ["CONFIG_FILE", "DEFAULT_CONFIG", "Settings", "default_workspace_path"]

CONFIG_FILE = "dcai.toml"

DEFAULT_CONFIG = """\
# dcai workspace settings.
# Precedence: explicit argument > DCAI_* environment variable > this file > default.

[store]
# Metadata database. Relative sqlite paths are inside this folder.
# A team can point this at PostgreSQL: "postgresql+psycopg://user@host/dcai".
metadata_url = "sqlite:///metadata.db"
# Content-addressed data and artifacts: a folder here, or an fsspec URL ("s3://bucket/dcai").
objects_url = "objects"
# Options for an fsspec object store (endpoint, credentials profile, ...), e.g.
# storage_options = { client_kwargs = { endpoint_url = "http://127.0.0.1:9000" } }

[compute]
# "joblib" uses this machine's cores; "dask" sends the same work to a Dask cluster.
backend = "joblib"
# scheduler_address = "tcp://scheduler:8786"

[serve]
# Changing deployments over HTTP needs this bearer token (or DCAI_ADMIN_TOKEN); off when unset.
# admin_token = "..."
# Put predict and feedback behind a bearer token too (or DCAI_SERVE_TOKEN).
# token = "..."
# Columns marked --sensitive in the training data: "hash" (keyed HMAC-SHA256, the default) or
# "drop" them from the prediction log.
# sensitive = "hash"
# The HMAC key (or DCAI_LOG_HASH_KEY); by default a random key kept in secrets/log-hash-key.
# log_hash_key = "..."

[monitor]
# The window `dcai monitor` reads the prediction log in (or --window / --every).
window = "1h"
# Alerts are printed, appended to this JSON Lines file (relative to this folder) and, when set,
# POSTed as JSON to a webhook (retried with back-off, never blocking monitoring).
alerts_file = "monitor/alerts.jsonl"
# webhook = "https://hooks.example.com/dcai"
# One table per rule (docs/monitor.md): a fixed threshold, or limits learned from the first
# windows (mean +- k sd); an alert fires after `consecutive` windows in breach.
# [[monitor.rules]]
# name = "errors"
# metric = "error_rate"
# op = ">"
# threshold = 0.01
# consecutive = 2
# [[monitor.rules]]
# name = "confidence"
# metric = "confidence_mean"
# op = "<"
# calibrated = true

# The project's scope (docs/project.md): `dcai scope target` and `dcai scope baseline` write
# here, `dcai status` holds each target against the newest measured value.
# [project.targets]
# accuracy = ">= 0.95"
# latency_p95_seconds = "<= 0.05"
# [project.baselines.old_system]
# metric = "accuracy"
# value = 0.91
# source = "the rules engine in production"
"""


def default_workspace_path() -> Path:
    """``$DCAI_HOME`` when set, else ``./.dcai``."""
    home = os.environ.get("DCAI_HOME")
    return Path(home) if home else Path(".dcai")


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one workspace."""

    root: Path
    metadata_url: str
    objects_url: str
    compute_backend: str = "joblib"
    scheduler_address: str | None = None
    #: Passed to fsspec for an object-store URL (``[store] storage_options`` or
    #: ``DCAI_STORAGE_OPTIONS`` as JSON).
    storage_options: dict[str, Any] = field(default_factory=dict)
    #: Bearer token for changing deployments over HTTP (``[serve] admin_token`` or
    #: ``DCAI_ADMIN_TOKEN``); None turns those routes off.
    admin_token: str | None = field(default=None, repr=False)
    #: Bearer token for predict and feedback (``[serve] token`` or ``DCAI_SERVE_TOKEN``).
    serve_token: str | None = field(default=None, repr=False)
    #: What the prediction log keeps of sensitive columns: ``"hash"`` or ``"drop"``
    #: (``[serve] sensitive``).
    log_sensitive: str = "hash"
    #: Key of the log's HMAC (``[serve] log_hash_key`` or ``DCAI_LOG_HASH_KEY``); None: a random
    #: key kept in the workspace.
    log_hash_key: str | None = field(default=None, repr=False)
    #: The ``[monitor]`` table as written (``window``, ``webhook``, ``[[monitor.rules]]``,
    #: ``[monitor.retrain]``); :mod:`dcai.monitor.alerts` checks the rules when it reads them.
    monitor: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, **overrides: Any) -> Settings:
        """Read ``root/dcai.toml`` (if any), then the environment, then ``overrides``."""
        root = Path(root)
        data: dict[str, Any] = {}
        config_path = root / CONFIG_FILE
        if config_path.exists():
            try:
                data = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise WorkspaceError(
                    f"cannot parse the workspace settings: {exc}",
                    path=str(config_path),
                    hint="Fix the TOML syntax, or delete the file to use the defaults.",
                ) from exc
        _check_keys(data, config_path)
        store = data.get("store", {})
        compute = data.get("compute", {})
        serve = data.get("serve", {})
        settings = cls(
            root=root,
            metadata_url=_resolve_sqlite(
                root,
                os.environ.get(
                    "DCAI_METADATA_URL", store.get("metadata_url", "sqlite:///metadata.db")
                ),
            ),
            objects_url=_resolve_local(
                root, os.environ.get("DCAI_OBJECTS_URL", store.get("objects_url", "objects"))
            ),
            compute_backend=os.environ.get(
                "DCAI_COMPUTE_BACKEND", compute.get("backend", "joblib")
            ),
            scheduler_address=os.environ.get(
                "DCAI_SCHEDULER_ADDRESS", compute.get("scheduler_address")
            ),
            storage_options=_storage_options(store.get("storage_options", {}), config_path),
            admin_token=os.environ.get("DCAI_ADMIN_TOKEN", serve.get("admin_token")) or None,
            serve_token=os.environ.get("DCAI_SERVE_TOKEN", serve.get("token")) or None,
            log_sensitive=_log_sensitive(serve.get("sensitive", "hash"), config_path),
            log_hash_key=os.environ.get("DCAI_LOG_HASH_KEY", serve.get("log_hash_key")) or None,
            monitor=dict(data.get("monitor", {})),
        )
        explicit = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **explicit) if explicit else settings


#: Every section and key ``dcai.toml`` may hold; anything else is a typo, refused by name.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "store": ("metadata_url", "objects_url", "storage_options"),
    "compute": ("backend", "scheduler_address"),
    "serve": ("admin_token", "token", "sensitive", "log_hash_key"),
    "monitor": ("window", "webhook", "alerts_file", "rules", "retrain"),
    "project": ("targets", "baselines"),
}


def _log_sensitive(value: Any, path: Path) -> str:
    """``[serve] sensitive``: ``"hash"`` or ``"drop"``."""
    if value not in ("hash", "drop"):
        raise WorkspaceError(
            f"[serve] sensitive = {value!r} is not understood",
            path=str(path),
            hint='Write sensitive = "hash" (keyed hashes in the log) or "drop" (left out).',
        )
    return str(value)


def _check_keys(data: dict[str, Any], path: Path) -> None:
    """Refuse unknown sections and keys: a typo must not silently fall back to a default.

    >>> try:
    ...     _check_keys({"store": {"objets_url": "x"}}, Path("dcai.toml"))
    ... except WorkspaceError as error:
    ...     print(error.message, "|", error.hint)
    unknown key 'objets_url' in [store] | Valid keys: metadata_url, objects_url, storage_options.
    """
    for section, values in data.items():
        if section not in KNOWN_KEYS:
            raise WorkspaceError(
                f"unknown section [{section}]",
                path=str(path),
                hint=f"Valid sections: {', '.join(f'[{s}]' for s in KNOWN_KEYS)}.",
            )
        if not isinstance(values, dict):
            raise WorkspaceError(f"[{section}] must be a table of keys", path=str(path))
        for key in values:
            if key not in KNOWN_KEYS[section]:
                raise WorkspaceError(
                    f"unknown key {key!r} in [{section}]",
                    path=str(path),
                    hint=f"Valid keys: {', '.join(KNOWN_KEYS[section])}.",
                )


def _storage_options(value: Any, path: Path) -> dict[str, Any]:
    raw = os.environ.get("DCAI_STORAGE_OPTIONS")
    if raw:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise WorkspaceError(
                f"DCAI_STORAGE_OPTIONS is not valid JSON: {exc.msg}",
                hint='Give a JSON object, e.g. {"anon": true}.',
            ) from exc
        where = "DCAI_STORAGE_OPTIONS"
    else:
        where = f"{path} [store] storage_options"
    if not isinstance(value, dict):
        raise WorkspaceError(
            f"{where} must be a table (JSON object) of fsspec options",
            hint="For example storage_options = { anon = true }.",
        )
    return dict(value)


def _resolve_sqlite(root: Path, url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        relative = url[len(prefix) :]
        if relative and relative != ":memory:" and not Path(relative).is_absolute():
            return prefix + str((root / relative).resolve())
    return url


def _resolve_local(root: Path, url: str) -> str:
    if "://" in url and not url.startswith("file://"):
        return url
    path = Path(url.removeprefix("file://"))
    return str(path if path.is_absolute() else (root / path).resolve())
