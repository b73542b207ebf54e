"""Helpers shared by the benchmark scripts: memory, versions, and their section of BENCHMARKS.md.

Each script measures in fresh child processes and rewrites only its own ``## ...`` section of
BENCHMARKS.md, so the scripts can run in any order.
"""

from __future__ import annotations

import platform
import re
import resource
import sys
from pathlib import Path

HEADER = """\
# Benchmarks

Figures measured on the reference machine: 2 cores (Linux). Each section says which
issue asked for it and what its targets are.

Reproduce with `make bench` (it creates `.venv-bench`, where peer tools such as cleanlab are
installed beside dcai, and runs every script in `benchmarks/`); each script rewrites its own
section of this file and leaves the others alone.
"""

MB = 1024 * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident set size, in bytes."""
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Python's and each package's installed version."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def mb(n: int | float) -> str:
    return f"{n / MB:,.0f} MB"


def write_section(out: Path, heading: str, section: str) -> None:
    """Replace the section that starts with ``heading`` in ``out`` (append it if missing).

    The section runs to the next level-2 heading; ``###`` subsections belong to it.
    """
    text = out.read_text(encoding="utf-8") if out.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text, encoding="utf-8")
