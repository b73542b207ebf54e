"""The demo behind ``make demo``: the data → labels → analysis loop on scikit-learn's digits.

Everything runs offline on data bundled with scikit-learn: add the data, split it, plant label
errors (a recorded, seeded operation), audit, accept the confident suggestions, and commit the
clean version, then count how many of the planted errors the loop found and fixed. Later
stages of the loop extend this same demo.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

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

__all__ = ["DemoResult", "digits_frame", "plant_label_errors", "run_demo"]

#: Share of labels the demo flips, and the bar a suggestion must clear to be accepted unseen.
DEMO_NOISE_RATE = 0.1
DEMO_MIN_SCORE = 0.6


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
    parent = resolve_ref(ws, ref)
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
        ws,
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
    added = ws.add_dataset("digits", truth, label="label", message="scikit-learn digits (bundled)")
    split = ws.split("digits", dev=0.1, test=0.2, seed=seed, message="stratified train/dev/test")
    # A tag error analysis will slice by: faint digits, drawn with little ink.
    split = ws.tag(split.ref, "faint", where=_faint, message="demo: digits drawn with little ink")
    noisy = plant_label_errors(ws, split.ref, seed=seed)
    audit = ws.audit(noisy.ref, random_state=seed, progress=progress)
    review = ws.review(audit.id)
    accepted = review.accept_suggested(min_score=DEMO_MIN_SCORE, reviewer="demo")
    cleaned = review.apply(message="demo: accept confident suggestions", author="demo")

    clean = split.to_pandas()[[EXAMPLE_ID, "label"]].set_index(EXAMPLE_ID)["label"]
    planted_ids = set(ws.diff(split.ref, noisy.ref).relabeled[EXAMPLE_ID])
    flagged_ids = set(audit.issues.query("type == 'label'")[EXAMPLE_ID])
    after = cleaned.to_pandas()[[EXAMPLE_ID, "label"]].set_index(EXAMPLE_ID)["label"]
    fixed = sum(int(after.get(i) == clean.get(i)) for i in planted_ids)

    # Labels: three labelers re-label 300 digits under a guideline; one mixes up 1 and 8.
    guideline = path / "guideline-digits.md"
    guideline.write_text(DEMO_GUIDELINE, encoding="utf-8")
    ws.add_guideline("digits", guideline, message="demo guideline", author="demo")
    truth_ids = cleaned.to_pandas(columns=[EXAMPLE_ID, "label"])
    labeled = ws.import_annotations(
        cleaned.ref,
        simulate_labelers(truth_ids, n_items=300, seed=seed),
        guideline="digits",
        message="demo: three labelers re-label 300 digits",
    )
    agreement = ws.agreement(labeled.ref, n_boot=200)
    consensus = ws.consensus(labeled.ref, method="dawid_skene")
    hlp = ws.hlp(labeled.ref, n_boot=200)

    # Conventions: speech-style transcripts from three labelers with different habits.
    transcripts = load_transcripts()
    utterances = pd.DataFrame({EXAMPLE_ID: pd.unique(transcripts[EXAMPLE_ID])})
    utterances["label"] = "utterance"
    utterances["seconds"] = np.arange(len(utterances), dtype=float)
    speech = ws.add_dataset("speech", utterances, id=EXAMPLE_ID, message="demo transcripts")
    speech = ws.import_annotations(speech.ref, transcripts, message="three transcribers")
    conventions = ws.label_conventions(speech.ref)

    # Error analysis of the noisy and the cleaned digits, with the labelers' HLP as baseline.
    analysis_noisy = ws.analyze(noisy.ref, n_boot=200, repeats=3, random_state=seed)
    analysis_clean = ws.analyze(
        labeled.ref, n_boot=200, curves=False, random_state=seed, progress=progress
    )
    from dcai.analysis.html import write_html_report

    report = write_html_report(analysis_noisy, path / "reports" / "analysis-digits-noisy.html")
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
    )


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
