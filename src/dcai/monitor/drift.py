"""Data drift, fit once: summarise a reference table, then check new batches against it.

The method, and why
-------------------
* **Numeric columns**: two-sample Kolmogorov–Smirnov test (p-values as
  ``scipy.stats.ks_2samp`` gives them: exact up to 10,000 values per sample, asymptotic
  beyond). The reference is stored sorted, so a check sorts only the current sample and finds
  both ECDFs with ``np.searchsorted``. Above ``max_exact`` finite values the reference is kept
  as ``n_quantiles`` equal-weight quantiles (``inverted_cdf`` at ``(i + 0.5) / m``): the grid's
  ECDF is the reference ECDF rounded to a multiple of ``1/m``, so the KS statistic is off by at
  most ``1 / (2m)`` (5e-5 at the default 10,000), and the Wasserstein distance by at most
  ``(max - min) / m``. Effect: Wasserstein-1 distance divided by the reference SD
  (population SD), with a seeded bootstrap interval (see
  :func:`~dcai.monitor._drift_stats.bootstrap_wasserstein`).
* **Categorical columns**: chi-square test of *homogeneity* on the 2 × K table of reference
  and current counts (``scipy.stats.chi2_contingency``) — the reference is a sample too, not
  exact proportions. Categories with an expected count below 5 are pooled into one cell (said
  in ``note``). Effect: Jensen–Shannon distance (base 2, in [0, 1]); ``psi`` is the population
  stability index (empty cells count as proportion 1e-4). Interval: multinomial bootstrap.
* **Drift** = adjusted p-value below ``alpha`` (Benjamini–Hochberg across columns by default)
  **and** the effect at least a practical minimum (0.1 reference SDs of Wasserstein, 0.1 JS
  distance): a huge sample does not alarm on trivia, a small one not on noise.
* Missing values (NaN/None) and ±inf are left out of the tests and counted; the share of
  missing values per side is in ``missing_reference``/``missing_current``.
* ``mode="evidently"`` reproduces the defaults of Evidently's DataDriftPreset for migrating
  users (see ``docs/monitor.md``).

References
----------
Kolmogorov, A. (1933); Smirnov, N. (1948). Table for estimating the goodness of fit of
empirical distributions. *Ann. Math. Statist.* 19(2), 279–281.
Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57(1).
Lin, J. (1991). Divergence measures based on the Shannon entropy. *IEEE Trans. Inf. Theory* 37(1).
Rabanser, S., Günnemann, S., & Lipton, Z. (2019). Failing Loudly: An Empirical Study of Methods
for Detecting Dataset Shift. *NeurIPS 2019*.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
>>> cur = pd.DataFrame({"x": rng.normal(1.0, 1, 2000), "c": rng.choice(["a", "b"], 2000)})
>>> report = DriftDetector().fit(ref).check(cur)
>>> report[["column", "kind", "method", "drift"]].to_string(index=False)
'column        kind method  drift\\n     x     numeric     ks   True\\n     c categorical   chi2  False'
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError, SchemaError
from dcai.monitor import _drift_stats as st
from dcai.monitor._drift_columns import Kind, category_keys, numeric_values, raw_kind

__all__ = ["DRIFT_COLUMNS", "DriftDetector", "drift_report", "report_dict"]

#: The columns of :meth:`DriftDetector.check`, in order.
DRIFT_COLUMNS = (
    "column",
    "kind",
    "method",
    "statistic",
    "p_value",
    "p_adjusted",
    "effect",
    "effect_low",
    "effect_high",
    "effect_name",
    "psi",
    "drift",
    "n_reference",
    "n_current",
    "missing_reference",
    "missing_current",
    "note",
)
Mode = Literal["dcai", "evidently"]
Correction = Literal["bh", "bonferroni"] | None
# Numeric: half of 0.1 SD, the smallest mean shift users ask to be caught. A cut-off of exactly
# 0.1 SD (Evidently's) would miss a 0.1-SD shift about half the time: its estimated
# Wasserstein distance falls on either side of 0.1 (docs/monitor.md, "Drift rule").
_DEFAULT_MIN_EFFECT: dict[str, float] = {"numeric": 0.05, "categorical": 0.1}
#: Evidently: above this many reference rows, distances replace tests.
EVIDENTLY_SMALL_N = 1000
#: Evidently: numeric columns with at most this many distinct values are categorical.
EVIDENTLY_MAX_UNIQUE = 5
_EVIDENTLY_THRESHOLD = 0.1
_EVIDENTLY_SHARE = 0.5


@dataclass
class NumericSummary:
    """A numeric reference column: sorted finite values (or a quantile grid) and counts."""

    name: str
    raw_kind: Kind | None
    source: str
    n_rows: int
    n: int  # finite values
    n_nan: int
    n_posinf: int
    n_neginf: int
    sd: float
    exact: bool
    values: np.ndarray
    kind: Kind = "numeric"
    _ref: st.SortedReference | None = field(default=None, repr=False)

    @property
    def ref(self) -> st.SortedReference:
        if self._ref is None:
            self._ref = st.SortedReference.build(self.values)
        return self._ref


@dataclass
class CategoricalSummary:
    """A categorical reference column: counts of each category (as text)."""

    name: str
    raw_kind: Kind | None
    source: str
    n_rows: int
    n_missing: int
    counts: dict[str, int]
    kind: Kind = "categorical"


Summary = NumericSummary | CategoricalSummary


class DriftDetector:
    """Fit a reference once; :meth:`check` any number of current batches against it.

    Parameters
    ----------
    alpha
        Level for the adjusted p-values (default 0.05).
    min_effect
        Practical minimum effect for ``drift``: a number for both kinds or a mapping
        ``{"numeric": ..., "categorical": ...}`` (defaults 0.05 and 0.1).
    correction
        ``"bh"`` (Benjamini–Hochberg, default), ``"bonferroni"`` or ``None``.
    categorical, numeric
        Columns whose kind you declare (integers with few values are numeric unless declared).
    columns
        Columns to check (default: all of the reference).
    mode
        ``"dcai"`` (default) or ``"evidently"`` (Evidently's DataDriftPreset defaults).
    max_exact, n_quantiles
        Above ``max_exact`` finite values a numeric reference is kept as ``n_quantiles``
        quantiles (KS error at most ``1 / (2 n_quantiles)``).
    n_bootstrap, bootstrap_cap, confidence
        Bootstrap replicates, the most rows drawn per sample and replicate, interval level.
    random_state
        Seed of the bootstraps (each column gets its own stream: results do not depend on
        ``n_jobs``).
    n_jobs
        Threads over numeric columns (default: up to 2).
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        min_effect: float | Mapping[str, float] | None = None,
        correction: Correction = "bh",
        categorical: Iterable[str] = (),
        numeric: Iterable[str] = (),
        columns: Sequence[str] | None = None,
        mode: Mode = "dcai",
        max_exact: int = 100_000,
        n_quantiles: int = 10_000,
        n_bootstrap: int = 200,
        bootstrap_cap: int = 1000,
        confidence: float = 0.95,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        if not 0 < alpha < 1:
            raise InvalidInputError(f"alpha={alpha} is outside (0, 1)", hint="Use e.g. 0.05.")
        if correction not in ("bh", "bonferroni", None):
            raise InvalidInputError(
                f"unknown correction {correction!r}", hint="Use 'bh', 'bonferroni' or None."
            )
        if mode not in ("dcai", "evidently"):
            raise InvalidInputError(f"unknown mode {mode!r}", hint="Use 'dcai' or 'evidently'.")
        effects = dict(_DEFAULT_MIN_EFFECT)
        if isinstance(min_effect, Mapping):
            unknown = set(min_effect) - set(effects)
            if unknown:
                raise InvalidInputError(
                    f"unknown kind(s) in min_effect: {sorted(unknown)}",
                    hint="Use the keys 'numeric' and 'categorical'.",
                )
            effects.update({k: float(v) for k, v in min_effect.items()})
        elif min_effect is not None:
            effects = {"numeric": float(min_effect), "categorical": float(min_effect)}
        if any(v < 0 or not math.isfinite(v) for v in effects.values()):
            raise InvalidInputError("min_effect must be finite and >= 0", hint="Use e.g. 0.1.")
        for label, value, low in (
            ("max_exact", max_exact, 1),
            ("n_quantiles", n_quantiles, 2),
            ("n_bootstrap", n_bootstrap, 10),
            ("bootstrap_cap", bootstrap_cap, 10),
        ):
            if int(value) < low:
                raise InvalidInputError(f"{label}={value} is below {low}", hint="Use the default.")
        if not 0 < confidence < 1:
            raise InvalidInputError(f"confidence={confidence} is outside (0, 1)", hint="Use 0.95.")
        self.categorical = tuple(categorical)
        self.numeric = tuple(numeric)
        both = set(self.categorical) & set(self.numeric)
        if both:
            raise SchemaError(
                f"declared both categorical and numeric: {sorted(both)}",
                hint="Declare each column once.",
            )
        self.alpha = float(alpha)
        self.min_effect = effects
        self.correction: Correction = correction
        self.columns = tuple(columns) if columns is not None else None
        self.mode: Mode = mode
        self.max_exact = int(max_exact)
        self.n_quantiles = int(n_quantiles)
        self.n_bootstrap = int(n_bootstrap)
        self.bootstrap_cap = int(bootstrap_cap)
        self.confidence = float(confidence)
        self.random_state = int(random_state)
        self.n_jobs = n_jobs
        self.summaries_: dict[str, Summary] | None = None
        self.n_reference_rows_: int = 0
        self.reference_sample_: pd.DataFrame | None = None

    # ----------------------------------------------------------------------------- settings
    def settings(self) -> dict[str, Any]:
        """The constructor arguments, JSON-ready (what :meth:`save` stores)."""
        return {
            "alpha": self.alpha,
            "min_effect": dict(self.min_effect),
            "correction": self.correction,
            "categorical": list(self.categorical),
            "numeric": list(self.numeric),
            "columns": list(self.columns) if self.columns is not None else None,
            "mode": self.mode,
            "max_exact": self.max_exact,
            "n_quantiles": self.n_quantiles,
            "n_bootstrap": self.n_bootstrap,
            "bootstrap_cap": self.bootstrap_cap,
            "confidence": self.confidence,
            "random_state": self.random_state,
        }

    # ---------------------------------------------------------------------------------- fit
    def fit(self, reference: pd.DataFrame, *, keep_sample: int = 10_000) -> DriftDetector:
        """Summarise ``reference`` once; keep up to ``keep_sample`` rows for the domain check.

        The kept rows live in memory only (not saved): after :meth:`load`, pass the
        reference to :meth:`check_multivariate` yourself.
        """
        frame = _check_frame(reference, "reference")
        names = list(self.columns) if self.columns is not None else list(frame.columns)
        missing = [c for c in (*names, *self.categorical, *self.numeric) if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"column(s) not in the reference: {', '.join(map(repr, sorted(set(missing))))}",
                column=str(missing[0]),
                hint="Check the names given to columns=, categorical= and numeric=.",
            )
        summaries: dict[str, Summary] = {}
        for name in names:
            summaries[name] = self._summarise(frame[name], name)
        self.summaries_ = summaries
        self.n_reference_rows_ = len(frame)
        if keep_sample > 0:
            take = min(keep_sample, len(frame))
            rows = np.sort(
                np.random.default_rng(self.random_state).choice(len(frame), take, replace=False)
            )
            self.reference_sample_ = frame[names].iloc[rows].reset_index(drop=True)
        return self

    def _declared_kind(self, series: pd.Series, name: str) -> tuple[Kind | None, Kind | None, str]:
        """``(kind to use, raw kind of the values, source)`` of one column."""
        if name in self.categorical:
            return "categorical", _raw_or_text(series, name), "declared"
        raw = raw_kind(series, name)
        if name in self.numeric:
            return "numeric", raw, "declared"
        return raw, raw, "inferred"

    def _summarise(self, series: pd.Series, name: str) -> Summary:
        kind, raw, source = self._declared_kind(series, name)
        if kind is None:  # all missing in an object column: nothing says what it is
            return CategoricalSummary(name, None, source, len(series), len(series), {})
        if kind == "numeric":
            values = numeric_values(series, name)
            if self.mode == "evidently" and source == "inferred":
                finite = values[np.isfinite(values)]
                if 0 < np.unique(finite).size <= EVIDENTLY_MAX_UNIQUE:
                    counts, n_missing = category_keys(pd.Series(values))
                    return CategoricalSummary(
                        name, raw, "evidently: <= 5 distinct values", len(series), n_missing, counts
                    )
            return self._numeric_summary(values, name, raw, source)
        counts, n_missing = category_keys(series)
        return CategoricalSummary(name, raw, source, len(series), n_missing, counts)

    def _numeric_summary(
        self, values: np.ndarray, name: str, raw: Kind | None, source: str
    ) -> NumericSummary:
        nan = np.isnan(values)
        posinf = np.isposinf(values)
        neginf = np.isneginf(values)
        finite = np.sort(values[~(nan | posinf | neginf)])
        n = finite.size
        sd = float(np.std(finite)) if n else math.nan
        exact = n <= self.max_exact
        stored = finite
        if not exact:
            probs = (np.arange(self.n_quantiles) + 0.5) / self.n_quantiles
            stored = np.quantile(finite, probs, method="inverted_cdf")
        return NumericSummary(
            name=name,
            raw_kind=raw,
            source=source,
            n_rows=int(values.size),
            n=int(n),
            n_nan=int(nan.sum()),
            n_posinf=int(posinf.sum()),
            n_neginf=int(neginf.sum()),
            sd=sd,
            exact=exact,
            values=np.ascontiguousarray(stored, dtype=np.float64),
        )

    # -------------------------------------------------------------------------------- check
    def _fitted(self) -> dict[str, Summary]:
        if self.summaries_ is None:
            raise InvalidInputError(
                "the detector is not fitted",
                hint="Call .fit(reference) or DriftDetector.load(path).",
            )
        return self.summaries_

    def check(self, current: pd.DataFrame) -> pd.DataFrame:
        """One row per reference column (see :data:`DRIFT_COLUMNS`) comparing ``current``.

        ``attrs["dataset_drift"]`` says whether the table as a whole drifted: any column in
        ``"dcai"`` mode, at least half of the columns in ``"evidently"`` mode;
        ``attrs["share_drifted"]`` is the share of columns that drifted.
        """
        summaries = self._fitted()
        frame = _check_frame(current, "current")
        absent = [name for name in summaries if name not in frame.columns]
        if absent:
            raise SchemaError(
                f"column(s) of the reference missing in the current data: "
                f"{', '.join(map(repr, absent))}",
                column=absent[0],
                hint="Pass a current table with the same columns, or fit with columns=[...].",
            )
        mismatched: dict[str, str] = {}
        for name, summary in summaries.items():
            if summary.source == "declared" or summary.raw_kind is None:
                continue
            kind = raw_kind(frame[name], name)
            if kind is not None and kind != summary.raw_kind:
                mismatched[name] = f"{name!r} ({summary.raw_kind} in reference, {kind} now)"
        if mismatched:
            raise SchemaError(
                f"column(s) changed kind: {', '.join(mismatched.values())}",
                column=next(iter(mismatched)),
                hint="Fix the column's type upstream, or declare its kind with categorical=/numeric=.",
            )
        tasks = list(enumerate(summaries.values()))
        workers = self.n_jobs or min(2, os.cpu_count() or 1)

        def run(item: tuple[int, Summary]) -> dict[str, Any]:
            index, summary = item
            rng = np.random.default_rng([self.random_state, index])
            if isinstance(summary, NumericSummary):
                return self._check_numeric(summary, frame[summary.name], rng)
            return self._check_categorical(summary, frame[summary.name], rng)

        if workers > 1 and len(tasks) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                rows = list(pool.map(run, tasks))
        else:
            rows = [run(t) for t in tasks]
        table = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
        self._decide(table)
        return table

    def _decide(self, table: pd.DataFrame) -> None:
        p = table["p_value"].to_numpy(dtype=np.float64)
        if self.mode == "evidently":
            table["p_adjusted"] = p
            tested = table["method"].isin(["ks", "chi2_gof", "z"])
            by_p = tested & (table["p_value"] < self.alpha)
            by_distance = ~tested & (table["effect"] >= _EVIDENTLY_THRESHOLD)
            table["drift"] = (by_p | by_distance).astype(bool)
            share = float(table["drift"].mean()) if len(table) else 0.0
            table.attrs["dataset_drift"] = share >= _EVIDENTLY_SHARE
        else:
            table["p_adjusted"] = st.adjust_pvalues(p, self.correction)
            floor = table["kind"].map(self.min_effect).to_numpy(dtype=np.float64)
            table["drift"] = (
                (table["p_adjusted"].to_numpy() < self.alpha)
                & (table["effect"].to_numpy(dtype=np.float64) >= floor)
            ).astype(bool)
            share = float(table["drift"].mean()) if len(table) else 0.0
            table.attrs["dataset_drift"] = bool(table["drift"].any())
        table.attrs["share_drifted"] = share
        table.attrs["mode"] = self.mode

    def _check_numeric(
        self, summary: NumericSummary, series: pd.Series, rng: np.random.Generator
    ) -> dict[str, Any]:
        values = numeric_values(series, summary.name)
        nan = np.isnan(values)
        inf = np.isinf(values)
        cur = values[~(nan | inf)]  # a copy: sorted in place
        cur.sort()
        notes = _missing_notes("reference", summary.n_nan, summary.n_posinf + summary.n_neginf)
        notes += _missing_notes("current", int(nan.sum()), int(inf.sum()))
        row = _row(
            summary,
            "numeric",
            cur.size,
            summary.n_nan / max(summary.n_rows, 1),
            float(nan.mean()) if values.size else math.nan,
        )
        row["effect_name"] = "wasserstein/sd"
        if not summary.exact:
            notes.append(
                f"reference kept as {summary.values.size} quantiles (KS within "
                f"{1 / (2 * summary.values.size):.1g})"
            )
        if summary.n == 0 or cur.size == 0:
            side = "reference" if summary.n == 0 else "current"
            notes.append(f"no finite value in the {side}: not tested")
            row.update(method="none", note="; ".join(notes))
            return row
        d, w = st.ks_and_wasserstein(summary.ref, cur)
        scale = summary.sd
        if self.mode == "evidently":
            scale = max(scale, 0.001)
        elif scale == 0:
            scale = math.nan
            notes.append("constant in the reference: effect undefined, KS test only")
        effect = w / scale
        evidently_distance = self.mode == "evidently" and summary.n > EVIDENTLY_SMALL_N
        if evidently_distance:
            row.update(method="wasserstein", statistic=effect)
        else:
            row.update(method="ks", statistic=d, p_value=st.ks_pvalue(d, summary.n, cur.size))
        row["effect"] = effect
        if math.isfinite(effect):
            lo, hi = st.bootstrap_wasserstein(
                summary.values, summary.n, cur, effect * 1.0,
                scale=scale, n_boot=self.n_bootstrap, cap=self.bootstrap_cap, rng=rng,
                confidence=self.confidence,
            )  # fmt: skip
            row.update(effect_low=lo, effect_high=hi)
        if bool(np.any(cur[1:] == cur[:-1])) or summary.ref.unique.size < summary.values.size:
            notes.append("ties (the KS p-value assumes continuous data: conservative with ties)")
        row["note"] = "; ".join(notes)
        return row

    def _check_categorical(
        self, summary: CategoricalSummary, series: pd.Series, rng: np.random.Generator
    ) -> dict[str, Any]:
        counts, n_missing = category_keys(series)
        notes = _missing_notes("reference", summary.n_missing, 0)
        notes += _missing_notes("current", n_missing, 0)
        n_cur = sum(counts.values())
        row = _row(
            summary,
            "categorical",
            n_cur,
            summary.n_missing / max(summary.n_rows, 1),
            n_missing / len(series) if len(series) else math.nan,
        )
        evidently_distance = (
            self.mode == "evidently" and sum(summary.counts.values()) > EVIDENTLY_SMALL_N
        )
        row["effect_name"] = "jensen_shannon" + ("_e" if self.mode == "evidently" else "")
        keys = list(summary.counts)
        unseen = [k for k in counts if k not in summary.counts]
        if unseen:
            shown = ", ".join(map(repr, unseen[:5])) + (" …" if len(unseen) > 5 else "")
            notes.append(f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} unseen "
                         f"in the reference: {shown}")  # fmt: skip
        keys += unseen
        ref = np.array([summary.counts.get(k, 0) for k in keys], dtype=np.float64)
        cur = np.array([counts.get(k, 0) for k in keys], dtype=np.float64)
        if ref.sum() == 0 or cur.sum() == 0:
            side = "reference" if ref.sum() == 0 else "current"
            notes.append(f"no value in the {side}: not tested")
            row.update(method="none", note="; ".join(notes))
            return row
        base = math.e if self.mode == "evidently" else 2.0
        row["effect"] = st.js_distance(ref, cur, base=base)
        row["psi"] = st.psi(ref, cur)
        lo, hi = st.bootstrap_categorical(
            ref, cur, n_boot=self.n_bootstrap, rng=rng, base=base, confidence=self.confidence
        )
        row.update(effect_low=lo, effect_high=hi)
        if evidently_distance:
            row.update(method="jensenshannon", statistic=row["effect"])
        elif self.mode == "evidently" and len(keys) <= 2 and len(summary.counts) <= 2:
            z, p = st.two_proportion_z(ref, cur) if len(keys) == 2 else (0.0, 1.0)
            row.update(method="z", statistic=z, p_value=p)
        elif self.mode == "evidently":
            chi, p = st.chi2_goodness_of_fit(ref, cur)
            row.update(method="chi2_gof", statistic=chi, p_value=p)
        else:
            result = st.chi2_homogeneity(ref, cur)
            if result is None:
                notes.append("a single category after pooling: not tested")
                row["method"] = "none"
            else:
                row.update(method="chi2", statistic=result.statistic, p_value=result.p_value)
                if result.pooled:
                    notes.append(
                        f"{result.pooled} rare categor{'y' if result.pooled == 1 else 'ies'} "
                        "(expected count < 5) pooled into one cell"
                        + (
                            f"; still rare, it joined {keys[result.joined]!r}"
                            if result.joined is not None
                            else ""
                        )
                    )
        row["note"] = "; ".join(notes)
        return row

    # ---------------------------------------------------------------------- multivariate
    def check_multivariate(
        self, current: pd.DataFrame, *, reference: pd.DataFrame | None = None, **options: Any
    ) -> Any:
        """Domain-classifier check (Rabanser et al. 2019); see :func:`domain_classifier_check`."""
        from dcai.monitor._drift_domain import domain_classifier_check

        summaries = self._fitted()
        ref = reference if reference is not None else self.reference_sample_
        if ref is None:
            raise InvalidInputError(
                "no reference rows are kept by a loaded detector",
                hint="Pass reference=<the reference table> to check_multivariate.",
            )
        columns = [c for c in summaries if c in current.columns and c in ref.columns]
        kinds = {name: summaries[name].kind for name in columns}
        options.setdefault("random_state", self.random_state)
        return domain_classifier_check(ref, current, kinds, **options)

    # ---------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted detector to directory ``path`` (JSON + ``.npz``, no pickle)."""
        from dcai.monitor._drift_io import save_detector

        return save_detector(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DriftDetector:
        """Read a detector written by :meth:`save`; refuse a tampered or corrupt one."""
        from dcai.monitor._drift_io import load_detector

        return load_detector(cls, Path(path))


def _raw_or_text(series: pd.Series, name: str) -> Kind | None:
    try:
        return raw_kind(series, name)
    except SchemaError:
        return None  # mixed types, declared categorical: compared as text


def _check_frame(frame: Any, which: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"the {which} data is a {type(frame).__name__}, not a pandas DataFrame",
            hint="Pass a pandas DataFrame (pd.read_parquet / pd.read_csv).",
        )
    if len(frame) == 0:
        raise InvalidInputError(f"the {which} data has no rows", hint="Pass at least one row.")
    bad = [c for c in frame.columns if not isinstance(c, str)]
    if bad:
        raise SchemaError(
            f"column names must be text; got {bad[:3]!r}",
            hint="Rename them, e.g. frame.columns = frame.columns.astype(str).",
        )
    if frame.columns.duplicated().any():
        dup = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise SchemaError(f"duplicated column names: {dup}", column=dup[0], hint="Rename them.")
    return frame


def _missing_notes(side: str, n_missing: int, n_inf: int) -> list[str]:
    notes = []
    if n_missing:
        notes.append(f"{n_missing} missing in the {side}")
    if n_inf:
        notes.append(f"{n_inf} infinite in the {side} (left out of the test)")
    return notes


def _row(
    summary: Summary, kind: str, n_current: int, miss_ref: float, miss_cur: float
) -> dict[str, Any]:
    n_ref = summary.n if isinstance(summary, NumericSummary) else sum(summary.counts.values())
    return {
        "column": summary.name,
        "kind": kind,
        "method": "",
        "statistic": math.nan,
        "p_value": math.nan,
        "p_adjusted": math.nan,
        "effect": math.nan,
        "effect_low": math.nan,
        "effect_high": math.nan,
        "effect_name": "",
        "psi": math.nan,
        "drift": False,
        "n_reference": int(n_ref),
        "n_current": int(n_current),
        "missing_reference": miss_ref,
        "missing_current": miss_cur,
        "note": "",
    }


def _json_number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> dict[str, Any]:
    """Fit on ``reference``, check ``current``: a strict-JSON-safe dict for the CLI.

    ``{"columns": [{"column", "method", "p_value", "p_adjusted", "effect", "drift"}, ...],
    "drift": bool}``; NaN and infinities become ``None``. ``options`` go to
    :class:`DriftDetector`.

    >>> import json, pandas as pd
    >>> ref = pd.DataFrame({"x": range(100)})
    >>> out = drift_report(ref, pd.DataFrame({"x": range(50, 150)}))
    >>> json.loads(json.dumps(out, allow_nan=False))["columns"][0]["method"]
    'ks'
    """
    table = DriftDetector(**options).fit(reference, keep_sample=0).check(current)
    return report_dict(table)


def report_dict(table: pd.DataFrame) -> dict[str, Any]:
    """A :meth:`DriftDetector.check` table as ``dcai drift --json`` prints it (strict JSON)."""
    columns = [
        {
            "column": str(row["column"]),
            "method": str(row["method"]),
            "p_value": _json_number(row["p_value"]),
            "p_adjusted": _json_number(row["p_adjusted"]),
            "effect": _json_number(row["effect"]),
            "drift": bool(row["drift"]),
        }
        for row in table.to_dict("records")
    ]
    return {"columns": columns, "drift": bool(table.attrs["dataset_drift"])}
