"""Error analysis of a dataset version: the workspace workflow behind ``dcai analyze``.

It reads what earlier steps stored — the version's newest audit (out-of-sample probabilities
and label-issue flags; one is run when there is none) or, with ``run``, a trained run's stored
dev predictions; the labelers' annotations; and a human-level-performance report (the newest,
or the one chosen with ``hlp``; which one is said in the result) — and puts together, with the
pure functions of :mod:`dcai.analysis`:

* metrics with intervals (and a warning when accuracy hides a rare class);
* slices from tags, metadata columns, ``by`` columns (binned when numeric), true and
  predicted class, slices written by hand, and slices found automatically;
* the "what to work on next" table against HLP per slice, user baselines, or — where there is
  none — the rest of the data (:mod:`dcai.analysis._priorities`);
* the learning curve on the train → dev split and the clean-vs-collect comparison;
* optionally, a check of declared performance requirements.

Each part that cannot be computed (no dev split, no annotations, a model that fails) leaves a
note and the rest of the report is still produced.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback, Steps
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import DatasetVersion, resolve_ref
from dcai.data.versions import log as version_log
from dcai.errors import DcaiError, InvalidInputError, UnknownRefError

if TYPE_CHECKING:
    from dcai.analysis._clean_vs_collect import CleanVsCollect
    from dcai.analysis._learning_curve import LearningCurve
    from dcai.analysis._metrics import MetricsReport
    from dcai.analysis._requirements import RequirementsResult
    from dcai.analysis._slices import SliceReport
    from dcai.quality.audit import Audit
    from dcai.store import Stores

__all__ = ["ErrorAnalysis", "analyze", "load_baselines"]

#: Categorical columns with more values than this are not sliced value by value.
MAX_VALUES_PER_COLUMN = 20
#: Numeric columns are cut into this many quantile bins to make slices.
NUMERIC_BINS = 4
#: Automatic slice discovery searches at most this many feature columns (plus tags and meta).
MAX_DISCOVERY_FEATURES = 30


@dataclass
class ErrorAnalysis:
    """Everything ``dcai analyze`` reports about one version (see the module docstring)."""

    ref: str
    audit: str | None
    metric: str
    n_examples: int
    evaluated_on: str
    metrics: MetricsReport
    priorities: pd.DataFrame
    discovered: SliceReport | None
    learning_curve: LearningCurve | None
    clean_vs_collect: CleanVsCollect | None
    requirements: RequirementsResult | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    #: The run whose predictions were analysed (``analyze(run=...)``), else None.
    run: str | None = None
    #: The HLP report used as baseline: ``id``, ``method``, ``value``, ``ref``; None without.
    hlp: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``slices`` is the priority table as a list, best first."""
        slices = [
            {key: _json(value) for key, value in row.items()}
            for row in self.priorities.rename(
                columns={"value": "metric", "metric_name": "metric_name"}
            ).to_dict(orient="records")
        ]
        return {
            "ref": self.ref,
            "audit": self.audit,
            "run": self.run,
            "hlp": None if self.hlp is None else {k: _json(v) for k, v in self.hlp.items()},
            "metric": self.metric,
            "n_examples": self.n_examples,
            "evaluated_on": self.evaluated_on,
            "metrics": self.metrics.to_dict(),
            "slices": slices,
            "discovered": None if self.discovered is None else self.discovered.to_dict(),
            "learning_curve": None
            if self.learning_curve is None
            else self.learning_curve.to_dict(),
            "clean_vs_collect": None
            if self.clean_vs_collect is None
            else self.clean_vs_collect.to_dict(),
            "requirements": None if self.requirements is None else self.requirements.to_dict(),
            "notes": list(self.notes),
        }


