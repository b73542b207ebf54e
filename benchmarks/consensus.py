"""Consensus benchmark (issue 4): dcai's consensus labels against crowd-kit's, same simulated crowds.

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt (crowd-kit)
    .venv-bench/bin/python benchmarks/consensus.py [--quick] [--check] [--out BENCHMARKS.md]

dcai never imports crowd-kit; this script does, in the separate benchmark environment.

Crowds. Simulated labelers with known truth, generated deterministically from a seed: 30
labelers whose accuracies are drawn uniformly from [0.5, 0.95], except labeler 0 (poor:
accuracy max(1/K + 0.05, 0.3)) and labeler 1 (swaps classes 0 and 1 most of the time); every
labeler's errors fall on the other classes with class-specific rates (a Dirichlet(0.5) draw per
true class), workloads differ (Dirichlet(2) shares), and each item is labelled by 1–5 distinct
labelers (uniformly), so overlap is sparse. Class priors are a Dirichlet(2) draw. Cells: 3, 10
and 50 classes × 1,000, 10,000 and 100,000 labels, several seeds each; speed and memory at
1,000,000 labels.

Model. dcai's model-assisted consensus also gets ``pred_probs`` of a simulated, decent but
imperfect model: features ``x = μ_y + N(0, I)`` with class means on the axes (classes 1 and 2
closer together, so the model confuses them), probabilities the Bayes posterior of that
feature model made over-confident (logits × 1.5), and the class-mean scale tuned so the model
is right on 80 % of items. A robustness column gives it a poor model instead (right on 1/K +
15 %, equally over-confident).

Each accuracy cell runs in child processes (dcai; crowd-kit's MajorityVote and DawidSkene;
GLAD and MMSR each under a time limit), and each timed call at 1,000,000 labels in a fresh
process that reports wall time and peak RSS. The results replace the "Consensus (issue 4)"
section of ``--out``; ``--check`` exits with status 1 if a target is missed. ``--quick`` (one
seed, up to 10,000 labels, speed at 100,000 labels) is for development.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import dispatch_child, machine, mb, peak_rss_bytes, run_child, write_section
from _common import versions as package_versions

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "consensus"
SECTION = "## Consensus (issue 4)"
SEED = 20240604

CLASSES = (3, 10, 50)
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
SEEDS = 3
QUICK_SEEDS = 1
SPEED_LABELS = 1_000_000
QUICK_SPEED_LABELS = 100_000
SPEED_CLASSES = (10, 50)

N_LABELERS = 30
MAX_PER_ITEM = 5
MODEL_ACCURACY = 0.80
POOR_MARGIN = 0.15
OVERCONFIDENCE = 1.5
#: GLAD and MMSR are slow at scale: each cell's run is stopped after this long.
PEER_TIMEOUT_S = 300.0
#: A timed crowd-kit call at 1,000,000 labels is stopped after this long.
SPEED_TIMEOUT_S = 1800.0
#: A timed call slower than this runs once, not --repeat times.
ONCE_ABOVE_S = 60.0

#: (key, column title) of every method in the accuracy table, in order.
METHODS = (
    ("model", "model alone"),
    ("dcai_majority", "dcai majority"),
    ("ck_mv", "crowd-kit MajorityVote"),
    ("dcai_ds", "dcai DawidSkene"),
    ("ck_ds", "crowd-kit DawidSkene"),
    ("ck_glad", "crowd-kit GLAD"),
    ("ck_mmsr", "crowd-kit MMSR"),
    ("dcai_assisted", "dcai model-assisted"),
    ("dcai_assisted_poor", "dcai model-assisted, poor model"),
)
GROUPS = {"dcai": None, "crowdkit": None, "glad": PEER_TIMEOUT_S, "mmsr": PEER_TIMEOUT_S}


# Simulation ------------------------------------------------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    import numpy as np

    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _model_logits(
    rng: np.random.Generator, truth: np.ndarray, k: int, scale: float, prior: np.ndarray
) -> np.ndarray:
    """Bayes-posterior logits of a Gaussian feature model (calibrated before over-confidence)."""
    import numpy as np

    means = np.eye(k) * scale
    if k >= 3:
        means[2] = scale * (0.6 * np.eye(k)[1] + 0.8 * np.eye(k)[2])
    x = means[truth] + rng.standard_normal((len(truth), k))
    logits: np.ndarray = x @ means.T - 0.5 * (means**2).sum(axis=1) + np.log(prior)
    return logits


def _model_scale(k: int, target: float, prior: np.ndarray) -> float:
    """The class-mean scale at which the model is right on ``target`` of items (bisection on a
    fixed sample, so it is deterministic)."""
    import numpy as np

    rng = np.random.default_rng([SEED, k, 1])
    truth = rng.choice(k, size=20_000, p=prior)
    noise_seed = int(rng.integers(1 << 30))
    low, high = 0.0, 10.0
    for _ in range(30):
        mid = (low + high) / 2
        logits = _model_logits(np.random.default_rng(noise_seed), truth, k, mid, prior)
        accuracy = float((logits.argmax(axis=1) == truth).mean())
        low, high = (mid, high) if accuracy < target else (low, mid)
    return (low + high) / 2


def simulate(n_labels: int, k: int, seed: int) -> dict[str, np.ndarray]:
    """One crowd: label triples, the truth per item, and two models' ``pred_probs``."""
    import numpy as np

    rng = np.random.default_rng([SEED, n_labels, k, seed])
    n_items = round(n_labels / ((1 + MAX_PER_ITEM) / 2))
    per_item = rng.integers(1, MAX_PER_ITEM + 1, size=n_items)
    prior = rng.dirichlet(np.full(k, 2.0))
    truth = rng.choice(k, size=n_items, p=prior)
    m = N_LABELERS
    accuracy = rng.uniform(0.5, 0.95, size=m)
    accuracy[0] = max(1.0 / k + 0.05, 0.3)
    confusion = np.empty((m, k, k))
    for a in range(m):
        errors = rng.dirichlet(np.full(k, 0.5), size=k)
        np.fill_diagonal(errors, 0.0)
        errors /= errors.sum(axis=1, keepdims=True)
        confusion[a] = errors * (1 - accuracy[a])
        confusion[a][np.arange(k), np.arange(k)] = accuracy[a]
    # Labeler 1 confuses classes 0 and 1.
    confusion[1][[0, 1]] = 0.0
    confusion[1][0, 0], confusion[1][0, 1] = 0.35, 0.65
    confusion[1][1, 1], confusion[1][1, 0] = 0.4, 0.6
    workload = rng.dirichlet(np.full(m, 2.0))
    # Weighted sampling without replacement (Efraimidis–Spirakis keys), one row per item.
    keys = rng.random((n_items, m)) ** (1 / workload)
    order = np.argsort(-keys, axis=1)
    example, labeler = [], []
    for count in range(1, MAX_PER_ITEM + 1):
        chosen = np.flatnonzero(per_item == count)
        example.append(np.repeat(chosen, count))
        labeler.append(order[chosen, :count].ravel())
    ex, an = np.concatenate(example), np.concatenate(labeler)
    del keys, order
    cumulative = confusion[an, truth[ex]].cumsum(axis=1)
    label = np.minimum((rng.random(len(ex))[:, None] > cumulative).sum(axis=1), k - 1)
    del cumulative
    out = {"example": ex, "labeler": an, "label": label, "truth": truth}
    for name, target in (("decent", MODEL_ACCURACY), ("poor", 1.0 / k + POOR_MARGIN)):
        scale = _model_scale(k, target, prior)
        out[f"probs_{name}"] = _softmax(OVERCONFIDENCE * _model_logits(rng, truth, k, scale, prior))
    return out


