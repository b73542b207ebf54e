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

This module only orders the steps; each lives in a module of its own: the inputs
(:mod:`~dcai.analysis._workflow_inputs`), the slices (:mod:`~dcai.analysis._workflow_slices`),
the baselines and the stored report (:mod:`~dcai.analysis._workflow_baselines`), the learning
curve and clean-vs-collect (:mod:`~dcai.analysis._workflow_curves`), and the result
(:mod:`~dcai.analysis._analysis_result`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback, Steps
from dcai.analysis._analysis_result import ErrorAnalysis
from dcai.analysis._workflow_baselines import (
    agreement,
    load_baselines,
    slice_baselines,
    store_analysis,
)
from dcai.analysis._workflow_curves import train_dev_curves
from dcai.analysis._workflow_inputs import AnalysisInputs, audit_inputs, run_inputs
from dcai.analysis._workflow_slices import analysed_slices
from dcai.data.versions import resolve_ref

if TYPE_CHECKING:
    from dcai.analysis._clean_vs_collect import CleanVsCollect
    from dcai.analysis._learning_curve import LearningCurve
    from dcai.analysis._metrics import MetricsReport
    from dcai.analysis._requirements import RequirementsResult
    from dcai.analysis._slices import SliceReport
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = ["ErrorAnalysis", "analyze", "load_baselines"]


@dataclass(frozen=True)
class _Options:
    """The options of :func:`analyze` that its steps read (``baseline_run`` folded in)."""

    audit: str | None
    split: str | None
    by: Sequence[str]
    slices: Sequence[str]
    baselines: Mapping[str, float] | str | Path | None
    metric: str
    discover: bool
    curves: bool
    requirements: str | Path | None
    baseline_version: str | None
    run: str | None
    hlp: str | int | None
    n_boot: int
    repeats: int
    random_state: int


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
    """Analyse the errors of the newest audit's model (or a run's) on a version.

    See the module docstring for what the result holds.

    Parameters
    ----------
    stores
        The workspace's stores.
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
    n_boot, random_state
        Bootstrap resamples for the intervals, and the seed of every random step.
    repeats
        Models trained per point of the learning curve and per side of clean-vs-collect.
    store
        Store the slice metrics with the version (a report of kind ``analysis``), so a later
        analysis can use them as its baseline (``baseline_version``).
    progress
        Called with each step's description, its index and the number of steps.
    """
    options = _Options(
        audit=audit,
        split=split,
        by=by,
        slices=slices,
        baselines=baselines,
        metric=metric,
        discover=discover,
        curves=curves,
        requirements=requirements,
        baseline_version=baseline_version if baseline_version is not None else baseline_run,
        run=run,
        hlp=hlp,
        n_boot=n_boot,
        repeats=repeats,
        random_state=random_state,
    )
    steps = Steps(progress, total=6)
    notes: list[str] = []
    version = resolve_ref(stores, ref)
    frame = version.to_pandas()
    inputs = _read_inputs(stores, version, frame, options, steps, progress, notes)
    steps("metrics")
    metrics = _metrics(inputs, options)
    steps("slices")
    masks, kinds, discovered = _slices(version, frame, inputs, options, notes)
    steps("baselines")
    table, hlp_used = _priorities(stores, version, inputs, masks, kinds, options, notes)
    steps("learning curve")
    curve, cvc = _curves(stores, version, frame, inputs, masks, table, options, notes)
    checked = _requirements(frame, inputs, masks, options)
    if store:
        store_analysis(
            stores, version, inputs.audit, inputs.run, options.metric, options.split, table, metrics
        )
    steps.done()
    return ErrorAnalysis(
        ref=version.ref,
        audit=inputs.audit,
        metric=metric,
        n_examples=int(inputs.rows.sum()),
        evaluated_on=inputs.evaluated_on,
        metrics=metrics,
        priorities=table,
        discovered=discovered,
        learning_curve=curve,
        clean_vs_collect=cvc,
        requirements=checked,
        masks=masks,
        notes=notes,
        run=inputs.run,
        hlp=hlp_used,
    )


def _read_inputs(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    options: _Options,
    steps: Steps,
    progress: ProgressCallback | None,
    notes: list[str],
) -> AnalysisInputs:
    """Step 1: a run's stored predictions when ``run`` is given, else the audit's."""
    if options.run is not None:
        steps("reading the run's predictions")
        return run_inputs(stores, version, frame, options.run, options.split, options.audit, notes)
    steps("reading the audit")
    return audit_inputs(stores, version, frame, options.audit, options.split, progress, notes)


def _metrics(inputs: AnalysisInputs, options: _Options) -> MetricsReport:
    """Step 2: the metrics, with intervals, on the evaluated examples."""
    from dcai.analysis._metrics import classification_metrics

    rows = inputs.rows
    return classification_metrics(
        inputs.y_true[rows],
        inputs.y_pred[rows],
        pred_probs=None if inputs.prob_matrix is None else inputs.prob_matrix[rows],
        classes=inputs.classes,
        n_boot=options.n_boot,
        random_state=options.random_state,
    )


def _slices(
    version: DatasetVersion,
    frame: pd.DataFrame,
    inputs: AnalysisInputs,
    options: _Options,
    notes: list[str],
) -> tuple[dict[str, np.ndarray], dict[str, str], SliceReport | None]:
    """Step 3: every slice's mask and kind, and the slices found automatically."""
    return analysed_slices(
        version,
        frame,
        inputs.y_true,
        inputs.y_pred,
        inputs.classes,
        inputs.rows,
        by=options.by,
        slices=options.slices,
        discover=options.discover,
        split=options.split,
        notes=notes,
    )


def _priorities(
    stores: Stores,
    version: DatasetVersion,
    inputs: AnalysisInputs,
    masks: dict[str, np.ndarray],
    kinds: dict[str, str],
    options: _Options,
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Step 4: the "what to work on next" table, and the HLP report used (None without)."""
    from dcai.analysis._priorities import priority_table

    base, sources, hlp_used = slice_baselines(
        stores, version, options.baselines, options.baseline_version, options.hlp, notes
    )
    for name in sorted(set(base) - set(masks) - {"all"}):
        notes.append(
            f"a baseline is given for slice {name!r}, which is not analysed; add it with --slice or --by"
        )
    rows = inputs.rows
    table = priority_table(
        inputs.y_true[rows],
        inputs.y_pred[rows],
        {name: mask[rows] for name, mask in masks.items()},
        kinds=kinds,
        metric=options.metric,
        baselines=base,
        baseline_sources=sources,
        label_issues=None if inputs.issues is None else inputs.issues[rows],
        agreement=agreement(version, stores, masks, rows, notes),
        n_boot=options.n_boot,
        random_state=options.random_state,
    )
    return table, hlp_used


def _curves(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    inputs: AnalysisInputs,
    masks: dict[str, np.ndarray],
    table: pd.DataFrame,
    options: _Options,
    notes: list[str],
) -> tuple[LearningCurve | None, CleanVsCollect | None]:
    """Step 5: the learning curve and clean-vs-collect, unless ``curves`` is off."""
    if not options.curves:
        return None, None
    return train_dev_curves(
        stores,
        version,
        frame,
        inputs,
        masks,
        table,
        metric=options.metric,
        repeats=options.repeats,
        random_state=options.random_state,
        notes=notes,
    )


def _requirements(
    frame: pd.DataFrame,
    inputs: AnalysisInputs,
    masks: dict[str, np.ndarray],
    options: _Options,
) -> RequirementsResult | None:
    """Step 6: the declared performance requirements checked, when a file is given."""
    if options.requirements is None:
        return None
    from dcai.analysis._requirements import check_requirements, load_requirements

    rows = inputs.rows
    return check_requirements(
        load_requirements(options.requirements),
        inputs.y_true[rows],
        inputs.y_pred[rows],
        frame[rows].reset_index(drop=True),
        slices={name: mask[rows] for name, mask in masks.items()},
        n_boot=options.n_boot,
        random_state=options.random_state,
        source=str(options.requirements),
    )
