"""What a first user sees on real-looking comments: the inferred roles, with their flags."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_dcai
from tests.data.test_role_inference import comment_frame
from tests.e2e.test_cli_bad_input import ok, ok_json

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


def test_iso_dates_are_stored_as_datetimes_and_round_trip(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok(run_dcai("init", workspace=ws))
    frame = comment_frame(200)
    source = tmp_path / "comments.csv"
    frame.to_csv(source, index=False)

    first = ok_json(
        run_dcai("data", "add", "yt", str(source), "--id", "COMMENT_ID", "--json", workspace=ws)
    )
    again = ok_json(run_dcai("data", "add", "yt", str(source), "--json", workspace=ws))
    assert (again["id"], again["new"]) == (first["id"], False)  # deterministic typed content

    shown = ok_json(run_dcai("data", "show", "yt", "--json", workspace=ws))
    assert shown["columns"]["dtypes"]["DATE"] == "datetime64[ns]"
    table = ok(run_dcai("data", "show", "yt", workspace=ws)).stdout
    # (the table shows "datetime64": cli/data.py does not escape the dtype, so "[ns]" is markup)
    assert any("DATE" in line and "datetime64" in line for line in table.splitlines()), table
    assert (
        "DATE (dates/times)" in ok(run_dcai("data", "add", "yt", str(source), workspace=ws)).stdout
    )

    csv, parquet = tmp_path / "out.csv", tmp_path / "out.parquet"
    ok(run_dcai("data", "export", "yt", str(csv), workspace=ws))
    ok(run_dcai("data", "export", "yt", str(parquet), workspace=ws))
    assert pd.read_csv(csv)["DATE"].tolist() == [d.replace("T", " ") for d in frame["DATE"]]
    assert str(pd.read_parquet(parquet)["DATE"].dtype) == "datetime64[ns]"
    back = ok_json(run_dcai("data", "add", "yt", str(csv), "--json", workspace=ws))
    assert (back["id"], back["new"]) == (first["id"], False)  # CSV export re-adds unchanged

    edited = frame.copy()
    edited.loc[0, "DATE"] = "2015-06-01T12:00:00"
    edited_path = tmp_path / "edited.csv"
    edited.to_csv(edited_path, index=False)
    second = ok_json(run_dcai("data", "add", "yt", str(edited_path), "--json", workspace=ws))
    diff = ok_json(run_dcai("data", "diff", first["ref"], second["ref"], "--json", workspace=ws))
    assert diff["counts"]["changed"] == 1, diff