def _frame(data: dict[str, np.ndarray]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {"example_id": data["example"], "annotator": data["labeler"], "label": data["label"]}
    )


def _crowdkit_frame(data: dict[str, np.ndarray]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {"task": data["example"], "worker": data["labeler"], "label": data["label"]}
    )


def _accuracy(labels: Any, truth: np.ndarray) -> float:
    """Share of items whose consensus is the truth (a Series indexed by item id)."""
    import numpy as np

    ids = np.asarray(labels.index)
    return float((np.asarray(labels.to_numpy()) == truth[ids]).mean())


# Child processes: accuracy ---------------------------------------------------------------


def _run_dcai(data: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    import numpy as np
    import scipy.sparse  # noqa: F401  (imported before timing: dcai imports it on first use)

    from dcai.labels import DawidSkene, aggregate, majority_vote

    ann, truth = _frame(data), data["truth"]
    out: dict[str, tuple[float, float]] = {}

    def record(key: str, call: Callable[[], Any]) -> None:
        start = time.perf_counter()
        labels = call()
        wall = time.perf_counter() - start
        out[key] = (_accuracy(labels.set_index("example_id")["label"], truth), wall)

    record("dcai_majority", lambda: majority_vote(ann))
    record("dcai_ds", lambda: DawidSkene().fit(ann).labels_)
    for key, probs in (("dcai_assisted", "probs_decent"), ("dcai_assisted_poor", "probs_poor")):
        record(
            key,
            lambda p=probs: aggregate(ann, method="model_assisted", pred_probs=data[p]).labels,
        )
    predicted = data["probs_decent"].argmax(axis=1)
    out["model"] = (float((predicted == data["truth"]).mean()), 0.0)
    out["info"] = (float(len(truth)), float(np.bincount(data["example"]).mean()))
    return out


def _run_crowdkit(data: dict[str, np.ndarray], group: str) -> dict[str, tuple[float, float]]:
    import crowdkit.aggregation as ck

    frame, truth = _crowdkit_frame(data), data["truth"]
    chosen: dict[str, Callable[[], Any]] = {
        "crowdkit": {"ck_mv": ck.MajorityVote, "ck_ds": lambda: ck.DawidSkene(n_iter=100)},
        "glad": {"ck_glad": ck.GLAD},
        "mmsr": {"ck_mmsr": ck.MMSR},
    }[group]
    out: dict[str, tuple[float, float]] = {}
    for key, make in chosen.items():
        start = time.perf_counter()
        labels = make().fit_predict(frame)
        out[key] = (_accuracy(labels, truth), time.perf_counter() - start)
    return out


def child_accuracy(k: int, n_labels: int, seed: int, group: str) -> dict[str, Any]:
    import warnings

    warnings.filterwarnings("ignore")  # crowd-kit's pandas deprecation notices
    data = simulate(n_labels, k, seed)
    result = _run_dcai(data) if group == "dcai" else _run_crowdkit(data, group)
    return {key: list(value) for key, value in result.items()}


# Child processes: speed and memory -------------------------------------------------------


def _speed_files(k: int, n_labels: int) -> dict[str, Path]:
    stem = f"speed-{n_labels}-{k}"
    names = ("example", "labeler", "label", "truth", "probs_decent")
    return {name: WORK / f"{stem}-{name}.npy" for name in names}


def child_synthetic(k: int, n_labels: int) -> dict[str, Any]:
    import numpy as np

    data = simulate(n_labels, k, seed=0)
    WORK.mkdir(parents=True, exist_ok=True)
    for name, path in _speed_files(k, n_labels).items():
        np.save(path, data[name])
    return {"items": len(data["truth"]), "labels": len(data["label"])}


def _import_tool(tool: str) -> None:
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    if tool.startswith("ck_"):
        import crowdkit.aggregation  # noqa: F401
    else:
        import dcai.labels  # noqa: F401


def _current_rss_bytes() -> int:
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) * 1024 if match else 0


