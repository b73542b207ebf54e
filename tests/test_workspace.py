"""The Python API: add, re-add, refs, log, diff, split, annotations, export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import dcai
from dcai.errors import SchemaError, UnknownRefError, WorkspaceError


def _objects(ws: dcai.Workspace) -> set[Path]:
    return {p for p in (ws.path / "objects" / "sha256").rglob("*") if p.is_file()}


def test_identical_content_is_one_version_stored_once(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    first = tmp_workspace.add_dataset("pets", small_frame)
    stored = _objects(tmp_workspace)
    again = tmp_workspace.add_dataset("pets", small_frame.sample(frac=1.0, random_state=1))
    assert first.created and not again.created
    assert again.id == first.id
    assert _objects(tmp_workspace) == stored
    assert len(tmp_workspace.data.log("pets")) == 1


def test_version_reads_back_exactly(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    version = tmp_workspace.add_dataset("pets", small_frame)
    back = version.to_pandas()
    assert list(back.columns) == ["example_id", *small_frame.columns]
    pd.testing.assert_frame_equal(back.drop(columns="example_id"), small_frame, check_dtype=False)
    assert version.roles.text == ("review",)
    assert version.roles.features == ("x1", "x2", "colour")


def test_refs_resolve_by_name_seq_and_hash_prefix(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    v1 = tmp_workspace.add_dataset("pets", small_frame)
    v2 = tmp_workspace.add_dataset("pets", small_frame.assign(label="cat"))
    assert tmp_workspace.data.version("pets").id == v2.id
    assert tmp_workspace.data.version("pets@latest").id == v2.id
    assert tmp_workspace.data.version("pets@v1").id == v1.id
    assert tmp_workspace.data.version(v1.ref).id == v1.id
    assert tmp_workspace.data.version(f"pets@{v1.id[:4]}").id == v1.id
    assert v2.parents[0].id == v1.id
    with pytest.raises(UnknownRefError, match="no dataset named"):
        tmp_workspace.data.version("nope")
    with pytest.raises(UnknownRefError, match="no version"):
        tmp_workspace.data.version("pets@v9")
    with pytest.raises(UnknownRefError, match="cannot read"):
        tmp_workspace.data.version("pets@!!")


def test_lineage_records_operation_params_message_author(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    tmp_workspace.add_dataset("pets", small_frame, message="first import")
    split = tmp_workspace.split("pets", dev=0.2, test=0.2, seed=7)
    log = tmp_workspace.data.log("pets")
    assert [v.operation for v in log] == ["split", "add"]
    assert log[1].message == "first import"
    assert log[0].author == "tester"
    assert split.params == {
        "dev": 0.2,
        "test": 0.2,
        "train": 0.6,
        "stratify": "label",
        "group": None,
        "seed": 7,
    }
    assert split.parent_ids == (log[1].id,)


def test_new_version_keeps_declared_roles(tmp_path: Path, tmp_workspace: dcai.Workspace) -> None:
    frame = pd.DataFrame(
        {"key": ["k1", "k2", "k3"], "x": [1, 2, 3], "note": ["n", "m", "o"], "y": [0, 1, 0]}
    )
    tmp_workspace.add_dataset("t", frame, label="y", id="key", meta=["note"])
    v2 = tmp_workspace.add_dataset("t", frame.assign(y=[1, 1, 0]))
    assert (v2.roles.label, v2.roles.id, v2.roles.meta) == ("y", "key", ("note",))
    assert tmp_workspace.data.diff("t@v1", "t@v2").relabeled["example_id"].tolist() == ["k1"]


def test_split_is_reproducible_and_stratified(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    tmp_workspace.add_dataset("pets", small_frame)
    a = tmp_workspace.split("pets@v1", dev=0.1, test=0.2, seed=1)
    b = tmp_workspace.split("pets@v1", dev=0.1, test=0.2, seed=1)
    assert a.id == b.id and not b.created
    report = a.balance()
    assert sum(report.sizes.values()) == len(small_frame)
    diff = tmp_workspace.data.diff("pets@v1", a.ref)
    assert diff.columns_added == ["split"] and diff.counts["relabeled"] == 0


def test_group_split_keeps_groups_whole(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    frame = small_frame.assign(owner=[f"o{i % 12}" for i in range(len(small_frame))])
    tmp_workspace.add_dataset("pets", frame, meta=["owner"])
    version = tmp_workspace.split("pets", dev=0.2, test=0.2, group="owner")
    rows = version.to_pandas()
    assert (rows.groupby("owner")["split"].nunique() == 1).all()


def test_annotations_import_merges_and_refuses_unknown_ids(tmp_workspace: dcai.Workspace) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], "x": [1, 2, 3], "label": ["p", "q", "p"]})
    tmp_workspace.add_dataset("t", frame, id="id")
    first = pd.DataFrame(
        {"example_id": ["a", "b"], "annotator": ["ann", "ann"], "label": ["p", "p"]}
    )
    v2 = tmp_workspace.labels.import_annotations("t", first)
    assert v2.n_annotations == 2 and v2.operation == "import_annotations"
    second = pd.DataFrame(
        {
            "example_id": ["b", "c"],
            "annotator": ["ann", "bob"],
            "label": ["q", "p"],
            "guideline": ["v2", "v2"],
        }
    )
    v3 = tmp_workspace.labels.import_annotations("t", second)
    annotations = v3.annotations()
    assert len(annotations) == 3
    assert annotations.set_index(["example_id", "annotator"]).loc[("b", "ann"), "label"] == "q"
    assert v3.params["replaced"] == 1
    assert v3.data_object == v2.data_object  # rows unchanged, stored once
    bad = pd.DataFrame({"example_id": ["zz"], "annotator": ["ann"], "label": ["p"]})
    with pytest.raises(SchemaError, match="not in"):
        tmp_workspace.labels.import_annotations("t", bad)
    assert len(tmp_workspace.data.log("t")) == 3


def test_export_roundtrip(
    tmp_path: Path, tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    version = tmp_workspace.add_dataset("pets", small_frame)
    for suffix in (".csv", ".parquet", ".jsonl"):
        out = tmp_workspace.data.export("pets", tmp_path / f"out{suffix}")
        again = tmp_workspace.add_dataset("pets", out, id="example_id")
        assert again.id == version.id, suffix


def test_missing_workspace_is_not_created_when_create_false(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="dcai init"):
        dcai.Workspace(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()


def test_dcai_home_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCAI_HOME", str(tmp_path / "home"))
    ws = dcai.Workspace()
    assert ws.path == tmp_path / "home"
    assert (tmp_path / "home" / "dcai.toml").exists()


def test_gc_removes_only_unreferenced_objects(
    tmp_workspace: dcai.Workspace, small_frame: pd.DataFrame
) -> None:
    version = tmp_workspace.add_dataset("pets", small_frame)
    orphan = tmp_workspace.objects.write(
        lambda p: p.write_bytes(b"left by a killed commit"), suffix=".parquet"
    )
    assert tmp_workspace.gc().removed == 0  # inside the grace period
    dry = tmp_workspace.gc(grace_seconds=0, dry_run=True)
    assert dry.removed == 1 and tmp_workspace.objects.exists(orphan, suffix=".parquet")
    report = tmp_workspace.gc(grace_seconds=0)
    assert report.removed == 1 and report.kept == 1
    assert not tmp_workspace.objects.exists(orphan, suffix=".parquet")
    assert version.to_pandas().shape[0] == len(small_frame)
