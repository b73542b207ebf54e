"""``dcai runs export --mlflow``: dcai runs copied into a local SQLite MLflow store, read back."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dcai
from dcai.data.versions import SHORT_ID_LENGTH
from dcai.errors import InvalidInputError, MissingDependencyError
from dcai.experiments.mlflow_export import export_to_mlflow
from dcai.experiments.query import metric_history
from tests.conftest import run_dcai

pytest.importorskip("mlflow", reason="needs the mlflow extra")
# MLflow's SQL store uses an SQLAlchemy loader that SQLAlchemy 2.1 deprecates: not ours.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")


@dataclass(frozen=True)
class Exported:
    ws: dcai.Workspace
    uri: str
    finished: str  # dcai run ids
    failed: str
    first: list[dict[str, Any]]  # what the first export returned
    root: Path


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _copies(uri: str, experiment: str) -> dict[str, Any]:
    """The active MLflow runs of an experiment, by their ``dcai.run_id`` tag."""
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, experiment
    return {r.data.tags["dcai.run_id"]: r for r in client.search_runs([found.experiment_id])}


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    root = tmp_path_factory.mktemp("mlflow_export")
    ws = dcai.Workspace.init(root / "ws")
    ws.add_dataset("toy", pd.DataFrame({"x": range(20), "label": ["a", "b"] * 10}))
    with ws.start_run(
        experiment="exp",
        dataset="toy",
        params={"C": 1.0, "solver": "lbfgs"},
        tags={"stage": "noisy"},
        capture_code=False,
    ) as run:
        for step in range(50):
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_metric("accuracy", 0.5, step=0)
        run.log_metric("accuracy", 0.75, step=10)
        run.log_artifact(b"some notes\n", name="notes.txt")
        run.log_artifact(b"\x00\x01binary", name="plots/curve.bin")
    finished = run.id
    with pytest.raises(ZeroDivisionError), ws.start_run(experiment="exp", dataset="toy") as bad:
        bad.log_metric("x", 1.0)
        _ = 1 / 0
    uri = f"sqlite:///{root / 'mlflow.db'}"
    first = export_to_mlflow(ws, uri)
    yield Exported(ws, uri, finished, bad.id, first, root)
    ws.close()


def test_runs_are_copied_with_params_metric_histories_tags_status_and_artifacts(
    exported: Exported,
) -> None:
    ws = exported.ws
    assert [(e["run"], e["status"]) for e in exported.first] == [
        (exported.finished, "exported"),
        (exported.failed, "exported"),
    ]
    copies = _copies(exported.uri, "exp")
    assert set(copies) == {exported.finished, exported.failed}
    client = _client(exported.uri)
    for run_id, copy in copies.items():
        detail = ws.runs.get(run_id)
        assert copy.data.params == detail["params"]
        for metric in detail["metrics"]:
            ours = metric_history(ws, run_id, metric)
            theirs = sorted(
                (m.step, m.value, m.timestamp)
                for m in client.get_metric_history(copy.info.run_id, metric)
            )
            assert [(s, v) for s, v, _ in theirs] == list(
                zip(ours["step"], ours["value"], strict=True)
            )
            assert [t for _, _, t in theirs] == [round(t * 1000) for t in ours["timestamp"]]
        tags = copy.data.tags
        assert tags["dcai.run_id"] == run_id
        name, _, version = detail["dataset"].partition("@")
        assert version == ws.data.version("toy").id and len(version) == 64
        assert tags["dcai.dataset"] == f"toy@{version[:SHORT_ID_LENGTH]}"
        assert tags["dcai.dataset_hash"] == version
        assert tags["mlflow.runName"] == detail["name"]
        for key, value in detail["tags"].items():
            assert tags[key] == value
        assert copy.info.start_time == _ms(detail["started"])
        assert copy.info.end_time == _ms(detail["ended"])
        stored = {a["name"]: a for a in detail["artifacts"]}
        for name, artifact in stored.items():
            local = Path(client.download_artifacts(copy.info.run_id, name, str(exported.root)))
            assert local.read_bytes() == ws.objects.read_bytes(artifact["sha256"])

    good, bad = copies[exported.finished], copies[exported.failed]
    assert good.info.status == "FINISHED" and bad.info.status == "FAILED"
    assert len(client.get_metric_history(good.info.run_id, "loss")) == 50
    assert good.data.tags["stage"] == "noisy"
    assert good.data.params == {"C": "1.0", "solver": "lbfgs"}
    assert {"notes.txt", "plots/curve.bin"} <= {
        a["name"] for a in ws.runs.get(exported.finished)["artifacts"]
    }
    assert "ZeroDivisionError" in bad.data.tags["dcai.error"]
    code = ws.runs.get(exported.failed)["code"]
    if code.get("commit"):  # captured inside git
        assert bad.data.tags["dcai.code.commit"] == code["commit"]
        assert bad.data.tags["mlflow.source.git.commit"] == code["commit"]
        assert bad.data.tags["dcai.code.dirty"] == str(bool(code["dirty"])).lower()
    elif code.get("script_sha256"):
        assert bad.data.tags["dcai.code.script_sha256"] == code["script_sha256"]
    # No "./mlruns" in the current directory: the artifacts are beside the database.
    assert (exported.root / "mlartifacts").is_dir()


def test_a_second_export_adds_nothing_and_an_interrupted_one_is_redone(
    exported: Exported,
) -> None:
    again = export_to_mlflow(exported.ws, exported.uri)
    assert [e["status"] for e in again] == ["already exported", "already exported"]
    assert {e["mlflow_run_id"] for e in again} == {
        c.info.run_id for c in _copies(exported.uri, "exp").values()
    }
    assert len(_copies(exported.uri, "exp")) == 2

    # A copy left RUNNING (an export killed half-way) is replaced, not taken for done.
    client = _client(exported.uri)
    other = client.create_experiment(
        "other", artifact_location=(exported.root / "mlartifacts").as_uri()
    )
    client.create_run(other, tags={"dcai.run_id": exported.finished})
    redone = export_to_mlflow(
        exported.ws, exported.uri, runs=[exported.finished[:8]], experiment="other"
    )
    assert [e["status"] for e in redone] == ["exported"]
    copies = _copies(exported.uri, "other")
    assert list(copies) == [exported.finished]
    assert copies[exported.finished].info.status == "FINISHED"

    with pytest.raises(InvalidInputError, match="cannot open the MLflow tracking store"):
        export_to_mlflow(exported.ws, "nope://nowhere")


def test_the_cli_exports_prints_json_and_refuses_a_bad_uri(exported: Exported) -> None:
    result = run_dcai(
        "runs", "export", "--mlflow", exported.uri, "--json", workspace=exported.ws.path
    )
    assert result.returncode == 0, result
    payload = json.loads(result.stdout)
    assert payload["uri"] == exported.uri
    assert [e["status"] for e in payload["runs"]] == ["already exported", "already exported"]

    bad = run_dcai("runs", "export", "--mlflow", "nope://nowhere", workspace=exported.ws.path)
    assert bad.returncode == 2, bad
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), bad.stderr


def test_without_mlflow_the_error_names_the_extra(
    exported: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(MissingDependencyError, match=r"dcai\[mlflow\]"):
        export_to_mlflow(exported.ws, exported.uri)