def child_baseline(tool: str) -> dict[str, Any]:
    _import_tool(tool)
    return {"peak_rss": peak_rss_bytes()}


def child_time(tool: str, k: int, n_labels: int) -> dict[str, Any]:
    """Time one aggregation call on the saved crowd in this (fresh) process."""
    import warnings

    warnings.filterwarnings("ignore")
    _import_tool(tool)
    import numpy as np

    data = {name: np.load(path) for name, path in _speed_files(k, n_labels).items()}
    frame = _crowdkit_frame(data) if tool.startswith("ck_") else _frame(data)
    probs = data.pop("probs_decent")
    before = _current_rss_bytes()
    start = time.perf_counter()
    if tool == "ck_ds":
        import crowdkit.aggregation as ck

        labels = ck.DawidSkene(n_iter=100).fit_predict(frame)
    elif tool == "ck_mv":
        import crowdkit.aggregation as ck

        labels = ck.MajorityVote().fit_predict(frame)
    else:
        from dcai.labels import DawidSkene, aggregate, majority_vote

        if tool == "dcai_ds":
            out = DawidSkene().fit(frame).labels_
        elif tool == "dcai_majority":
            out = majority_vote(frame)
        else:
            out = aggregate(frame, method="model_assisted", pred_probs=probs).labels
        labels = out.set_index("example_id")["label"]
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "peak_rss": peak_rss_bytes(),
        "rss_before": before,
        "accuracy": _accuracy(labels, data["truth"]),
    }


