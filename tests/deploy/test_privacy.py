"""Sensitive columns: declared on the data, carried by the model's signature, hashed with the
workspace's key (or dropped) in every log, and never back as model inputs."""

from __future__ import annotations

import json
import math
import shutil
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dcai
from dcai.data._content import content_hash
from dcai.data._schema import ColumnRoles, infer_roles
from dcai.demo import digits_frame
from dcai.deploy._privacy import HASH_PREFIX, Redactor, log_hash_key
from dcai.deploy.ramp import parse_guard, run_ramp
from dcai.errors import InvalidInputError, SchemaError
from dcai.store import Stores

SECRET = "px05"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("privacy") / "ws"
    with dcai.Workspace(root) as ws:
        ws.data.add("digits", digits_frame().head(300), label="label", sensitive=[SECRET])
        ws.data.split("digits", dev=0.2, test=0.0, seed=0)
        for C in (1.0, 0.01):
            run = ws.runs.train("digits", params={"C": C}, n_boot=0, capture_code=False).run
            ws.models.register(run, name="digits")
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> dcai.Workspace:
    shutil.copytree(template, tmp_path / "ws")
    workspace = dcai.Workspace(tmp_path / "ws", create=False)
    yield workspace
    workspace.close()


def _logged(ws: dcai.Workspace) -> pd.DataFrame:
    files = sorted((ws.path / "logs" / "predictions").glob("deployment=*/date=*/*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def test_the_flag_travels_from_the_data_to_the_signature(ws: dcai.Workspace) -> None:
    version = ws.data.version("digits")
    assert version.roles.sensitive == (SECRET,)
    inputs = {i["name"]: i for i in ws.models.get("digits/1").signature["inputs"]}
    assert inputs[SECRET]["sensitive"] is True and "sensitive" not in inputs["px04"]
    # A new version of the data keeps the columns marked before.
    again = ws.data.add("digits", digits_frame().iloc[300:400], label="label")
    assert again.roles.sensitive == (SECRET,)


def test_marking_a_column_changes_the_version_and_nothing_else_does() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "age": [30, 41, 52], "label": ["a", "b", "a"]})
    plain = infer_roles(frame, label="label")
    marked = infer_roles(frame, label="label", sensitive=["age"])
    assert content_hash(frame, plain) != content_hash(frame, marked)
    # Versions without sensitive columns keep the id they always had (pinned value).
    assert content_hash(frame, plain) == (
        "1be75d3880e6b0da3332964298aa9e3772b29f23b75073737b6f7c71a1970bde"
    )
    assert "sensitive" not in plain.to_dict()
    assert ColumnRoles.from_dict(marked.to_dict()) == marked
    with pytest.raises(SchemaError, match="label column cannot be marked sensitive"):
        infer_roles(frame, label="label", sensitive=["label"])
    with pytest.raises(SchemaError, match="no such column"):
        infer_roles(frame, label="label", sensitive=["agee"])


def test_the_key_is_made_once_private_and_configurable(tmp_path: Path) -> None:
    stores = Stores.open(tmp_path / "ws")
    key = log_hash_key(stores)
    assert key == log_hash_key(stores) and len(key) == 64
    path = tmp_path / "ws" / "secrets" / "log-hash-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stores.close()
    (tmp_path / "ws" / "dcai.toml").write_text('[serve]\nlog_hash_key = "team-secret"\n')
    configured = Stores.open(tmp_path / "ws", create=False)
    assert log_hash_key(configured) == b"team-secret"
    configured.close()
    (tmp_path / "ws" / "dcai.toml").write_text('[serve]\nsensitive = "blur"\n')
    with pytest.raises(dcai.errors.WorkspaceError, match="sensitive"):
        Stores.open(tmp_path / "ws", create=False)


def test_redaction_hashes_with_the_key_and_keeps_missing_values() -> None:
    one = Redactor(frozenset({"age"}), "hash", b"k1")
    other = Redactor(frozenset({"age"}), "hash", b"k2")
    logged = one({"age": 41, "x": 2})
    assert logged["x"] == 2 and logged["age"].startswith(HASH_PREFIX)
    assert logged["age"] != other({"age": 41})["age"]  # keyed: a guess needs the key
    assert one({"age": None})["age"] is None
    assert math.isnan(one({"age": float("nan")})["age"])


def test_batch_logs_hash_the_column_and_never_hold_the_value(
    ws: dcai.Workspace, tmp_path: Path
) -> None:
    rows = digits_frame().iloc[300:340].drop(columns="label")
    rows[SECRET] = 987654  # a value that cannot appear by chance
    rows.to_csv(tmp_path / "new.csv", index=False)
    ws.deployments.predict_batch(
        "digits/1", tmp_path / "new.csv", out=tmp_path / "p.parquet", deployment="web"
    )
    logged = _logged(ws)
    inputs = [json.loads(text) for text in logged["inputs"]]
    assert {i[SECRET] for i in inputs} == {log_hashed(ws, 987654)}
    assert all("987654" not in text for text in logged["inputs"])
    assert inputs[0]["px04"] == int(rows.iloc[0]["px04"])  # other columns as they were
    # Back as a dataset version: the hashed column is metadata, still sensitive.
    version = ws.deployments.to_dataset("web", dataset="from-web")
    assert SECRET in version.roles.meta and SECRET not in version.roles.features
    assert version.roles.sensitive == (SECRET,)


def log_hashed(ws: dcai.Workspace, value: int) -> str:
    return Redactor(frozenset({SECRET}), "hash", log_hash_key(ws.stores)).hash_value(value)


def test_drop_mode_leaves_the_column_out(ws: dcai.Workspace, tmp_path: Path) -> None:
    (ws.path / "dcai.toml").write_text('[serve]\nsensitive = "drop"\n')
    with dcai.Workspace(ws.path, create=False) as dropping:
        digits_frame().iloc[300:310].drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
        dropping.deployments.predict_batch(
            "digits/1", tmp_path / "new.csv", out=tmp_path / "p.parquet", deployment="web"
        )
        inputs = [json.loads(text) for text in _logged(dropping)["inputs"]]
    assert all(SECRET not in i and "px04" in i for i in inputs)
    assert not (ws.path / "secrets").exists()  # no key needed, none made


def test_a_disagreement_guard_on_hashed_inputs_is_refused(ws: dcai.Workspace) -> None:
    ws.deployments.create("web", model="digits/1")
    with pytest.raises(InvalidInputError, match="disagreement guard cannot be measured"):
        run_ramp(
            ws.stores,
            "web",
            model="digits/2",
            steps=[50, 100],
            every=1,
            guards=[parse_guard("disagreement<0.2")],
        )
    assert ws.deployments.get("web").revision == 1
