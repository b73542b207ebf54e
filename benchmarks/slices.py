"""Slice-discovery benchmark (issue 5): planted bad slices recovered by ``find_slices``, and its cost.

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt
    .venv-bench/bin/python benchmarks/slices.py [--quick] [--check] [--out BENCHMARKS.md]

Data. A generated table with 20 features: ten numeric (normal, uniform, log-normal, integer
ages, exponential, normal with 5 % missing, beta, Student t, integers 0–1000, normal), eight
categorical (3 to 20 values, Zipf-like frequencies) and two boolean tags. Errors are Bernoulli
with rate 10 % outside the planted slice and ``lift × 10 %`` inside it. The planted slice has
1, 2 or 3 predicates and a share of 0.5 %, 2 % or 5 % of the rows: a new value ``hot`` of a
random categorical column (frequency ``share``, ``4 × share`` or ``8 × share``), then a random
quartile of a random numeric column (exact quartiles of the data), then a value of the tag
``b1`` (true for half the rows). Everything is seeded, so every run sees the same data.

Recovery. For each cell (share × lift × predicates) and seed, ``dcai.analysis.find_slices`` runs
with its defaults on 100,000 rows; the planted slice counts as recovered at rank ``r`` when the
``r``-th reported slice has a Jaccard overlap of at least 0.8 with the planted rows (the quartile
cut points are rounded to three significant digits by ``find_slices``, so overlaps are just
under 1). False positives: on pure noise (the same features, errors independent of them) the
share of seeds where any slice is reported. Each cell runs in its own child process.

Speed and memory. One planted slice (2 %, lift 2, 2 predicates) at 100,000 and 1,000,000 rows;
each ``find_slices`` call runs in a fresh process that first generates the data; wall time is
the call alone (median of ``--repeat`` runs) and memory the process's peak RSS minus that of a
process that only generates the same data (so it is what the call adds).

The results replace the "Slice discovery (issue 5)" section of ``--out``; ``--check`` exits with
status 1 if a target is missed. ``--quick`` (2 seeds, 100,000 rows only) is for development.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import MB, dispatch_child, machine, mb, peak_rss_bytes, run_step, write_section
from _common import versions as package_versions

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Slice discovery (issue 5)"
SEED = 20240605

SHARES = (0.005, 0.02, 0.05)
LIFTS = (1.5, 2.0, 4.0)
PREDICATES = (1, 2, 3)
BASE_ERROR = 0.10
ACCURACY_ROWS = 100_000
SEEDS = 5
QUICK_SEEDS = 2
NOISE_SEEDS = 20
QUICK_NOISE_SEEDS = 5
JACCARD = 0.8
CARDINALITIES = (3, 4, 5, 6, 8, 10, 12, 20)

SPEED_ROWS = (100_000, 1_000_000)
SPEED_CELL = (0.02, 2.0, 2)
#: Issue 5's runtime targets on the reference machine, in seconds.
TARGET_SECONDS = {100_000: 5.0, 1_000_000: 60.0}
TARGET_MEMORY = 2 * 1024 * MB
GB = 1024 * MB


# Data --------------------------------------------------------------------------------------


def generate(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """20 features: ten numeric, eight categorical, two boolean tags."""
    import numpy as np
    import pandas as pd

    x5 = rng.normal(50, 10, n)
    x5[rng.random(n) < 0.05] = np.nan
    columns: dict[str, Any] = {
        "x0": rng.normal(size=n),
        "x1": rng.uniform(0, 10, n),
        "x2": rng.lognormal(0, 1, n),
        "x3": rng.integers(18, 91, n),
        "x4": rng.exponential(2.0, n),
        "x5": x5,
        "x6": rng.beta(2, 5, n),
        "x7": rng.standard_t(3, n),
        "x8": rng.integers(0, 1001, n),
        "x9": rng.normal(size=n),
    }
    for j, k in enumerate(CARDINALITIES):
        weights = 1 / np.arange(1, k + 1) ** 0.8
        codes = rng.choice(k, n, p=weights / weights.sum())
        columns[f"c{j}"] = pd.Categorical.from_codes(codes, [f"v{i}" for i in range(k)])
    columns["b0"] = rng.random(n) < 0.3
    columns["b1"] = rng.random(n) < 0.5
    return pd.DataFrame(columns)


def plant(
    frame: pd.DataFrame, rng: np.random.Generator, share: float, lift: float, k: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Plant a slice of about ``share`` of the rows with ``k`` predicates; return the errors,
    the planted rows and the planted slice's description. ``frame`` is changed in place."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    cat = f"c{rng.integers(0, len(CARDINALITIES))}"
    num = f"x{rng.integers(0, 10)}"
    quartile = int(rng.integers(0, 4))
    flag = bool(rng.integers(0, 2))
    frequency = share * (4 if k >= 2 else 1) * (2 if k >= 3 else 1)
    hot = rng.random(n) < frequency
    values = frame[cat].astype(object).to_numpy().copy()
    values[hot] = "hot"
    frame[cat] = pd.Categorical(values)
    planted = hot.copy()
    described = [f"{cat} == hot"]
    if k >= 2:
        x = frame[num].to_numpy(dtype=float)
        edges = np.nanquantile(x, [0.25, 0.5, 0.75])
        low = edges[quartile - 1] if quartile > 0 else -np.inf
        high = edges[quartile] if quartile < 3 else np.inf
        with np.errstate(invalid="ignore"):
            planted &= (x >= low) & (x < high)
        described.append(f"{num} in quartile {quartile + 1}")
    if k >= 3:
        planted &= frame["b1"].to_numpy() == flag
        described.append("b1" if flag else "not b1")
    errors = rng.random(n) < np.where(planted, BASE_ERROR * lift, BASE_ERROR)
    return errors.astype(np.int8), planted, " & ".join(described)


def _find_slices() -> Any:
    from dcai.analysis import find_slices

    return find_slices


def _rng(*key: float) -> np.random.Generator:
    import numpy as np

    return np.random.default_rng([SEED, *(round(v * 1000) for v in key)])


# Child processes ---------------------------------------------------------------------------


def child_accuracy(share: float, lift: float, k: int, n_seeds: int) -> dict[str, Any]:
    """One cell over its seeds: the rank of the planted slice (0 = not reported)."""
    import numpy as np

    find_slices = _find_slices()
    records = []
    for seed in range(n_seeds):
        rng = _rng(share, lift, k, seed)
        frame = generate(ACCURACY_ROWS, rng)
        errors, planted, described = plant(frame, rng, share, lift, k)
        start = time.perf_counter()
        report = find_slices(frame, errors)
        wall = time.perf_counter() - start
        rank = 0
        if len(report.slices):
            masks = report.masks(frame).to_numpy()
            inter = (masks & planted[:, None]).sum(axis=0)
            union = (masks | planted[:, None]).sum(axis=0)
            hits = np.flatnonzero(inter / union >= JACCARD)
            rank = int(hits[0]) + 1 if len(hits) else 0
        records.append(
            {
                "seed": seed,
                "rank": rank,
                "planted": described,
                "planted_rows": int(planted.sum()),
                "top": str(report.slices["name"].iloc[0]) if len(report.slices) else None,
                "reported": len(report.slices),
                "candidates": report.n_candidates,
                "wall": wall,
            }
        )
    return {"share": share, "lift": lift, "k": k, "records": records}


def child_noise(n_seeds: int) -> dict[str, Any]:
    """Pure noise: errors independent of every feature. How often is any slice reported?"""
    import numpy as np

    find_slices = _find_slices()
    reported = []
    for seed in range(n_seeds):
        rng = _rng(0, 0, 0, 1000 + seed)
        frame = generate(ACCURACY_ROWS, rng)
        errors = (rng.random(ACCURACY_ROWS) < BASE_ERROR).astype(np.int8)
        reported.append(len(find_slices(frame, errors).slices))
    return {"reported": reported}


def _speed_data(rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    share, lift, k = SPEED_CELL
    rng = _rng(share, lift, k, rows)
    frame = generate(rows, rng)
    errors, _, _ = plant(frame, rng, share, lift, k)
    return frame, errors


def child_baseline(rows: int) -> dict[str, Any]:
    """Peak RSS of a process that imports dcai's search and generates the data, nothing more."""
    _find_slices()
    frame, _ = _speed_data(rows)
    return {"peak_rss": peak_rss_bytes(), "bytes": int(frame.memory_usage(deep=True).sum())}


