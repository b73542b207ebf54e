"""Settings precedence: explicit argument > DCAI_* environment > dcai.toml > default."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import dcai
from dcai.config import Settings
from dcai.errors import WorkspaceError


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dcai.toml").write_text('[store]\nobjects_url = "from-file"\n')
    assert Settings.load(tmp_path).objects_url == str((tmp_path / "from-file").resolve())
    monkeypatch.setenv("DCAI_OBJECTS_URL", "from-env")
    assert Settings.load(tmp_path).objects_url == str((tmp_path / "from-env").resolve())
    assert Settings.load(tmp_path, objects_url="s3://bucket/x").objects_url == "s3://bucket/x"


def test_bad_toml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dcai.toml").write_text("[store\n")
    with pytest.raises(WorkspaceError, match="cannot parse"):
        Settings.load(tmp_path)


def test_workspace_runs_on_an_fsspec_object_store(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    ws = dcai.Workspace(tmp_path / "ws", objects_url="memory://dcai-config-test")
    version = ws.add_dataset("t", pd.DataFrame({"x": [1, 2], "label": ["a", "b"]}))
    assert version.to_pandas()["x"].tolist() == [1, 2]
    assert not (tmp_path / "ws" / "objects").exists()