# Orchestration ---------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


class Cell:
    """One (classes, labels) setting: per seed, each method's accuracy and wall time."""

    def __init__(self, k: int, n_labels: int) -> None:
        self.k, self.n_labels = k, n_labels
        self.runs: list[dict[str, list[float]]] = []
        self.stopped: set[str] = set()

    def accuracy(self, key: str) -> float:
        values = [run[key][0] for run in self.runs if key in run]
        return _mean(values) if len(values) == len(self.runs) else float("nan")

    def wall(self, key: str) -> float:
        values = [run[key][1] for run in self.runs if key in run]
        return _mean(values) if len(values) == len(self.runs) else float("nan")

    def info(self) -> tuple[float, float]:
        return _mean([r["info"][0] for r in self.runs]), _mean([r["info"][1] for r in self.runs])


def _measure_accuracy(sizes: Sequence[int], n_seeds: int) -> list[Cell]:
    cells = []
    for k in CLASSES:
        for n_labels in sizes:
            cell = Cell(k, n_labels)
            for seed in range(n_seeds):
                run: dict[str, list[float]] = {}
                for group, timeout in GROUPS.items():
                    if group in cell.stopped:
                        continue
                    args = (str(k), str(n_labels), str(seed), group)
                    result = run_child(__file__, "accuracy", *args, timeout=timeout)
                    if result is None:
                        cell.stopped.add(group)
                        continue
                    run.update(result)
                cell.runs.append(run)
                shown = "  ".join(f"{key} {run[key][0]:.3f}" for key, _ in METHODS if key in run)
                print(f"  K={k:<3} {n_labels:>7,} labels seed {seed}: {shown}", flush=True)
            cells.append(cell)
    return cells


class Timing:
    """One timed call at one size, over its repeats."""

    def __init__(self, tool: str, k: int, runs: list[dict[str, Any]], baseline: int) -> None:
        self.tool, self.k, self.runs, self.baseline = tool, k, runs, baseline

    @property
    def timed_out(self) -> bool:
        return not self.runs

    @property
    def wall(self) -> float:
        return float(statistics.median(r["wall"] for r in self.runs))

    @property
    def peak(self) -> int:
        return max(int(r["peak_rss"]) for r in self.runs) - self.baseline

    @property
    def added(self) -> int:
        return max(int(r["peak_rss"]) - int(r["rss_before"]) for r in self.runs)


SPEED_TOOLS = (
    ("dcai_ds", "dcai `DawidSkene().fit`"),
    ("ck_ds", "crowd-kit `DawidSkene(n_iter=100).fit_predict`"),
    ("dcai_majority", "dcai `majority_vote`"),
    ("ck_mv", "crowd-kit `MajorityVote().fit_predict`"),
    ("dcai_assisted", "dcai `aggregate(method='model_assisted')`"),
)


def _measure_speed(n_labels: int, repeat: int) -> tuple[list[Timing], dict[int, Any]]:
    baselines = {
        tool: int(_need(run_child(__file__, "baseline", tool))["peak_rss"])
        for tool, _ in SPEED_TOOLS
    }
    timings, inputs = [], {}
    for k in SPEED_CLASSES:
        print(f"synthetic crowd: {n_labels:,} labels x {k} classes", flush=True)
        inputs[k] = _need(run_child(__file__, "synthetic", str(k), str(n_labels)))
        for tool, _ in SPEED_TOOLS:
            runs: list[dict[str, Any]] = []
            for _ in range(repeat):
                timeout = SPEED_TIMEOUT_S if tool.startswith("ck_") else None
                result = run_child(__file__, "time", tool, str(k), str(n_labels), timeout=timeout)
                if result is None:
                    runs = []
                    break
                runs.append(result)
                if result["wall"] > ONCE_ABOVE_S:
                    break  # one run of a call this slow is measurement enough
            timing = Timing(tool, k, runs, baselines[tool])
            timings.append(timing)
            if timing.timed_out:
                print(f"  {tool:<14} stopped after {SPEED_TIMEOUT_S:.0f} s", flush=True)
            else:
                print(
                    f"  {tool:<14} {timing.wall:8.2f} s  peak {mb(timing.peak):>9}"
                    f"  accuracy {runs[0]['accuracy']:.4f}",
                    flush=True,
                )
        for path in _speed_files(k, n_labels).values():
            path.unlink(missing_ok=True)
    return timings, inputs


