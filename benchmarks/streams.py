"""Stream change detectors (issue 9): dcai's against river's, same streams, both at defaults.

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt (river)
    .venv-bench/bin/python benchmarks/streams.py [--quick] [--check] [--out BENCHMARKS.md]

dcai's ``PageHinkley``, ``ADWIN``, ``DDM`` and ``HDDM_A`` (``dcai.monitor.streams``) beside
river's ``drift.PageHinkley``, ``drift.ADWIN``, ``drift.binary.DDM`` and
``drift.binary.HDDMA``, every detector constructed with no arguments. Seeded numpy streams of
1,000,000 samples: a +1 SD mean step and a 100,000-sample ramp of the mean at sample 500,000
on N(0, 1); a Bernoulli(0.1) → Bernoulli(0.2) error stream with the same step and ramp; and
stationary streams (N(0, 1), N(50, 10²), Exp(1), Bernoulli(0.1), Bernoulli(0.3)) for false
alarms. PageHinkley and ADWIN take every stream (both are documented for real values; 0/1
values are real values in [0, 1]); DDM and HDDM_A take the 0/1 streams.

Per detector and stream: detection delay (first alarm at or after the change start, minus the
start; "missed" if none), alarms before the change and on the stationary streams (per 250,000
samples), and time per sample: dcai's ``update_many`` on the whole array (best of 3 fresh
detectors), dcai's ``update`` per sample on a prefix, river's ``update`` loop (its only API) on
the whole stream unless that passes a time budget, in which case on the prefix it reached.

The results replace the "Stream change detectors (issue 9)" section of ``--out``; ``--check``
exits with status 1 if a target is missed. ``--quick`` (100,000-sample streams) is for
development.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from _common import command_shown, machine, report_targets, target_lines, write_section
from _common import versions as package_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Stream change detectors (issue 9)"
SEED = 20240909

FULL = {"n": 1_000_000, "update_prefix": 20_000}
QUICK = {"n": 100_000, "update_prefix": 2_000}
#: The change starts halfway through a change stream; a ramp lasts a tenth of the stream.
CHANGE_AT = 0.5
RAMP = 0.1
#: river's per-sample loop runs on the whole stream unless it passes this many seconds.
RIVER_BUDGET_S = 60.0
RIVER_CHUNK = 10_000
TIMING_REPEATS = 3
PER = 250_000
#: Issue 9's targets.
TARGET_FALSE_PER_250K = 1.0
TARGET_US = 1.0
DETECTORS = ("PageHinkley", "ADWIN", "DDM", "HDDM_A")
RIVER_NAMES = {
    "PageHinkley": "drift.PageHinkley",
    "ADWIN": "drift.ADWIN",
    "DDM": "drift.binary.DDM",
    "HDDM_A": "drift.binary.HDDMA",
}
#: Which detectors take which kind of stream.
TAKES = {"real": ("PageHinkley", "ADWIN"), "binary": ("PageHinkley", "ADWIN", "DDM", "HDDM_A")}


@dataclass(frozen=True)
class Stream:
    key: str
    label: str
    kind: str  # "real" or "binary"
    change: str | None  # "sudden", "gradual" or None (stationary)


STREAMS = (
    Stream("real-sudden", "N(0, 1), +1 SD step", "real", "sudden"),
    Stream("real-gradual", "N(0, 1), +1 SD ramp", "real", "gradual"),
    Stream("real-normal", "N(0, 1), stationary", "real", None),
    Stream("real-normal50", "N(50, 10²), stationary", "real", None),
    Stream("real-exp", "Exp(1), stationary", "real", None),
    Stream("bin-sudden", "Bernoulli 0.1 → 0.2 step", "binary", "sudden"),
    Stream("bin-gradual", "Bernoulli 0.1 → 0.2 ramp", "binary", "gradual"),
    Stream("bin-01", "Bernoulli(0.1), stationary", "binary", None),
    Stream("bin-03", "Bernoulli(0.3), stationary", "binary", None),
)


def make_stream(stream: Stream, n: int) -> np.ndarray:
    """The seeded stream: float64 values (0.0/1.0 for the binary ones)."""
    rng = np.random.default_rng([SEED, STREAMS.index(stream)])
    start, ramp = int(n * CHANGE_AT), int(n * RAMP)
    # Level of the change at each sample: 0 before ``start``, 1 after it (step) or after the ramp.
    level = np.zeros(n)
    if stream.change == "sudden":
        level[start:] = 1.0
    elif stream.change == "gradual":
        level[start : start + ramp] = np.arange(ramp) / ramp
        level[start + ramp :] = 1.0
    if stream.key == "real-normal50":
        return rng.normal(50.0, 10.0, n)
    if stream.key == "real-exp":
        return rng.exponential(1.0, n)
    if stream.kind == "real":
        return rng.standard_normal(n) + level
    p = {"bin-01": 0.1, "bin-03": 0.3}.get(stream.key, 0.1)
    p_of = p + 0.1 * level if stream.change else np.full(n, p)
    return (rng.random(n) < p_of).astype(np.float64)


def _dcai_factory(name: str) -> Callable[[], Any]:
    from dcai.monitor import streams

    factory: Callable[[], Any] = getattr(streams, name)
    return factory


def _river_factory(name: str) -> Callable[[], Any]:
    from river import drift
    from river.drift import binary

    factories: dict[str, Callable[[], Any]] = {
        "PageHinkley": drift.PageHinkley,
        "ADWIN": drift.ADWIN,
        "DDM": binary.DDM,
        "HDDM_A": binary.HDDMA,
    }
    return factories[name]


def run_dcai(name: str, xs: np.ndarray, prefix: int) -> dict[str, Any]:
    """Alarms and ``update_many`` time (best of fresh detectors) and ``update`` time per call."""
    factory = _dcai_factory(name)
    best, alarms = float("inf"), None
    for _ in range(TIMING_REPEATS):
        detector = factory()
        t0 = time.perf_counter()
        found = detector.update_many(xs)
        elapsed = time.perf_counter() - t0
        best = min(best, elapsed)
        found = [int(a) for a in found]
        if alarms is not None and found != alarms:
            raise SystemExit(f"dcai {name}: alarms differ between repeated runs")
        alarms = found
    assert alarms is not None  # invariant: TIMING_REPEATS >= 1
    head = xs[:prefix]
    detector = factory()
    t0 = time.perf_counter()
    loop_alarms = [i for i, x in enumerate(head.tolist()) if detector.update(x)]
    per_call = time.perf_counter() - t0
    return {
        "alarms": alarms,
        "us_many": 1e6 * best / xs.size,
        "us_update": 1e6 * per_call / head.size,
        "update_agrees": loop_alarms == [a for a in alarms if a < prefix],
    }


def run_river(name: str, xs: np.ndarray, binary: bool) -> dict[str, Any]:
    """Alarms and time per sample of river's ``update`` loop (stops past the time budget)."""
    detector = _river_factory(name)()
    values = xs.astype(np.int64).tolist() if binary else xs.tolist()
    alarms: list[int] = []
    seen, elapsed = 0, 0.0
    t0 = time.perf_counter()
    for start in range(0, len(values), RIVER_CHUNK):
        for i, x in enumerate(values[start : start + RIVER_CHUNK], start):
            detector.update(x)
            if detector.drift_detected:
                alarms.append(i)
        seen = min(len(values), start + RIVER_CHUNK)
        elapsed = time.perf_counter() - t0
        if elapsed > RIVER_BUDGET_S:
            break
    return {"alarms": alarms, "us_update": 1e6 * elapsed / seen, "seen": seen}


