"""Capture the environment a run executes in: Python, platform, host and installed packages.

Two runs with the same code and data can still differ because a library changed; the run
record therefore keeps the version of every installed distribution. Listing them reads every
distribution's metadata (tens of milliseconds), so the list is cached for the process.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable
from typing import Any

from dcai.errors import InvalidInputError

__all__ = ["capture_environment", "package_versions"]

_SEPARATORS = re.compile(r"[-_.]+")


def capture_environment() -> dict[str, Any]:
    """Describe the running interpreter, machine and installed distributions, JSON-ready.

    Returns
    -------
    dict
        ``python`` (``version``, ``implementation``, ``executable``), ``platform``
        (``system``, ``release``, ``machine``), ``hostname``, ``pid`` and ``packages``: the
        version of every installed distribution by normalized name (lower case, runs of
        ``-_.`` as ``-``), sorted by name.

    Notes
    -----
    The package list is read once per process and copied on each call, so changing the
    returned dict never changes later results. Packages installed while the process runs
    are not seen. When a distribution is installed twice on ``sys.path``, the first one wins,
    as it does for ``import``.

    Examples
    --------
    >>> import platform
    >>> env = capture_environment()
    >>> env["python"]["version"] == platform.python_version()
    True
    >>> "numpy" in env["packages"]
    True
    """
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "hostname": socket.gethostname(),
        # Read on every call: a forked worker has its own pid.
        "pid": os.getpid(),
        "packages": dict(_installed_distributions()),
    }


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Return the installed version of each named distribution, None when not installed.

    Use it to record just the libraries a result depends on (e.g. in a model card).

    Parameters
    ----------
    names : iterable of str
        Distribution names as on PyPI (``scikit-learn``, not ``sklearn``); the lookup
        ignores case and ``-_.`` differences. Keys of the result are the names as given.

    Returns
    -------
    dict
        ``{name: version or None}`` in the order of ``names``.

    Raises
    ------
    InvalidInputError
        When ``names`` is a single string or holds something other than strings.

    Examples
    --------
    >>> versions = package_versions(["numpy", "surely-not-installed-dcai-xyz"])
    >>> versions["numpy"] is not None, versions["surely-not-installed-dcai-xyz"]
    (True, None)
    """
    if isinstance(names, str | bytes):
        raise InvalidInputError(
            f"names must be a list of distribution names, got the string {names!r}",
            hint=f"Pass a list: package_versions([{names!r}]).",
        )
    result: dict[str, str | None] = {}
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                f"names must hold non-empty strings, got {name!r}",
                hint="Pass distribution names such as 'numpy' or 'scikit-learn'.",
            )
        try:
            result[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            result[name] = None
    return result


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str, str] | None:
    """``Name`` and ``Version`` from the metadata file's header lines.

    ``dist.metadata`` runs the e-mail parser over the whole file (long descriptions
    included): ~1 ms a package, 0.4 s for a few hundred. The two header fields are all a run
    records, and they come first.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return None
    name = version = None
    for line in text.splitlines():
        if not line:  # the end of the headers
            break
        if name is None and line.startswith("Name:"):
            name = line[5:].strip()
        elif version is None and line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            return name, version
    return None


@functools.cache
def _installed_distributions() -> tuple[tuple[str, str], ...]:
    versions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        # Broken metadata (e.g. a half-removed install) has no name; skip it.
        found = _name_and_version(dist)
        if found is None:
            continue
        name = _SEPARATORS.sub("-", found[0]).lower()
        # distributions() walks sys.path in order; the first hit is the one imported.
        versions.setdefault(name, found[1])
    return tuple(sorted(versions.items()))