def _json(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def load_baselines(path: str | Path) -> dict[str, float]:
    """User baselines from TOML: ``[baselines]`` with ``all = 0.95`` and ``"slice name" = …``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError("no such file", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"not valid TOML: {exc}", path=str(path)) from exc
    table = data.get("baselines")
    if not isinstance(table, dict) or not table:
        raise InvalidInputError(
            "no [baselines] table",
            path=str(path),
            hint='Write e.g. [baselines] all = 0.95 and "label == 8" = 0.9',
        )
    out = {}
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidInputError(
                f"baseline {name!r} must be a number in [0, 1]; got {value!r}", path=str(path)
            )
        out[str(name)] = float(value)
    return out


def analyze(
    stores: Stores,
    ref: str,
    *,
    audit: str | None = None,
    split: str | None = None,
    by: Sequence[str] = (),
    slices: Sequence[str] = (),
    baselines: Mapping[str, float] | str | Path | None = None,
    metric: str = "accuracy",
    discover: bool = True,
    curves: bool = True,
    requirements: str | Path | None = None,
    baseline_version: str | None = None,
    baseline_run: str | None = None,
    run: str | None = None,
    hlp: str | int | None = None,
    n_boot: int = 1000,
    repeats: int = 3,
    random_state: int = 0,
    store: bool = True,
    progress: ProgressCallback | None = None,
) -> ErrorAnalysis:
    """Analyse the errors of the newest audit's model on a version (see the module docstring).

    Parameters
    ----------
    ref
        The version (``name`` is its latest).
    audit
        An audit id; default the version's newest audit, run now when there is none.
    split
        Evaluate on this split's examples only (their out-of-sample predictions); default all.
    by
        Columns to slice by, value by value (numeric ones in quantile bins).
    slices
        Slices written by hand, e.g. ``"snr_db < 5 and device == 'car'"``.
    baselines
        Slice name → baseline, or a TOML file with a ``[baselines]`` table; these override
        the stored HLP for the slices they name.
    metric
        ``accuracy`` (default), ``recall`` or ``f1`` for the priority table.
    discover, curves
        Search slices automatically; measure the learning curve and clean-vs-collect.
    requirements
        A TOML requirements file to check (:mod:`dcai.analysis._requirements`).
    baseline_version
        A version (or dataset) whose newest stored analysis gives each slice's baseline — the
        previous analysis to hold this one against; overrides HLP, overridden by ``baselines``.
    baseline_run
        Deprecated name of ``baseline_version``.
    run
        A run (id or prefix) trained on this dataset: analyse its stored predictions on the
        ``split`` (default ``dev``) instead of the audit's out-of-sample predictions. Label
        issues come from the version's newest audit when there is one (none is run).
    hlp
        The id of the HLP label report to use as baseline (default: the newest).
    store
        Store the slice metrics with the version (a report of kind ``analysis``), so a later
        analysis can use them as its baseline run.
    """
    from dcai.analysis._metrics import classification_metrics
    from dcai.analysis._priorities import priority_table
    from dcai.analysis._slice_predicates import parse_slice, slice_mask

    steps = Steps(progress, total=6)
    notes: list[str] = []
    version = resolve_ref(stores, ref)
    baseline_version = baseline_version if baseline_version is not None else baseline_run
    frame = version.to_pandas()
    label = version.roles.label
    run_id: str | None = None
    if run is not None:
        steps("reading the run's predictions")
        used = _run_inputs(stores, version, frame, run, split, audit, notes)
        run_id, y_true, y_pred, prob_matrix, classes, rows, evaluated_on = used[:7]
        audit_id, scores, issues = used[7:]
    else:
        steps("reading the audit")
        found = _audit_for(stores, version, audit, progress, notes)
        audit_id = found.short_id
        probs = found.pred_probs.set_index(EXAMPLE_ID)
        classes = list(probs.columns)
        probs = probs.reindex(frame[EXAMPLE_ID].to_numpy())
        if probs.isna().any().any():
            raise InvalidInputError(
                f"audit {found.short_id} has no probabilities for some examples of {version.ref}",
                hint=f"Run a new audit of this version: dcai audit {version.ref}",
            )
        y_true = _as_class_labels(frame[label], classes)
        prob_matrix = probs.to_numpy()
        y_pred = np.asarray(classes, dtype=object)[prob_matrix.argmax(axis=1)]
        scores = found.scores.set_index(EXAMPLE_ID).reindex(probs.index)
        issues = (
            scores["is_label_issue"].fillna(False).to_numpy(dtype=bool)
            if "is_label_issue" in scores
            else None
        )
        rows = np.ones(len(frame), dtype=bool)
        evaluated_on = "all examples (cross-validated predictions)"
    if split is not None and run is None:
        column = version.roles.split
        if column is None:
            raise InvalidInputError(
                f"{version.ref} has no split column, so --split {split} cannot be used",
                hint=f"Split it first: dcai data split {version.dataset}",
            )
        rows = (frame[column] == split).to_numpy()
        if not rows.any():
            raise InvalidInputError(f"{version.ref} has no examples in split {split!r}")
        evaluated_on = f"the {split} split ({int(rows.sum()):,} examples)"

    steps("metrics")
    metrics = classification_metrics(
        y_true[rows],
        y_pred[rows],
        pred_probs=None if prob_matrix is None else prob_matrix[rows],
        classes=classes,
        n_boot=n_boot,
        random_state=random_state,
    )

    steps("slices")
    masks, kinds = _slices(version, frame, y_true, y_pred, classes, by)
    for text in slices:
        masks[text] = slice_mask(frame, parse_slice(text))
        kinds[text] = "user"
    discovered = None
    if discover:
        discovered = _discover(version, frame, y_true != y_pred, rows, notes)
        if discovered is not None:
            for name, mask in discovered.masks(frame).items():
                masks.setdefault(str(name), np.asarray(mask, dtype=bool))
                kinds.setdefault(str(name), "discovered")
    for name in [n for n, m in masks.items() if not m[rows].any()]:
        notes.append(f"slice {name!r} has no examples{' in ' + split if split else ''}; left out")
        del masks[name]

    steps("baselines")
    base, sources, hlp_used = _baselines(stores, version, baselines, baseline_version, hlp, notes)
    unknown = sorted(set(base) - set(masks) - {"all"})
    for name in unknown:
        notes.append(
            f"a baseline is given for slice {name!r}, which is not analysed; add it with --slice or --by"
        )
    agreement = _agreement(version, stores, masks, rows, notes)
    table = priority_table(
        y_true[rows],
        y_pred[rows],
        {name: mask[rows] for name, mask in masks.items()},
        kinds=kinds,
        metric=metric,
        baselines=base,
        baseline_sources=sources,
        label_issues=None if issues is None else issues[rows],
        agreement=agreement,
        n_boot=n_boot,
        random_state=random_state,
    )

    steps("learning curve")
    curve = cvc = None
    if curves:
        curve, cvc = _curves(
            version,
            frame,
            y_true,
            issues,
            scores,
            masks,
            table,
            metric,
            repeats,
            random_state,
            stores,
            notes,
        )

    checked = None
    if requirements is not None:
        from dcai.analysis._requirements import check_requirements, load_requirements

        checked = check_requirements(
            load_requirements(requirements),
            y_true[rows],
            y_pred[rows],
            frame[rows].reset_index(drop=True),
            slices={name: mask[rows] for name, mask in masks.items()},
            n_boot=n_boot,
            random_state=random_state,
            source=str(requirements),
        )
    if store:
        _store(stores, version, audit_id, run_id, metric, split, table, metrics)
    steps.done()
    return ErrorAnalysis(
        ref=version.ref,
        audit=audit_id,
        metric=metric,
        n_examples=int(rows.sum()),
        evaluated_on=evaluated_on,
        metrics=metrics,
        priorities=table,
        discovered=discovered,
        learning_curve=curve,
        clean_vs_collect=cvc,
        requirements=checked,
        masks=masks,
        notes=notes,
        run=run_id,
        hlp=hlp_used,
    )


def _store(
    stores: Stores,
    version: DatasetVersion,
    audit: str | None,
    run: str | None,
    metric: str,
    split: str | None,
    table: pd.DataFrame,
    metrics: MetricsReport,
) -> None:
    """Keep the slice metrics with the version: the baseline of a later run."""
    from dcai.labels.reports import store_report

    columns = ["name", "kind", "n", "share", "metric_name", "value", "low", "high"]
    kept = table[columns].astype({"value": float, "low": float, "high": float})
    accuracy = metrics.metric("accuracy")
    store_report(
        stores,
        version,
        "analysis",
        {"audit": audit, "run": run, "metric": metric, "split": split},
        {"accuracy": accuracy.value, "n_slices": len(table)},
        kept,
        None,
    )


def _run_inputs(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    run: str,
    split: str | None,
    audit: str | None,
    notes: list[str],
) -> tuple[Any, ...]:
    """A run's stored predictions on ``split`` (default dev) as the analysis' inputs.

    Returns ``(run id, y_true, y_pred, probabilities or None, classes, rows, evaluated_on,
    audit id or None, audit scores, label-issue flags or None)``; ``y_pred`` equals ``y_true``
    outside ``rows`` (the examples the run predicted), which the analysis never reads.
    """
    from dcai.experiments.query import run_detail
    from dcai.quality.audit import find_audit, list_audits
    from dcai.store import read_parquet_object

    detail = run_detail(stores, run)
    short = detail["id"][:8]
    trained_on = detail["dataset"]
    if trained_on is None or trained_on.split("@")[0] != version.dataset:
        raise InvalidInputError(
            f"run {short} was trained on {trained_on or 'no dataset'}, not on {version.dataset}"
        )
    stored = [a for a in detail["artifacts"] if a["name"] == "predictions.parquet"]
    if not stored:
        raise InvalidInputError(
            f"run {short} stored no predictions to analyse",
            hint=f"Train with dcai train {version.ref}, which stores them.",
        )
    table: pd.DataFrame = read_parquet_object(
        stores.objects, stored[0]["sha256"], what=f"the predictions of run {short}"
    )
    wanted = split or "dev"
    table = table[table["split"] == wanted]
    table = table.set_index(table[EXAMPLE_ID].astype(str))
    ids = frame[EXAMPLE_ID].astype(str)
    rows = ids.isin(table.index).to_numpy()
    if not rows.any():
        raise InvalidInputError(
            f"run {short} has no {wanted} predictions for the examples of {version.ref}",
            hint="Pick the split the run evaluated (--split dev or test).",
        )
    label = version.roles.label
    by_text = {str(v): v for v in pd.unique(frame[label].dropna())}
    prob_columns = [c for c in table.columns if str(c).startswith("p_")]
    names = [str(c)[2:] for c in prob_columns]
    if not names:
        names = sorted({*by_text, *table["predicted"].astype(str)})
    classes = [by_text.get(name, name) for name in names]
    y_true = _as_class_labels(frame[label], classes)
    predicted = table["predicted"].astype(str).reindex(ids.to_numpy())
    typed = _as_class_labels(predicted.fillna("").astype(object), classes)
    y_pred = np.where(rows, typed, y_true)
    prob_matrix = (
        table[prob_columns].reindex(ids.to_numpy()).to_numpy(dtype=float) if prob_columns else None
    )
    if trained_on != version.ref:
        notes.append(
            f"run {short} was trained on {trained_on}; its predictions are scored against the "
            f"labels of {version.ref}"
        )
    evaluated_on = f"run {short}'s {wanted} predictions ({int(rows.sum()):,} examples)"
    found = None
    if audit is not None:
        found = find_audit(stores, audit)
    else:
        existing = [a for a in list_audits(stores, version.ref) if a.version_id == version.id]
        found = existing[0] if existing else None
    scores = pd.DataFrame(index=frame[EXAMPLE_ID].to_numpy())
    issues = None
    if found is None:
        notes.append(
            f"no audit of {version.ref}: label issues per slice not shown (dcai audit {version.ref})"
        )
    else:
        scores = found.scores.set_index(EXAMPLE_ID).reindex(frame[EXAMPLE_ID].to_numpy())
        if "is_label_issue" in scores:
            issues = scores["is_label_issue"].fillna(False).to_numpy(dtype=bool)
    return (
        detail["id"],
        y_true,
        y_pred,
        prob_matrix,
        classes,
        rows,
        evaluated_on,
        found.short_id if found is not None else None,
        scores,
        issues,
    )


def _audit_for(
    stores: Stores,
    version: DatasetVersion,
    audit: str | None,
    progress: ProgressCallback | None,
    notes: list[str],
) -> Audit:
    from dcai.quality.audit import find_audit, list_audits, run_audit

    if audit is not None:
        found = find_audit(stores, audit)
        if found.version_id != version.id:
            raise InvalidInputError(
                f"audit {found.short_id} is of {found.version_ref}, not {version.ref}",
                hint=f"Analyse {found.version_ref}, or audit {version.ref} first.",
            )
        return found
    existing = [a for a in list_audits(stores, version.ref) if a.version_id == version.id]
    if existing:
        return existing[0]
    notes.append(f"{version.ref} had no audit; one was run now")
    return run_audit(stores, version.ref, progress=progress)


def _as_class_labels(labels: pd.Series, classes: list[Any]) -> np.ndarray:
    """The labels as the same Python values as the probability columns' names."""
    by_text = {str(c): c for c in classes}
    values = labels.to_numpy()
    return np.asarray([by_text.get(str(v), v) for v in values], dtype=object)


def _column_slices(frame: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
    values = frame[column]
    out: dict[str, np.ndarray] = {}
    if pd.api.types.is_bool_dtype(values):
        out[column] = values.fillna(False).to_numpy(dtype=bool)
        out[f"not {column}"] = (~values.fillna(True).astype(bool)).to_numpy()
        return out
    numeric = pd.api.types.is_numeric_dtype(values)
    distinct = values.dropna().unique()
    if numeric and len(distinct) > MAX_VALUES_PER_COLUMN:
        edges = np.unique(
            np.nanquantile(values.to_numpy(dtype=float), np.linspace(0, 1, NUMERIC_BINS + 1))
        )
        for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
            last = i == len(edges) - 2
            mask = (values >= lo) & ((values <= hi) if last else (values < hi))
            out[f"{lo:g} ≤ {column} {'≤' if last else '<'} {hi:g}"] = mask.to_numpy(dtype=bool)
    elif len(distinct) <= MAX_VALUES_PER_COLUMN:
        for value in sorted(distinct, key=str):
            out[f"{column} == {value}"] = (values == value).to_numpy(dtype=bool)
    if values.isna().any():
        out[f"{column} is missing"] = values.isna().to_numpy()
    return out


def _slices(
    version: DatasetVersion,
    frame: pd.DataFrame,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[Any],
    by: Sequence[str],
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    roles = version.roles
    masks: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for tag in roles.tags:
        masks[tag] = frame[tag].fillna(False).to_numpy(dtype=bool)
        kinds[tag] = "tag"
    for column in (*roles.meta, *by):
        if column not in frame.columns:
            listing = ", ".join(str(c) for c in frame.columns[:12])
            raise InvalidInputError(
                f"{version.ref} has no column {column!r} to slice by",
                column=column,
                hint=f"Pick one of: {listing}.",
            )
        if column in roles.tags or column in (EXAMPLE_ID, roles.label):
            continue
        for name, mask in _column_slices(frame, column).items():
            masks[name] = mask
            kinds[name] = "meta" if column in roles.meta else "column"
    for value in classes:
        masks[f"label == {value}"] = y_true == value
        kinds[f"label == {value}"] = "class"
    for value in classes:
        masks[f"predicted == {value}"] = y_pred == value
        kinds[f"predicted == {value}"] = "predicted"
    return masks, kinds


def _discover(
    version: DatasetVersion,
    frame: pd.DataFrame,
    errors: np.ndarray,
    rows: np.ndarray,
    notes: list[str],
) -> SliceReport | None:
    from dcai.analysis._slices import find_slices

    roles = version.roles
    features = [c for c in roles.features if c in frame.columns]
    if len(features) > MAX_DISCOVERY_FEATURES:
        notes.append(
            f"slice discovery searched tags and metadata only: {len(features)} feature columns "
            f"are more than {MAX_DISCOVERY_FEATURES} (slice by chosen ones with --by)"
        )
        features = []
    columns = [*roles.tags, *roles.meta, *features]
    if not columns:
        notes.append("no tags, metadata or features to discover slices in")
        return None
    try:
        return find_slices(
            frame.loc[rows, columns].reset_index(drop=True), errors[rows].astype(float)
        )
    except DcaiError as exc:
        notes.append(f"slice discovery skipped: {exc}")
        return None


def _baselines(
    stores: Stores,
    version: DatasetVersion,
    given: Mapping[str, float] | str | Path | None,
    baseline_version: str | None,
    hlp: str | int | None,
    notes: list[str],
) -> tuple[dict[str, float], dict[str, str], dict[str, Any] | None]:
    from dcai.labels.reports import latest_report, list_reports

    base: dict[str, float] = {}
    sources: dict[str, str] = {}
    used: dict[str, Any] | None = None
    reports = list_reports(stores, version.dataset, kind="hlp")

    def described(r: Any) -> str:
        value = _hlp_value(r)
        return f"#{r.id} {r.params.get('consensus')} " + ("?" if value is None else f"{value:.3f}")

    report = None
    if hlp is not None:
        wanted = str(hlp).lstrip("#")
        chosen = [r for r in reports if str(r.id) == wanted]
        if not chosen:
            listing = ", ".join(described(r) for r in reports) or "none"
            raise UnknownRefError(
                f"no HLP report {hlp} for {version.dataset} (stored: {listing})",
                hint=f"Compute one with: dcai labels hlp {version.dataset}",
            )
        report = chosen[0]
    elif reports:
        report = reports[0]
        if len(reports) > 1:
            notes.append(
                f"{len(reports)} HLP reports stored ({', '.join(described(r) for r in reports)}); "
                f"the newest, #{report.id}, is used: choose another with --hlp ID"
            )
    if report is None:
        notes.append(
            f"no human-level performance stored for {version.dataset}: "
            f"run dcai labels hlp {version.dataset} (or give --baseline); slices are held "
            "against the rest of the data"
        )
    else:
        used = {
            "id": report.id,
            "method": report.params.get("consensus"),
            "value": _hlp_value(report),
            "ref": report.version_ref,
        }
        by = report.params.get("by")
        for row in report.table.itertuples():
            if pd.isna(row.accuracy):
                continue
            name = {
                "overall": "all",
                "class": f"label == {row.group}",
                "metadata": f"{by} == {row.group}" if by else None,
            }.get(str(row.scope))
            if name is not None:
                base[name] = float(row.accuracy)
                sources[name] = f"hlp #{report.id} ({report.version_ref})"
    if baseline_version is not None:
        previous = latest_report(stores, baseline_version, "analysis")
        table = previous.table
        for row in table.itertuples():
            if row.metric_name == previous.params.get("metric") and not pd.isna(row.value):
                base[str(row.name)] = float(row.value)
                sources[str(row.name)] = f"run ({previous.version_ref})"
    if given is not None:
        user = load_baselines(given) if isinstance(given, str | Path) else dict(given)
        base.update(user)
        sources.update(dict.fromkeys(user, "user"))
    return base, sources, used


def _hlp_value(report: Any) -> float | None:
    """The overall accuracy of a stored HLP report."""
    table = report.table
    if table.empty or "scope" not in table:
        return None
    overall = table[table["scope"] == "overall"]
    value = overall["accuracy"].iloc[0] if len(overall) else None
    return None if value is None or pd.isna(value) else float(value)


def _agreement(
    version: DatasetVersion,
    stores: Stores,
    masks: Mapping[str, np.ndarray],
    rows: np.ndarray,
    notes: list[str],
) -> dict[str, tuple[float | None, int]]:
    """Per slice: mean pairwise agreement over examples labelled by two or more labelers."""
    annotations = _annotations_for(stores, version)
    if annotations is None:
        notes.append("no labelers' annotations on this dataset: agreement per slice not shown")
        return {}
    counts = annotations.groupby([EXAMPLE_ID, "label"]).size().unstack(fill_value=0)
    n = counts.sum(axis=1).to_numpy(dtype=float)
    pairs = (counts.to_numpy(dtype=float) * (counts.to_numpy(dtype=float) - 1)).sum(axis=1)
    agree = pd.Series(
        np.where(n >= 2, pairs / np.maximum(n * (n - 1), 1), np.nan), index=counts.index.astype(str)
    )
    ids = version.to_pandas(columns=[EXAMPLE_ID])[EXAMPLE_ID].astype(str).to_numpy()
    per_example = agree.reindex(ids).to_numpy()
    out: dict[str, tuple[float | None, int]] = {}
    for name, mask in {"all": np.ones(len(ids), dtype=bool), **masks}.items():
        values = per_example[mask & rows]
        values = values[~np.isnan(values)]
        out[name] = (float(values.mean()) if len(values) else None, len(values))
    return out


def _annotations_for(stores: Stores, version: DatasetVersion) -> pd.DataFrame | None:
    if version.n_annotations:
        return version.annotations()
    for other in version_log(stores, version.dataset):
        if other.n_annotations:
            return other.annotations()
    return None


def _clean_labels(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    y_true: np.ndarray,
    issues: np.ndarray | None,
    scores: pd.DataFrame,
) -> tuple[np.ndarray | None, str]:
    """The training labels with fixes applied, and where the fixes came from.

    A review applied to this version (its newest child made by ``review``) wins: people
    decided those labels. Otherwise the audit's confident fixes: each flagged label replaced by
    the suggested one.
    """
    reviewed = [
        v for v in version_log(stores, version.dataset) if v.operation == "review" and version.id in v.parent_ids
    ]
    if reviewed:
        child = reviewed[0].to_pandas(columns=[EXAMPLE_ID, version.roles.label])
        decided = child.set_index(EXAMPLE_ID)[version.roles.label]
        after = decided.reindex(frame[EXAMPLE_ID].to_numpy())
        classes = list(np.unique(y_true))
        labels = _as_class_labels(after.fillna(pd.Series(y_true, index=after.index)), classes)
        # Removed examples keep their label: the comparison is on the same training rows.
        return np.where(after.isna().to_numpy(), y_true, labels), (
            f"the decisions of the review applied in {reviewed[0].ref}"
        )
    if issues is None or "suggested_label" not in scores:
        return None, "the audit has no label fixes and no review was applied"
    fixes = issues & scores["suggested_label"].notna().to_numpy()
    suggested = _as_class_labels(scores["suggested_label"].astype(object), list(np.unique(y_true)))
    return np.where(fixes, suggested, y_true), "the audit's confident fixes"


def _curves(
    version: DatasetVersion,
    frame: pd.DataFrame,
    y_true: np.ndarray,
    issues: np.ndarray | None,
    scores: pd.DataFrame,
    masks: Mapping[str, np.ndarray],
    table: pd.DataFrame,
    metric: str,
    repeats: int,
    random_state: int,
    stores: Stores,
    notes: list[str],
) -> tuple[LearningCurve | None, CleanVsCollect | None]:
    from dcai.analysis._clean_vs_collect import clean_vs_collect
    from dcai.analysis._learning_curve import learning_curve

    column = version.roles.split
    if column is None or not {"train", "dev"} <= set(frame[column].unique()):
        notes.append(
            f"no train and dev split in {version.ref}: learning curve and clean-vs-collect skipped "
            f"(split it with: dcai data split {version.dataset})"
        )
        return None, None
    train = (frame[column] == "train").to_numpy()
    dev = (frame[column] == "dev").to_numpy()
    inputs = list(version.roles.inputs)
    X = frame[inputs]
    curve_metric = metric if metric in ("accuracy",) else "macro_f1"
    top = [n for n in table["name"] if n != "all"][:3]
    # One slice per dev example (the curve is measured per slice): the first top slice it is in.
    groups = None
    if top:
        names = np.full(int(dev.sum()), None, dtype=object)
        for name in reversed(top):
            names[masks[name][dev]] = name
        groups = pd.Series(names)
    curve = cvc = None
    try:
        curve = learning_curve(
            None,
            X[train],
            y_true[train],
            X[dev],
            y_true[dev],
            repeats=repeats,
            metric=curve_metric,  # type: ignore[arg-type]
            groups_dev=groups,
            random_state=random_state,
            backend=stores.settings.compute_backend,
        )
    except DcaiError as exc:
        notes.append(f"learning curve skipped: {exc}")
    y_clean, source = _clean_labels(stores, version, frame, y_true, issues, scores)
    if y_clean is None:
        notes.append(f"clean-vs-collect skipped: {source}")
        return curve, None
    if not (y_clean != y_true)[train].any():
        notes.append(f"clean-vs-collect skipped: {source} change no training label")
        return curve, None
    notes.append(f"clean-vs-collect: the cleaned labels are {source}")
    try:
        cvc = clean_vs_collect(
            None,
            X[train],
            y_true[train],
            y_clean[train],
            X[dev],
            # Both models are scored against the best labels known for dev: fixed ones.
            y_clean[dev],
            repeats=repeats,
            metric=curve_metric,  # type: ignore[arg-type]
            random_state=random_state,
            backend=stores.settings.compute_backend,
        )
    except DcaiError as exc:
        notes.append(f"clean-vs-collect skipped: {exc}")
    return curve, cvc
