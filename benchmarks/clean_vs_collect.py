"""Clean-vs-collect benchmark (issue 5): is cleaning 12 % noisy labels worth as much as doubling the data?

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt
    .venv-bench/bin/python benchmarks/clean_vs_collect.py [--quick] [--out BENCHMARKS.md]

The claim under test (from the seed's chart, after Andrew Ng's data-centric AI talk): with 500
training examples and 12 % noisy labels, cleaning the labels helps about as much as doubling
the data. On scikit-learn's digits and a generated table (``make_classification``, fixed
parameters), each seed shuffles the rows (fixed seeds), takes 1,000 training rows and keeps the
rest as the dev set with their true labels. 12 % of the first 500 training labels, and 12 % of
the next 500, are flipped to a uniformly random other class. With dcai's default model
(standardised logistic regression, the audit's recipe) the script measures, on dev:

- the model on the 500 noisy labels, on the 500 labels all corrected (the oracle), and on the
  500 labels with dcai's own fixes (``find_label_issues`` on 5-fold ``cross_val_predict_proba``
  with standardised features; every flagged label replaced by its suggested label);
- the model on 1,000 noisy labels (doubling, measured) and on 1,000 clean labels;
- ``dcai.analysis.clean_vs_collect`` on the 500 rows, with the oracle labels and with dcai's
  fixes: its gain from cleaning (with interval), the noisy learning curve's extrapolated gain
  from doubling (with interval) and its verdict, and the call's wall time.

Each data set runs in its own child process; the results replace the "Clean vs collect
(issue 5)" section of ``--out``. ``--quick`` (2 seeds) is for development.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import dispatch_child, machine, run_step, write_section
from _common import versions as package_versions

if TYPE_CHECKING:
    import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Clean vs collect (issue 5)"
SEED = 20240605

DATASETS = ("digits", "generated")
GENERATED = {
    "n_samples": 6000,
    "n_features": 20,
    "n_informative": 8,
    "n_redundant": 4,
    "n_classes": 4,
    "n_clusters_per_class": 1,
    "class_sep": 1.0,
    "random_state": 11,
}
NOISE = 0.12
N_TRAIN = 500
N_DOUBLE = 2 * N_TRAIN
SEEDS = 5
QUICK_SEEDS = 2
REPEATS = 5
N_BOOT = 500
CV_FOLDS = 5
#: Training sizes of the curves drawn on 1,000 rows (seed 0), to show their shape past 500.
SHAPE_SIZES = (50, 100, 200, 300, 400, 500, 700, 1000)
SHAPE_REPEATS = 3
#: Calibration of the extrapolation: a larger generated set (same parameters), fresh pools.
CALIBRATION = {**GENERATED, "n_samples": 24_000}
CALIBRATION_DEV = 4_000
CALIBRATION_POOLS = 10
QUICK_CALIBRATION_POOLS = 4
FACTORS = (2, 10)
#: Cleaning and doubling "about equal": the smaller gain is at least this share of the larger.
SIMILAR = 2 / 3


# Child processes ------------------------------------------------------------------------


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    from sklearn import datasets

    if name == "generated":
        X, y = datasets.make_classification(**GENERATED)
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def _flip(y: np.ndarray, rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Flip ``round(NOISE * len(rows))`` of ``rows`` to a uniformly random other class."""
    import numpy as np

    chosen = rng.choice(rows, size=round(NOISE * len(rows)), replace=False)
    noisy = y.copy()
    noisy[chosen] = (y[chosen] + rng.integers(1, k, size=len(chosen))) % k
    return np.asarray(noisy)


def _dev_accuracy(
    X: np.ndarray,
    labels: np.ndarray,
    truth: np.ndarray,
    dev: np.ndarray,
    X_dev: np.ndarray | None = None,
) -> float:
    """Train on the first ``len(labels)`` rows of ``X``; accuracy on ``X_dev`` (or ``X[dev]``)."""
    from dcai.quality import default_model

    model = default_model(X).fit(X[: len(labels)], labels)
    scored = X[dev] if X_dev is None else X_dev
    return float((model.predict(scored) == truth[dev]).mean())


