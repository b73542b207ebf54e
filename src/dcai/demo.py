"""The demo behind ``make demo``: the data → labels → analysis loop on scikit-learn's digits.

Everything runs offline on data bundled with scikit-learn: add the data, split it, plant label
errors (a recorded, seeded operation), audit, accept the confident suggestions, and commit the
clean version, then count how many of the planted errors the loop found and fixed. Later
stages of the loop extend this same demo: simulated labelers, error analysis, and training the
same recipe on the noisy and the cleaned version, scored on one evaluation set (the true dev
labels, known here because the errors were planted), with the better model registered as
``digits@production``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback
from dcai.analysis.workflow import ErrorAnalysis
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import DatasetVersion, commit_version, resolve_ref
from dcai.labels import (
    AgreementReport,
    ConsensusResult,
    ConventionReport,
    HLPReport,
    load_transcripts,
)
from dcai.quality.audit import Audit
from dcai.workspace import Workspace

if TYPE_CHECKING:
    from dcai.experiments.registry import ModelVersion
    from dcai.experiments.train import TrainResult

__all__ = ["DemoResult", "digits_frame", "plant_label_errors", "run_demo"]

#: Share of labels the demo flips, and the bar a suggestion must clear to be accepted unseen.
DEMO_NOISE_RATE = 0.1
DEMO_MIN_SCORE = 0.6
#: The one recipe and parameters the demo trains on the noisy and on the cleaned digits.
DEMO_RECIPE = "logreg"
DEMO_TRAIN_PARAMS: dict[str, Any] = {"C": 1.0}
#: Bootstrap replicates of the demo's training intervals: enough for a demo, and quick.
DEMO_N_BOOT = 200


#: The demo project's targets: dev accuracy of the served model, and answers within 50 ms.
DEMO_TARGETS = {"accuracy": ">= 0.97", "latency_p95_seconds": "<= 0.05"}


def digits_frame() -> pd.DataFrame:
    """scikit-learn's 1,797 8×8 digit images as 64 pixel columns plus ``label``.

    >>> digits_frame().shape
    (1797, 65)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data.astype("int16"), columns=[f"px{i:02d}" for i in range(64)])
    frame["label"] = digits.target.astype("int64")
    return frame


def plant_label_errors(
    ws: Workspace, ref: str, *, rate: float = DEMO_NOISE_RATE, seed: int = 0
) -> DatasetVersion:
    """Commit a child of ``ref`` with ``rate`` of its labels flipped to another class at random.

    For demos and for measuring a cleaning pipeline: the operation, rate and seed are recorded
    in lineage, so ``dcai data diff`` against the parent lists exactly the planted errors.
    """
    parent = resolve_ref(ws.stores, ref)
    frame = parent.to_pandas()
    label = parent.roles.label
    rng = np.random.default_rng(seed)
    classes = np.sort(frame[label].unique())
    n_flip = round(rate * len(frame))
    chosen = rng.choice(len(frame), size=n_flip, replace=False)
    values = frame[label].to_numpy(copy=True)
    for row in chosen:
        others = classes[classes != values[row]]
        values[row] = others[rng.integers(len(others))]
    child = frame.copy()
    child[label] = values
    return commit_version(
        ws.stores,
        parent.dataset,
        child,
        parent.roles,
        operation="plant_label_errors",
        params={"rate": rate, "seed": seed, "flipped": n_flip, "kind": "uniform"},
        message=f"demo: flip {rate:.0%} of labels at random (seed {seed})",
        parents=[parent],
        annotations=parent.annotations() if parent.n_annotations else None,
    )


