"""End to end: the ``dcai labels`` commands on bad input, and a Label Studio round trip.

Bad input must exit 2 with one clear line on stderr and change nothing: no new version, no
stored report, no new object. Undefined statistics are said in words, never printed as NaN.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CliResult, run_dcai
from tests.labels.test_label_studio import _simulate_export

CLASSES = ("cat", "dog", "bird")


def _ok(result: CliResult) -> CliResult:
    assert result.returncode == 0, result
    return result


def _state(ws: Path) -> tuple[Any, int, list[str]]:
    """Everything a refused command must leave as it was."""
    log = json.loads(_ok(run_dcai("data", "log", "ds", "--json", workspace=ws)).stdout)
    with closing(sqlite3.connect(ws / "metadata.db")) as db:
        reports = db.execute("SELECT count(*) FROM label_reports").fetchone()[0]
    objects = sorted(str(p) for p in (ws / "objects").rglob("*") if p.is_file())
    return log, reports, objects


def _refused(result: CliResult, *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    n = 60
    frame = pd.DataFrame(
        {
            "uid": [f"u{i:03d}" for i in range(n)],
            "text": [f"a short text number {i}" for i in range(n)],
            "label": [CLASSES[i % 3] for i in range(n)],
        }
    )
    frame.to_csv(tmp_path / "ds.csv", index=False)
    path = tmp_path / "ws"
    _ok(run_dcai("init", workspace=path))
    _ok(run_dcai("data", "add", "ds", str(tmp_path / "ds.csv"), "--id", "uid", workspace=path))
    return path


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    pd.DataFrame(rows, columns=["example_id", "annotator", "label"]).to_csv(path, index=False)
    return path


def test_bad_annotation_files_are_refused_and_change_nothing(ws: Path, tmp_path: Path) -> None:
    before = _state(ws)
    outside = _write(tmp_path / "outside.csv", [("u001", "ann", "cat"), ("u002", "ann", "fish")])
    _refused(
        run_dcai("labels", "import", "ds", str(outside), workspace=ws),
        "outside.csv",
        "outside the declared class set ('fish')",
        "row 2",
        "--allow-new-classes",
    )
    not_a_list = tmp_path / "choices.json"
    not_a_list.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "data": {"example_id": "u001"},
                    "annotations": [
                        {
                            "completed_by": 1,
                            "result": [{"type": "choices", "value": {"choices": 5}}],
                        }
                    ],
                }
            ]
        )
    )
    _refused(run_dcai("labels", "import", "ds", str(not_a_list), workspace=ws), "choices.json")
    truncated = tmp_path / "truncated.json"
    truncated.write_text('[{"id": 1, "data": ')
    _refused(
        run_dcai("labels", "import", "ds", str(truncated), workspace=ws),
        "truncated.json",
        "not valid JSON",
        "line 1",
    )
    tasks = [{"data": {"example_id": eid}} for eid in ("u001", "nope")]
    unknown = tmp_path / "unknown.json"
    unknown.write_text(
        json.dumps(_simulate_export(tasks, {"u001": {1: "cat"}, "nope": {1: "dog"}}))
    )
    _refused(
        run_dcai("labels", "import", "ds", str(unknown), workspace=ws), "unknown.json", "'nope'"
    )
    assert _state(ws) == before


def test_a_single_labeler_is_refused_by_what_needs_two(ws: Path, tmp_path: Path) -> None:
    single = _write(
        tmp_path / "single.csv", [(f"u{i:03d}", "ann", CLASSES[i % 3]) for i in range(9)]
    )
    _ok(run_dcai("labels", "import", "ds", str(single), workspace=ws))
    before = _state(ws)
    _refused(
        run_dcai("labels", "agreement", "ds", workspace=ws),
        "at least two annotators",
        "got 1 ('ann')",
    )
    _refused(run_dcai("labels", "hlp", "ds", workspace=ws), "no example has two or more labels")
    _refused(
        run_dcai("labels", "aggregate", "ds", "--method", "dawid_skene", workspace=ws),
        "two or more labelers",
        "a single labeler",
        "majority",
    )
    assert _state(ws) == before
    majority = json.loads(
        _ok(
            run_dcai("labels", "aggregate", "ds", "--method", "majority", "--json", workspace=ws)
        ).stdout
    )
    assert majority["method"] == "majority"


def test_undefined_kappa_is_said_in_words(ws: Path, tmp_path: Path) -> None:
    rows = [("u001", "ann", "cat"), ("u001", "bo", "cat"), ("u002", "ann", "dog")]
    rows += [("u002", "bo", "cat"), ("u010", "cy", "bird")]
    _ok(run_dcai("labels", "import", "ds", str(_write(tmp_path / "a.csv", rows)), workspace=ws))
    result = _ok(run_dcai("labels", "agreement", "ds", "--boot", "20", "--json", workspace=ws))
    assert "NaN" not in result.stdout
    report = json.loads(result.stdout)
    assert (
        report["cohen_kappa"]["value"] is None and "min_common" in report["cohen_kappa"]["reason"]
    )
    lonely = next(a for a in report["annotators"] if a["annotator"] == "cy")
    assert lonely["consensus_accuracy"] is None and "no example" in lonely["note"]


def test_label_studio_round_trip_through_the_cli(ws: Path, tmp_path: Path) -> None:
    tasks_path = tmp_path / "tasks.json"
    sampled = json.loads(
        _ok(
            run_dcai(
                "labels",
                "sample",
                "ds",
                "--n",
                "30",
                "--out",
                str(tasks_path),
                "--json",
                workspace=ws,
            )
        ).stdout
    )
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert sampled["examples"] == len(tasks) == 30
    ids = [t["data"]["example_id"] for t in tasks]
    assert len(set(ids)) == 30 and all(t["data"]["text"].startswith("a short text") for t in tasks)
    # Stratified by class: ten of each.
    assert sorted(int(i[1:]) % 3 for i in ids) == [0] * 10 + [1] * 10 + [2] * 10
    rng = np.random.default_rng(3)
    truth = {i: CLASSES[int(i[1:]) % 3] for i in ids}
    answers = {
        i: {
            7: truth[i],
            "ben@example.com": truth[i] if rng.random() < 0.8 else "dog",
        }
        for i in ids
    }
    export = tmp_path / "project-3-at-2026-11-25-10-00.json"
    export.write_text(json.dumps(_simulate_export(tasks, answers)), encoding="utf-8")
    imported = json.loads(
        _ok(run_dcai("labels", "import", "ds", str(export), "--json", workspace=ws)).stdout
    )
    assert imported["annotations"] == 60 and imported["imported"] == 60
    report = json.loads(
        _ok(run_dcai("labels", "agreement", "ds", "--boot", "20", "--json", workspace=ws)).stdout
    )
    assert report["n_items"] == 30 and report["n_annotators"] == 2
    agreed = sum(answers[i][7] == answers[i]["ben@example.com"] for i in ids) / 30
    assert report["percent_agreement"]["value"] == pytest.approx(agreed)
    # Exported again as Label Studio tasks, the annotations come back as the same long form.
    again = tmp_path / "again.json"
    _ok(run_dcai("labels", "export", "ds", str(again), workspace=ws))
    assert {t["data"]["example_id"] for t in json.loads(again.read_text())} >= set(ids)
