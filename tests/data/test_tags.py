"""Tags: boolean columns with the ``tag`` role, made by a query, a predicate or by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.data._schema import ColumnRoles
from dcai.errors import InvalidInputError, SchemaError
from tests.conftest import run_dcai


@pytest.fixture
def ws(tmp_workspace: dcai.Workspace) -> dcai.Workspace:
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame(
        {
            "uid": [f"c{i:02d}" for i in range(n)],
            "snr_db": rng.uniform(0, 30, n).round(1),
            "device": rng.choice(["car", "phone"], n),
            "label": rng.choice(["stop", "go"], n),
        }
    )
    tmp_workspace.add_dataset("calls", frame, id="uid")
    return tmp_workspace


def test_query_predicate_and_hand_tags(ws: dcai.Workspace) -> None:
    base = ws.data.version("calls").to_pandas()
    by_query = ws.data.tag("calls", "car_noise", query="device == 'car' and snr_db < 10")
    want = (base["device"] == "car") & (base["snr_db"] < 10)
    got = by_query.to_pandas()
    assert by_query.operation == "tag" and by_query.roles.tags == ("car_noise",)
    assert got["car_noise"].dtype == bool and (got["car_noise"] == want).all()
    assert by_query.params["query"] == "device == 'car' and snr_db < 10"

    by_predicate = ws.data.tag("calls", "loud", where=lambda f: f["snr_db"] > 25)
    assert by_predicate.roles.tags == ("car_noise", "loud")
    assert "predicate" in by_predicate.params

    by_hand = ws.data.tag("calls", "reviewed", example_ids=["c01", "c02"])
    frame = by_hand.to_pandas()
    assert frame.loc[frame["reviewed"], "example_id"].tolist() == ["c01", "c02"]
    listed = ws.data.tags("calls").set_index("tag")
    assert listed.loc["car_noise", "how"].startswith("query: device")
    assert listed.loc["reviewed", "how"] == "by hand"
    assert listed.loc["reviewed", "n"] == 2


def test_tags_are_never_model_inputs_and_travel_with_rows(ws: dcai.Workspace) -> None:
    tagged = ws.data.tag("calls", "quiet", query="snr_db < 5")
    assert "quiet" not in tagged.roles.inputs
    assert tagged.roles.role_of("quiet") == "tag"
    split = ws.split("calls", dev=0.2, test=0.2)
    assert split.roles.tags == ("quiet",)
    assert split.to_pandas()["quiet"].sum() == tagged.to_pandas()["quiet"].sum()
    assert ws.data.tags(split.ref).loc[0, "how"] == "query: snr_db < 5"


def test_retag_replaces_members_and_untag_keeps_the_parent(ws: dcai.Workspace) -> None:
    first = ws.data.tag("calls", "quiet", query="snr_db < 5")
    second = ws.data.tag("calls", "quiet", query="snr_db < 15")
    assert second.params["replaced"] and second.roles.tags == ("quiet",)
    assert second.to_pandas()["quiet"].sum() >= first.to_pandas()["quiet"].sum()
    removed = ws.data.untag("calls", "quiet")
    assert "quiet" not in removed.to_pandas().columns and removed.roles.tags == ()
    assert "quiet" in first.to_pandas().columns


def test_roles_without_tags_keep_their_stored_form() -> None:
    roles = ColumnRoles(label="label", features=("x",))
    assert "tags" not in roles.to_dict()
    assert ColumnRoles.from_dict(roles.to_dict()) == roles
    tagged = ColumnRoles(label="label", features=("x",), tags=("t",))
    assert ColumnRoles.from_dict(tagged.to_dict()) == tagged


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"query": "snr_db <"}, InvalidInputError, "cannot be evaluated"),
        ({"query": "volume > 3"}, InvalidInputError, "cannot be evaluated"),
        ({"query": "snr_db * 2"}, InvalidInputError, "true/false"),
        ({"query": "snr_db > 1000"}, InvalidInputError, "matched no example"),
        ({"where": lambda f: True}, InvalidInputError, "one true/false value per row"),
        ({"example_ids": ["c01", "zz"]}, SchemaError, "not in calls@"),
        ({}, InvalidInputError, "exactly one rule"),
        ({"query": "snr_db < 5", "example_ids": ["c01"]}, InvalidInputError, "exactly one rule"),
    ],
)
def test_bad_rules_are_refused_and_change_nothing(
    ws: dcai.Workspace, kwargs: dict, error: type, match: str
) -> None:
    before = [v.id for v in ws.data.log("calls")]
    with pytest.raises(error, match=match):
        ws.data.tag("calls", "t", **kwargs)
    assert [v.id for v in ws.data.log("calls")] == before


@pytest.mark.parametrize(
    ("name", "match"), [("2fast", "invalid tag name"), ("snr_db", "already a feature column")]
)
def test_bad_names(ws: dcai.Workspace, name: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        ws.data.tag("calls", name, query="snr_db < 5")


def test_tag_cli(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": range(30), "label": ["a", "b", "c"] * 10})
    frame.to_csv(tmp_path / "t.csv", index=False)
    ws = tmp_path / "ws"
    assert run_dcai("init", workspace=ws).returncode == 0
    assert run_dcai("data", "add", "t", str(tmp_path / "t.csv"), workspace=ws).returncode == 0
    out = run_dcai("data", "tag", "t", "small", "--query", "x < 5", "--json", workspace=ws)
    assert out.returncode == 0, out
    assert json.loads(out.stdout)["examples"] == 5
    listed = json.loads(run_dcai("data", "tags", "t", "--json", workspace=ws).stdout)
    assert listed["tags"][0]["tag"] == "small" and listed["tags"][0]["n"] == 5
    bad = run_dcai("data", "tag", "t", "none", "--query", "x > 99", workspace=ws)
    assert bad.returncode == 2 and "matched no example" in bad.stderr
