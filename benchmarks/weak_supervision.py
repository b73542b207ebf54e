"""Weak supervision (issue 10): dcai's LabelModel beside majority vote and Snorkel's LabelModel.

Generated label matrices with known rule behaviour (``numpy.random.default_rng``, seeded), the
same matrix for every method:

* **mixed**: 10 rules, accuracies U(0.55, 0.9), coverages U(0.2, 0.6), 2 balanced classes.
* **strong and weak**: 3 rules at 0.9 accuracy (coverage 0.3), 7 at 0.6 (coverage 0.5).
* **multiclass**: 5 balanced classes, 12 rules, accuracies U(0.3, 0.85), coverages U(0.2, 0.6).
* **imbalanced, one-sided**: classes 85/15; each rule votes only its own class (5 per class),
  as keyword rules do, with precision U(0.6, 0.95) and coverage U(0.05, 0.3) of the rows.
* **correlated**: 5 rules at 0.62 accuracy, 4 of which copy the first one's vote 90 % of the
  time where it votes, and 5 independent rules at 0.8.
* **loosely correlated**: the same with copies 60 % of the time.

Errors of a rule that votes both classes are spread evenly over the wrong classes. Each
method's **accuracy** is over the rows with at least one vote, a tie counted as a fair draw
among the tied classes (the expected accuracy of breaking ties at random), from its
``predict_proba`` (majority vote: its vote counts). Defaults everywhere: dcai
``LabelModel(n_classes=K).fit(L)``; Snorkel ``LabelModel(cardinality=K).fit(L, seed=seed)``;
majority vote counts the votes. **Fit time** at 1,000,000 rows × 20 rules (mixed case,
coverages U(0.05, 0.3)): the fit alone, best of 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import command_shown, machine, target_lines, versions, write_section  # noqa: E402

SECTION = "## Weak supervision (issue 10)"
CASES = (
    "mixed",
    "strong and weak",
    "multiclass",
    "imbalanced, one-sided",
    "correlated",
    "loosely correlated",
)
SEEDS = range(5)
ROWS = 20_000
FIT_ROWS = 1_000_000
DEV_ROWS = 200
FIT_RULES = 20
TARGET_FIT_S = 10.0


def generate(case: str, seed: int, n: int = ROWS) -> tuple[np.ndarray, np.ndarray, int]:
    """(label matrix with -1 abstaining, true classes, number of classes)."""
    rng = np.random.default_rng([seed, CASES.index(case)])
    k, prior = 2, [0.5, 0.5]
    if case == "mixed":
        acc, cov = rng.uniform(0.55, 0.9, 10), rng.uniform(0.2, 0.6, 10)
    elif case == "strong and weak":
        acc, cov = np.r_[[0.9] * 3, [0.6] * 7], np.r_[[0.3] * 3, [0.5] * 7]
    elif case == "multiclass":
        k, prior = 5, [0.2] * 5
        acc, cov = rng.uniform(0.3, 0.85, 12), rng.uniform(0.2, 0.6, 12)
    elif case in ("correlated", "loosely correlated"):
        acc, cov = np.r_[[0.62] * 5, [0.8] * 5], np.r_[[0.5] * 5, [0.35] * 5]
    y = rng.choice(k, n, p=prior)
    if case == "imbalanced, one-sided":
        prior = [0.85, 0.15]
        y = rng.choice(2, n, p=prior)
        own = np.r_[[0] * 5, [1] * 5]
        precision, cov = rng.uniform(0.6, 0.95, 10), rng.uniform(0.05, 0.3, 10)
        L = np.full((n, 10), -1, np.int32)
        for j in range(10):
            c = own[j]
            # coverage = r_own·p_c + r_other·(1 - p_c), precision = r_own·p_c / coverage
            r_own = min(1.0, precision[j] * cov[j] / prior[c])
            r_other = max(0.0, (cov[j] - r_own * prior[c]) / (1 - prior[c]))
            fires = np.where(y == c, rng.random(n) < r_own, rng.random(n) < r_other)
            L[fires, j] = c
        return L, y, 2
    m = acc.size
    L = np.full((n, m), -1, np.int32)
    for j in range(m):
        votes = rng.random(n) < cov[j]
        right = rng.random(n) < acc[j]
        wrong = (y + rng.integers(1, k, n)) % k
        L[votes, j] = np.where(right, y, wrong)[votes]
    if case in ("correlated", "loosely correlated"):
        rate = 0.9 if case == "correlated" else 0.6
        for j in range(1, 5):
            copy = (L[:, 0] >= 0) & (rng.random(n) < rate)
            L[copy, j] = L[copy, 0]
    return L, y, k


def expected_accuracy(scores: np.ndarray, L: np.ndarray, y: np.ndarray) -> float:
    covered = (L >= 0).any(axis=1)
    s, t = scores[covered], y[covered]
    top = np.isclose(s, s.max(axis=1, keepdims=True), rtol=1e-9, atol=1e-12)
    return float(np.mean(top[np.arange(t.size), t] / top.sum(axis=1)))


def measure() -> dict[str, Any]:
    from snorkel.labeling.model import LabelModel as SnorkelLabelModel

    from dcai.rules import LabelModel, vote_counts

    out: dict[str, Any] = {"cases": {}}
    for case in CASES:
        rows: list[dict[str, float]] = []
        for seed in SEEDS:
            L, y, k = generate(case, seed)
            t0 = time.perf_counter()
            mine = LabelModel(n_classes=k).fit(L)
            t1 = time.perf_counter()
            snorkel = SnorkelLabelModel(cardinality=k, verbose=False)
            snorkel.fit(L, seed=seed, progress_bar=False)
            t2 = time.perf_counter()
            dev = np.random.default_rng([seed, 99]).choice(len(y), DEV_ROWS, replace=False)
            given = np.full(len(y), None, dtype=object)
            given[dev] = y[dev]
            with_dev = LabelModel(n_classes=k).fit(L, y=given)
            rest = np.setdiff1d(np.arange(len(y)), dev)
            rows.append(
                {
                    "majority": expected_accuracy(vote_counts(L, k), L, y),
                    "dcai": expected_accuracy(mine.predict_proba(L), L, y),
                    "snorkel": expected_accuracy(snorkel.predict_proba(L), L, y),
                    "coverage": float((L >= 0).any(axis=1).mean()),
                    "dcai_s": t1 - t0,
                    "snorkel_s": t2 - t1,
                    "dev_majority": expected_accuracy(vote_counts(L, k)[rest], L[rest], y[rest]),
                    "dev_dcai": expected_accuracy(
                        with_dev.predict_proba(L)[rest], L[rest], y[rest]
                    ),
                    "dev_chose_majority": float(with_dev.method_ == "majority"),
                }
            )
        out["cases"][case] = rows
        print(f"  {case}: done", file=sys.stderr, flush=True)
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, FIT_ROWS)
    acc, cov = rng.uniform(0.55, 0.9, FIT_RULES), rng.uniform(0.05, 0.3, FIT_RULES)
    L = np.full((FIT_ROWS, FIT_RULES), -1, np.int32)
    for j in range(FIT_RULES):
        votes = rng.random(FIT_ROWS) < cov[j]
        L[votes, j] = np.where(rng.random(FIT_ROWS) < acc[j], y, 1 - y)[votes]
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        LabelModel(n_classes=2).fit(L)
        times.append(time.perf_counter() - t0)
    out["fit_seconds"] = min(times)
    t0 = time.perf_counter()
    SnorkelLabelModel(cardinality=2, verbose=False).fit(L, seed=0, progress_bar=False)
    out["snorkel_fit_seconds"] = time.perf_counter() - t0
    return out


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def targets(res: dict[str, Any]) -> list[tuple[str, str, bool]]:
    out = []
    for peer, name in (("majority", "majority vote"), ("snorkel", "Snorkel's LabelModel")):
        gaps = [
            (case, _mean(rows, "dcai") - _mean(rows, peer)) for case, rows in res["cases"].items()
        ]
        bad = [f"{case}: {gap:+.4f}" for case, gap in gaps if gap < 0]
        shown = "; ".join(bad) if bad else f"smallest gain {min(g for _, g in gaps):+.4f}"
        out.append(
            (
                f"dcai's LabelModel (no labels) at least as accurate as {name} on every case "
                "(mean over seeds)",
                shown,
                not bad,
            )
        )
    out.append(
        (
            f"fit {FIT_ROWS:,} rows × {FIT_RULES} rules ≤ {TARGET_FIT_S:g} s",
            f"{res['fit_seconds']:.2f} s",
            res["fit_seconds"] <= TARGET_FIT_S,
        )
    )
    return out


def _method_text() -> str:
    """The docstring's method paragraphs, its bullet list kept as a list."""
    parts = __doc__.split("\n\n")[1:]
    out = []
    for part in parts:
        if part.lstrip().startswith("* "):
            items = [" ".join(i.split()) for i in part.strip().split("\n* ")]
            out.append("\n".join("- " + i.lstrip("* ") for i in items))
        else:
            out.append(" ".join(part.split()))
    return "\n\n".join(out)