@dataclass(frozen=True)
class DemoResult:
    workspace: Workspace
    added: DatasetVersion
    split: DatasetVersion
    noisy: DatasetVersion
    audit: Audit
    accepted: int
    cleaned: DatasetVersion
    planted: int
    flagged: int
    found: int
    fixed: int
    labeled: DatasetVersion
    agreement: AgreementReport
    consensus: ConsensusResult
    hlp: HLPReport
    speech: DatasetVersion
    conventions: ConventionReport
    analysis_noisy: ErrorAnalysis
    analysis_clean: ErrorAnalysis
    report: Path
    #: The same recipe, parameters and seed trained on ``noisy`` and on ``cleaned``.
    run_noisy: TrainResult
    run_clean: TrainResult
    #: :func:`dcai.experiments.compare.compare_runs` of the noisy run (first) and the clean one,
    #: both scored on the true dev labels of ``split``.
    comparison: dict[str, Any]
    #: :func:`dcai.experiments.data_view.data_view` of the recipe on digits, on the same set.
    data_view: dict[str, Any]
    #: Each run's accuracy on that set with a bootstrap interval: run id → value, low, high, n.
    eval_accuracy: dict[str, dict[str, float]]
    #: ``digits/1`` (noisy) and ``digits/2`` (cleaned), as registered.
    models: tuple[ModelVersion, ...]
    #: The version the ``production`` alias points at, and why.
    production: ModelVersion
    production_reason: str
    #: Deploy and serve (:func:`dcai._demo_deploy.deploy_and_serve`); None without ``serve``.
    deploy: dict[str, Any] | None = None
    #: Monitor, alert, retrain, promote (:func:`dcai._demo_monitor.monitor_and_retrain`).
    monitor: dict[str, Any] | None = None
    #: The project's targets against what was measured (``dcai status``).
    status: Any = None