def child_speed(rows: int) -> dict[str, Any]:
    find_slices = _find_slices()
    frame, errors = _speed_data(rows)
    before = _current_rss_bytes()
    start = time.perf_counter()
    report = find_slices(frame, errors)
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "peak_rss": peak_rss_bytes(),
        "rss_before": before,
        "candidates": report.n_candidates,
        "top": str(report.slices["name"].iloc[0]) if len(report.slices) else None,
    }


def _current_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# Orchestration -----------------------------------------------------------------------------


def _rate(ranks: Sequence[int], top: int) -> float:
    return sum(1 for r in ranks if 1 <= r <= top) / len(ranks) if ranks else float("nan")


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _recovery_table(cells: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| share | lift | rows in slice | 1 predicate: rank 1 / top 3 | 2 predicates | 3 predicates"
        " | all: rank 1 | all: top 3 | reported anywhere |",
        "|---:|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for share, lift in itertools.product(SHARES, LIFTS):
        group = [c for c in cells if c["share"] == share and c["lift"] == lift]
        ranks = {c["k"]: [r["rank"] for r in c["records"]] for c in group}
        every = [r for k in PREDICATES for r in ranks.get(k, [])]
        size = statistics.fmean(r["planted_rows"] for c in group for r in c["records"])
        lines.append(
            f"| {share * 100:g} % | {lift:g}× | {size:,.0f} | "
            + " | ".join(
                f"{_pct(_rate(ranks[k], 1))} / {_pct(_rate(ranks[k], 3))}" for k in PREDICATES
            )
            + f" | {_pct(_rate(every, 1))} | {_pct(_rate(every, 3))}"
            f" | {_pct(_rate(every, 10**9))} |"
        )
    every = [r["rank"] for c in cells for r in c["records"]]
    lines.append(
        f"| **all** | | | | | | **{_pct(_rate(every, 1))}** | **{_pct(_rate(every, 3))}**"
        f" | **{_pct(_rate(every, 10**9))}** |"
    )
    return lines


def _speed_table(timings: dict[int, list[dict[str, Any]]], baselines: dict[int, Any]) -> list[str]:
    lines = [
        "| rows × features | wall time | peak memory above the data | added by the call"
        " | data in memory | candidate slices | top slice |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for rows, runs in timings.items():
        walls = [r["wall"] for r in runs]
        spread = f" ({min(walls):.2f}–{max(walls):.2f})" if len(walls) > 1 else ""
        peak = max(r["peak_rss"] for r in runs) - baselines[rows]["peak_rss"]
        added = max(r["peak_rss"] - r["rss_before"] for r in runs)
        lines.append(
            f"| {rows:,} × 20 | {statistics.median(walls):.2f} s{spread} | {mb(max(peak, 0))}"
            f" | {mb(added)} | {mb(baselines[rows]['bytes'])} | {runs[0]['candidates']:,}"
            f" | `{runs[0]['top']}` |"
        )
    return lines


def _targets(
    cells: Sequence[dict[str, Any]],
    noise: Sequence[int],
    timings: dict[int, list[dict[str, Any]]],
    baselines: dict[int, Any],
) -> list[tuple[str, bool, str]]:
    checks: list[tuple[str, bool, str]] = []
    strong = [
        r["rank"] for c in cells if c["lift"] == 4.0 and c["share"] >= 0.02 for r in c["records"]
    ]
    checks.append(
        (
            "every planted slice of share ≥ 2 % and lift 4× found at rank 1",
            _rate(strong, 1) == 1.0,
            f"{_pct(_rate(strong, 1))} of {len(strong)} runs",
        )
    )
    found = [r["rank"] for c in cells for r in c["records"] if r["rank"] >= 1]
    checks.append(
        (
            "a planted slice that is reported is reported first",
            _rate(found, 1) == 1.0 if found else False,
            f"{sum(1 for r in found if r == 1)} of {len(found)} runs",
        )
    )
    false_rate = sum(1 for r in noise if r) / len(noise)
    checks.append(
        (
            "pure noise: a slice reported in at most 10 % of seeds (alpha = 0.05)",
            false_rate <= 0.10,
            f"{sum(1 for r in noise if r)} of {len(noise)} seeds",
        )
    )
    for rows, limit in TARGET_SECONDS.items():
        if rows in timings:  # a quick run skips the largest size
            wall = statistics.median(r["wall"] for r in timings[rows])
            checks.append((f"{rows:,} × 20 in under {limit:g} s", wall < limit, f"{wall:.2f} s"))
    top = max(timings)
    peak = max(r["peak_rss"] for r in timings[top]) - baselines[top]["peak_rss"]
    checks.append(
        (
            f"{top:,} × 20 under {TARGET_MEMORY / GB:g} GB above the data",
            peak < TARGET_MEMORY,
            mb(peak),
        )
    )
    return checks


def _section(
    cells: Sequence[dict[str, Any]],
    noise: Sequence[int],
    timings: dict[int, list[dict[str, Any]]],
    baselines: dict[int, Any],
    checks: Sequence[tuple[str, bool, str]],
    *,
    n_seeds: int,
    repeat: int,
    quick: bool,
) -> str:
    versions = package_versions(("numpy", "pandas", "scipy", "dcai"))
    walls = [r["wall"] for c in cells for r in c["records"]]
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {machine()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
    ]
    if quick:
        lines += [
            "",
            f"**Quick run (`--quick`): {n_seeds} seeds, {SPEED_ROWS[-1]:,} rows skipped; not the"
            " reference figures.**",
        ]
    lines += [
        "",
        f"Method. Generated tables of {ACCURACY_ROWS:,} rows with 20 features: ten numeric"
        " (normal, uniform, log-normal, integer ages, exponential, normal with 5 % missing,"
        " beta, Student t, integers 0–1000, normal), eight categorical (3 to 20 values,"
        " Zipf-like frequencies) and two boolean tags. Errors are Bernoulli with rate"
        f" {BASE_ERROR * 100:g} % outside a planted slice and lift × {BASE_ERROR * 100:g} % inside"
        " it. The"
        " planted slice is a new value of a random categorical column, then (2 and 3"
        " predicates) a random quartile of a random numeric column, then (3 predicates) a value"
        " of a tag that is true for half the rows, with frequencies chosen so that the slice"
        " holds the given share of the rows. `dcai.analysis.find_slices(frame, errors)` runs"
        f" with its defaults; the planted slice is recovered at rank r when the r-th reported"
        f" slice's rows overlap it with a Jaccard index of at least {JACCARD}. {n_seeds}"
        " seed(s) per cell; each cell runs in its own process.",
        "",
        "### Recovery of planted slices (rank 1 / in the top 3)",
        "",
    ]
    lines += _recovery_table(cells)
    lines += [
        "",
        f"Median time per call: {statistics.median(walls):.2f} s. A planted slice that is not"
        " reported at all was not significantly worse than the rest after the Bonferroni"
        f" correction at {ACCURACY_ROWS:,} rows (at a 0.5 % share and lift 1.5 the slice has about"
        " 75 errors where 50 are expected).",
        "",
        "### False positives on pure noise",
        "",
        f"The same features with errors independent of them ({BASE_ERROR * 100:g} %), {len(noise)}"
        f" seeds: a slice was reported in {sum(1 for r in noise if r)} of {len(noise)} runs"
        " (`alpha = 0.05` bounds the chance of any report per run).",
        "",
        "### Speed and memory",
        "",
        f"One planted slice ({SPEED_CELL[0] * 100:g} % of rows, lift {SPEED_CELL[1]:g}×,"
        f" {SPEED_CELL[2]} predicates), default settings (up to 3 predicates, min_size ="
        " max(30, 0.2 % of rows)). Each call runs in a fresh process that first generates the"
        f" data; wall time is the call alone (median of {repeat} runs, range in brackets). Peak"
        " memory is the process's peak RSS minus that of a process that imports dcai and"
        ' generates the same data; "added by the call" is the peak minus the RSS just before'
        " the call.",
        "",
    ]
    lines += _speed_table(timings, baselines)
    skipped = [rows for rows in SPEED_ROWS if rows not in timings]
    if skipped:
        lines += [
            "",
            f"({', '.join(f'{r:,}' for r in skipped)} rows were not measured in this run.)",
        ]
    lines += ["", "Targets (issue 5, on the 2-core machine):", ""]
    for target, passed, value in checks:
        lines.append(f"- {'met' if passed else '**missed**'}: {target} ({value})")
    return "\n".join(lines) + "\n"


def run(out: Path, *, quick: bool, n_seeds: int, repeat: int, check: bool) -> int:
    cells = []
    for share, lift, k in itertools.product(SHARES, LIFTS, PREDICATES):
        result = run_step(__file__, "accuracy", str(share), str(lift), str(k), str(n_seeds))
        ranks = [r["rank"] for r in result["records"]]
        print(f"share {share * 100:g} % lift {lift:g} k {k}: ranks {ranks}", flush=True)
        cells.append(result)
    noise_seeds = QUICK_NOISE_SEEDS if quick else NOISE_SEEDS
    noise = run_step(__file__, "noise", str(noise_seeds))["reported"]
    print(f"pure noise: slices reported per seed {noise}", flush=True)
    sizes = SPEED_ROWS[:1] if quick else SPEED_ROWS
    baselines = {rows: run_step(__file__, "baseline", str(rows)) for rows in sizes}
    timings: dict[int, list[dict[str, Any]]] = {}
    for rows in sizes:
        timings[rows] = [run_step(__file__, "speed", str(rows)) for _ in range(repeat)]
        wall = statistics.median(r["wall"] for r in timings[rows])
        print(f"{rows:,} rows: {wall:.2f} s", flush=True)
    checks = _targets(cells, noise, timings, baselines)
    ok = all(passed for _, passed, _ in checks)
    print()
    for target, passed, value in checks:
        print(f"  [{'ok' if passed else 'MISSED'}] {target}: {value}")
    section = _section(
        cells, noise, timings, baselines, checks, n_seeds=n_seeds, repeat=repeat, quick=quick
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_section(out, SECTION, section)
    print(f"\nwrote {SECTION!r} to {out}")
    return 0 if ok or not check else 1


CHILDREN: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "accuracy": lambda a: child_accuracy(float(a[0]), float(a[1]), int(a[2]), int(a[3])),
    "noise": lambda a: child_noise(int(a[0])),
    "baseline": lambda a: child_baseline(int(a[0])),
    "speed": lambda a: child_speed(int(a[0])),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown file to update"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SEEDS} seeds and {SPEED_ROWS[0]:,} rows only (for development)",
    )
    parser.add_argument("--seeds", type=int, help=f"seeds per cell (default {SEEDS})")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each timed call (median time is reported)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if dispatch_child(parser, args.child, CHILDREN):
        return 0
    n_seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else SEEDS)
    if n_seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return run(args.out, quick=args.quick, n_seeds=n_seeds, repeat=args.repeat, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
