"""Outlier and near-duplicate benchmark (issue 3): planted issues, and the cost of kNN search.

Usage::

    .venv/bin/python benchmarks/outliers_duplicates.py [--quick] [--check] [--out BENCHMARKS.md]

Detection. Outliers and near-copies are planted with fixed seeds in

- scikit-learn's digits (1,797 × 64 pixel intensities): 36 outliers are real digits with
  their 64 pixels shuffled (same intensities, no stroke structure), and 36 near-copies are
  other digits plus Gaussian jitter;
- a generated table of 100,000 × 20 standardised features (``make_classification``, 98,000
  clean rows): 500 outliers drawn uniformly in the data's bounding box, 500 rows with two
  features overwritten by gross values (±5–8 standard deviations, "entry errors"), and 1,000
  near-copies of other rows plus jitter.

Jitter is Gaussian with a standard deviation of 1% of each feature's (also 5% and 10%, to
show where the default threshold stops). One ``nearest_neighbors`` call (k = 10) serves both
detectors, as in an audit. Reported: AUROC of ``outlier_score`` against the planted outliers,
precision and recall of the default outlier fence, and precision and recall of the default
near-duplicate threshold over pairs (a pair is predicted when both rows share a
``duplicate_group``; the true pairs are (source, copy)).

Search cost. ``nearest_neighbors(X, k=10)`` on isotropic Gaussian float32 data, each run in a
fresh process that reports its wall time and peak RSS minus that of a process that only
imports numpy, pandas, faiss and dcai: exact and approximate (HNSW) at 100,000 × 16, the
approximate index at 1,000,000 × 16 (exact search there is timed on its first 20,000 queries
and extrapolated linearly: brute force costs the same per query), and recall@10 of the
approximate index against exact search on 5,000 sampled queries, also at 200,000 × 32
(Gaussian: the hard case; and a mixture of 50 Gaussians on 8-dimensional subspaces: the
usual case for embeddings).

The results replace the "Outliers and near-duplicates (issue 3)" section of ``--out``;
``--check`` exits with status 1 if a target is missed. ``--quick`` skips the 1,000,000-row
runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import MB, mb, peak_rss_bytes, run_step, write_section
from _common import versions as package_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Outliers and near-duplicates (issue 3)"
SEED = 20240604
K = 10
JITTERS = (0.01, 0.05, 0.10)
RECALL_QUERIES = 5_000
EXACT_QUERIES_AT_1M = 20_000

TARGET_ANN_RECALL = 0.9
TARGET_1M_SECONDS = 600.0
TARGET_1M_MEMORY = 2 * 1024 * MB
TARGET_AUROC = 0.95
TARGET_DUPLICATE_RECALL = 0.95


# Child processes ----------------------------------------------------------------------


def _import_libraries() -> None:
    import faiss  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    import dcai.quality._neighbors  # noqa: F401


def child_baseline() -> dict[str, Any]:
    _import_libraries()
    return {"peak_rss": peak_rss_bytes()}


def _gaussian(n: int, d: int, seed: int) -> Any:
    import numpy as np

    return np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)


def _subspace_mixture(n: int, d: int, seed: int) -> Any:
    """50 Gaussian clusters, each spread over a random 8-dimensional subspace, plus noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, d)) * 4
    cluster = rng.integers(0, 50, n)
    bases = rng.standard_normal((50, 8, d))
    X = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 50_000):
        stop = min(n, start + 50_000)
        c = cluster[start:stop]
        z = rng.standard_normal((stop - start, 8))
        X[start:stop] = (
            centres[c]
            + np.einsum("ni,nid->nd", z, bases[c])
            + 0.3 * rng.standard_normal((stop - start, d))
        )
    return X


def _exact_rows(X: Any, rows: Any) -> Any:
    """Exact leave-one-out neighbours of ``rows``: dcai's exact path on a subset of queries."""
    import faiss
    import numpy as np

    from dcai.quality._neighbors import _drop_self, _refine

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(X)
    out = np.empty((len(rows), K), dtype=np.int64)
    for start in range(0, len(rows), 4096):
        block = rows[start : start + 4096]
        _, found = index.search(X[block], K + 1)
        found = _drop_self(found.astype(np.int64), block)
        out[start : start + len(block)] = _refine(X, block, found, "euclidean")[1]
    return out


def _recall(approx: Any, exact: Any) -> float:
    hits = [len(set(a) & set(b)) for a, b in zip(approx.tolist(), exact.tolist(), strict=True)]
    return sum(hits) / (K * len(hits))