def _need(result: dict[str, Any] | None) -> dict[str, Any]:
    if result is None:
        raise SystemExit("a benchmark step without a time limit timed out")
    return result


# Report ----------------------------------------------------------------------------------


def _f(value: float) -> str:
    return "–" if value != value else f"{value:.3f}"  # NaN check without numpy


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def _best_baseline(cell: Cell) -> tuple[str, float]:
    options = [(key, cell.accuracy(key)) for key in ("dcai_majority", "ck_mv", "dcai_ds", "ck_ds")]
    return max(options, key=lambda pair: pair[1])


def _targets(
    cells: Sequence[Cell], timings: Sequence[Timing], n_labels: int
) -> list[tuple[str, bool, str]]:
    gaps = [(c, c.accuracy("dcai_ds") - c.accuracy("ck_ds")) for c in cells]
    worst, gap = min(gaps, key=lambda pair: pair[1])
    below = [c for c, g in gaps if not g >= 0]
    checks = [
        (
            "dcai DawidSkene accuracy ≥ crowd-kit DawidSkene in every setting",
            not below,
            f"{len(cells) - len(below)} of {len(cells)} settings; smallest difference"
            f" {_signed(gap)} (K={worst.k}, {worst.n_labels:,} labels); mean"
            f" {_f(_mean([c.accuracy('dcai_ds') for c in cells]))} vs"
            f" {_f(_mean([c.accuracy('ck_ds') for c in cells]))}",
        )
    ]
    margins = [(c, c.accuracy("dcai_assisted") - _best_baseline(c)[1]) for c in cells]
    worst, margin = min(margins, key=lambda pair: pair[1])
    checks.append(
        (
            "dcai model-assisted above majority vote and Dawid–Skene (dcai's and crowd-kit's)"
            " in every setting",
            all(m > 0 for _, m in margins),
            f"smallest margin {_signed(margin)} (K={worst.k}, {worst.n_labels:,} labels); mean"
            f" {_f(_mean([c.accuracy('dcai_assisted') for c in cells]))} vs best other"
            f" {_f(_mean([_best_baseline(c)[1] for c in cells]))}",
        )
    )
    poor = [(c, c.accuracy("dcai_assisted_poor") - c.accuracy("dcai_ds")) for c in cells]
    worst, drop = min(poor, key=lambda pair: pair[1])
    checks.append(
        (
            "with a poor model, model-assisted at most 0.01 below dcai DawidSkene in every setting",
            drop >= -0.01,
            f"smallest difference {_signed(drop)} (K={worst.k}, {worst.n_labels:,} labels)",
        )
    )
    for k in SPEED_CLASSES:
        by_tool = {t.tool: t for t in timings if t.k == k}
        dcai, peer = by_tool.get("dcai_ds"), by_tool.get("ck_ds")
        name = (
            f"dcai DawidSkene at least as fast as crowd-kit's at {n_labels:,} labels × {k} classes"
        )
        if dcai is None or dcai.timed_out:
            checks.append((name, False, "not measured"))
        elif peer is None or peer.timed_out:
            checks.append(
                (
                    name,
                    True,
                    f"dcai {dcai.wall:.2f} s; crowd-kit stopped after {SPEED_TIMEOUT_S / 60:.0f} min",
                )
            )
        else:
            checks.append(
                (
                    name,
                    dcai.wall <= peer.wall,
                    f"dcai {dcai.wall:.2f} s vs crowd-kit {peer.wall:.2f} s"
                    f" ({peer.wall / dcai.wall:.1f}×)",
                )
            )
    return checks


