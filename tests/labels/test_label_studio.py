"""Label Studio config, task import JSON, export reader; CSV/JSONL task files; round trips."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dcai.errors import InvalidInputError, SchemaError
from dcai.labels._label_studio import (
    label_studio_config,
    parse_label_studio_export,
    read_label_studio_export,
    to_label_studio_tasks,
)
from dcai.labels._tasks import read_annotation_file, task_table, write_task_file
from dcai.labels.annotations import ANNOTATION_COLUMNS, read_annotations

FIXTURES = Path(__file__).parent / "fixtures"
TEXTS = {
    "e1": "The battery lasts all day and charges fast.",
    "e2": "Stopped working after a week.",
    "e3": "It does what the box says.",
    "e4": "Screen is fine, speakers are terrible.",
}


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "example_id": list(TEXTS),
            "text": list(TEXTS.values()),
            "label": ["positive", "negative", "neutral", "negative"],
        }
    )


@pytest.fixture
def predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {"example_id": ["e1", "e2"], "label": ["positive", "negative"], "score": [0.93, 0.88]}
    )


def _export() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "label_studio_export.json").read_text(encoding="utf-8"))


def _simulate_export(
    tasks: list[dict[str, Any]], answers: dict[str, dict[Any, str]]
) -> list[dict[str, Any]]:
    """What Label Studio 1.x exports after labelers answered ``answers[example_id][user]``."""
    out = []
    for n, task in enumerate(tasks, start=1):
        annotations = []
        for k, (user, label) in enumerate(answers.get(task["data"]["example_id"], {}).items()):
            completed_by = (
                user
                if isinstance(user, int)
                else {"id": 90 + k, "email": user, "first_name": "", "last_name": ""}
            )
            annotations.append(
                {
                    "id": n * 10 + k,
                    "completed_by": completed_by,
                    "result": [
                        {
                            "value": {"choices": [label]},
                            "id": f"r{n}{k}",
                            "from_name": "label",
                            "to_name": "text",
                            "type": "choices",
                            "origin": "manual",
                        }
                    ],
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": f"2024-06-01T10:{n % 60:02d}:00.000000Z",
                    "updated_at": f"2024-06-01T10:{n % 60:02d}:30.000000Z",
                    "lead_time": 3.5,
                    "task": 1000 + n,
                    "project": 1,
                }
            )
        out.append(
            {
                "id": 1000 + n,
                "annotations": annotations,
                "drafts": [],
                "predictions": task.get("predictions", []),
                "data": task["data"],
                "meta": {},
                "inner_id": n,
                "project": 1,
            }
        )
    return out


# --------------------------------------------------------------------------- config
def test_config_is_valid_xml_with_one_choice_per_class() -> None:
    xml = label_studio_config(["cat", 'say "hi"', "a&b"], "review")
    root = ET.fromstring(xml)
    assert root.tag == "View"
    text = root.find("Text")
    assert text is not None and text.attrib == {"name": "review", "value": "$review"}
    choices = root.find("Choices")
    assert choices is not None
    assert choices.attrib["name"] == "label" and choices.attrib["toName"] == "review"
    assert choices.attrib["choice"] == "single"
    assert [c.attrib["value"] for c in choices.findall("Choice")] == ["cat", 'say "hi"', "a&b"]
    image = ET.fromstring(label_studio_config([0, 1], "image", kind="image", control_name="digit"))
    assert image.find("Image") is not None and image.find("Choices").attrib["name"] == "digit"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classes": []}, "classes is empty"),
        ({"classes": ["a", "a"]}, "repeated"),
        ({"classes": ["a"], "kind": "audio"}, "kind is 'audio'"),
        ({"classes": ["a"], "data_field": "my text"}, "data_field is 'my text'"),
        ({"classes": ["a", None]}, "missing or empty"),
    ],
)
def test_config_refuses_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        label_studio_config(**kwargs)


# --------------------------------------------------------------------------- import tasks
def test_tasks_match_the_import_fixture(frame: pd.DataFrame, predictions: pd.DataFrame) -> None:
    tasks = to_label_studio_tasks(frame, predictions=predictions)
    assert tasks == json.loads((FIXTURES / "label_studio_import.json").read_text(encoding="utf-8"))
    assert all("label" not in t["data"] for t in tasks)  # independent relabeling


def test_tasks_make_json_ready_values() -> None:
    frame = pd.DataFrame(
        {
            "example_id": np.array([1, 2]),
            "x": np.array([1.5, np.nan]),
            "n": np.array([3, 4]),
            "when": pd.to_datetime(["2024-01-01", None]),
        }
    )
    tasks = to_label_studio_tasks(frame, data_columns=["x", "n", "when"])
    assert json.loads(json.dumps(tasks)) == tasks
    assert tasks[1]["data"] == {"x": None, "n": 4, "when": None, "example_id": "2"}


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda f, p: (f.drop(columns="example_id"), p), SchemaError, "example_id"),
        (
            lambda f, p: (f.assign(example_id=["e1", "e1", "e3", "e4"]), p),
            SchemaError,
            "repeated example ids",
        ),
        (
            lambda f, p: (f, p.assign(example_id=["e1", "e9"])),
            InvalidInputError,
            "not in the table.*'e9'",
        ),
        (lambda f, p: (f, p.assign(score=[0.5, 1.5])), InvalidInputError, r"\[0, 1\].*row 2"),
        (lambda f, p: (f, p.drop(columns="label")), SchemaError, '"label"'),
    ],
)
def test_tasks_refuse_bad_input(
    frame: pd.DataFrame, predictions: pd.DataFrame, change: Any, error: type, match: str
) -> None:
    bad_frame, bad_predictions = change(frame, predictions)
    with pytest.raises(error, match=match):
        to_label_studio_tasks(bad_frame, predictions=bad_predictions)


# --------------------------------------------------------------------------- export
def test_export_fixture_reads_into_long_form() -> None:
    out = read_label_studio_export(FIXTURES / "label_studio_export.json")
    assert list(out.columns) == list(ANNOTATION_COLUMNS)
    assert out[["example_id", "annotator", "label"]].values.tolist() == [
        ["e1", "1", "positive"],
        ["e1", "ben@example.com", "positive"],
        ["e2", "1", "negative"],  # ben's cancelled annotation of e2 is skipped
        ["e3", "1", "neutral"],  # the comment (textarea) result is ignored
        ["e3", "ben@example.com", "negative"],
    ]
    assert out["time"].iloc[3] == pd.Timestamp("2024-05-02T09:16:40.300118Z")  # updated_at
    assert isinstance(out["time"].dtype, pd.DatetimeTZDtype) and str(out["time"].dt.tz) == "UTC"
    assert out["guideline"].isna().all()
    pd.testing.assert_frame_equal(read_annotations(out), out, check_dtype=False)


def test_a_user_id_takes_the_email_given_anywhere_in_the_export() -> None:
    export = _export()
    export[1]["annotations"][0]["completed_by"] = {"id": 1, "email": "ana@example.com"}
    out = parse_label_studio_export(export)
    assert sorted(out["annotator"].unique()) == ["ana@example.com", "ben@example.com"]


def test_the_latest_annotation_of_a_labeler_counts() -> None:
    export = _export()
    again = copy.deepcopy(export[0]["annotations"][0])
    again["result"][0]["value"]["choices"] = ["negative"]
    again["updated_at"] = "2024-05-03T08:00:00Z"
    export[0]["annotations"].insert(0, again)
    out = parse_label_studio_export(export)
    assert out.loc[(out["example_id"] == "e1") & (out["annotator"] == "1"), "label"].tolist() == [
        "negative"
    ]
    assert len(out) == 5


def _break(export: list[dict[str, Any]], how: str) -> Any:
    if how == "not a list":
        return {"tasks": export}
    if how == "no data":
        del export[1]["data"]
    elif how == "no example id":
        del export[1]["data"]["example_id"]
    elif how == "no annotations":
        del export[1]["annotations"]
    elif how == "no completed_by":
        del export[2]["annotations"][1]["completed_by"]
    elif how == "two choices":
        export[2]["annotations"][1]["result"][0]["value"]["choices"] = ["negative", "neutral"]
    elif how == "no value":
        del export[2]["annotations"][1]["result"][0]["value"]
    elif how == "bad time":
        export[2]["annotations"][1]["updated_at"] = "yesterday"
    elif how == "task is text":
        export[1] = "task"
    return export


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("not a list", "JSON list of tasks, not a JSON dict"),
        ("no data", r"task 2 \(id 102\): has no 'data' object"),
        ("no example id", r"task 2 \(id 102\): data has no 'example_id'"),
        ("no annotations", r"task 2 \(id 102\): has no 'annotations' list.*JSON-MIN"),
        ("no completed_by", r"task 3 \(id 103\), annotation 2: has no 'completed_by'"),
        (
            "two choices",
            r"task 3 \(id 103\), annotation 2: 2 choices \['negative', 'neutral'\].*single-label",
        ),
        ("no value", r"task 3 \(id 103\), annotation 2: a choices result lacks"),
        ("bad time", r"annotation 2: cannot read the time 'yesterday'"),
        ("task is text", "task 2: is a JSON str"),
    ],
)
def test_malformed_exports_name_the_task_and_the_problem(how: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        parse_label_studio_export(_break(_export(), how), source="export.json")


def test_unknown_example_ids_and_several_controls_are_refused() -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"2 annotation\(s\) for example ids not in the dataset.*task 1 \(id 101\)",
    ):
        parse_label_studio_export(_export(), example_ids=["e2", "e3", "e4"])
    export = _export()
    export[0]["annotations"][0]["result"].append(
        {
            "from_name": "quality",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["clear"]},
        }
    )
    with pytest.raises(InvalidInputError, match=r"2 Choices controls.*control_name="):
        parse_label_studio_export(export)
    assert parse_label_studio_export(export, control_name="quality")["label"].tolist() == ["clear"]
    assert len(parse_label_studio_export(export, control_name="label")) == 5


def test_malformed_json_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('[\n  {"id": 1,\n  "data": }\n]', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"export.json: not valid JSON.*line 3"):
        read_annotation_file(path)
    with pytest.raises(InvalidInputError, match="file not found"):
        read_label_studio_export(tmp_path / "missing.json")


# --------------------------------------------------------------------------- round trips
def test_round_trip_through_a_simulated_label_studio_export(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 25
    frame = pd.DataFrame(
        {
            "example_id": [f"ex{i:03d}" for i in range(n)],
            "text": [f"review number {i}" for i in range(n)],
            "label": rng.choice(["pos", "neg"], size=n),
        }
    )
    tasks_path = write_task_file(frame, tmp_path / "tasks.json")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert len(tasks) == n and {t["data"]["example_id"] for t in tasks} == set(frame["example_id"])
    answers = {
        eid: {7: label, "ben@example.com": "pos" if i % 3 else "neg"}
        for i, (eid, label) in enumerate(zip(frame["example_id"], frame["label"], strict=True))
    }
    export_path = tmp_path / "project-1-at-2024-06-01.json"
    export_path.write_text(json.dumps(_simulate_export(tasks, answers)), encoding="utf-8")
    out = read_annotation_file(export_path, example_ids=frame["example_id"])
    got = {(r.example_id, r.annotator): r.label for r in out.itertuples()}
    want = {(eid, str(user)): label for eid, by in answers.items() for user, label in by.items()}
    assert got == want


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_csv_and_jsonl_task_files_round_trip(
    tmp_path: Path, frame: pd.DataFrame, predictions: pd.DataFrame, suffix: str
) -> None:
    path = write_task_file(frame, tmp_path / f"tasks{suffix}", predictions=predictions)
    table = pd.read_csv(path) if suffix == ".csv" else pd.read_json(path, lines=True)
    assert list(table.columns) == [
        "example_id",
        "text",
        "suggested_label",
        "suggested_score",
        "annotator",
        "label",
    ]
    assert table["suggested_label"].tolist()[:2] == ["positive", "negative"]
    with pytest.raises(SchemaError, match="empty value"):
        read_annotation_file(path)  # nobody has answered yet
    table["annotator"] = "ana"
    table["label"] = ["positive", "negative", "positive", "neutral"]
    filled = tmp_path / f"answers{suffix}"
    if suffix == ".csv":
        table.to_csv(filled, index=False)
    else:
        table.to_json(filled, orient="records", lines=True)
    out = read_annotation_file(filled, example_ids=frame["example_id"])
    assert list(out.columns) == list(ANNOTATION_COLUMNS)
    assert out[["example_id", "label"]].values.tolist() == [
        ["e1", "positive"],
        ["e2", "negative"],
        ["e3", "positive"],
        ["e4", "neutral"],
    ]
    with pytest.raises(SchemaError, match=r"not in the dataset \('e4'\)"):
        read_annotation_file(filled, example_ids=["e1", "e2", "e3"])


def test_task_table_columns_without_predictions(frame: pd.DataFrame) -> None:
    assert task_table(frame).columns.tolist() == ["example_id", "text", "annotator", "label"]
    with pytest.raises(SchemaError, match="name of an answer column"):
        task_table(frame, data_columns=["text", "label"])


def test_formats_come_from_the_suffix_or_are_explicit(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = write_task_file(frame, tmp_path / "tasks.txt", format="labelstudio")
    assert json.loads(path.read_text(encoding="utf-8"))[0]["data"]["example_id"] == "e1"
    with pytest.raises(InvalidInputError, match=r"cannot tell the format.*'\.txt'"):
        write_task_file(frame, tmp_path / "tasks.txt")
    with pytest.raises(InvalidInputError, match="unknown task file format 'xlsx'"):
        write_task_file(frame, tmp_path / "tasks.csv", format="xlsx")
    with pytest.raises(InvalidInputError, match="does not match the suffix"):
        read_annotation_file(tmp_path / "tasks.txt", format="csv")


def test_failed_writes_leave_no_file_and_keep_the_old_one(
    tmp_path: Path, frame: pd.DataFrame, predictions: pd.DataFrame
) -> None:
    path = tmp_path / "tasks.json"
    with pytest.raises(InvalidInputError):
        write_task_file(frame, path, predictions=predictions.assign(score=[2.0, 0.1]))
    assert list(tmp_path.iterdir()) == []
    write_task_file(frame, path)
    before = path.read_bytes()
    with pytest.raises(SchemaError):
        write_task_file(frame.drop(columns="example_id"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.json"]


def test_only_label_studio_needs_the_shown_field_to_be_a_name(tmp_path: Path) -> None:
    frame = pd.DataFrame({"example_id": ["a", "b"], "review text": ["good", "bad"]})
    path = write_task_file(frame, tmp_path / "tasks.csv")
    assert pd.read_csv(path).columns.tolist() == ["example_id", "review text", "annotator", "label"]
    with pytest.raises(InvalidInputError, match="the first data column is 'review text'"):
        write_task_file(frame, tmp_path / "tasks.json")
