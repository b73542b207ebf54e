"""Stream change detectors: loop/vectorised equivalence, false alarms, delays, bad input."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError
from dcai.monitor import ADWIN, DDM, HDDM_A, PageHinkley, classify_change
from dcai.monitor.streams import StreamDetector

N_STATIONARY = 250_000

Factory = Callable[[], StreamDetector]
REAL: dict[str, Factory] = {"PageHinkley": PageHinkley, "ADWIN": ADWIN}
BINARY: dict[str, Factory] = {"DDM": DDM, "HDDM_A": HDDM_A}


def _first_delay(alarms: np.ndarray, change: int) -> int:
    after = alarms[alarms >= change]
    return int(after[0] - change) if after.size else 10**9


# --- update loop == update_many ------------------------------------------------------------


def _equivalent(make: Factory, xs: np.ndarray, cuts: list[int]) -> None:
    loop = make()
    looped = [i for i, x in enumerate(xs) if loop.update(float(x))]
    whole = make()
    assert whole.update_many(xs).tolist() == looped
    split = make()
    got: list[int] = []
    bounds = [0, *sorted({c % (xs.size + 1) for c in cuts}), xs.size]
    for lo, hi in itertools.pairwise(bounds):
        got += (split.update_many(xs[lo:hi]) + lo).tolist()
    assert got == looped
    assert loop.changes == whole.changes == split.changes == looped
    assert loop.n_seen == whole.n_seen == split.n_seen == xs.size


shifts = st.lists(
    st.tuples(st.integers(1, 120), st.floats(-3, 3), st.floats(0.01, 2)), min_size=1, max_size=5
)


@settings(max_examples=40, deadline=None)
@given(shifts, st.integers(0, 2**32 - 1), st.lists(st.integers(0, 10**6), max_size=6))
def test_page_hinkley_loop_equals_vectorised(
    segments: list[tuple[int, float, float]], seed: int, cuts: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    xs = np.concatenate([rng.normal(mu, sd, n) for n, mu, sd in segments])
    _equivalent(lambda: PageHinkley(warmup=5, threshold=3.0), xs, cuts)
    _equivalent(lambda: PageHinkley(direction="down", warmup=2), xs, cuts)


@settings(max_examples=40, deadline=None)
@given(shifts, st.integers(0, 2**32 - 1), st.lists(st.integers(0, 10**6), max_size=6))
def test_adwin_loop_equals_vectorised(
    segments: list[tuple[int, float, float]], seed: int, cuts: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    xs = np.concatenate([rng.normal(mu, sd, n) for n, mu, sd in segments])
    _equivalent(lambda: ADWIN(delta=0.1, clock=4, max_buckets=2), xs, cuts)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 150), st.floats(0, 1)), min_size=1, max_size=5),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_error_detectors_loop_equal_vectorised(
    segments: list[tuple[int, float]], seed: int, cuts: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    xs = np.concatenate([(rng.random(n) < p).astype(float) for n, p in segments])
    _equivalent(lambda: DDM(min_samples=5), xs, cuts)
    _equivalent(lambda: HDDM_A(drift_confidence=0.05, warning_confidence=0.1), xs, cuts)


def test_reset_forgets_the_stream() -> None:
    rng = np.random.default_rng(0)
    xs = np.r_[rng.normal(0, 1, 500), rng.normal(3, 1, 500)]
    for make in (PageHinkley, ADWIN):
        det = make()
        first = det.update_many(xs).tolist()
        assert det.changes == first and det.n_seen == xs.size
        det.reset()
        assert det.changes == [] and det.n_seen == 0
        assert det.update_many(xs).tolist() == first


# --- false alarms at the defaults ------------------------------------------------------------

DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "normal": lambda r, n: r.normal(size=n),
    "uniform": lambda r, n: r.uniform(size=n),
    "t3": lambda r, n: r.standard_t(3, size=n),
    "exponential": lambda r, n: r.exponential(size=n),
    "bernoulli": lambda r, n: (r.random(n) < 0.1).astype(float),
}


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_page_hinkley_false_alarms_any_scale(dist: str, scale: float) -> None:
    rng = np.random.default_rng([7, list(DISTRIBUTIONS).index(dist), int(np.log10(scale)) + 3])
    xs = 5 * scale + scale * DISTRIBUTIONS[dist](rng, N_STATIONARY)
    assert PageHinkley().update_many(xs).size <= 1


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_adwin_false_alarms(dist: str) -> None:
    rng = np.random.default_rng([8, list(DISTRIBUTIONS).index(dist)])
    xs = 0.5 + 0.1 * DISTRIBUTIONS[dist](rng, N_STATIONARY)
    assert ADWIN().update_many(xs).size <= 1


@pytest.mark.parametrize("p", [0.01, 0.1, 0.3, 0.5])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_error_detectors_false_alarms(name: str, p: float) -> None:
    rng = np.random.default_rng([9, int(p * 100)])
    xs = (rng.random(N_STATIONARY) < p).astype(float)
    assert BINARY[name]().update_many(xs).size <= 1


# --- detection delays --------------------------------------------------------------------------


def _median_delays(
    make_stream: Callable[[np.random.Generator], np.ndarray],
    change: int,
    makers: dict[str, Factory],
    reps: int = 30,
) -> dict[str, float]:
    rng = np.random.default_rng(11)
    delays: dict[str, list[int]] = {name: [] for name in makers}
    for _ in range(reps):
        xs = make_stream(rng)
        for name, make in makers.items():
            delays[name].append(_first_delay(make().update_many(xs), change))
    return {name: float(np.median(d)) for name, d in delays.items()}


@pytest.mark.parametrize("sd", [0.05, 0.2])
def test_sudden_shift_detected_no_later_than_adwin(sd: float) -> None:
    # a 1-SD shift at 3000 (ADWIN's range term assumes [0, 1] data, hence these scales)
    delays = _median_delays(
        lambda r: np.r_[r.normal(0.4, sd, 3000), r.normal(0.4 + sd, sd, 1000)], 3000, REAL
    )
    assert delays["PageHinkley"] <= 60  # documented: median ~30 samples
    assert delays["PageHinkley"] <= delays["ADWIN"]


def test_gradual_drift_detected_no_later_than_adwin() -> None:
    # the mean rises by 2 SD over 1000 samples from 3000
    ramp = np.clip((np.arange(5000) - 3000) / 1000, 0, 1) * 0.4
    delays = _median_delays(lambda r: 0.3 + ramp + r.normal(0, 0.2, 5000), 3000, REAL)
    assert delays["PageHinkley"] <= 600
    # measured medians over 100 streams: PageHinkley 366, ADWIN 359 (docs/monitor-streams.md)
    assert delays["PageHinkley"] <= 1.1 * delays["ADWIN"]


def test_error_rate_jump_detected() -> None:
    makers: dict[str, Factory] = {**BINARY, "ADWIN": ADWIN}
    delays = _median_delays(
        lambda r: np.r_[r.random(3000) < 0.1, r.random(2000) < 0.3].astype(float), 3000, makers
    )
    assert delays["DDM"] <= 400 and delays["HDDM_A"] <= 300
    # HDDM_A's alpha was lowered to 1e-4 for the false-alarm target; it costs ~25% of delay
    # against ADWIN on this stream (documented in docs/monitor-streams.md)
    assert delays["HDDM_A"] <= 1.5 * delays["ADWIN"]


# --- the shape of a change ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_classify_change_planted_shapes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    step = np.r_[rng.normal(0, 1, 2000), rng.normal(1.5, 1, 2000)]
    alarm = int(PageHinkley().update_many(step)[0])
    assert classify_change(step, alarm) == "sudden"
    ramp = rng.normal(0, 1, 4000) + np.clip((np.arange(4000) - 2000) / 600, 0, 1) * 1.5
    alarm = int(PageHinkley().update_many(ramp)[0])
    assert classify_change(ramp, alarm) == "gradual"


# --- bad input and speed -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [PageHinkley, ADWIN, DDM, HDDM_A])
def test_non_finite_refused(make: Factory) -> None:
    with pytest.raises(InvalidInputError, match="not finite"):
        make().update_many([0.0, float("nan")])
    with pytest.raises(InvalidInputError):
        make().update(float("inf"))
    with pytest.raises(InvalidInputError, match="1-D"):
        make().update_many(np.zeros((2, 2)))


@pytest.mark.parametrize("make", [DDM, HDDM_A])
def test_error_detectors_refuse_non_binary(make: Factory) -> None:
    with pytest.raises(InvalidInputError, match="not 0 or 1"):
        make().update_many([0, 1, 0.5])
    assert make().update_many([True, False]).size == 0


def test_bad_parameters_refused() -> None:
    for bad in (
        lambda: PageHinkley(direction="sideways"),  # type: ignore[arg-type]
        lambda: PageHinkley(threshold=0),
        lambda: PageHinkley(warmup=1),
        lambda: ADWIN(delta=1.5),
        lambda: DDM(warning=4, drift=3),
        lambda: HDDM_A(drift_confidence=0.1, warning_confidence=0.01),
    ):
        with pytest.raises(InvalidInputError):
            bad()
    with pytest.raises(InvalidInputError, match="outside"):
        classify_change(np.zeros(100), 500)


@pytest.mark.parametrize("make", [PageHinkley, ADWIN, DDM, HDDM_A])
def test_update_many_per_sample_time(make: Factory) -> None:
    xs = (np.random.default_rng(3).random(1_000_000) < 0.2).astype(float)
    det = make()
    start = time.perf_counter()
    det.update_many(xs)
    per_sample = (time.perf_counter() - start) / xs.size
    assert per_sample <= 5e-6  # target 1 µs; loose against a shared machine
