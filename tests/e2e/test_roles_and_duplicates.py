"""What a first user sees on real-looking comments: the inferred roles, with their flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_dcai
from tests.data.test_role_inference import comment_frame
from tests.e2e.test_cli_bad_input import ok

pytestmark = pytest.mark.slow


def test_data_add_prints_each_inferred_role_with_its_flag(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok(run_dcai("init", workspace=ws))
    source = tmp_path / "comments.csv"
    comment_frame(300).to_csv(source, index=False)

    out = ok(run_dcai("data", "add", "yt", str(source), workspace=ws)).stdout
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ":" in line}
    assert "CLASS" in lines["label"] and "--label" in lines["label"]
    assert "derived from content" in lines["id"] and "--id" in lines["id"]
    assert "CONTENT" in lines["text"] and "--text" in lines["text"]
    assert "COMMENT_ID" not in lines["text"] and "--meta" in lines["features"]
    meta = lines["meta"]
    for column, why in (
        ("COMMENT_ID", "looks like an id"),
        ("AUTHOR", "many distinct"),
        ("DATE", "dates/times"),
    ):
        assert f"{column} ({why}" in meta, meta
    assert "--id COMMENT_ID" in out

    declared = ok(
        run_dcai("data", "add", "yt2", str(source), "--id", "COMMENT_ID", workspace=ws)
    ).stdout
    assert "id:       COMMENT_ID" in declared
    assert "looks like an id" not in declared
