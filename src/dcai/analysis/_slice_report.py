"""The result of :func:`~dcai.analysis.find_slices`: the slices, their figures, the settings."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai.analysis._slice_predicates import slice_mask

__all__ = ["SLICE_COLUMNS", "SliceReport", "empty_report"]

#: The columns of :attr:`SliceReport.slices`, in order.
SLICE_COLUMNS = (
    "name",
    "predicates",
    "size",
    "share",
    "error_rate",
    "error_rate_outside",
    "lift",
    "p_value",
    "p_adjusted",
    "score",
    "excess_errors",
)


@dataclass(frozen=True)
class SliceReport:
    """The slices :func:`find_slices` found, and how it looked for them.

    Attributes
    ----------
    slices
        One row per reported slice, best first, with the columns :data:`SLICE_COLUMNS`:
        ``name`` (e.g. ``"colour == red & 0.5 ≤ x1 < 1.2"``), ``predicates`` (a list of
        ``(column, op, value)`` triples for :func:`~dcai.analysis.slice_mask`), ``size``,
        ``share`` (of all rows), ``error_rate`` (mean error or loss in the slice),
        ``error_rate_outside``, ``lift`` (error rate over the overall rate), ``p_value`` (one
        sided, slice worse than the rest), ``p_adjusted`` (Bonferroni: ``p_value ×
        n_candidates``, capped at 1), ``score`` (SliceLine's) and ``excess_errors`` (``size ×
        (error_rate − error_rate_outside)``, the ranking key).
    overall_error_rate
        Mean error (or loss) over all rows.
    n_candidates
        Slices of at least ``min_size`` rows that were evaluated: the Bonferroni family.
    n_rows, min_size, alpha
        The data's size and the settings used.
    threshold
        The per-slice p-value threshold ``alpha / n_candidates``.
    max_predicates
        The largest number of predicates searched (lower than asked after a fallback).
    test
        ``"fisher"`` (0/1 errors) or ``"welch"`` (a loss).
    columns
        The columns that gave predicates.
    notes
        What was skipped or changed, and why (in plain words, for reports).
    """

    slices: pd.DataFrame
    overall_error_rate: float
    n_candidates: int
    n_rows: int
    min_size: int
    alpha: float
    threshold: float
    max_predicates: int
    test: str
    columns: tuple[Hashable, ...] = ()
    notes: tuple[str, ...] = ()

    def masks(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each reported slice's membership on ``frame``: one boolean column per slice, by name.

        ``frame`` may be the data the slices were found on or another version of it with the
        same columns (a new batch, the cleaned data); the predicates are re-applied as they are.
        """
        columns = {row.name: slice_mask(frame, row.predicates) for row in self.slices.itertuples()}
        return pd.DataFrame(columns, index=frame.index, columns=list(self.slices["name"]))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready Python objects (no NaN: a missing number is ``None``)."""
        records = []
        for record in self.slices.to_dict(orient="records"):
            record["predicates"] = [list(p) for p in record["predicates"]]
            records.append({k: _json_value(v) for k, v in record.items()})
        return {
            "overall_error_rate": _json_value(self.overall_error_rate),
            "n_candidates": self.n_candidates,
            "n_rows": self.n_rows,
            "min_size": self.min_size,
            "alpha": self.alpha,
            "threshold": _json_value(self.threshold),
            "max_predicates": self.max_predicates,
            "test": self.test,
            "columns": [_json_value(c) for c in self.columns],
            "notes": list(self.notes),
            "slices": records,
        }

    def __repr__(self) -> str:
        return (
            f"SliceReport({len(self.slices)} slice(s) from {self.n_candidates:,} candidates; "
            f"overall error rate {self.overall_error_rate:.4g}, min_size {self.min_size:,})"
        )


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def empty_report(
    overall: float,
    n: int,
    min_size: int,
    alpha: float,
    test: str,
    columns: Sequence[Hashable],
    notes: Sequence[str],
    *,
    n_candidates: int = 0,
    max_predicates: int = 0,
) -> SliceReport:
    """A report without slices (no errors, no candidate, nothing significant)."""
    dtypes = {"name": object, "predicates": object, "size": np.int64}
    frame = pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, np.float64)) for c in SLICE_COLUMNS})
    return SliceReport(
        slices=frame,
        overall_error_rate=overall,
        n_candidates=n_candidates,
        n_rows=n,
        min_size=min_size,
        alpha=alpha,
        threshold=alpha / n_candidates if n_candidates else alpha,
        max_predicates=max_predicates,
        test=test,
        columns=tuple(columns),
        notes=tuple(notes),
    )