def child_knn(kind: str, n: int, d: int, mode: str) -> dict[str, Any]:
    """Time ``nearest_neighbors`` (mode ``exact`` / ``approx``) or exact search on a subset."""
    import numpy as np

    from dcai.quality import nearest_neighbors

    _import_libraries()
    X = (_gaussian if kind == "gaussian" else _subspace_mixture)(n, d, SEED)
    before = peak_rss_bytes()
    result: dict[str, Any] = {"data_bytes": int(X.nbytes)}
    if mode == "exact-subset":
        rows = np.arange(EXACT_QUERIES_AT_1M)
        start = time.perf_counter()
        _exact_rows(X, rows)
        wall = time.perf_counter() - start
        result.update(wall=wall * n / len(rows), measured_wall=wall, queries=len(rows))
    else:
        start = time.perf_counter()
        _, indices = nearest_neighbors(X, k=K, exact=mode == "exact")
        result["wall"] = time.perf_counter() - start
        if mode == "approx":
            sample = np.sort(np.random.default_rng(1).choice(n, RECALL_QUERIES, replace=False))
            result["recall"] = _recall(indices[sample], _exact_rows(X, sample))
    result["peak_rss"] = peak_rss_bytes()
    result["peak_before_search"] = before
    return result


def _digits(rng: Any) -> tuple[Any, int, int]:
    """Digits with 36 pixel-shuffled outliers appended; (X, n_clean, n_outliers)."""
    import numpy as np
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float64)
    picks = rng.choice(len(X), 36, replace=False)
    shuffled = np.array([rng.permutation(row) for row in X[picks]])
    return np.vstack([X, shuffled]), len(X), 36


def _table(rng: Any) -> tuple[Any, int, int]:
    """98,000 standardised rows of make_classification plus 1,000 outliers of two kinds."""
    import numpy as np
    from sklearn.datasets import make_classification

    X, _ = make_classification(
        n_samples=98_000,
        n_features=20,
        n_informative=10,
        n_redundant=5,
        n_clusters_per_class=3,
        n_classes=4,
        random_state=SEED % 1000,
    )
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    uniform = rng.uniform(X.min(axis=0), X.max(axis=0), size=(500, 20))
    corrupted = X[rng.choice(len(X), 500, replace=False)].copy()
    for row in corrupted:
        cols = rng.choice(20, 2, replace=False)
        row[cols] = rng.choice([-1, 1], 2) * rng.uniform(5, 8, 2)
    return np.vstack([X, uniform, corrupted]), len(X), 1000


