"""Performance audit: declarative requirements on slices, checked like tests (a CI gate).

A requirements file is TOML, one ``[[requirement]]`` table per rule::

    # every device must reach recall 0.9
    [[requirement]]
    metric = "recall"
    each = "device"           # every value of this column (or tag: true/false)
    min = 0.9

    # no analysed slice more than 5 points below overall
    [[requirement]]
    metric = "accuracy"
    max_gap_to_overall = 0.05

    # a slice written by hand
    [[requirement]]
    slice = "snr_db < 5 and device == 'car'"
    metric = "error_rate"
    max = 0.2
    on = "high"               # judge the interval's bound, not the point estimate

Keys: ``metric`` (``accuracy``, ``error_rate``, ``recall``, ``f1``; recall and F1 are macro
over the classes present in the slice), one of ``each`` / ``slice`` (``"all"`` is the whole
data) / ``max_gap_to_overall`` (applies to every analysed slice), a threshold ``min`` and/or
``max`` (not with ``max_gap_to_overall``), optional ``name`` and ``on`` (``value``, the
default; ``low`` or ``high``, the bootstrap interval's ends, for a stricter gate). A slice with
no examples fails its requirement with that reason rather than passing silently.

>>> import numpy as np, pandas as pd
>>> frame = pd.DataFrame({"device": ["car", "car", "phone", "phone"]})
>>> reqs = parse_requirements({"requirement": [{"metric": "accuracy", "each": "device", "min": 0.9}]})
>>> result = check_requirements(reqs, ["a", "a", "a", "a"], ["b", "a", "a", "a"], frame)
>>> result.passed, result.failures["slice"].tolist()
(False, ['device == car'])
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dcai._validate import check_n_boot
from dcai.analysis._metrics import metric_by_group
from dcai.analysis._slice_predicates import parse_slice, slice_mask
from dcai.errors import InvalidInputError

__all__ = [
    "Requirement",
    "RequirementsResult",
    "check_requirements",
    "load_requirements",
    "parse_requirements",
]

METRICS = ("accuracy", "error_rate", "recall", "f1")
_KEYS = {"name", "metric", "each", "slice", "min", "max", "max_gap_to_overall", "on"}
#: ``each`` refuses columns with more distinct values than this (bin them or write slices).
MAX_EACH_VALUES = 100


@dataclass(frozen=True)
class Requirement:
    """One rule of a requirements file (see the module docstring)."""

    metric: str
    name: str = ""
    each: str | None = None
    slice: str | None = None
    min: float | None = None
    max: float | None = None
    max_gap_to_overall: float | None = None
    on: str = "value"

    def describe(self) -> str:
        if self.name:
            return self.name
        if self.max_gap_to_overall is not None:
            return f"no slice more than {self.max_gap_to_overall:g} below overall {self.metric}"
        scope = f"every {self.each}" if self.each else (self.slice or "all")
        bounds = " and ".join(
            f"{self.metric} {op} {v:g}"
            for op, v in ((">=", self.min), ("<=", self.max))
            if v is not None
        )
        return f"{scope}: {bounds}"


@dataclass(frozen=True)
class RequirementsResult:
    """Every check made: ``checks`` has one row per (requirement, slice)."""

    checks: pd.DataFrame
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks["passed"].all()) if len(self.checks) else True

    @property
    def failures(self) -> pd.DataFrame:
        return self.checks[~self.checks["passed"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        records = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in self.checks.to_dict(orient="records")
        ]
        return {
            "passed": self.passed,
            "source": self.source,
            "n_checks": len(records),
            "n_failures": int((~self.checks["passed"]).sum()) if len(self.checks) else 0,
            "checks": records,
            "notes": list(self.notes),
        }


def load_requirements(path: str | Path) -> list[Requirement]:
    """Read a TOML requirements file; errors name the file and the requirement."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError("no such file", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(
            f"not valid TOML: {exc}", path=str(path), hint="See the example in docs/analysis.md."
        ) from exc
    return parse_requirements(data, source=str(path))


def parse_requirements(
    data: Mapping[str, Any], *, source: str = "<requirements>"
) -> list[Requirement]:
    """Requirements from parsed TOML (``{"requirement": [ {...}, ... ]}``)."""
    tables = data.get("requirement")
    if not isinstance(tables, list) or not tables:
        raise InvalidInputError(
            "no [[requirement]] tables",
            path=source,
            hint='Write e.g. [[requirement]] metric = "recall" each = "device" min = 0.9',
        )
    return [_one(table, i + 1, source) for i, table in enumerate(tables)]