def _accuracy_table(cells: Sequence[Cell]) -> list[str]:
    header = (
        "| classes | labels | items | labels per item | "
        + " | ".join(title for _, title in METHODS)
        + " | dcai DS − crowd-kit DS |"
    )
    lines = [header, "|---:|---:|---:|---:|" + "---:|" * (len(METHODS) + 1)]
    for c in cells:
        items, per = c.info()
        values = []
        best = max(c.accuracy(key) for key, _ in METHODS if key != "model")
        for key, _ in METHODS:
            value = c.accuracy(key)
            text = _f(value)
            if key in c.stopped and value != value:
                text = "stopped"
            elif value == best:
                text = f"**{text}**"
            values.append(text)
        lines.append(
            f"| {c.k} | {c.n_labels:,} | {items:,.0f} | {per:.2f} | "
            + " | ".join(values)
            + f" | {_signed(c.accuracy('dcai_ds') - c.accuracy('ck_ds'))} |"
        )
    means = []
    for key, _ in METHODS:
        values = [c.accuracy(key) for c in cells]
        complete = all(v == v for v in values)
        means.append(f"**{_f(_mean(values))}**" if complete else "–")
    lines.append("| **mean** | | | | " + " | ".join(means) + " | |")
    return lines


def _time_table(cells: Sequence[Cell]) -> list[str]:
    keys = [key for key, _ in METHODS if key != "model"]
    lines = [
        "| classes | labels | " + " | ".join(t for k, t in METHODS if k != "model") + " |",
        "|---:|---:|" + "---:|" * len(keys),
    ]
    for c in cells:
        walls = []
        for key in keys:
            wall = c.wall(key)
            if wall == wall:
                walls.append(f"{wall:.2f}")
            else:  # not measured: the peer was stopped at its time limit
                walls.append("stopped" if key in c.stopped else "–")
        lines.append(f"| {c.k} | {c.n_labels:,} | " + " | ".join(walls) + " |")
    return lines