def summarise(alarms: list[int], stream: Stream, n: int, seen: int) -> dict[str, Any]:
    """Delay and false alarms of one run on ``seen`` samples of a stream of ``n``."""
    start = int(n * CHANGE_AT) if stream.change else n
    before = [a for a in alarms if a < start]
    quiet = min(start, seen)
    out: dict[str, Any] = {
        "false": len(before),
        "quiet": quiet,
        "false_per": PER * len(before) / quiet if quiet else None,
        "delay": None,
        "reached_change": seen > start,
    }
    after = [a for a in alarms if a >= start]
    if stream.change and after:
        out["delay"] = after[0] - start
        out["first_alarm"] = after[0]
    return out


def measure(quick: bool) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    n, prefix = sizes["n"], sizes["update_prefix"]
    from dcai.monitor.streams import classify_change

    records = []
    for stream in STREAMS:
        xs = make_stream(stream, n)
        for name in TAKES[stream.kind]:
            d = run_dcai(name, xs, prefix)
            r = run_river(name, xs, stream.kind == "binary")
            record = {
                "stream": stream.key,
                "detector": name,
                "dcai": {**d, **summarise(d["alarms"], stream, n, n)},
                "river": {**r, **summarise(r["alarms"], stream, n, r["seen"])},
            }
            first = record["dcai"].get("first_alarm")
            if first is not None:
                record["dcai"]["shape"] = classify_change(xs, first)
            for lib in ("dcai", "river"):
                del record[lib]["alarms"]  # keep the JSON small; counts are summarised
            records.append(record)
            rd, rr = record["dcai"], record["river"]
            print(
                f"  {stream.key:<14} {name:<12} delay dcai {_delay(rd)} river {_delay(rr)};"
                f" false dcai {rd['false']} river {rr['false']};"
                f" µs dcai {d['us_many']:.3f} river {r['us_update']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    return {"n": n, "update_prefix": prefix, "records": records}


def _delay(r: dict[str, Any]) -> str:
    if not r["reached_change"]:
        return "not reached"
    return "missed" if r["delay"] is None else f"{r['delay']:,}"


def _false(r: dict[str, Any]) -> str:
    return f"{r['false']:,} ({r['false_per']:.2f})" if r["quiet"] else "—"


def _find(res: dict[str, Any], stream: str, detector: str) -> dict[str, Any] | None:
    for record in res["records"]:
        if record["stream"] == stream and record["detector"] == detector:
            found: dict[str, Any] = record
            return found
    return None


def targets(res: dict[str, Any]) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    for name in DETECTORS:
        mine = [r for r in res["records"] if r["detector"] == name]
        stationary = [r for r in mine if _stream(r["stream"]).change is None]
        worst = max(r["dcai"]["false_per"] for r in stationary)
        out.append(
            (
                f"dcai {name}: ≤ {TARGET_FALSE_PER_250K:g} false alarm per 250k stationary "
                "samples at defaults, on each stationary stream it takes",
                "; ".join(
                    f"{_stream(r['stream']).label}: {r['dcai']['false']} in "
                    f"{r['dcai']['quiet']:,} ({r['dcai']['false_per']:.2f} per 250k)"
                    for r in stationary
                ),
                worst <= TARGET_FALSE_PER_250K,
            )
        )
    for name in DETECTORS:
        mine = [r for r in res["records"] if r["detector"] == name]
        slowest = max(mine, key=lambda r: r["dcai"]["us_many"])
        out.append(
            (
                f"dcai {name}: ≤ {TARGET_US:g} µs per sample (update_many, best of "
                f"{TIMING_REPEATS}, on every stream it takes)",
                f"slowest {slowest['dcai']['us_many']:.3f} µs ({_stream(slowest['stream']).label})",
                slowest["dcai"]["us_many"] <= TARGET_US,
            )
        )
    for name in DETECTORS:
        for kind in ("real", "binary"):
            if name not in TAKES[kind]:
                continue
            changes = [
                r
                for r in res["records"]
                if r["detector"] == name
                and _stream(r["stream"]).kind == kind
                and _stream(r["stream"]).change is not None
            ]
            parts, met = [], True
            for r in changes:
                ref = _find(res, r["stream"], "ADWIN")
                assert ref is not None  # invariant: ADWIN takes every stream
                mine_delay, ref_delay = r["dcai"]["delay"], ref["river"]["delay"]
                if not ref["river"]["reached_change"]:
                    ok = True
                elif mine_delay is None:
                    ok = ref_delay is None
                else:
                    ok = ref_delay is None or mine_delay <= ref_delay
                met = met and ok
                parts.append(
                    f"{_stream(r['stream']).label}: {_delay(r['dcai'])} vs {_delay(ref['river'])}"
                )
            what = "real-valued" if kind == "real" else "0/1"
            out.append(
                (
                    f"dcai {name}: detection delay ≤ river ADWIN's (both at defaults) on the "
                    f"same stream, on each {what} change stream (dcai {name} vs river ADWIN, "
                    "samples after the change start)",
                    "; ".join(parts),
                    met,
                )
            )
    return out


def _stream(key: str) -> Stream:
    return next(s for s in STREAMS if s.key == key)


def render(res: dict[str, Any], quick: bool, command: str) -> str:
    n, prefix = res["n"], res["update_prefix"]
    start, ramp = int(n * CHANGE_AT), int(n * RAMP)
    vs = package_versions(("dcai", "river", "numpy"))
    env = ", ".join(f"{k} {v}" for k, v in vs.items())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = f" — **quick run, {n:,}-sample streams**" if quick else ""
    rows, partial, disagree = [], [], []
    for r in res["records"]:
        s = _stream(r["stream"])
        d, rv = r["dcai"], r["river"]
        river_us = f"{rv['us_update']:.3f}"
        if rv["seen"] < n:
            river_us += f" (first {rv['seen']:,})"
            partial.append(f"{RIVER_NAMES[r['detector']]} on {s.label}")
        if not d["update_agrees"]:
            disagree.append(f"{r['detector']} on {s.label}")
        shape = d.get("shape", "—") if s.change else "—"
        rows.append(
            f"| {s.label} | {r['detector']} | "
            f"{_delay(d) if s.change else '—'} | {_delay(rv) if s.change else '—'} | "
            f"{shape} | {_false(d)} | {_false(rv)} | {d['us_many']:.3f} | "
            f"{d['us_update']:.1f} | {river_us} |"
        )
    lines = [
        SECTION,
        "",
        f"Measured {when} on {machine()}{note}; {env}.",
        "",
        f"Command: `{command}`.",
        "",
        "**Method.** Every detector is constructed with no arguments (each library's defaults): "
        "dcai's `PageHinkley`, `ADWIN`, `DDM`, `HDDM_A` from `dcai.monitor.streams`, river's "
        + ", ".join(f"`{RIVER_NAMES[d]}`" for d in DETECTORS)
        + f". Streams of {n:,} samples from numpy's `default_rng` (seeded, one seed per "
        f"stream; the same array goes to both libraries): *step* — the mean (N(0, 1)) or the "
        f"error rate (Bernoulli 0.1) jumps by +1 SD or +0.1 at sample {start:,}; *ramp* — it "
        f"rises linearly by the same amount over samples {start:,}–{start + ramp - 1:,} and "
        "then stays; *stationary* — no change, for false alarms, on three real distributions "
        "and scales and two error rates. PageHinkley and ADWIN run on every stream (real "
        "values; 0/1 values are in [0, 1]), DDM and HDDM_A on the 0/1 streams. dcai's "
        "PageHinkley takes `delta` in units of the stream's SD (default 0.5); the 0/1 step of "
        "+0.1 is 0.33 SD of Bernoulli(0.1), the real step 1 SD. **Delay**: first "
        "alarm at or after the change start, minus the start (samples; *missed* if none). "
        "**False alarms**: alarms before the change start on a change stream, all alarms on a "
        "stationary one; in brackets per 250,000 samples. **Shape**: dcai's "
        "`classify_change(stream, first_alarm)` (default window ±500 samples, so a ramp "
        f"{ramp:,} samples long is locally almost flat; shown, not a target). **Time**: dcai "
        f"`update_many` on the whole array, best of {TIMING_REPEATS} fresh detectors (alarms "
        "identical each time); dcai `update` called once per sample (a Python loop over "
        f"floats) on the first {prefix:,} samples; river's `update(x)` then `.drift_detected` "
        "per sample — its only API — over a Python list of floats (ints for the 0/1 streams), "
        f"on the whole stream unless it passes {RIVER_BUDGET_S:g} s, then on the samples it "
        "reached (marked). All in one process, one core.",
        "",
        "| stream | detector | delay, dcai | delay, river | shape, dcai | false alarms, dcai "
        "| false alarms, river | dcai µs/sample `update_many` | dcai µs/call `update` "
        "| river µs/sample `update` |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]
    if partial:
        lines += [f"river timed on a prefix only (budget passed): {'; '.join(partial)}.", ""]
    if disagree:
        lines += [
            "dcai's `update` loop raised other alarms than `update_many` on the prefix: "
            f"{'; '.join(disagree)}.",
            "",
        ]
    else:
        lines += [
            f"dcai's `update` loop raised the same alarms as `update_many` on every prefix of "
            f"{prefix:,} samples.",
            "",
        ]
    lines += target_lines(targets(res), "Targets (issue 9, on the 2-core machine):")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k-sample streams, seconds")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    res = measure(args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    command = command_shown("streams.py", argv)
    section = render(res, args.quick, command)
    write_section(Path(args.out), SECTION, section)
    print(section)
    return report_targets(targets(res), check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