def _interval(value: Any) -> list[float | None]:
    return [value.value, value.low, value.high]


def child_dataset(name: str, n_seeds: int) -> dict[str, Any]:
    """Every seed of one data set: accuracies, dcai's fixes, and both clean_vs_collect calls."""
    import numpy as np
    import pandas as pd

    from dcai.analysis import clean_vs_collect, learning_curve
    from dcai.quality import cross_val_predict_proba, feature_matrix, find_label_issues

    X_all, y_all = _load(name)
    k = int(y_all.max()) + 1
    records = []
    shape: dict[str, list[float]] = {}
    for seed in range(n_seeds):
        rng = np.random.default_rng([SEED, DATASETS.index(name), seed])
        order = rng.permutation(len(y_all))
        X, y = X_all[order], y_all[order]  # rows 0..999 train (0..499 the base), the rest dev
        dev = np.arange(N_DOUBLE, len(y))
        noisy = _flip(y, np.arange(N_TRAIN), k, rng)
        noisy = _flip(noisy, np.arange(N_TRAIN, N_DOUBLE), k, rng)
        base = slice(0, N_TRAIN)
        flipped = noisy[base] != y[base]

        start = time.perf_counter()
        probs = cross_val_predict_proba(X[base], noisy[base], cv=CV_FOLDS, random_state=seed)
        features = feature_matrix(pd.DataFrame(X[base]))
        issues = find_label_issues(noisy[base], probs, features=features)
        flagged = issues["is_label_issue"].to_numpy(dtype=bool)
        fixed = noisy[base].copy()
        fixed[flagged] = issues["suggested_label"].to_numpy()[flagged]
        audit_seconds = time.perf_counter() - start

        accuracy = {
            "noisy_500": _dev_accuracy(X, noisy[base], y, dev),
            "oracle_500": _dev_accuracy(X, y[base], y, dev),
            "dcai_500": _dev_accuracy(X, fixed, y, dev),
            "noisy_1000": _dev_accuracy(X, noisy[:N_DOUBLE], y, dev),
            "clean_1000": _dev_accuracy(X, y[:N_DOUBLE], y, dev),
        }
        calls = {}
        for label, cleaned in (("oracle", y[base]), ("dcai", fixed)):
            start = time.perf_counter()
            result = clean_vs_collect(
                None, X[base], noisy[base], cleaned, X[dev], y[dev],
                repeats=REPEATS, n_boot=N_BOOT, random_state=seed,
            )  # fmt: skip
            calls[label] = {
                "seconds": time.perf_counter() - start,
                "n_changed": result.n_changed,
                "noisy_value": result.noisy_value.value,
                "gain_from_cleaning": _interval(result.gain_from_cleaning),
                "gain_from_doubling": _interval(result.gain_from_doubling),
                "gain_from_10x": _interval(result.noisy_curve.gain(10)),
                "fit_status": result.noisy_curve.fit.status,
                "fit_b": result.noisy_curve.fit.b.value,
                "fit_c": result.noisy_curve.fit.c.value,
                "verdict": result.verdict,
                "sentence": result.sentence,
            }
        if seed == 0:
            # The curves' shape beyond 500 examples: where a power law is (not) a fair guide.
            for label, labels in (("noisy", noisy), ("clean", y)):
                curve = learning_curve(
                    None, X[:N_DOUBLE], labels[:N_DOUBLE], X[dev], y[dev],
                    sizes=SHAPE_SIZES, repeats=SHAPE_REPEATS, n_boot=50,
                )  # fmt: skip
                shape[label] = curve.summary["mean"].tolist()
        records.append(
            {
                "seed": seed,
                "accuracy": accuracy,
                "flips": int(flipped.sum()),
                "dcai_fixes": {
                    "flagged": int(flagged.sum()),
                    "flagged_true_flips": int((flagged & flipped).sum()),
                    "fixed_correctly": int((flagged & flipped & (fixed == y[base])).sum()),
                    "wrong_after": int((fixed != y[base]).sum()),
                    "new_errors": int((~flipped & (fixed != y[base])).sum()),
                    "seconds": audit_seconds,
                },
                "calls": calls,
            }
        )
        print(
            f"  {name} seed {seed}: cleaning +{100 * calls['oracle']['gain_from_cleaning'][0]:.1f}"
            f" (dcai +{100 * calls['dcai']['gain_from_cleaning'][0]:.1f}), doubling measured"
            f" +{100 * (accuracy['noisy_1000'] - accuracy['noisy_500']):.1f}, extrapolated"
            f" +{100 * (calls['oracle']['gain_from_doubling'][0] or float('nan')):.1f}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "info": {"rows": len(y_all), "columns": X_all.shape[1], "classes": k, "dev": len(dev)},
        "records": records,
        "shape": shape,
    }


