"""The prediction log's writer: request blocks and row dicts land as the same Parquet rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.deploy._models import LoadedModel, answers
from dcai.deploy.prediction_log import (
    PartitionedLog,
    prediction_block,
    prediction_log_dir,
    to_json,
)


def _read(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*.parquet")):
        folder = {p.split("=")[0]: p.split("=")[1] for p in path.parts if "=" in p}
        rows.extend(r | folder for r in pq.read_table(path).to_pylist())
    return rows


def test_blocks_and_rows_are_written_as_the_same_rows(tmp_path: Path) -> None:
    root = prediction_log_dir(tmp_path)
    log = PartitionedLog(root, flush_interval=0.05)
    answered = [
        {"label": 1, "confidence": 0.75, "probabilities": {"0": 0.25, "1": 0.75}},
        {"label": 0, "confidence": 0.5, "probabilities": {"0": 0.5, "1": 0.5}},
    ]
    shared = {
        "request_id": "r1",
        "time": "2026-12-07T10:00:00+00:00",
        "deployment": "web",
        "revision": 3,
        "route": "primary",
        "model_version": "m/1",
        "latency_ms": 2.5,
    }
    log.extend_block(
        prediction_block(answered, ['{"x":1}', '{"x":null}'], needs_review=[False, True], **shared)
    )
    # The same request as row dicts, on the next day (another partition) and another deployment.
    log.extend(
        [
            shared
            | {
                "request_id": "r2",
                "index": i,
                "time": "2026-12-08T00:00:01+00:00",
                "deployment": dep,
                "inputs": '{"x":1}',
                "label": to_json(a["label"]),
                "confidence": a["confidence"],
                "probabilities": to_json(a["probabilities"]),
                "needs_review": False,
            }
            for i, a in enumerate(answered)
            for dep in ("web", "api")
        ]
    )
    log.close()
    assert log.written_rows == 6 and log.dropped_rows == 0
    rows = _read(root)
    first = sorted((r for r in rows if r["request_id"] == "r1"), key=lambda r: r["index"])
    assert [r["index"] for r in first] == [0, 1]
    assert [r["needs_review"] for r in first] == [False, True]
    assert [json.loads(r["label"]) for r in first] == [1, 0]
    assert json.loads(first[1]["probabilities"]) == {"0": 0.5, "1": 0.5}
    assert {r["date"] for r in first} == {"2026-12-07"}
    assert all(r["revision"] == 3 and r["latency_ms"] == 2.5 for r in first)
    second = [r for r in rows if r["request_id"] == "r2"]
    assert sorted((r["deployment"], r["date"], r["index"]) for r in second) == [
        ("api", "2026-12-08", 0),
        ("api", "2026-12-08", 1),
        ("web", "2026-12-08", 0),
        ("web", "2026-12-08", 1),
    ]


def test_a_full_queue_drops_whole_blocks_and_counts_them(tmp_path: Path) -> None:
    log = PartitionedLog(tmp_path, max_queued=3, flush_interval=60)
    block = prediction_block(
        [{"label": 0, "confidence": 1.0, "probabilities": {"0": 1.0}}] * 2,
        ["{}"] * 2,
        time="2026-12-07T00:00:00+00:00",
        deployment="web",
    )
    log.extend_block(block)
    log.extend_block(block)  # 4 > 3 waiting rows: dropped
    log.close()
    assert (log.written_rows, log.dropped_rows) == (2, 2)


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**53), 2**53),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=8),
        ),
        max_size=6,
    )
)
@settings(max_examples=200, deadline=None)
def test_to_json_is_strict_json_with_missing_as_null(row: dict[str, Any]) -> None:
    text = to_json(row)
    back = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    expected = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()
    }
    assert back == expected


def test_to_json_writes_types_json_lacks_as_text() -> None:
    assert json.loads(to_json({"n": np.int64(3), 2: "two"})) == {"n": "3", "2": "two"}


@given(st.integers(1, 20), st.integers(2, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_answers_are_the_most_probable_class(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    classes: list[Any] = [f"c{j}" for j in range(k)]
    model = LoadedModel("m/1", None, [], classes)
    got = answers(model, probs)
    for row, answer in zip(probs, got, strict=True):
        j = int(np.argmax(row))
        assert answer["label"] == classes[j]
        assert answer["confidence"] == float(row[j])
        assert answer["probabilities"] == {c: float(p) for c, p in zip(classes, row, strict=True)}