def child_detect(dataset: str) -> dict[str, Any]:
    """Plant outliers and near-copies, run both detectors on one neighbour search."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from dcai.quality import find_duplicates, find_outliers, nearest_neighbors

    rng = np.random.default_rng(SEED)
    base, n_clean, n_out = (_digits if dataset == "digits" else _table)(rng)
    n_copies = 36 if dataset == "digits" else 1000
    sources = rng.choice(n_clean, n_copies, replace=False)
    std = base[:n_clean].std(axis=0)
    noise = rng.standard_normal((n_copies, base.shape[1]))
    out: dict[str, Any] = {
        "rows": len(base) + n_copies,
        "features": base.shape[1],
        "outliers": n_out,
        "copies": n_copies,
    }
    for jitter in JITTERS:
        X = np.vstack([base, base[sources] + noise * std * jitter])
        is_outlier = np.zeros(len(X), dtype=bool)
        is_outlier[n_clean : n_clean + n_out] = True
        start = time.perf_counter()
        knn = nearest_neighbors(X, k=K)
        search = time.perf_counter() - start
        duplicates = find_duplicates(X, knn=knn)
        group = duplicates["duplicate_group"].to_numpy()
        sizes = np.bincount(group[group >= 0]) if (group >= 0).any() else np.zeros(0, int)
        predicted_pairs = int((sizes * (sizes - 1) // 2).sum())
        copy_rows = len(base) + np.arange(n_copies)
        found = int(((group[sources] >= 0) & (group[sources] == group[copy_rows])).sum())
        entry = {
            "search_s": search,
            "duplicate_recall": found / n_copies,
            "duplicate_precision": found / predicted_pairs if predicted_pairs else 1.0,
            "grouped_rows": int((group >= 0).sum()),
            "distance_threshold": float(duplicates.attrs["distance_threshold"]),
            "median_nn_distance": float(duplicates.attrs["median_nn_distance"]),
            "copy_distance_ratio": float(
                np.median(np.linalg.norm(noise * std * jitter, axis=1))
                / duplicates.attrs["median_nn_distance"]
            ),
        }
        if jitter == JITTERS[0]:
            outliers = find_outliers(X, knn=knn)
            flagged = outliers["is_outlier_issue"].to_numpy()
            scores = 1 - outliers["outlier_score"].to_numpy()
            entry["auroc"] = float(roc_auc_score(is_outlier, scores))
            if dataset != "digits":
                half = n_clean + n_out // 2
                for name, rows in (
                    ("uniform", slice(n_clean, half)),
                    ("entry", slice(half, n_clean + n_out)),
                ):
                    mask = np.ones(len(X), dtype=bool)
                    mask[n_clean : n_clean + n_out] = False
                    mask[rows] = True
                    entry[f"auroc_{name}"] = float(roc_auc_score(is_outlier[mask], scores[mask]))
            tp = int((flagged & is_outlier).sum())
            entry["outlier_flagged"] = int(flagged.sum())
            entry["outlier_precision"] = tp / flagged.sum() if flagged.any() else 1.0
            entry["outlier_recall"] = tp / n_out
            entry["clean_flagged_share"] = float(flagged[~is_outlier].mean())
        out[f"jitter_{jitter:g}"] = entry
    return out


# Orchestration ------------------------------------------------------------------------


def run(out: Path, *, quick: bool, check: bool) -> int:
    baseline = int(run_step(__file__, "baseline")["peak_rss"])
    detect = {}
    for dataset in ("digits", "table"):
        print(f"detection on {dataset} ...", flush=True)
        detect[dataset] = run_step(__file__, "detect", dataset)
    runs: list[tuple[str, int, int, str]] = [
        ("gaussian", 100_000, 16, "exact"),
        ("gaussian", 100_000, 16, "approx"),
        ("gaussian", 200_000, 32, "approx"),
        ("mixture", 200_000, 32, "approx"),
    ]
    if not quick:
        runs += [("gaussian", 1_000_000, 16, "approx"), ("gaussian", 1_000_000, 16, "exact-subset")]
    knn: dict[tuple[str, int, int, str], dict[str, Any]] = {}
    for kind, n, d, mode in runs:
        print(f"kNN {kind} {n:,} x {d} {mode} ...", flush=True)
        result = run_step(__file__, "knn", kind, str(n), str(d), mode)
        result["memory"] = int(result["peak_rss"]) - baseline
        knn[(kind, n, d, mode)] = result
        print(f"  {result['wall']:.1f} s, {mb(result['memory'])}, recall {result.get('recall')}")

    checks = _checks(detect, knn)
    ok = all(passed for _, passed, _ in checks)
    for target, passed, value in checks:
        print(f"  [{'ok' if passed else 'MISSED'}] {target}: {value}")
    section = _section(detect, knn, baseline, checks, quick)
    write_section(out, SECTION, section)
    print(f"\nwrote {SECTION!r} to {out}")
    return 0 if ok or not check else 1


def _checks(
    detect: dict[str, dict[str, Any]], knn: dict[tuple[str, int, int, str], dict[str, Any]]
) -> list[tuple[str, bool, str]]:
    checks = []
    for dataset, result in detect.items():
        main = result[f"jitter_{JITTERS[0]:g}"]
        checks.append(
            (
                f"{dataset}: outlier AUROC above {TARGET_AUROC}",
                main["auroc"] > TARGET_AUROC,
                f"{main['auroc']:.3f}",
            )
        )
        checks.append(
            (
                f"{dataset}: near-copies (1% jitter) found above {TARGET_DUPLICATE_RECALL:.0%}",
                main["duplicate_recall"] >= TARGET_DUPLICATE_RECALL,
                f"recall {main['duplicate_recall']:.3f}, precision {main['duplicate_precision']:.3f}",
            )
        )
    key = ("gaussian", 200_000, 32, "approx")
    checks.append(
        (
            f"HNSW recall@10 at 200,000 x 32 (Gaussian) at least {TARGET_ANN_RECALL}",
            knn[key]["recall"] >= TARGET_ANN_RECALL,
            f"{knn[key]['recall']:.3f}",
        )
    )
    big = knn.get(("gaussian", 1_000_000, 16, "approx"))
    if big is not None:
        checks.append(
            (
                f"k=10 on 1,000,000 x 16 under {TARGET_1M_SECONDS / 60:.0f} min and 2 GB",
                big["wall"] < TARGET_1M_SECONDS and big["memory"] < TARGET_1M_MEMORY,
                f"{big['wall']:.0f} s, {mb(big['memory'])}",
            )
        )
    return checks


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _section(
    detect: dict[str, dict[str, Any]],
    knn: dict[tuple[str, int, int, str], dict[str, Any]],
    baseline: int,
    checks: list[tuple[str, bool, str]],
    quick: bool,
) -> str:
    from dcai.quality import _duplicates, _neighbors, _outliers

    versions = package_versions(("numpy", "scikit-learn", "faiss-cpu", "dcai"))
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {os.cpu_count()} cores"
        f" ({platform.system()} {platform.machine()}); "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ". Reproduce with `make bench` (or `.venv-bench/bin/python benchmarks/outliers_duplicates.py`).",
        "",
        f"Defaults under test: k = {K}; outliers flagged above the log-distance fence"
        f" z > {_outliers.FENCE_Z:g} (score < {_outliers.DEFAULT_THRESHOLD:.5f}); near-duplicates"
        f" within {_duplicates.NEAR_DUPLICATE_RATIO:g} × the median nearest-neighbour distance;"
        f" exact search up to {_neighbors.EXACT_MAX_ROWS:,} rows, above it HNSW with"
        f" M = {_neighbors.HNSW_M}, efConstruction = {_neighbors.HNSW_EF_CONSTRUCTION},"
        f" efSearch = {_neighbors.HNSW_EF_SEARCH}.",
        "",
        "### Planted outliers and near-copies",
        "",
        "digits: 1,797 rows × 64 pixels, plus 36 outliers (real digits with their pixels shuffled)"
        " and 36 near-copies. table: `make_classification` (98,000 rows × 20, standardised), plus"
        " 500 outliers uniform in the bounding box, 500 rows with two features overwritten by"
        " ±5–8 standard deviations, and 1,000 near-copies. Copies add Gaussian jitter of the given"
        " share of each feature's standard deviation; one `nearest_neighbors` call serves both"
        " detectors. Duplicate precision and recall are over pairs.",
        "",
        "| data | rows | outlier AUROC | fence precision | fence recall | clean rows flagged |"
        " kNN search |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset, result in detect.items():
        main = result[f"jitter_{JITTERS[0]:g}"]
        auroc = f"{main['auroc']:.3f}"
        if "auroc_uniform" in main:
            auroc += (
                f" (uniform {main['auroc_uniform']:.3f}, entry errors {main['auroc_entry']:.3f})"
            )
        lines.append(
            f"| {dataset} | {result['rows']:,} | {auroc} | {main['outlier_precision']:.3f} |"
            f" {main['outlier_recall']:.3f} | {_pct(main['clean_flagged_share'])} |"
            f" {main['search_s']:.1f} s |"
        )
    lines += [
        "",
        "| data | jitter | copy distance / median NN distance | duplicate precision |"
        " duplicate recall | rows grouped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for dataset, result in detect.items():
        for jitter in JITTERS:
            entry = result[f"jitter_{jitter:g}"]
            lines.append(
                f"| {dataset} | {jitter:.0%} | {entry['copy_distance_ratio']:.3f} |"
                f" {entry['duplicate_precision']:.3f} | {entry['duplicate_recall']:.3f} |"
                f" {entry['grouped_rows']:,} (planted: {2 * result['copies']:,}) |"
            )
    lines += [
        "",
        "### Nearest-neighbour search (k = 10)",
        "",
        "Each run is a fresh process; memory is its peak RSS minus that of a process that only"
        f" imports numpy, pandas, faiss and dcai ({mb(baseline)}), so it includes the generated"
        f" data. Recall@10 is measured against exact search on {RECALL_QUERIES:,} sampled"
        " queries.",
        "",
        "| data | rows × dims | search | wall time | peak memory (data) | recall@10 |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for (kind, n, d, mode), result in knn.items():
        if mode == "exact-subset":
            how = f"exact (extrapolated from {result['queries']:,} queries: {result['measured_wall']:.0f} s)"
        else:
            how = "exact" if mode == "exact" else "approximate (HNSW)"
        recall = f"{result['recall']:.3f}" if "recall" in result else "1 (exact)"
        lines.append(
            f"| {kind} | {n:,} × {d} | {how} | {result['wall']:,.1f} s |"
            f" {mb(result['memory'])} ({mb(result['data_bytes'])}) | {recall} |"
        )
    lines += ["", "Targets (issue 3, on the 2-core machine):", ""]
    if quick:
        lines[-1:] = ["(--quick: the 1,000,000-row runs were skipped.)", ""]
    for target, passed, value in checks:
        lines.append(f"- {'met' if passed else '**missed**'}: {target} ({value})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown file to update"
    )
    parser.add_argument("--quick", action="store_true", help="skip the 1,000,000-row runs")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "baseline":
            result = child_baseline()
        elif kind == "knn":
            result = child_knn(rest[0], int(rest[1]), int(rest[2]), rest[3])
        elif kind == "detect":
            result = child_detect(rest[0])
        else:
            parser.error(f"unknown child step {kind!r}")
        print(json.dumps(result))
        return 0
    return run(args.out, quick=args.quick, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
