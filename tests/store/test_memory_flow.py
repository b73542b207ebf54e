"""The whole core flow on an fsspec object store (``memory://``): nothing reads a local path.

Add, split, audit, review, train, load a model (by run and by registry ref), guideline text,
analyze, verify and gc — all in one process with ``objects_url = "memory://…"``. This is what
serving replicas and a team's shared workspace on object storage rely on.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.errors import CorruptObjectError, WorkspaceError

pytest.importorskip("fsspec")


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    labels = np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg")
    flip = rng.choice(n, size=15, replace=False)
    labels[flip] = np.where(labels[flip] == "pos", "neg", "pos")
    return pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "site": rng.choice(["a", "b"], n),
            "label": labels,
        }
    )


def test_core_flow_on_memory_objects(tmp_path: Path) -> None:
    url = f"memory://dcai-{uuid.uuid4().hex[:8]}"
    ws = dcai.Workspace(tmp_path / "ws", objects_url=url)
    assert not (tmp_path / "ws" / "objects").exists()
    version = ws.add_dataset("toy", _frame(), meta=["site"])
    split = ws.split(version.ref, dev=0.2, test=0.2)
    audit = ws.audit(split.ref, cv=3)
    assert len(audit.issues) > 0 and len(audit.scores) == 300
    review = ws.review(audit.id)
    assert review.accept_suggested(min_score=0.0) > 0
    cleaned = review.apply(message="accept suggestions")
    assert cleaned.to_pandas().shape[0] == 300
    result = ws.train(cleaned.ref, recipe="logreg", n_boot=0, capture_code=False)
    model = ws.load_model(result.run)
    ws.models.register(result.run, name="toy-model")
    registered = ws.load_model("toy-model/1")
    dev = cleaned.to_pandas().query("split == 'dev'")
    assert (
        model.predict(dev[["x0", "x1", "x2"]]) == registered.predict(dev[["x0", "x1", "x2"]])
    ).all()
    guideline_file = tmp_path / "guide.md"
    guideline_file.write_text("# Label pos when x0 + x1 > 0\n", encoding="utf-8")
    guideline = ws.labels.add_guideline("toy", guideline_file)
    assert ws.labels.guideline(guideline.ref).text.startswith("# Label pos")
    analysis = ws.analyze(cleaned.ref)
    assert analysis.metrics.metric("accuracy").value > 0.5
    report = ws.verify()
    assert report.clean, report.to_dict()
    assert ws.gc(grace_seconds=0).removed == 0

    # Verified reads hold on the object store too: a swapped object is refused.
    store = ws.objects
    path = store._path(split.data_object, ".parquet")  # type: ignore[attr-defined]
    store.fs.pipe_file(path, store.fs.cat_file(store._path(version.data_object, ".parquet")))  # type: ignore[attr-defined]
    with pytest.raises(CorruptObjectError, match="dcai verify"):
        ws.data.version(split.ref).to_pandas()
    assert not ws.verify().clean


def test_unknown_config_keys_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    dcai.Workspace(root).close()
    config = root / "dcai.toml"
    config.write_text(config.read_text() + '\n[store]\nobjets_url = "x"\n', encoding="utf-8")
    with pytest.raises(WorkspaceError):
        dcai.Workspace(root, create=False)
    config.write_text('[store]\nobjets_url = "x"\n', encoding="utf-8")
    with pytest.raises(WorkspaceError, match=r"unknown key 'objets_url' in \[store\]"):
        dcai.Workspace(root, create=False)
    config.write_text('[stor]\nobjects_url = "x"\n', encoding="utf-8")
    with pytest.raises(WorkspaceError, match=r"unknown section \[stor\]"):
        dcai.Workspace(root, create=False)


def test_storage_options_reach_fsspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "dcai.toml").write_text(
        '[store]\nobjects_url = "memory://opts"\nstorage_options = { skip_instance_cache = true }\n',
        encoding="utf-8",
    )
    ws = dcai.Workspace(root, create=False)
    assert ws.settings.storage_options == {"skip_instance_cache": True}
    ws.close()
    monkeypatch.setenv("DCAI_STORAGE_OPTIONS", "not json")
    with pytest.raises(WorkspaceError, match="DCAI_STORAGE_OPTIONS is not valid JSON"):
        dcai.Workspace(root, create=False)