def child_calibration(n_pools: int) -> dict[str, Any]:
    """Extrapolated gains from 500-example curves against gains measured on fresh draws.

    The truth at ``f`` × 500 examples is the mean dev accuracy of models trained on
    ``n_pools`` fresh, independently noised draws of that size, minus the same mean at 500.
    """
    import numpy as np
    from sklearn import datasets

    from dcai.analysis import learning_curve

    X, y = datasets.make_classification(**CALIBRATION)
    k = int(y.max()) + 1
    dev = np.arange(len(y) - CALIBRATION_DEV, len(y))
    train = np.arange(len(y) - CALIBRATION_DEV)
    rng = np.random.default_rng([SEED, 99])
    measured: dict[int, list[float]] = {1: [], **{f: [] for f in FACTORS}}
    extrapolated: dict[int, list[list[float | None]]] = {f: [] for f in FACTORS}
    for pool in range(n_pools):
        for factor in measured:
            rows = rng.choice(train, size=factor * N_TRAIN, replace=False)
            labels = _flip(y[rows], np.arange(len(rows)), k, rng)
            accuracy = _dev_accuracy(X[rows], labels, y[dev], np.arange(len(dev)), X[dev])
            measured[factor].append(accuracy)
            if factor == 1:
                curve = learning_curve(
                    None, X[rows], labels, X[dev], y[dev], repeats=REPEATS, n_boot=N_BOOT,
                    random_state=pool,
                )  # fmt: skip
                for f in FACTORS:
                    extrapolated[f].append(_interval(curve.gain(f)))
        print(f"  calibration pool {pool}", file=sys.stderr, flush=True)
    return {
        "truth": {f: _mean(measured[f]) - _mean(measured[1]) for f in FACTORS},
        "extrapolated": extrapolated,
    }


# Orchestration ---------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _pts(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f}".replace("-", "−")


def _acc(value: float) -> str:
    return f"{value:.3f}"


def _spread(values: Sequence[float]) -> str:
    """Mean in points, with the range over seeds."""
    return f"{_pts(_mean(values))} ({_pts(min(values))} to {_pts(max(values))})"


