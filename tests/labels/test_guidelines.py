"""Versioned guidelines, and annotations that record the guideline in force."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import dcai
from dcai.errors import InvalidInputError, UnknownRefError
from tests.conftest import run_dcai


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_versions_are_content_addressed(tmp_workspace: dcai.Workspace, tmp_path: Path) -> None:
    v1 = tmp_workspace.labels.add_guideline(
        "sentiment", _write(tmp_path / "a.md", "# v1\nIrony: negative.")
    )
    again = tmp_workspace.labels.add_guideline("sentiment", tmp_path / "a.md")
    v2 = tmp_workspace.labels.add_guideline(
        "sentiment", _write(tmp_path / "b.md", "# v2\nIrony: neutral.")
    )
    assert (v1.ref, again.ref, v2.ref) == ("sentiment@v1", "sentiment@v1", "sentiment@v2")
    assert v1.created and not again.created and v2.created
    assert tmp_workspace.labels.guideline("sentiment").ref == "sentiment@v2"
    assert tmp_workspace.labels.guideline("sentiment@v1").text == "# v1\nIrony: negative."
    assert [g.ref for g in tmp_workspace.labels.guidelines("sentiment")] == [
        "sentiment@v2",
        "sentiment@v1",
    ]
    # Objects survive garbage collection.
    assert tmp_workspace.gc(grace_seconds=0).removed == 0
    assert tmp_workspace.labels.guideline("sentiment@v1").text.startswith("# v1")


def test_bad_guidelines(tmp_workspace: dcai.Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        tmp_workspace.labels.add_guideline("g", _write(tmp_path / "e.md", "  \n"))
    with pytest.raises(InvalidInputError, match="no such file"):
        tmp_workspace.labels.add_guideline("g", tmp_path / "missing.md")
    with pytest.raises(InvalidInputError, match="invalid guideline name"):
        tmp_workspace.labels.add_guideline("bad name", _write(tmp_path / "x.md", "x"))
    with pytest.raises(InvalidInputError, match="UTF-8"):
        (tmp_path / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
        tmp_workspace.labels.add_guideline("g", tmp_path / "latin.md")
    with pytest.raises(UnknownRefError, match="no guideline named"):
        tmp_workspace.labels.guideline("nope")
    tmp_workspace.labels.add_guideline("g", tmp_path / "x.md")
    with pytest.raises(UnknownRefError, match="no version"):
        tmp_workspace.labels.guideline("g@v9")


def test_annotations_record_the_guideline_in_force(
    tmp_workspace: dcai.Workspace, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0], "label": ["pos", "neg"]})
    version = tmp_workspace.add_dataset("d", frame, id="id")
    tmp_workspace.labels.add_guideline("sentiment", _write(tmp_path / "g.md", "rules"))
    ann = pd.DataFrame(
        {
            "example_id": ["a", "a", "b"],
            "annotator": ["ann", "bo", "ann"],
            "label": ["pos", "neg", "neg"],
            "guideline": [None, "sentiment@v0-draft", None],
        }
    )
    child = tmp_workspace.labels.import_annotations(version.ref, ann, guideline="sentiment")
    recorded = child.annotations().set_index(["example_id", "annotator"])["guideline"]
    assert recorded[("a", "ann")] == "sentiment@v1"
    assert recorded[("a", "bo")] == "sentiment@v0-draft"  # the file's own value wins
    assert child.params["guideline"] == "sentiment@v1"


def test_guideline_cli(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_dcai("init", workspace=ws)
    doc = _write(tmp_path / "g.md", "# Intent\nGreetings are 'other'.")
    added = json.loads(
        run_dcai("labels", "guideline", "add", "intent", str(doc), "--json", workspace=ws).stdout
    )
    assert added["ref"] == "intent@v1" and added["new"] is True
    listed = json.loads(run_dcai("labels", "guideline", "list", "--json", workspace=ws).stdout)
    assert [g["ref"] for g in listed] == ["intent@v1"]
    shown = run_dcai("labels", "guideline", "show", "intent@v1", workspace=ws)
    assert "Greetings are 'other'." in shown.stdout
    missing = run_dcai("labels", "guideline", "show", "nope", workspace=ws)
    assert missing.returncode == 2 and "dcai labels guideline add" in missing.stderr
