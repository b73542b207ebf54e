"""The project's scope — key metrics with targets, and baselines — and its status against them.

Targets and baselines live in the workspace's ``dcai.toml`` (``[project.targets]``,
``[project.baselines]``), so they are versioned with the project's code; ``dcai status``
holds each target against the newest measured value (a run, monitoring) and names the next
action from the newest error analysis.

>>> from dcai.project import parse_target
>>> parse_target("accuracy", ">= 0.95").met(0.97)
True
"""

from __future__ import annotations

from dcai.project._targets import Baseline, Target, parse_target

__all__ = ["Baseline", "Target", "parse_target"]