def render(res: dict[str, Any], command: str) -> str:
    info = versions(("dcai", "snorkel", "torch", "numpy"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Measured {when} on {machine()}; " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "",
        f"Command: `{command}`.",
        "",
        "**Method.** " + _method_text(),
        "",
        f"{ROWS:,} rows per matrix, seeds {SEEDS.start}–{SEEDS.stop - 1}; mean (and worst) "
        "accuracy over the seeds, rows with a vote.",
        "",
        "| case | coverage | majority vote | Snorkel LabelModel | dcai LabelModel "
        "| dcai − majority, worst seed | dcai − Snorkel, worst seed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, rows in res["cases"].items():
        lines.append(
            f"| {case} | {_mean(rows, 'coverage'):.2f} | {_mean(rows, 'majority'):.4f} "
            f"| {_mean(rows, 'snorkel'):.4f} | {_mean(rows, 'dcai'):.4f} "
            f"| {min(r['dcai'] - r['majority'] for r in rows):+.4f} "
            f"| {min(r['dcai'] - r['snorkel'] for r in rows):+.4f} |"
        )
    lines += [
        "",
        f"**With {DEV_ROWS} labelled rows** (`LabelModel(n_classes=K).fit(L, y=...)`, the other "
        "rows' labels unknown): the model learns from them and keeps itself or majority vote, "
        f"whichever is more accurate on them. Accuracy on the rows outside those {DEV_ROWS}.",
        "",
        "| case | majority vote | dcai LabelModel with labels | seeds where it chose majority vote |",
        "|---|---:|---:|---:|",
    ]
    for case, rows in res["cases"].items():
        chose = int(sum(r["dev_chose_majority"] for r in rows))
        lines.append(
            f"| {case} | {_mean(rows, 'dev_majority'):.4f} | {_mean(rows, 'dev_dcai'):.4f} "
            f"| {chose} of {len(rows)} |"
        )
    lines += [
        "",
        f"Fit at {FIT_ROWS:,} rows × {FIT_RULES} rules: dcai {res['fit_seconds']:.2f} s, "
        f"Snorkel {res['snorkel_fit_seconds']:.2f} s (its default 100 epochs).",
        "",
        *target_lines(targets(res), "Targets (issue 10, on the 2-core machine):"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    res = measure()
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    section = render(res, command_shown("weak_supervision.py", argv))
    write_section(Path(args.out), SECTION, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
