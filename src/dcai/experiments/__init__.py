"""Experiments: runs that record code, data, parameters and results together.

* the code version of a run (git commit, branch, dirty flag, diff and its hash, untracked
  files; outside git, the entry script's hash) and its environment (Python, platform,
  installed packages) — the pure capture functions here;
* runs, their store and queries live in the public workflow modules of this package.
"""

from __future__ import annotations

from dcai.experiments._code_version import CodeVersion, capture_code_version
from dcai.experiments._environment import capture_environment, package_versions

__all__ = [
    "CodeVersion",
    "capture_code_version",
    "capture_environment",
    "package_versions",
]
