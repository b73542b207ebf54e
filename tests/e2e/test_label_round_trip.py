"""End to end: task file out, labels in — for integer, string and boolean labels.

``dcai labels sample --out FILE`` (Label Studio JSON, JSON Lines, CSV) → a labeler answers in
the file (as text: Label Studio's choices are always strings) → ``dcai labels import`` stores
the annotations in the type of the data set's label column. A label that cannot be read as
that type is refused, naming the file, the row (or Label Studio task) and the value, with
the data set's classes in the hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dcai.workspace import Workspace
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, ok, ok_json, snapshot
from tests.labels.test_label_studio import _simulate_export

N = 24
KINDS: dict[str, tuple[list[Any], dict[str, Any]]] = {
    # data set labels, and how a labeler writes each class as text → the stored value
    "int": ([0, 1, 2], {"0": 0, "1": 1, "2": 2}),
    "str": (["cat", "dog", "bird"], {"cat": "cat", "dog": "dog", "bird": "bird"}),
    "bool": ([True, False], {"yes": True, "FALSE": False, "1": True, "no": False}),
}


def _workspace(tmp_path: Path, kind: str) -> Path:
    classes = KINDS[kind][0]
    frame = pd.DataFrame(
        {
            "uid": [f"u{i:03d}" for i in range(N)],
            "text": [f"example text number {i}" for i in range(N)],
            "label": [classes[i % len(classes)] for i in range(N)],
        }
    )
    frame.to_csv(tmp_path / "ds.csv", index=False)
    ws = tmp_path / "ws"
    ok(run_dcai("init", workspace=ws))
    ok(run_dcai("data", "add", "ds", str(tmp_path / "ds.csv"), "--id", "uid", workspace=ws))
    return ws


def _answer(task_file: Path, answered: Path, annotator: str, labels: list[str]) -> list[str]:
    """Fill the task file as a labeler would; returns the example ids answered, in order."""
    if task_file.suffix == ".json":
        tasks = json.loads(task_file.read_text(encoding="utf-8"))
        ids = [t["data"]["example_id"] for t in tasks]
        answers = {eid: {annotator: labels[i % len(labels)]} for i, eid in enumerate(ids)}
        answered.write_text(json.dumps(_simulate_export(tasks, answers)), encoding="utf-8")
        return ids
    if task_file.suffix == ".jsonl":
        rows = [json.loads(line) for line in task_file.read_text(encoding="utf-8").splitlines()]
        for i, row in enumerate(rows):
            row["annotator"] = annotator
            row["label"] = labels[i % len(labels)]  # text, even for numbers
        answered.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return [r["example_id"] for r in rows]
    table = pd.read_csv(task_file, dtype=str)
    table["annotator"] = annotator
    table["label"] = [labels[i % len(labels)] for i in range(len(table))]
    table.to_csv(answered, index=False)
    return table["example_id"].tolist()


@pytest.mark.parametrize("kind", list(KINDS))
def test_round_trip_stores_labels_in_the_label_columns_type(tmp_path: Path, kind: str) -> None:
    ws = _workspace(tmp_path, kind)
    written = KINDS[kind][1]
    texts = list(written)
    expected: dict[tuple[str, str], Any] = {}
    for n, suffix in enumerate((".json", ".jsonl", ".csv")):
        tasks = tmp_path / f"tasks{suffix}"
        ok(run_dcai("labels", "sample", "ds", "--n", "6", "--out", str(tasks), workspace=ws))
        answered = tmp_path / f"answered{suffix}"
        annotator = f"labeler{n}@example.org"
        ids = _answer(tasks, answered, annotator, texts)
        imported = ok_json(
            run_dcai("labels", "import", "ds", str(answered), "--json", workspace=ws)
        )
        assert imported["imported"] == 6
        for i, eid in enumerate(ids):
            expected[(eid, annotator)] = written[texts[i % len(texts)]]
    stored = Workspace(ws).data.version("ds").annotations()
    got = {(r.example_id, r.annotator): r.label for r in stored.itertuples()}
    assert got == expected
    python_type = type(KINDS[kind][0][0])
    assert all(type(v) is python_type for v in stored["label"]), stored["label"].map(type)
    # The typed annotations feed the label commands: consensus labels are the data set's classes.
    consensus = ok_json(
        run_dcai("labels", "aggregate", "ds", "--method", "majority", "--json", workspace=ws)
    )
    assert {c["label"] for c in consensus["labels"]} <= set(KINDS[kind][0])


def test_a_label_studio_choice_that_is_not_an_integer_is_refused(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "int")
    tasks = tmp_path / "tasks.json"
    ok(run_dcai("labels", "sample", "ds", "--n", "4", "--out", str(tasks), workspace=ws))
    answered = tmp_path / "export.json"
    _answer(tasks, answered, "ann@example.org", ["1", "2", "cat", "0"])
    before = snapshot(ws)
    assert_rejected(
        run_dcai("labels", "import", "ds", str(answered), workspace=ws),
        "export.json",
        "'cat'",
        "task 3",
        "not an integer",
        "classes are 0, 1, 2",
    )
    assert snapshot(ws) == before


@pytest.mark.parametrize(
    ("suffix", "value", "kind"), [(".jsonl", "1.5", "int"), (".csv", "maybe", "bool")]
)
def test_a_label_of_the_wrong_type_is_refused_naming_its_row(
    tmp_path: Path, suffix: str, value: str, kind: str
) -> None:
    ws = _workspace(tmp_path, kind)
    tasks = tmp_path / f"tasks{suffix}"
    ok(run_dcai("labels", "sample", "ds", "--n", "4", "--out", str(tasks), workspace=ws))
    answered = tmp_path / f"answered{suffix}"
    good = "1" if kind == "int" else "true"
    _answer(tasks, answered, "ann", [good, value, good, good])
    before = snapshot(ws)
    assert_rejected(
        run_dcai("labels", "import", "ds", str(answered), workspace=ws),
        answered.name,
        'column "label"',
        "row 2",
        repr(value),
        "classes are",
    )
    assert snapshot(ws) == before


def test_labels_outside_the_class_set_are_still_refused(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "int")
    tasks = tmp_path / "tasks.jsonl"
    ok(run_dcai("labels", "sample", "ds", "--n", "4", "--out", str(tasks), workspace=ws))
    answered = tmp_path / "answered.jsonl"
    _answer(tasks, answered, "ann", ["1", "7", "2", "0"])
    assert_rejected(
        run_dcai("labels", "import", "ds", str(answered), workspace=ws),
        "outside the declared class set",
        "'7'",
    )


# A second labeler against the data set's own labels ------------------------------------


def _second_labeler(tmp_path: Path) -> tuple[Path, list[str]]:
    """An integer-labelled data set, and one labeler who re-labeled 8 examples (as text),
    disagreeing with the data set's label on the first two."""
    ws = _workspace(tmp_path, "int")
    tasks = tmp_path / "tasks.jsonl"
    ok(run_dcai("labels", "sample", "ds", "--n", "8", "--out", str(tasks), workspace=ws))
    rows = [json.loads(line) for line in tasks.read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        given = int(row["example_id"][1:]) % 3  # the data set's label
        row["annotator"] = "ann"
        row["label"] = str((given + 1) % 3 if i < 2 else given)
    answered = tmp_path / "answered.jsonl"
    answered.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ok(run_dcai("labels", "import", "ds", str(answered), workspace=ws))
    return ws, [r["example_id"] for r in rows]


def test_the_data_sets_labels_join_agreement_as_one_more_labeler(tmp_path: Path) -> None:
    ws, ids = _second_labeler(tmp_path)
    assert_rejected(run_dcai("labels", "agreement", "ds", workspace=ws), "at least two annotators")
    data = ok_json(
        run_dcai(
            "labels",
            "agreement",
            "ds",
            "--boot",
            "20",
            "--include-dataset-labels",
            "--json",
            workspace=ws,
        )
    )
    assert data["n_annotators"] == 2 and data["n_items"] == 8
    assert {a["annotator"] for a in data["annotators"]} == {"ann", "dataset"}
    assert data["percent_agreement"]["value"] == pytest.approx(6 / 8)
    # The most disputed items carry their content in full beside the id.
    disputed = {d["example_id"]: d["content"] for d in data["disagreements"]}
    assert set(disputed) == set(ids[:2])
    for eid, content in disputed.items():
        assert content == f"example text number {int(eid[1:])}"
    table = ok(
        run_dcai(
            "labels",
            "agreement",
            "ds",
            "--boot",
            "20",
            "--dataset-labels-as",
            "original",
            workspace=ws,
        )
    ).stdout
    assert "original" in table and f"example text number {int(ids[0][1:])}" in table
    assert_rejected(
        run_dcai("labels", "agreement", "ds", "--dataset-labels-as", "ann", workspace=ws),
        "already called 'ann'",
        "--dataset-labels-as",
    )
    hlp = ok_json(
        run_dcai(
            "labels", "hlp", "ds", "--boot", "0", "--include-dataset-labels", "--json", workspace=ws
        )
    )
    assert "dataset" in json.dumps(hlp)


def test_dawid_skene_with_two_labelers_falls_back_and_says_so(tmp_path: Path) -> None:
    ws, _ = _second_labeler(tmp_path)
    result = ok(
        run_dcai(
            "labels",
            "aggregate",
            "ds",
            "--method",
            "dawid_skene",
            "--include-dataset-labels",
            "--json",
            workspace=ws,
        )
    )
    assert "warning:" in result.stderr and "not identifiable" in result.stderr
    data = json.loads(result.stdout)
    assert data["used"] == "majority" and "three or more labelers" in data["fallback"]
    ties = [row for row in data["labels"] if row["is_tie"]]
    assert len(ties) == 2 and all(row["confidence"] == 0.5 for row in ties)


def test_disputed_items_of_a_table_show_its_first_features(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "uid": [f"r{i}" for i in range(12)],
            "x1": [float(i) / 2 for i in range(12)],
            "x2": list(range(100, 112)),
            "colour": ["red", "blue", "green"] * 4,
            "size": list(range(12)),
            "label": ["a", "b", "c"] * 4,
        }
    )
    ws = Workspace(tmp_path / "ws")
    ws.add_dataset("tab", frame, label="label", id="uid")
    ann = pd.DataFrame(
        {
            "example_id": ["r0", "r0", "r1", "r1"],
            "annotator": ["p", "q", "p", "q"],
            "label": ["a", "b", "b", "b"],
        }
    )
    ws.labels.import_annotations("tab", ann)
    from dcai.labels.agreement_workflow import run_agreement

    report, _ = run_agreement(ws, "tab", n_boot=0, store=False)
    row = report.disagreements.iloc[0]
    assert row["example_id"] == "r0"
    assert row["content"].startswith("x1=0.0, x2=100, ")
    assert report.to_dict()["disagreements"][0]["content"] == row["content"]
