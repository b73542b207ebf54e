"""Monitoring windows: a deployment's logged predictions cut into windows, measured per window.

A window is a span of time (``window_seconds``, aligned to the epoch so that re-running gives
the same windows) or a run of ``every`` consecutive requests. Each window gets one row of
metrics — what can go wrong after deployment, grouped as Ng's *MLOps* course groups them:

========================  ==========================================================================
software                  ``requests``, ``request_rate`` (per s), ``errors``, ``error_rate``,
                          ``latency_p50`` / ``_p95`` / ``_p99`` (s, per request),
                          ``server_memory_mb`` (the largest resident memory a serving process
                          reported), ``server_cpu_percent`` (its mean CPU use, % of one core)
input                     ``missing_rate``, ``out_of_range_rate`` (numeric values outside the
                          training range), ``unseen_category_rate``, ``schema_violation_rate``
                          (a feature absent or of the wrong kind), ``text_length_mean``,
                          ``drifted_columns`` / ``drift_share`` (against the training data, with
                          :class:`~dcai.monitor.drift.DriftDetector`)
output                    ``confidence_mean``, ``null_output_rate``, ``needs_review_rate``,
                          ``class_share:<class>``, ``shadow_disagreement``, ``override_rate`` (review
                          decisions that changed the model's answer), ``outcome_rate:<outcome>``
performance               ``labeled``, ``accuracy`` with a Wilson interval where feedback labels came
                          back; ``estimated_accuracy`` with an interval where they have not;
                          ``error_drift`` (1 when the error stream's detector fired in the window)
========================  ==========================================================================

A second table holds, per window and input column: missing, out-of-range and unseen rates, the
drift test's adjusted p-value and effect, and whether it drifted.

**Estimated performance** is confidence-based performance estimation (CBPE, as NannyML
introduced it): the model's confidence on the reference dev set is calibrated against whether it
was right, by isotonic regression (Zadrozny & Elkan, *Transforming classifier scores into
accurate multiclass probability estimates*, KDD 2002); a window's expected accuracy is the mean
calibrated confidence of its answers, and its interval is the sampling error of the accuracy
those answers would realise, ±z·sqrt(Σ p(1−p))/n. It holds while the relation between
confidence and correctness holds (covariate shift), not under concept drift — which is why the
realised accuracy and the error-stream detector (DDM, Gama et al. 2004) sit beside it.

The functions here are pure: the workflow (:mod:`dcai.monitor.deployment`) reads the logs and
the reference data and stores the windows.

>>> import pandas as pd
>>> rows = pd.DataFrame({
...     "request_id": ["a", "b", "c"], "index": [0, 0, 0],
...     "time": ["2026-01-01T10:00:01+00:00", "2026-01-01T10:20:00+00:00",
...              "2026-01-01T11:05:00+00:00"],
...     "route": "primary", "model_version": "m/1", "revision": 1,
...     "inputs": ['{"x": 1.0}', '{"x": 2.0}', '{"x": null}'],
...     "label": ["1", "0", "1"], "confidence": [0.9, 0.8, 0.6],
...     "probabilities": ['{"0": 0.1, "1": 0.9}', '{"0": 0.8, "1": 0.2}', '{"0": 0.4, "1": 0.6}'],
...     "needs_review": [False, False, True], "latency_ms": [5.0, 7.0, 9.0]})
>>> result = compute_windows(rows, window_seconds=3600)
>>> result.windows[["window_start", "requests", "needs_review_rate"]].to_dict("records")
[{'window_start': '2026-01-01T10:00:00+00:00', 'requests': 2, 'needs_review_rate': 0.0}, \
{'window_start': '2026-01-01T11:00:00+00:00', 'requests': 1, 'needs_review_rate': 1.0}]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dcai.monitor.drift import DriftDetector

__all__ = [
    "COLUMN_METRICS",
    "SERVED_ROUTES",
    "WINDOW_METRICS",
    "Reference",
    "WindowResult",
    "compute_windows",
    "fit_reference",
]

#: Routes whose rows are answers someone received (shadow rows are compared, not counted).
SERVED_ROUTES = ("primary", "canary", "batch")
#: Routes of online requests (software metrics: rates and latency).
ONLINE_ROUTES = ("primary", "canary")

#: The input metrics of a window (NaN where there is no reference to measure against).
_INPUT_METRICS = (
    "missing_rate",
    "out_of_range_rate",
    "unseen_category_rate",
    "schema_violation_rate",
    "text_length_mean",
    "drifted_columns",
    "drift_share",
)
#: The fixed metric columns of a window (``class_share:<c>`` and ``outcome_rate:<o>`` follow).
WINDOW_METRICS = (
    "requests",
    "instances",
    "request_rate",
    "errors",
    "error_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "server_memory_mb",
    "server_cpu_percent",
    *_INPUT_METRICS,
    "confidence_mean",
    "null_output_rate",
    "needs_review_rate",
    "shadow_disagreement",
    "override_rate",
    "labeled",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "estimated_accuracy",
    "estimated_accuracy_low",
    "estimated_accuracy_high",
    "error_drift",
)
#: Per window and input column.
COLUMN_METRICS = (
    "window_start",
    "column",
    "kind",
    "missing_rate",
    "out_of_range_rate",
    "unseen_rate",
    "p_adjusted",
    "effect",
    "effect_name",
    "drift",
)
#: Fewer instances than this in a window: no drift test (its p-values would say nothing).
MIN_DRIFT_ROWS = 30
#: Fewer reference dev answers than this: confidences are used uncalibrated.
MIN_CALIBRATION_ROWS = 20
_Z = 1.959963984540054


@dataclass(frozen=True)
class Reference:
    """What windows are compared with: the serving model's training data and dev answers.

    ``numeric_range`` is each numeric feature's training (min, max); ``categories`` each
    categorical feature's training values (as text); ``detector`` the drift detector fitted on
    the training rows; ``calibration`` the isotonic map from confidence to P(correct) as its
    breakpoints (x, y), or None when the dev set was too small.
    """

    model: str
    numeric_range: dict[str, tuple[float, float]]
    categories: dict[str, frozenset[str]]
    text: tuple[str, ...]
    classes: tuple[Any, ...]
    detector: DriftDetector | None
    calibration: tuple[np.ndarray, np.ndarray] | None
    n_rows: int
    notes: tuple[str, ...] = ()
    #: Inputs the model reads that are not monitored (sensitive ones: the log holds hashes).
    ignored: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        """Every input column monitored, numeric first."""
        return (*self.numeric_range, *self.categories, *self.text)

    def calibrated(self, confidence: np.ndarray) -> np.ndarray:
        """P(correct) for each confidence (the confidence itself without a calibration)."""
        if self.calibration is None:
            return np.asarray(np.clip(confidence, 0.0, 1.0), dtype=np.float64)
        x, y = self.calibration
        return np.asarray(np.interp(confidence, x, y), dtype=np.float64)


def _category_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def fit_reference(
    model: str,
    train: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    text: Sequence[str] = (),
    classes: Sequence[Any] = (),
    dev_confidence: np.ndarray | None = None,
    dev_correct: np.ndarray | None = None,
    drift_sample: int = 100_000,
    random_state: int = 0,
    ignored: Sequence[str] = (),
) -> Reference:
    """Summarise the training rows of ``model`` once: ranges, categories, a fitted drift
    detector, and the confidence calibration from its dev answers (``dev_confidence``, and
    ``dev_correct`` 1/0)."""
    from dcai.monitor.drift import DriftDetector

    notes: list[str] = []
    ranges: dict[str, tuple[float, float]] = {}
    for column in numeric:
        values = pd.to_numeric(train[column], errors="coerce").to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            ranges[column] = (float(finite.min()), float(finite.max()))
        else:
            notes.append(f"{column}: no finite training value, not monitored")
    categories = {
        column: frozenset(_category_text(v) for v in train[column].dropna().unique())
        for column in categorical
    }
    checked = [*ranges, *categories]
    detector = None
    if checked and len(train):
        sample = train[checked]
        if len(sample) > drift_sample:
            sample = sample.sample(drift_sample, random_state=random_state)
        detector = DriftDetector(
            numeric=list(ranges), categorical=list(categories), random_state=random_state
        ).fit(_typed(sample, list(ranges), list(categories)))
    calibration = None
    if dev_confidence is not None and dev_correct is not None:
        conf = np.asarray(dev_confidence, dtype=np.float64)
        right = np.asarray(dev_correct, dtype=np.float64)
        keep = np.isfinite(conf) & np.isfinite(right)
        if keep.sum() >= MIN_CALIBRATION_ROWS:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(conf[keep], right[keep])
            calibration = (
                np.asarray(iso.X_thresholds_, dtype=np.float64),
                np.asarray(iso.y_thresholds_, dtype=np.float64),
            )
        else:
            notes.append(
                f"{int(keep.sum())} dev answers (< {MIN_CALIBRATION_ROWS}): estimated accuracy "
                "uses uncalibrated confidence"
            )
    else:
        notes.append("no dev answers: estimated accuracy uses uncalibrated confidence")
    return Reference(
        model=model,
        numeric_range=ranges,
        categories=categories,
        text=tuple(text),
        classes=tuple(classes),
        detector=detector,
        calibration=calibration,
        n_rows=len(train),
        notes=tuple(notes),
        ignored=tuple(ignored),
    )


def _typed(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric columns as float64 (anything else missing), categorical ones as text."""
    out = {}
    for column in numeric:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    for column in categorical:
        out[column] = _as_category_text(frame[column])
    return pd.DataFrame(out, index=frame.index)


