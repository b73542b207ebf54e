"""Canary routing: sticky by key, monotone in the percentage, exact shares without a key."""

from __future__ import annotations

import math
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.deploy import ExactSplit, canary_by_key, key_position


@given(st.floats(0.0, 100.0), st.integers(1, 2000))
def test_exact_split_is_within_one_request_of_the_target(percent: float, n: int) -> None:
    split = ExactSplit()
    taken = sum(split.take(percent) for _ in range(n))
    assert abs(taken - n * percent / 100) <= 1.0 + 1e-9


def test_exact_split_extremes_and_threads() -> None:
    split = ExactSplit()
    assert not any(split.take(0.0) for _ in range(100))
    assert all(split.take(100.0) for _ in range(100))
    shared, counts = ExactSplit(), []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(shared.take(10.0) for _ in range(1000))
        with lock:
            counts.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 800  # 10 % of 8,000, exactly, whatever the interleaving


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=30), st.floats(0.0, 100.0), st.floats(0.0, 100.0))
def test_a_key_never_leaves_the_canary_when_the_percentage_rises(
    key: str, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    assert canary_by_key("web", key, low) <= canary_by_key("web", key, high)
    assert canary_by_key("web", key, low) == canary_by_key("web", key, low)  # sticky


def test_keyed_shares_are_within_one_percent_over_ten_thousand_keys() -> None:
    for percent in (1.0, 10.0, 25.0, 50.0, 90.0):
        taken = sum(canary_by_key("web", f"user-{i}", percent) for i in range(10_000))
        assert abs(taken / 100 - percent) <= 1.0, (percent, taken)


def test_positions_are_uniform_and_differ_between_deployments() -> None:
    from scipy import stats

    positions = [key_position("web", str(i)) for i in range(5000)]
    assert all(0 <= p < 100 for p in positions)
    assert stats.kstest([p / 100 for p in positions], "uniform").pvalue > 1e-3
    same = sum(
        math.floor(key_position("web", str(i)) / 10) == math.floor(key_position("app", str(i)) / 10)
        for i in range(5000)
    )
    assert same < 1000  # independent: about 10 % of keys share a decile by chance