def run_demo(
    path: str | Path,
    *,
    fresh: bool = True,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> DemoResult:
    """Add digits, split, plant label errors, audit, accept confident suggestions, commit."""
    path = Path(path)
    if fresh and path.exists():
        if not (path / "dcai.toml").exists():
            raise FileExistsError(f"{path} exists and is not a dcai workspace; not deleting it")
        shutil.rmtree(path)
    ws = Workspace(path)
    truth = digits_frame()
    added = ws.data.add("digits", truth, label="label", message="scikit-learn digits (bundled)")
    split = ws.data.split(
        "digits", dev=0.1, test=0.2, seed=seed, message="stratified train/dev/test"
    )
    # A tag error analysis will slice by: faint digits, drawn with little ink.
    split = ws.data.tag(
        split.ref, "faint", where=_faint, message="demo: digits drawn with little ink"
    )
    noisy = plant_label_errors(ws, split.ref, seed=seed)
    audit = ws.quality.audit(noisy.ref, random_state=seed, progress=progress)
    review = ws.quality.review(audit.id)
    accepted = review.accept_suggested(min_score=DEMO_MIN_SCORE, reviewer="demo")
    cleaned = review.apply(message="demo: accept confident suggestions", author="demo")

    clean = split.to_pandas()[[EXAMPLE_ID, "label"]].set_index(EXAMPLE_ID)["label"]
    planted_ids = set(ws.data.diff(split.ref, noisy.ref).relabeled[EXAMPLE_ID])
    flagged_ids = set(audit.issues.query("type == 'label'")[EXAMPLE_ID])
    after = cleaned.to_pandas()[[EXAMPLE_ID, "label"]].set_index(EXAMPLE_ID)["label"]
    fixed = sum(int(after.get(i) == clean.get(i)) for i in planted_ids)

    # Labels: three labelers re-label 300 digits under a guideline; one mixes up 1 and 8.
    guideline = path / "guideline-digits.md"
    guideline.write_text(DEMO_GUIDELINE, encoding="utf-8")
    ws.labels.add_guideline("digits", guideline, message="demo guideline", author="demo")
    truth_ids = cleaned.to_pandas(columns=[EXAMPLE_ID, "label"])
    labeled = ws.labels.import_annotations(
        cleaned.ref,
        simulate_labelers(truth_ids, n_items=300, seed=seed),
        guideline="digits",
        message="demo: three labelers re-label 300 digits",
    )
    agreement = ws.labels.agreement(labeled.ref, n_boot=200)
    consensus = ws.labels.consensus(labeled.ref, method="dawid_skene")
    hlp = ws.labels.hlp(labeled.ref, n_boot=200)

    # Conventions: speech-style transcripts from three labelers with different habits.
    transcripts = load_transcripts()
    utterances = pd.DataFrame({EXAMPLE_ID: pd.unique(transcripts[EXAMPLE_ID])})
    utterances["label"] = "utterance"
    utterances["seconds"] = np.arange(len(utterances), dtype=float)
    speech = ws.data.add("speech", utterances, id=EXAMPLE_ID, message="demo transcripts")
    speech = ws.labels.import_annotations(speech.ref, transcripts, message="three transcribers")
    conventions = ws.labels.conventions(speech.ref)

    # Error analysis of the noisy and the cleaned digits, with the labelers' HLP as baseline.
    analysis_noisy = ws.analysis.analyze(noisy.ref, n_boot=200, repeats=3, random_state=seed)
    analysis_clean = ws.analysis.analyze(
        labeled.ref, n_boot=200, curves=False, random_state=seed, progress=progress
    )
    from dcai.analysis.html import write_html_report

    report = write_html_report(analysis_noisy, path / "reports" / "analysis-digits-noisy.html")
    training = _train_and_register(ws, noisy, cleaned, split, seed=seed)
    from dcai._demo_deploy import deploy_and_serve

    production = training["production"]
    candidate = next(m for m in training["models"] if m.version != production.version)
    test_rows = split.to_pandas()
    test_rows = test_rows[test_rows["split"] == "test"].set_index(EXAMPLE_ID)
    deploy = deploy_and_serve(
        ws,
        production,
        candidate,
        test_rows.drop(columns=["split", "faint"], errors="ignore"),
        clean,
        seed=seed,
    )
    monitor = None
    if deploy is not None:  # the serve extra: its log is what monitoring reads
        from dcai._demo_deploy import DEPLOYMENT
        from dcai._demo_monitor import monitor_and_retrain

        pool = test_rows.drop(columns=["split", "faint"], errors="ignore")
        pool = pool.assign(label=clean.reindex(pool.index).to_numpy())
        monitor = monitor_and_retrain(ws, DEPLOYMENT, pool.reset_index(drop=True), seed=seed)
    # Scope: the project's targets (dcai.toml), held against what the loop measured.
    for metric, target in DEMO_TARGETS.items():
        ws.project.target(metric, target)
    status = ws.project.status()
    return DemoResult(
        workspace=ws,
        added=added,
        split=split,
        noisy=noisy,
        audit=audit,
        accepted=accepted,
        cleaned=cleaned,
        planted=len(planted_ids),
        flagged=len(flagged_ids),
        found=len(planted_ids & flagged_ids),
        fixed=fixed,
        labeled=labeled,
        agreement=agreement,
        consensus=consensus,
        hlp=hlp,
        speech=speech,
        conventions=conventions,
        analysis_noisy=analysis_noisy,
        analysis_clean=analysis_clean,
        report=report,
        deploy=deploy,
        monitor=monitor,
        status=status,
        **training,
    )


def _train_and_register(
    ws: Workspace,
    noisy: DatasetVersion,
    cleaned: DatasetVersion,
    truth: DatasetVersion,
    *,
    seed: int,
) -> dict[str, Any]:
    """Train the demo recipe on ``noisy`` and ``cleaned``, compare them on the true dev labels
    of ``truth``, register both as ``digits`` and point ``production`` at the better one.

    The code is not captured: the demo's training code is dcai's own recipe, while the git
    state of whatever directory the demo runs from is not what trained the models.
    """
    from dcai.analysis._metrics import classification_metrics
    from dcai.experiments.compare import compare_runs, eval_labels, run_predictions
    from dcai.experiments.data_view import data_view

    runs = [
        ws.runs.train(
            version.ref,
            recipe=DEMO_RECIPE,
            params=dict(DEMO_TRAIN_PARAMS),
            n_boot=DEMO_N_BOOT,
            random_state=seed,
            capture_code=False,
        )
        for version in (noisy, cleaned)
    ]
    run_noisy, run_clean = runs
    comparison = compare_runs(
        ws.stores, [run_noisy.run, run_clean.run], seed=seed, eval_ref=truth.ref
    )
    view = data_view(
        ws.stores, recipe=DEMO_RECIPE, dataset=noisy.dataset, eval_ref=truth.ref, seed=seed
    )
    labels, _ = eval_labels(ws.stores, truth.ref)
    eval_accuracy: dict[str, dict[str, float]] = {}
    for run in runs:
        found = run_predictions(ws.stores, ws.runs.get(run.run))
        assert found is not None  # dcai train always stores its dev predictions
        predicted = found.set_index(EXAMPLE_ID)["predicted"].reindex(labels.index)
        estimate = classification_metrics(
            labels.to_numpy(), predicted.to_numpy(), n_boot=DEMO_N_BOOT, random_state=seed
        ).metric("accuracy")
        eval_accuracy[run.run] = {
            key: float("nan") if value is None else float(value)
            for key, value in (
                ("value", estimate.value),
                ("low", estimate.low),
                ("high", estimate.high),
                ("n", len(labels)),
            )
        }

    models = tuple(
        ws.models.register(
            run.run,
            name="digits",
            description=f"dcai demo: {DEMO_RECIPE} on {version.ref} ({what})",
            author="demo",
        )
        for run, version, what in (
            (run_noisy, noisy, f"{DEMO_NOISE_RATE:.0%} of the labels flipped at random"),
            (run_clean, cleaned, "confident label suggestions accepted"),
        )
    )
    paired = comparison["pairs"][0]["paired"]
    low, high = paired["low"] * 100, paired["high"] * 100
    difference = (
        f"{paired['difference'] * 100:+.1f} points [{low:+.1f}, {high:+.1f}] on the true dev labels"
    )
    if paired["real"] and paired["difference"] < 0:
        chosen, reason = models[0], f"the noisy-label model is better: {difference}"
    elif paired["real"]:
        chosen, reason = models[1], f"the cleaned-label model is better: {difference}"
    else:
        chosen = models[1]
        reason = f"within noise ({difference}); the cleaned-label model: same recipe, better labels"
    production = ws.models.set_alias(
        "digits", chosen.version, "production", author="demo", reason=reason
    )
    return {
        "run_noisy": run_noisy,
        "run_clean": run_clean,
        "comparison": comparison,
        "data_view": view,
        "eval_accuracy": eval_accuracy,
        "models": models,
        "production": production,
        "production_reason": reason,
    }


def _faint(frame: pd.DataFrame) -> pd.Series:
    """Digits drawn with the least ink: the lowest quarter of total pixel intensity."""
    ink = frame[[c for c in frame.columns if c.startswith("px")]].sum(axis=1)
    return ink < ink.quantile(0.25)


DEMO_GUIDELINE = """# Digits: labeling guideline (demo)

Label each 8×8 image with the digit it shows, 0–9.

- A 1 is a single stroke; a serif at the top is still a 1.
- An 8 has two closed loops; a 1 with a thick middle is not an 8.
- When unsure, pick the most likely digit and flag the example.
"""


#: The demo's simulated labelers: (name, accuracy, classes they mix up, how often they do).
DEMO_LABELERS: tuple[tuple[str, float, tuple[int, int] | None, float], ...] = (
    ("ana", 0.97, None, 0.0),
    ("bo", 0.95, None, 0.0),
    ("cy", 0.97, (1, 8), 0.45),
)


def simulate_labelers(
    truth: pd.DataFrame,
    *,
    n_items: int = 300,
    seed: int = 0,
    labelers: tuple[tuple[str, float, tuple[int, int] | None, float], ...] = DEMO_LABELERS,
) -> pd.DataFrame:
    """Long-form annotations from simulated labelers on ``n_items`` examples of ``truth``.

    ``truth`` has ``example_id`` and ``label``. Each labeler gives the true label with its
    accuracy, else a random other class; a careless labeler also swaps one pair of confusable
    classes (e.g. 1 and 8 in digits) with the given rate. Deterministic for a seed.

    >>> frame = pd.DataFrame({"example_id": [f"e{i}" for i in range(50)], "label": [i % 10 for i in range(50)]})
    >>> simulate_labelers(frame, n_items=20).groupby("annotator").size().to_dict()
    {'ana': 20, 'bo': 20, 'cy': 20}
    """
    rng = np.random.default_rng(seed)
    chosen = truth.iloc[
        np.sort(rng.choice(len(truth), size=min(n_items, len(truth)), replace=False))
    ]
    classes = np.sort(truth["label"].unique())
    rows = []
    for name, accuracy, confused, rate in labelers:
        for example_id, label in zip(chosen["example_id"], chosen["label"], strict=True):
            given = label
            if confused is not None and label in confused and rng.random() < rate:
                given = confused[1] if label == confused[0] else confused[0]
            elif rng.random() > accuracy:
                others = classes[classes != label]
                given = others[rng.integers(len(others))]
            rows.append({"example_id": example_id, "annotator": name, "label": given})
    return pd.DataFrame(rows)