def _gains(records: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    acc = [r["accuracy"] for r in records]
    return {
        "oracle": [r["calls"]["oracle"]["gain_from_cleaning"][0] for r in records],
        "dcai": [r["calls"]["dcai"]["gain_from_cleaning"][0] for r in records],
        "measured": [a["noisy_1000"] - a["noisy_500"] for a in acc],
        "extrapolated": [r["calls"]["oracle"]["gain_from_doubling"][0] for r in records],
    }


def _covered(records: Sequence[dict[str, Any]], gains: dict[str, list[float]]) -> int:
    """Seeds whose extrapolated interval holds the mean measured doubling gain."""
    expected = _mean(gains["measured"])  # the doubling gain expected from a fresh pool
    return sum(
        1
        for r in records
        if (ci := r["calls"]["oracle"]["gain_from_doubling"])[1] is not None
        and ci[1] <= expected <= ci[2]
    )


def _compare(cleaning: float, doubling: float) -> str:
    if cleaning <= 0 and doubling <= 0:
        return "neither helps"
    small, large = sorted((cleaning, doubling))
    if small >= SIMILAR * large:
        return f"about equal (cleaning / doubling = {cleaning / doubling:.2f})"
    which = "cleaning" if cleaning > doubling else "doubling"
    ratio = large / small if small > 0 else float("inf")
    return f"{which} gains more ({ratio:.1f}×)" if ratio != float("inf") else f"only {which} helps"


def _section(
    results: dict[str, dict[str, Any]],
    calibration: dict[str, Any],
    *,
    n_seeds: int,
    quick: bool,
) -> str:
    versions = package_versions(("numpy", "pandas", "scikit-learn", "scipy", "dcai"))
    described = [
        f"{name} ({info['rows']:,} rows × {info['columns']}, {info['classes']} classes; dev"
        f" {info['dev']:,} rows)"
        for name, info in ((n, results[n]["info"]) for n in DATASETS if n in results)
    ]
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {machine()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
    ]
    if quick:
        lines += ["", f"**Quick run (`--quick`): {n_seeds} seeds; not the reference figures.**"]
    lines += [
        "",
        "The claim under test (the seed's chart, after Ng's data-centric AI talk): with"
        f" {N_TRAIN} training examples and {NOISE:.0%} noisy labels, cleaning the labels helps"
        " about as much as doubling the data. Data sets: "
        + "; ".join(described)
        + ". The generated set is `make_classification("
        + ", ".join(f"{k}={v!r}" for k, v in GENERATED.items())
        + ")`. Per seed the rows are shuffled; rows 1–1,000 are the training pool (the first"
        f" {N_TRAIN} the base set), the rest the dev set with true labels. {NOISE:.0%} of the"
        f" base labels ({round(NOISE * N_TRAIN)}) and {NOISE:.0%} of the next {N_TRAIN} are"
        " flipped to a uniformly random other class. The model is dcai's default"
        " (standardised logistic regression, `default_model(X)`, the audit's recipe)."
        ' "Oracle" corrects every flipped label; "dcai fixes" replaces each label that'
        " `find_label_issues(labels, pred_probs, features=...)` flags (5-fold"
        " `cross_val_predict_proba`, standardised features) by its suggested label."
        ' "Doubling, measured" trains on 1,000 noisy labels; "doubling, extrapolated" is'
        f" `clean_vs_collect(None, X_500, noisy, cleaned, X_dev, y_dev, repeats={REPEATS},"
        f" n_boot={N_BOOT})`'s `gain_from_doubling` — the power-law fit of the noisy learning"
        f" curve on the {N_TRAIN} rows, extrapolated to {N_DOUBLE}. Gains are in points of dev"
        f" accuracy, means over {n_seeds} seed(s) with the range over seeds in brackets. One"
        f" measured doubling gain is itself a noisy draw (one pool of {N_DOUBLE:,} rows, one"
        " fit); the mean over seeds estimates the expected gain, which is what the"
        " extrapolation's interval is about, so coverage is counted against that mean.",
        "",
        "### Accuracy on dev",
        "",
        f"| data set | noisy {N_TRAIN} | cleaned {N_TRAIN} (oracle) | cleaned {N_TRAIN}"
        f" (dcai fixes) | noisy {N_DOUBLE} | clean {N_DOUBLE} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in DATASETS:
        if name not in results:
            continue
        acc = [r["accuracy"] for r in results[name]["records"]]
        lines.append(
            f"| {name} | "
            + " | ".join(
                _acc(_mean([a[key] for a in acc]))
                for key in ("noisy_500", "oracle_500", "dcai_500", "noisy_1000", "clean_1000")
            )
            + " |"
        )
    lines += [
        "",
        "### Cleaning against doubling (points of accuracy)",
        "",
        "| data set | cleaning, oracle | cleaning, dcai fixes | doubling, measured"
        " | doubling, extrapolated | mean measured doubling inside the seed's 95 % CI"
        " | cleaning (oracle) vs doubling (measured) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in DATASETS:
        if name not in results:
            continue
        records = results[name]["records"]
        g = _gains(records)
        inside = _covered(records, g)
        extrapolated = [v for v in g["extrapolated"] if v is not None]
        lines.append(
            f"| {name} | {_spread(g['oracle'])} | {_spread(g['dcai'])} | {_spread(g['measured'])}"
            f" | {_spread(extrapolated) if extrapolated else '–'}"
            f" | {inside} of {len(records)} | {_compare(_mean(g['oracle']), _mean(g['measured']))} |"
        )
    lines += [
        "",
        "### Per seed",
        "",
        "| data set | seed | cleaning, oracle (95 % CI) | cleaning, dcai fixes (95 % CI)"
        " | doubling, measured | doubling, extrapolated (95 % CI) | 10×, extrapolated"
        " | verdict (oracle / dcai) | `clean_vs_collect` time (oracle / dcai) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name in DATASETS:
        for r in results.get(name, {}).get("records", []):
            o, d = r["calls"]["oracle"], r["calls"]["dcai"]
            measured = r["accuracy"]["noisy_1000"] - r["accuracy"]["noisy_500"]
            lines.append(
                f"| {name} | {r['seed']} | {_ci(o['gain_from_cleaning'])}"
                f" | {_ci(d['gain_from_cleaning'])} | {_pts(measured)}"
                f" | {_ci(o['gain_from_doubling'])} | {_ci(o['gain_from_10x'])}"
                f" | {o['verdict']} / {d['verdict']} | {o['seconds']:.1f} s / {d['seconds']:.1f} s |"
            )
    lines += [
        "",
        "### dcai's own fixes",
        "",
        f"Per seed, {round(NOISE * N_TRAIN)} of the {N_TRAIN} base labels are wrong. Means over"
        " seeds; the audit time covers cross-validation and `find_label_issues`.",
        "",
        "| data set | flagged | of them truly flipped | fixed to the true class"
        " | wrong labels left | correct labels broken | audit time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in DATASETS:
        if name not in results:
            continue
        fixes = [r["dcai_fixes"] for r in results[name]["records"]]
        lines.append(
            f"| {name} | "
            + " | ".join(
                f"{_mean([f[key] for f in fixes]):.1f}"
                for key in (
                    "flagged",
                    "flagged_true_flips",
                    "fixed_correctly",
                    "wrong_after",
                    "new_errors",
                )
            )
            + f" | {_mean([f['seconds'] for f in fixes]):.1f} s |"
        )
    lines += [
        "",
        "### The curves past 500 examples (seed 0)",
        "",
        f"Mean dev accuracy of `learning_curve` on all {N_DOUBLE:,} training rows (noisy or clean"
        f" labels, {SHAPE_REPEATS} repeats per size). A power law's error falls by less with"
        " every doubling of the data; where the noisy curve instead dips or speeds up past the"
        " sizes seen in a 500-example curve, extrapolating from 500 misjudges the gain.",
        "",
        "| data set | labels | " + " | ".join(f"{n:,}" for n in SHAPE_SIZES) + " |",
        "|---|---|" + "---:|" * len(SHAPE_SIZES),
    ]
    for name in DATASETS:
        for label, means in results.get(name, {}).get("shape", {}).items():
            lines.append(f"| {name} | {label} | " + " | ".join(_acc(m) for m in means) + " |")
    lines += [
        "",
        "### How well the learning curve extrapolates (fresh pools)",
        "",
        f"`make_classification` with the parameters above but {CALIBRATION['n_samples']:,} rows"
        f" ({CALIBRATION_DEV:,} held out as dev). For each of"
        f" {len(calibration['extrapolated'][str(FACTORS[0])])} pools, {N_TRAIN} rows are drawn"
        f" afresh with {NOISE:.0%} uniform noise and `learning_curve(None, ...)` extrapolates"
        " the gain at 2× and 10×; the true gain is the mean dev accuracy of models trained on"
        " as many fresh, independently noised draws of 1,000 and 5,000 rows, minus that at"
        f" {N_TRAIN}.",
        "",
        "| data | true gain | extrapolated, mean (range over pools) | mean 95 % interval"
        " | interval holds the true gain |",
        "|---|---:|---:|---:|---:|",
    ]
    for factor in FACTORS:
        truth = calibration["truth"][str(factor)]
        draws = calibration["extrapolated"][str(factor)]
        usable = [d for d in draws if d[1] is not None]
        held = sum(1 for d in usable if d[1] <= truth <= d[2])
        lines.append(
            f"| {factor}× ({factor * N_TRAIN:,} rows) | {_pts(truth)}"
            f" | {_spread([d[0] for d in usable])}"
            f" | {_pts(_mean([d[1] for d in usable]))} to {_pts(_mean([d[2] for d in usable]))}"
            f" | {held} of {len(draws)} |"
        )
    lines += ["", "### Findings", ""]
    for name in DATASETS:
        if name not in results:
            continue
        records = results[name]["records"]
        g = _gains(records)
        extrapolated = [v for v in g["extrapolated"] if v is not None]
        lines.append(
            f"- {name}: cleaning every noisy label gains {_pts(_mean(g['oracle']))} points,"
            f" dcai's fixes {_pts(_mean(g['dcai']))}; doubling the (noisy) data gains"
            f" {_pts(_mean(g['measured']))} measured and"
            f" {_pts(_mean(extrapolated)) if extrapolated else 'no estimate'} extrapolated from"
            f" the {N_TRAIN}-example learning curve (its 95 % interval holds the mean measured"
            f" gain in {_covered(records, g)} of {len(records)} seeds). Cleaning vs doubling:"
            f" {_compare(_mean(g['oracle']), _mean(g['measured']))}."
        )
    first = next((results[n]["records"][0] for n in DATASETS if n in results), None)
    if first is not None:
        lines += [
            "",
            f"The sentence `clean_vs_collect` wrote for {DATASETS[0]}, seed 0, dcai's fixes:",
            f"> {first['calls']['dcai']['sentence']}",
        ]
    return "\n".join(lines) + "\n"


def _ci(interval: Sequence[float | None]) -> str:
    value, low, high = interval
    if value is None:
        return "–"
    if low is None or high is None:
        return _pts(value)
    return f"{_pts(value)} ({_pts(low)} to {_pts(high)})"


def run(out: Path, *, quick: bool, n_seeds: int) -> int:
    results: dict[str, dict[str, Any]] = {}
    for dataset in DATASETS:
        print(f"{dataset}: {n_seeds} seed(s)", flush=True)
        results[dataset] = run_step(__file__, "dataset", dataset, str(n_seeds))
    n_pools = QUICK_CALIBRATION_POOLS if quick else CALIBRATION_POOLS
    print(f"calibration: {n_pools} fresh pools", flush=True)
    calibration = run_step(__file__, "calibration", str(n_pools))
    section = _section(results, calibration, n_seeds=n_seeds, quick=quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_section(out, SECTION, section)
    print(f"\nwrote {SECTION!r} to {out}")
    return 0


CHILDREN: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "dataset": lambda a: child_dataset(a[0], int(a[1])),
    "calibration": lambda a: child_calibration(int(a[0])),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown file to update"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SEEDS} seeds (for development)"
    )
    parser.add_argument("--seeds", type=int, help=f"seeds per data set (default {SEEDS})")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if dispatch_child(parser, args.child, CHILDREN):
        return 0
    n_seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else SEEDS)
    if n_seeds < 1:
        parser.error("--seeds must be at least 1")
    return run(args.out, quick=args.quick, n_seeds=n_seeds)


if __name__ == "__main__":
    sys.exit(main())