def _as_category_text(series: pd.Series) -> pd.Series:
    """Values as category text (missing stays missing), converted once per distinct value."""
    return _per_distinct(series, _category_text)


def _per_distinct(series: pd.Series, convert: Any) -> pd.Series:
    """``convert`` applied once per distinct value (missing values, and values it turns into
    None, stay missing): the log's columns repeat a few values a million times, and
    factorising them is one pass in C where a Python call per row is not."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.empty(len(uniques) + 1, dtype=object)
    texts[:-1] = [convert(value) for value in uniques]
    texts[-1] = None  # code -1: missing
    return pd.Series(texts[codes], index=series.index, dtype=object)


@dataclass
class WindowResult:
    """The windows (one row each) and the per-column table; ``notes`` says what was skipped."""

    windows: pd.DataFrame
    columns: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: The newest window's inputs (the monitored columns, at most 10,000 rows): what a report
    #: plots against the reference.
    latest_inputs: pd.DataFrame | None = None


def _window_ids(
    times: pd.Series, window_seconds: float | None, every: int | None, request_ids: pd.Series
) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's window number and the windows' (start, end) bounds."""
    epoch = _seconds(times) if len(times) else np.zeros(0)
    if every is not None:
        # Requests in time order; a request's rows share its window.
        order = pd.DataFrame({"t": epoch, "r": request_ids.to_numpy()})
        first = order.groupby("r", sort=False)["t"].min().sort_values(kind="stable")
        rank = pd.Series(np.arange(len(first)) // every, index=first.index)
        ids = rank.reindex(request_ids.to_numpy()).to_numpy()
        grouped = pd.DataFrame({"w": ids, "t": epoch}).groupby("w")["t"]
        bounds = pd.DataFrame({"start": grouped.min(), "end": grouped.max()})
        return ids.astype(np.int64), bounds
    assert window_seconds is not None
    ids = np.floor(epoch / window_seconds).astype(np.int64)
    unique = np.unique(ids)
    bounds = pd.DataFrame(
        {"start": unique * window_seconds, "end": (unique + 1) * window_seconds}, index=unique
    )
    return ids, bounds


def _seconds(times: pd.Series) -> np.ndarray:
    """UTC times as seconds since the epoch (whatever the datetime unit pandas chose)."""
    seconds = (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return np.asarray(seconds.to_numpy(dtype=np.float64), dtype=np.float64)


def _iso(seconds: float) -> str:
    return str(pd.Timestamp(seconds, unit="s", tz="UTC").isoformat())


def _decode(text: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _canonical(json_texts: pd.Series) -> pd.Series:
    """Labels as the log holds them (JSON text) as comparable text — ``3``, ``3.0`` and
    ``"3"`` all read ``"3"`` — or None for null; decoded once per distinct value."""

    def text(value: Any) -> Any:
        decoded = _decode(value)
        return None if decoded is None else _category_text(decoded)

    return _per_distinct(json_texts, text)


def compute_windows(
    rows: pd.DataFrame,
    *,
    errors: pd.DataFrame | None = None,
    reference: Reference | None = None,
    window_seconds: float | None = None,
    every: int | None = None,
    now: float | None = None,
    parsed_inputs: pd.DataFrame | None = None,
    usage: pd.DataFrame | None = None,
) -> WindowResult:
    """Cut the prediction log ``rows`` into windows and measure each (module docstring).

    ``rows`` has the prediction log's columns, and optionally ``feedback_label``,
    ``feedback_outcome`` and ``feedback_source`` (the newest feedback per instance);
    ``errors`` the error log's. Give ``window_seconds`` or ``every``. ``parsed_inputs``
    (one row per row of ``rows``) holds the monitored input columns already read from the
    ``inputs`` JSON — numeric ones as float64 — and ``_violation`` (a feature absent or of the
    wrong kind); without it the JSON is parsed here. ``usage`` has the usage log's columns
    (``time``, ``memory_mb``, ``cpu_percent``: the serving processes' samples).
    """
    if (window_seconds is None) == (every is None):
        raise ValueError("give exactly one of window_seconds and every")
    notes: list[str] = []
    times = pd.to_datetime(rows["time"], utc=True, format="ISO8601")
    served_mask = rows["route"].isin(SERVED_ROUTES).to_numpy()
    served = rows[served_mask].reset_index(drop=True)
    parsed = (
        parsed_inputs[served_mask].reset_index(drop=True) if parsed_inputs is not None else None
    )
    served_times = times[served_mask].reset_index(drop=True)
    if served.empty:
        return WindowResult(_empty_windows(reference), pd.DataFrame(columns=list(COLUMN_METRICS)))
    ids, bounds = _window_ids(served_times, window_seconds, every, served["request_id"])
    served = served.assign(_w=ids, _t=_seconds(served_times), _label=_canonical(served["label"]))
    if "feedback_label" in served:
        served["_truth"] = _canonical(served["feedback_label"])
    now = now if now is not None else pd.Timestamp.now(tz="UTC").timestamp()

    out = pd.DataFrame(index=bounds.index)
    out["window_start"] = [_iso(s) for s in bounds["start"]]
    out["window_end"] = [_iso(e) for e in bounds["end"]]
    out["complete"] = (
        bounds["end"].to_numpy() <= now
        if window_seconds is not None
        else _every_complete(served, every or 1, bounds.index)
    )
    groups = served.groupby("_w", sort=True)
    _software(out, served, bounds, errors, window_seconds)
    _server_usage(out, bounds, usage, window_seconds)
    out["instances"] = groups.size().reindex(out.index).fillna(0).astype(np.int64)
    columns_table, inputs = _inputs(out, served, reference, notes, parsed)
    _outputs(out, served, rows[~served_mask & (rows["route"] == "shadow").to_numpy()], reference)
    _performance(out, served, reference)
    latest = None
    if inputs is not None:
        newest = inputs[ids == out.index[-1]]
        latest = newest.sample(10_000, random_state=0) if len(newest) > 10_000 else newest
    out = out.reset_index(drop=True)
    return WindowResult(out, columns_table, notes, latest)


def _every_complete(served: pd.DataFrame, every: int, index: pd.Index) -> np.ndarray:
    counts = served.groupby("_w")["request_id"].nunique().reindex(index)
    return np.asarray(counts.to_numpy() >= every, dtype=bool)


def _empty_windows(reference: Reference | None) -> pd.DataFrame:
    classes = [f"class_share:{_category_text(c)}" for c in (reference.classes if reference else ())]
    return pd.DataFrame(
        columns=["window_start", "window_end", "complete", *WINDOW_METRICS, *classes]
    )


def _software(
    out: pd.DataFrame,
    served: pd.DataFrame,
    bounds: pd.DataFrame,
    errors: pd.DataFrame | None,
    window_seconds: float | None,
) -> None:
    online = served[served["route"].isin(ONLINE_ROUTES)]
    per_request = online.drop_duplicates("request_id")
    requests = per_request.groupby("_w").size().reindex(out.index).fillna(0)
    out["requests"] = requests.astype(np.int64)
    span = (bounds["end"] - bounds["start"]).to_numpy(dtype=np.float64)
    if window_seconds is None:
        span = np.where(span > 0, span, np.nan)
    out["request_rate"] = requests.to_numpy() / span
    error_counts = np.zeros(len(out))
    if errors is not None and len(errors):
        slot = _slots(bounds, errors["time"], window_seconds)
        np.add.at(error_counts, slot[slot >= 0], 1)
    out["errors"] = error_counts.astype(np.int64)
    total = out["requests"].to_numpy() + error_counts
    out["error_rate"] = np.where(total > 0, error_counts / np.where(total > 0, total, 1), np.nan)
    latency = per_request.groupby("_w")["latency_ms"]
    for q, name in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
        out[name] = latency.quantile(q).reindex(out.index).to_numpy() / 1000.0


def _slots(bounds: pd.DataFrame, times: pd.Series, window_seconds: float | None) -> np.ndarray:
    """The position of the window each time falls in, or -1 outside every window (time
    windows are half-open; a run of requests includes its last request's time)."""
    seconds = _seconds(pd.to_datetime(times, utc=True, format="ISO8601"))
    starts = bounds["start"].to_numpy(dtype=np.float64)
    ends = bounds["end"].to_numpy(dtype=np.float64)
    slot = np.searchsorted(starts, seconds, side="right") - 1
    end = ends[np.clip(slot, 0, len(ends) - 1)]
    inside = (slot >= 0) & (seconds < end if window_seconds is not None else seconds <= end)
    return np.where(inside, slot, -1)


def _server_usage(
    out: pd.DataFrame,
    bounds: pd.DataFrame,
    usage: pd.DataFrame | None,
    window_seconds: float | None,
) -> None:
    """Per window, the serving processes' samples: the largest resident memory and the mean
    CPU use (NaN where no sample fell in the window)."""
    memory = np.full(len(out), np.nan)
    cpu = np.full(len(out), np.nan)
    if usage is not None and len(usage):
        slot = _slots(bounds, usage["time"], window_seconds)
        kept = slot >= 0
        samples = pd.DataFrame(
            {
                "slot": slot[kept],
                "memory": pd.to_numeric(usage["memory_mb"], errors="coerce").to_numpy()[kept],
                "cpu": pd.to_numeric(usage["cpu_percent"], errors="coerce").to_numpy()[kept],
            }
        )
        grouped = samples.groupby("slot")
        peak, mean = grouped["memory"].max(), grouped["cpu"].mean()
        memory[peak.index.to_numpy()] = peak.to_numpy(dtype=np.float64)
        cpu[mean.index.to_numpy()] = mean.to_numpy(dtype=np.float64)
    out["server_memory_mb"] = memory
    out["server_cpu_percent"] = cpu


def _parse_inputs(
    served: pd.DataFrame, features: tuple[str, ...]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The logged inputs as columns (missing keys NaN) and, per row, whether a feature was
    absent from it."""
    decoded = [_decode(text) for text in served["inputs"]]
    records = [d if isinstance(d, dict) else {} for d in decoded]
    frame = pd.DataFrame.from_records(records, columns=list(features))
    absent = np.array([any(f not in record for f in features) for record in records], dtype=bool)
    return frame, absent


def _inputs(
    out: pd.DataFrame,
    served: pd.DataFrame,
    reference: Reference | None,
    notes: list[str],
    parsed: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    for name in _INPUT_METRICS:
        out[name] = np.nan
    if reference is None or not reference.features:
        notes.append("no reference: input metrics are not computed")
        return pd.DataFrame(columns=list(COLUMN_METRICS)), None
    features = reference.features
    numeric = list(reference.numeric_range)
    categorical = list(reference.categories)
    if parsed is not None:
        frame = parsed[list(features)].reset_index(drop=True)
        violation = parsed["_violation"].to_numpy(dtype=bool)
        as_number = {c: frame[c] for c in numeric}
    else:
        frame, violation = _parse_inputs(served, features)
        as_number = {c: pd.to_numeric(frame[c], errors="coerce") for c in numeric}
        for column in numeric:
            violation |= (frame[column].notna() & as_number[column].isna()).to_numpy()
    window = served["_w"].to_numpy()
    per_window = pd.Series(window)
    out["schema_violation_rate"] = (
        pd.Series(violation).groupby(per_window).mean().reindex(out.index).to_numpy()
    )
    missing = frame.isna()
    out["missing_rate"] = missing.groupby(per_window).mean().mean(axis=1).reindex(out.index)
    table: list[pd.DataFrame] = []
    outside = pd.DataFrame(index=frame.index)
    for column in numeric:
        low, high = reference.numeric_range[column]
        values = as_number[column]
        outside[column] = ((values < low) | (values > high)).where(values.notna())
    unseen = pd.DataFrame(index=frame.index)
    as_text: dict[str, pd.Series] = {}
    for column in categorical:
        known = reference.categories[column]
        values = as_text[column] = _as_category_text(frame[column])
        unseen[column] = (~values.isin(known)).where(values.notna())
    if numeric:
        rates = outside.astype(float).groupby(per_window).mean()
        counts = outside.astype(float).groupby(per_window).sum().sum(axis=1)
        seen = outside.notna().groupby(per_window).sum().sum(axis=1)
        out["out_of_range_rate"] = (counts / seen.where(seen > 0)).reindex(out.index)
        table.append(_long(rates, "out_of_range_rate", out))
    if categorical:
        rates = unseen.astype(float).groupby(per_window).mean()
        counts = unseen.astype(float).groupby(per_window).sum().sum(axis=1)
        seen = unseen.notna().groupby(per_window).sum().sum(axis=1)
        out["unseen_category_rate"] = (counts / seen.where(seen > 0)).reindex(out.index)
        table.append(_long(rates, "unseen_rate", out))
    if reference.text:
        lengths = pd.DataFrame(
            {c: frame[c].map(lambda v: len(str(v)), na_action="ignore") for c in reference.text}
        )
        out["text_length_mean"] = (
            lengths.astype(float).groupby(per_window).mean().mean(axis=1).reindex(out.index)
        )
    missing_long = _long(missing.astype(float).groupby(per_window).mean(), "missing_rate", out)
    columns = missing_long
    for part in table:
        columns = columns.merge(part, on=["window_start", "column"], how="left")
    typed = pd.DataFrame(
        {c: pd.to_numeric(as_number[c], errors="coerce").astype(np.float64) for c in numeric}
        | as_text,
        index=frame.index,
    )
    drift_rows = _drift(out, typed, window, reference, notes)
    columns = columns.merge(drift_rows, on=["window_start", "column"], how="left")
    kinds = {c: "numeric" for c in numeric} | {c: "categorical" for c in categorical}
    kinds |= {c: "text" for c in reference.text}
    columns["kind"] = columns["column"].map(kinds)
    for name in COLUMN_METRICS:
        if name not in columns:
            columns[name] = np.nan
    return columns[list(COLUMN_METRICS)].reset_index(drop=True), frame


def _long(wide: pd.DataFrame, name: str, out: pd.DataFrame) -> pd.DataFrame:
    """A window × column table as (window_start, column, name) rows."""
    wide = wide.reindex(out.index)
    wide.index = out["window_start"].to_numpy()
    stacked = wide.stack(future_stack=True).rename(name).reset_index()
    stacked.columns = ["window_start", "column", name]
    return stacked


def _drift(
    out: pd.DataFrame,
    frame: pd.DataFrame,
    window: np.ndarray,
    reference: Reference,
    notes: list[str],
) -> pd.DataFrame:
    """Each window's drift test of the monitored columns (``frame``: numeric ones as float64,
    categorical ones as category text) against the reference."""
    empty = pd.DataFrame(
        columns=["window_start", "column", "p_adjusted", "effect", "effect_name", "drift"]
    )
    detector = reference.detector
    if detector is None:
        notes.append("no drift reference (no numeric or categorical feature)")
        return empty
    typed = frame[[*reference.numeric_range, *reference.categories]]
    parts = []
    small = 0
    for w in out.index:
        rows = typed[window == w]
        if len(rows) < MIN_DRIFT_ROWS:
            small += 1
            continue
        table = detector.check(rows)
        flagged = table["drift"].fillna(False).astype(bool)
        out.loc[w, "drifted_columns"] = float(flagged.sum())
        out.loc[w, "drift_share"] = float(flagged.mean()) if len(flagged) else np.nan
        part = table[["column", "p_adjusted", "effect", "effect_name", "drift"]].copy()
        part.insert(0, "window_start", out.loc[w, "window_start"])
        parts.append(part)
    if small:
        notes.append(
            f"{small} window(s) with fewer than {MIN_DRIFT_ROWS} instances: no drift test there"
        )
    return pd.concat(parts, ignore_index=True) if parts else empty


def _outputs(
    out: pd.DataFrame, served: pd.DataFrame, shadow: pd.DataFrame, reference: Reference | None
) -> None:
    per_window = served["_w"].to_numpy()
    texts = served["_label"]
    out["null_output_rate"] = texts.isna().astype(float).groupby(per_window).mean()
    confidence = pd.to_numeric(served["confidence"], errors="coerce")
    out["confidence_mean"] = confidence.groupby(per_window).mean()
    out["needs_review_rate"] = served["needs_review"].astype(float).groupby(per_window).mean()
    classes = [_category_text(c) for c in (reference.classes if reference else ())]
    for c in classes or sorted(texts.dropna().unique()):
        out[f"class_share:{c}"] = (texts == c).astype(float).groupby(per_window).mean()
    out["shadow_disagreement"] = np.nan
    if len(shadow):
        mine = served[["request_id", "index", "_label", "_w"]]
        theirs = shadow[["request_id", "index"]].assign(_shadow=_canonical(shadow["label"]))
        paired = theirs.merge(mine, on=["request_id", "index"])
        if len(paired):
            differ = (paired["_shadow"] != paired["_label"]).astype(float)
            out["shadow_disagreement"] = differ.groupby(paired["_w"].to_numpy()).mean()
    out["override_rate"] = np.nan
    if "_truth" in served and "feedback_source" in served:
        reviewed = (served["feedback_source"].eq("review") & served["_truth"].notna()).to_numpy()
        if reviewed.any():
            changed = (served["_truth"][reviewed] != texts[reviewed]).astype(float)
            out["override_rate"] = changed.groupby(per_window[reviewed]).mean()
    if "feedback_outcome" in served:
        outcomes = served["feedback_outcome"]
        given = outcomes.notna().to_numpy()
        for outcome in sorted(outcomes.dropna().astype(str).unique()):
            hit = (outcomes[given].astype(str) == outcome).astype(float)
            out[f"outcome_rate:{outcome}"] = hit.groupby(per_window[given]).mean()


def _performance(out: pd.DataFrame, served: pd.DataFrame, reference: Reference | None) -> None:
    from dcai.analysis._priorities import wilson_interval

    per_window = served["_w"].to_numpy()
    confidence = pd.to_numeric(served["confidence"], errors="coerce").to_numpy(dtype=np.float64)
    known = np.isfinite(confidence)
    p = (
        reference.calibrated(confidence[known])
        if reference is not None
        else np.clip(confidence[known], 0, 1)
    )
    estimate = pd.DataFrame({"w": per_window[known], "p": p, "v": p * (1 - p)})
    grouped = estimate.groupby("w")
    mean = grouped["p"].mean()
    half = _Z * np.sqrt(grouped["v"].sum()) / grouped["p"].count()
    out["estimated_accuracy"] = mean
    out["estimated_accuracy_low"] = (mean - half).clip(lower=0.0)
    out["estimated_accuracy_high"] = (mean + half).clip(upper=1.0)
    for name in ("accuracy", "accuracy_low", "accuracy_high", "error_drift"):
        out[name] = np.nan
    out["labeled"] = 0
    if "_truth" not in served:
        return
    has = served["_truth"].notna().to_numpy()
    if not has.any():
        return
    right = (served["_truth"][has] == served["_label"][has]).to_numpy(dtype=np.float64)
    labeled = pd.DataFrame({"w": per_window[has], "right": right, "t": served["_t"][has]})
    counts = labeled.groupby("w")["right"].agg(["sum", "count"])
    out["labeled"] = counts["count"].reindex(out.index).fillna(0).astype(np.int64)
    out["accuracy"] = counts["sum"] / counts["count"]
    bounds = [
        wilson_interval(float(hits), float(n))
        for hits, n in zip(counts["sum"], counts["count"], strict=True)
    ]
    out["accuracy_low"] = pd.Series([b[0] for b in bounds], index=counts.index, dtype=float)
    out["accuracy_high"] = pd.Series([b[1] for b in bounds], index=counts.index, dtype=float)
    from dcai.monitor.streams import DDM

    ordered = labeled.sort_values("t", kind="stable")
    alarms = DDM().update_many(1.0 - ordered["right"].to_numpy())
    fired = np.zeros(len(out))
    position = {w: i for i, w in enumerate(out.index)}
    for at in alarms:
        fired[position[int(ordered["w"].iloc[int(at)])]] = 1.0
    flags = pd.Series(fired, index=out.index)
    out["error_drift"] = flags.where(out["labeled"] > 0)