def _speed_table(timings: Sequence[Timing], inputs: dict[int, Any], n_labels: int) -> list[str]:
    titles = dict(SPEED_TOOLS)
    lines = [
        "| labels × classes | call | wall time | peak memory above baseline | added by the call"
        " | accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for t in timings:
        size = f"{n_labels:,} × {t.k}"
        if t.timed_out:
            lines.append(
                f"| {size} | {titles[t.tool]} | stopped after {SPEED_TIMEOUT_S / 60:.0f} min"
                " | – | – | – |"
            )
            continue
        walls = [r["wall"] for r in t.runs]
        spread = f" ({min(walls):.2f}–{max(walls):.2f})" if len(walls) > 1 else ""
        lines.append(
            f"| {size} | {titles[t.tool]} | {t.wall:.2f} s{spread} | {mb(t.peak)}"
            f" | {mb(t.added)} | {t.runs[0]['accuracy']:.4f} |"
        )
    items = "; ".join(f"{k} classes: {info['items']:,} items" for k, info in inputs.items())
    lines += ["", f"Crowds timed: {items} ({n_labels:,} labels each)."]
    return lines


def _section(
    cells: Sequence[Cell],
    timings: Sequence[Timing],
    inputs: dict[int, Any],
    checks: Sequence[tuple[str, bool, str]],
    *,
    n_seeds: int,
    repeat: int,
    speed_labels: int,
    quick: bool,
) -> str:
    versions = package_versions(("numpy", "pandas", "scipy", "crowd-kit", "dcai"))
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
            f"**Quick run (`--quick`): {n_seeds} seed(s), up to {max(QUICK_SIZES):,} labels, speed"
            f" at {speed_labels:,} labels; not the reference figures.**",
        ]
    lines += [
        "",
        "Method. Simulated crowds with known truth (`benchmarks/consensus.py`, fixed seeds):"
        f" {N_LABELERS} labelers with accuracies uniform in [0.5, 0.95] and class-specific"
        " errors (each true class's errors spread by a Dirichlet(0.5) draw), one poor labeler"
        " (accuracy max(1/K + 0.05, 0.3)) and one who labels class 0 as 1 (65 %) and 1 as 0"
        " (60 %); unequal workloads (Dirichlet(2) shares); each item labelled by 1–5 distinct"
        " labelers, uniformly (3 on average: sparse overlap); class priors a Dirichlet(2) draw."
        " Model-assisted consensus gets `pred_probs` of a simulated model that is right on"
        f" {MODEL_ACCURACY:.0%} of items (the Bayes posterior of a Gaussian feature model in which"
        f" classes 1 and 2 overlap, made over-confident: logits × {OVERCONFIDENCE}); the"
        f" robustness column gives it a poor model (right on 1/K + {POOR_MARGIN:.0%}, equally"
        " over-confident). Every method runs with its defaults: dcai `majority_vote(ann)`,"
        " `DawidSkene().fit(ann)`, `aggregate(ann, method='model_assisted', pred_probs=...)`;"
        " crowd-kit `MajorityVote()`, `DawidSkene(n_iter=100)`, `GLAD()`, `MMSR()`, each"
        " `.fit_predict(frame)`. Accuracy is the share of items whose consensus is the true"
        f" class, averaged over {n_seeds} seed(s) per setting; the best consensus in each row is"
        f" bold. GLAD and MMSR are stopped after {PEER_TIMEOUT_S / 60:.0f} minutes per setting"
        ' ("stopped").',
        "",
        "### Accuracy",
        "",
    ]
    lines += _accuracy_table(cells)
    lines += [
        "",
        "### Wall time of the accuracy runs (seconds, mean over seeds)",
        "",
        "Measured inside the accuracy runs (one process per tool group, so not isolated like the"
        " timings below); the model-assisted columns include its Dawid–Skene fit.",
        "",
    ]
    lines += _time_table(cells)
    lines += [
        "",
        f"### Speed and memory at {speed_labels:,} labels",
        "",
        "Each call runs in a fresh process that first loads the crowd from `.npy` and builds the"
        f" long-form frame; wall time is the call alone (median of {repeat} run(s), range in"
        f" brackets; a call slower than {ONCE_ABOVE_S:.0f} s runs once); peak memory is the"
        " process's peak RSS minus that of a process that only"
        ' imports numpy, pandas and the tool (so it includes the loaded crowd); "added by the'
        ' call" is the peak minus the RSS just before the call. crowd-kit calls are stopped after'
        f" {SPEED_TIMEOUT_S / 60:.0f} minutes.",
        "",
    ]
    lines += _speed_table(timings, inputs, speed_labels)
    lines += ["", "Targets (issue 4, on the 2-core machine):", ""]
    for target, passed, value in checks:
        lines.append(f"- {'met' if passed else '**missed**'}: {target} ({value})")
    return "\n".join(lines) + "\n"


def run(out: Path, *, quick: bool, n_seeds: int, repeat: int, check: bool) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    sizes = QUICK_SIZES if quick else SIZES
    speed_labels = QUICK_SPEED_LABELS if quick else SPEED_LABELS
    cells = _measure_accuracy(sizes, n_seeds)
    timings, inputs = _measure_speed(speed_labels, repeat)
    checks = _targets(cells, timings, speed_labels)
    ok = all(passed for _, passed, _ in checks)
    print()
    for target, passed, value in checks:
        print(f"  [{'ok' if passed else 'MISSED'}] {target}: {value}")
    section = _section(
        cells,
        timings,
        inputs,
        checks,
        n_seeds=n_seeds,
        repeat=repeat,
        speed_labels=speed_labels,
        quick=quick,
    )
    write_section(out, SECTION, section)
    print(f"\nwrote {SECTION!r} to {out}")
    return 0 if ok or not check else 1


CHILDREN: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "accuracy": lambda a: child_accuracy(int(a[0]), int(a[1]), int(a[2]), a[3]),
    "synthetic": lambda a: child_synthetic(int(a[0]), int(a[1])),
    "baseline": lambda a: child_baseline(a[0]),
    "time": lambda a: child_time(a[0], int(a[1]), int(a[2])),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown file to update"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SEEDS} seed, up to {max(QUICK_SIZES):,} labels, speed at"
        f" {QUICK_SPEED_LABELS:,} labels (for development)",
    )
    parser.add_argument("--seeds", type=int, help=f"seeds per setting (default {SEEDS})")
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