def _one(table: Any, number: int, source: str) -> Requirement:
    where = f"requirement {number}"

    def bad(message: str, hint: str = "") -> InvalidInputError:
        return InvalidInputError(f"{where}: {message}", path=source, hint=hint)

    if not isinstance(table, Mapping):
        raise bad("is not a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}", f"Use {', '.join(sorted(_KEYS))}.")
    metric = table.get("metric", "accuracy")
    if metric not in METRICS:
        raise bad(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    scopes = [k for k in ("each", "slice", "max_gap_to_overall") if k in table]
    if len(scopes) != 1:
        raise bad("give exactly one of each, slice or max_gap_to_overall")
    numbers = {}
    for key in ("min", "max", "max_gap_to_overall"):
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise bad(f"{key} must be a number; got {value!r}")
        numbers[key] = None if value is None else float(value)
    if scopes[0] != "max_gap_to_overall" and numbers["min"] is None and numbers["max"] is None:
        raise bad("give a threshold: min or max", "e.g. min = 0.9")
    if scopes[0] == "max_gap_to_overall" and (
        numbers["min"] is not None or numbers["max"] is not None
    ):
        raise bad("max_gap_to_overall takes no min or max")
    on = table.get("on", "value")
    if on not in ("value", "low", "high"):
        raise bad(f"on must be value, low or high; got {on!r}")
    slice_text = table.get("slice")
    if slice_text is not None and slice_text != "all":
        parse_slice(str(slice_text))  # refuse a bad expression now, with its own message
    return Requirement(
        metric=metric,
        name=str(table.get("name", "")),
        each=None if table.get("each") is None else str(table["each"]),
        slice=None if slice_text is None else str(slice_text),
        min=numbers["min"],
        max=numbers["max"],
        max_gap_to_overall=numbers["max_gap_to_overall"],
        on=on,
    )


def check_requirements(
    requirements: Sequence[Requirement],
    y_true: Any,
    y_pred: Any,
    frame: pd.DataFrame,
    *,
    slices: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
    source: str = "",
) -> RequirementsResult:
    """Check every requirement on the examples (``frame`` holds their columns, row-aligned).

    ``slices`` are the analysed slices (name → mask) that ``max_gap_to_overall`` applies to.
    """
    n_boot = check_n_boot(n_boot)  # checked even when no requirement needs an interval
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(true)
    if len(frame) != n:
        raise InvalidInputError(f"frame has {len(frame)} rows for {n} examples")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for number, req in enumerate(requirements, start=1):
        masks = _scope_masks(req, frame, slices or {}, n)
        if req.max_gap_to_overall is None and not masks:
            notes.append(f"requirement {number} ({req.describe()}): no slices to check")
            continue
        groups = {"all": np.ones(n, dtype=bool), **masks}
        scores = metric_by_group(
            true,
            pred,
            pd.DataFrame(groups),
            metric=req.metric,
            n_boot=n_boot if req.on != "value" else 0,
            confidence=confidence,
            random_state=random_state,
        ).set_index("group")
        overall = float(scores.loc["all", "value"])
        for name in masks:
            score = scores.loc[name]
            judged = score[req.on]
            row = {
                "requirement": number,
                "rule": req.describe(),
                "slice": name,
                "metric": req.metric,
                "n": int(score["n"]),
                "value": None if pd.isna(score["value"]) else float(score["value"]),
                "judged_on": req.on,
                "threshold": None,
                "passed": False,
                "detail": "",
            }
            if int(score["n"]) == 0 or pd.isna(judged):
                row["detail"] = "no examples in this slice"
                rows.append(row)
                continue
            judged = float(judged)
            failures = []
            if req.max_gap_to_overall is not None:
                # error_rate: higher is worse, so the gap runs the other way.
                gap = judged - overall if req.metric == "error_rate" else overall - judged
                row["threshold"] = req.max_gap_to_overall
                if gap > req.max_gap_to_overall:
                    failures.append(f"{gap * 100:.1f} points worse than overall ({overall:.3f})")
            if req.min is not None:
                row["threshold"] = req.min
                if judged < req.min:
                    failures.append(f"{judged:.3f} < {req.min:g}")
            if req.max is not None:
                row["threshold"] = req.max if req.min is None else row["threshold"]
                if judged > req.max:
                    failures.append(f"{judged:.3f} > {req.max:g}")
            row["passed"] = not failures
            row["detail"] = "; ".join(failures) or "ok"
            rows.append(row)
    columns = [
        "requirement",
        "rule",
        "slice",
        "metric",
        "n",
        "value",
        "judged_on",
        "threshold",
        "passed",
        "detail",
    ]
    checks = pd.DataFrame(rows, columns=columns)
    checks["passed"] = checks["passed"].astype(bool)
    return RequirementsResult(checks=checks, source=source, notes=notes)


def _scope_masks(
    req: Requirement, frame: pd.DataFrame, slices: Mapping[str, Any], n: int
) -> dict[str, np.ndarray]:
    if req.max_gap_to_overall is not None:
        return {str(k): np.asarray(v, dtype=bool) for k, v in slices.items() if k != "all"}
    if req.slice is not None:
        if req.slice == "all":
            return {"all (whole data)": np.ones(n, dtype=bool)}
        return {req.slice: slice_mask(frame, parse_slice(req.slice))}
    column = req.each
    assert column is not None  # exactly one scope was checked on parsing
    if column not in frame.columns:
        listing = ", ".join(str(c) for c in frame.columns[:12])
        raise InvalidInputError(
            f"requirement on each {column!r}: no such column",
            column=column,
            hint=f"Use one of: {listing}.",
        )
    values = frame[column]
    distinct = values.dropna().unique()
    if len(distinct) > MAX_EACH_VALUES:
        raise InvalidInputError(
            f"requirement on each {column!r}: {len(distinct)} distinct values",
            column=column,
            hint="Bin the column (or tag the groups) and require on those, or write slices.",
        )
    out = {f"{column} == {v}": (values == v).to_numpy() for v in sorted(distinct, key=str)}
    if values.isna().any():
        out[f"{column} is missing"] = values.isna().to_numpy()
    return out
