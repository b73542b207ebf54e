"""The project's targets and baselines in the workspace's ``dcai.toml``, read and edited in place.

::

    [project.targets]
    f1_macro = ">= 0.9"
    latency_p95_seconds = "<= 0.05"

    [project.baselines.old_system]
    metric = "accuracy"
    value = 0.82
    source = "the rules engine in production, Nov 2026"

Edits go through ``tomlkit``, which keeps the file's comments, order and layout, and the new file
replaces the old atomically (written beside it, then renamed). Reading checks every entry and
names the key of a bad one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dcai._atomic import atomic_write_bytes
from dcai.config import CONFIG_FILE
from dcai.errors import InvalidInputError, WorkspaceError
from dcai.project._targets import Baseline, Target, parse_target

__all__ = ["read_scope", "set_baseline", "set_target"]


def _config(root: Path) -> Path:
    return root / CONFIG_FILE


def _project(root: Path) -> dict[str, Any]:
    import tomllib

    path = _config(root)
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"not valid TOML: {exc}", path=str(path)) from None
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise WorkspaceError("[project] must be a table", path=str(path))
    return project


def read_scope(root: Path) -> tuple[list[Target], list[Baseline]]:
    """The targets and baselines ``root/dcai.toml`` holds, checked (in file order)."""
    project = _project(root)
    where = f"{_config(root)} [project.targets]"
    targets = []
    for metric, text in (project.get("targets") or {}).items():
        if not isinstance(text, str):
            raise WorkspaceError(f"{metric} = {text!r} is not text", path=where,
                                 hint=f'Write {metric} = ">= 0.9".')  # fmt: skip
        try:
            targets.append(parse_target(metric, text))
        except InvalidInputError as exc:
            raise WorkspaceError(exc.message, path=where, hint=exc.hint) from None
    baselines = []
    for name, entry in (project.get("baselines") or {}).items():
        where = f"{_config(root)} [project.baselines.{name}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("metric"), str):
            raise WorkspaceError("a baseline needs metric, value and source", path=where)
        value = entry.get("value")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise WorkspaceError(f"value = {value!r} is not a number", path=where)
        baselines.append(
            Baseline(name, entry["metric"], float(value), str(entry.get("source", "")))
        )
    return targets, baselines


def _edit(root: Path, change: Any) -> None:
    import tomlkit

    path = _config(root)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = tomlkit.parse(text)
    change(document, tomlkit)
    atomic_write_bytes(path, tomlkit.dumps(document).encode("utf-8"))


def _table(parent: Any, key: str, tomlkit: Any, *, super_table: bool = False) -> Any:
    if key not in parent:
        parent[key] = tomlkit.table(is_super_table=super_table) if super_table else tomlkit.table()
    return parent[key]


def set_target(root: Path, metric: str, text: str) -> Target:
    """Add or replace the target of ``metric`` (``"OP VALUE"``); returns it parsed."""
    target = parse_target(metric, text)
    read_scope(root)  # refuse to edit a file whose [project] is already broken

    def change(document: Any, tomlkit: Any) -> None:
        project = _table(document, "project", tomlkit, super_table=True)
        _table(project, "targets", tomlkit)[target.metric] = target.text

    _edit(root, change)
    return target


def set_baseline(
    root: Path, name: str, value: float, *, source: str, metric: str | None = None
) -> Baseline:
    """Add or replace the baseline ``name``: ``value`` of ``metric``, and where it comes from.

    Without ``metric``, the metric of the project's only target.
    """
    if not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidInputError(
            f"baseline name {name!r} is not a plain name", hint="Use e.g. old_system or hlp."
        )
    if not math.isfinite(value):
        raise InvalidInputError(f"baseline value {value} is not a finite number")
    if not source.strip():
        raise InvalidInputError(
            "a baseline needs its source", hint='Say where it comes from: --source "old system".'
        )
    targets, _ = read_scope(root)  # also refuses to edit a file whose [project] is broken
    if metric is None:
        if len(targets) != 1:
            raise InvalidInputError(
                "say which metric the baseline is a value of",
                hint=f"Add --metric, e.g. dcai scope baseline {name} {value:g} --metric accuracy.",
            )
        metric = targets[0].metric
    parse_target(metric, ">= 0")  # the same metric names as targets
    chosen = metric

    def change(document: Any, tomlkit: Any) -> None:
        project = _table(document, "project", tomlkit, super_table=True)
        baselines = _table(project, "baselines", tomlkit, super_table=True)
        entry = tomlkit.table()
        entry["metric"] = chosen
        entry["value"] = float(value)
        entry["source"] = source
        baselines[name] = entry

    _edit(root, change)
    return Baseline(name, chosen, float(value), source)
