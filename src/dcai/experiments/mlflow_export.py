"""Copy dcai runs into an MLflow tracking store, so a team can keep using the MLflow UI.

``export_to_mlflow(ws, "sqlite:///mlflow.db")`` creates, for each finished dcai run, one MLflow
run in the experiment of the same name (or ``experiment=``) with:

* the parameters, and every logged metric value with its step and timestamp;
* dcai's tags plus ``dcai.run_id``, ``dcai.dataset`` (``name@id``), ``dcai.dataset_hash``
  (the full content hash), ``dcai.code.commit``, ``dcai.code.dirty``, ``dcai.code.diff_sha256``
  (or ``dcai.code.script_sha256`` outside git) and MLflow's own ``mlflow.source.git.commit``,
  ``mlflow.source.git.branch`` and ``mlflow.user``;
* the status (``FINISHED``, ``FAILED``; ``CRASHED`` becomes ``KILLED``) and the start and end
  times;
* every stored artifact, read hash-verified from the workspace and logged under its name.

Values are sent with ``log_batch`` in MLflow's batch limits (1,000 metric values, 100
parameters or tags per call). Exporting is idempotent: a dcai run whose MLflow copy (an active
run tagged ``dcai.run_id``) exists in the target experiment is reported ``already exported``
and left alone. The copy is written as ``RUNNING`` and marked with its final status last, so a
copy an interrupted export left ``RUNNING`` is deleted and written again. dcai runs still
running are skipped. With a ``sqlite:///PATH`` store, a new experiment keeps its artifacts in
``mlartifacts/`` beside the database file (MLflow's own default is the current directory).

MLflow is an optional dependency: ``pip install 'dcai[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from dcai._optional import import_optional
from dcai.data.versions import SHORT_ID_LENGTH
from dcai.errors import InvalidInputError
from dcai.experiments.query import list_runs, metric_history, run_detail

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["export_to_mlflow"]

#: MLflow's limits on one ``log_batch`` call (mlflow.utils.validation).
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
#: MLflow's limits on a parameter's and a tag's value length.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000

_STATUS = {"FINISHED": "FINISHED", "FAILED": "FAILED", "CRASHED": "KILLED"}


def export_to_mlflow(
    stores: Stores,
    uri: str,
    *,
    runs: list[str] | None = None,
    experiment: str | None = None,
) -> list[dict[str, Any]]:
    """Copy dcai runs (all of them, or the ids or prefixes in ``runs``) into the MLflow store
    at ``uri``; one entry per run: ``run, experiment, status`` (``exported``, ``already
    exported`` or ``skipped``), ``mlflow_run_id``, ``mlflow_experiment_id``, the counts
    ``params, metrics`` (values), ``tags, artifacts``, and ``reason`` (why it was skipped)."""
    purpose = "Exporting runs to MLflow"
    tracking = import_optional("mlflow.tracking", extra="mlflow", purpose=purpose)
    entities = import_optional("mlflow.entities", extra="mlflow", purpose=purpose)
    exceptions = import_optional("mlflow.exceptions", extra="mlflow", purpose=purpose)
    if experiment is not None and not experiment.strip():
        raise InvalidInputError("the MLflow experiment name must be a non-empty string")
    if runs:
        keys = [
            str(run_detail(stores, key)["id"]) for key in runs
        ]  # unknown runs fail before any write
    else:
        frame = list_runs(stores)
        keys = [str(r) for r in reversed(frame["run"].tolist())]  # oldest first
    try:
        client = tracking.MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # reach the store: a bad URI fails here
    except exceptions.MlflowException as exc:
        raise InvalidInputError(
            f"cannot open the MLflow tracking store {uri!r}: {exc.message}",
            hint="Give a tracking URI such as sqlite:///mlflow.db or http://host:5000.",
        ) from exc
    exporter = _Exporter(stores, client, entities, uri)
    exported = []
    for key in keys:
        try:
            exported.append(exporter.export(key, experiment))
        except exceptions.MlflowException as exc:
            done = sum(e["status"] == "exported" for e in exported)
            raise InvalidInputError(
                f"MLflow refused run {key[:8]}: {exc.message} ({done} run(s) exported before it)",
                hint="Fix what MLflow names and export again: runs already exported are skipped.",
            ) from exc
    return exported


class _Exporter:
    def __init__(self, stores: Stores, client: Any, entities: Any, uri: str) -> None:
        self.stores = stores
        self.client = client
        self.entities = entities
        self.artifact_root = _artifact_root(uri)
        self.experiments: dict[str, str] = {}

    def experiment_id(self, name: str) -> str:
        if name not in self.experiments:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                self.experiments[name] = str(
                    self.client.create_experiment(name, artifact_location=self.artifact_root)
                )
            elif found.lifecycle_stage != "active":
                raise InvalidInputError(
                    f"the MLflow experiment {name!r} is deleted",
                    hint="Restore it in MLflow, or export into another one with --experiment.",
                )
            else:
                self.experiments[name] = str(found.experiment_id)
        return self.experiments[name]

    def export(self, key: str, experiment: str | None) -> dict[str, Any]:
        detail = run_detail(self.stores, key)
        name = experiment or str(detail["experiment"])
        entry: dict[str, Any] = {
            "run": detail["id"],
            "experiment": name,
            "status": "skipped",
            "mlflow_run_id": None,
            "mlflow_experiment_id": None,
            "params": 0,
            "metrics": 0,
            "tags": 0,
            "artifacts": 0,
            "reason": None,
        }
        status = _STATUS.get(str(detail["status"]))
        if status is None:
            entry["reason"] = f"the run is {detail['status']}; export it once it has ended"
            return entry
        experiment_id = self.experiment_id(name)
        entry["mlflow_experiment_id"] = experiment_id
        for existing in self.client.search_runs(
            [experiment_id], filter_string=f"tags.`dcai.run_id` = '{detail['id']}'"
        ):
            if existing.info.status == "RUNNING":  # left by an interrupted export
                self.client.delete_run(existing.info.run_id)
                continue
            entry["status"] = "already exported"
            entry["mlflow_run_id"] = existing.info.run_id
            return entry
        self.write(detail, experiment_id, status, entry)
        entry["status"] = "exported"
        return entry

    def write(
        self, detail: dict[str, Any], experiment_id: str, status: str, entry: dict[str, Any]
    ) -> None:
        e = self.entities
        tags = _tags(detail)
        history = {
            metric: metric_history(self.stores, detail["id"], metric)
            for metric in detail["metrics"]
        }
        created = self.client.create_run(
            experiment_id,
            start_time=_ms(detail["started"]),
            tags={"dcai.run_id": detail["id"]},
            run_name=str(detail["name"]),
        )
        run_id = created.info.run_id
        entry["mlflow_run_id"] = run_id
        try:
            params = [
                e.Param(k, str(v)[:MAX_PARAM_VALUE]) for k, v in sorted(detail["params"].items())
            ]
            tag_list = [e.RunTag(k, v[-MAX_TAG_VALUE:]) for k, v in sorted(tags.items())]
            for batch in _chunks(params, MAX_PARAMS_TAGS_PER_BATCH):
                self.client.log_batch(run_id, params=batch)
            for batch in _chunks(tag_list, MAX_PARAMS_TAGS_PER_BATCH):
                self.client.log_batch(run_id, tags=batch)
            metrics = [
                e.Metric(metric, float(row.value), _to_ms(float(row.timestamp)), int(row.step))
                for metric, frame in history.items()
                for row in frame.itertuples(index=False)
            ]
            for batch in _chunks(metrics, MAX_METRICS_PER_BATCH):
                self.client.log_batch(run_id, metrics=batch)
            for artifact in detail["artifacts"]:
                self.log_artifact(run_id, detail["id"], artifact)
            last = max((m.timestamp for m in metrics), default=_ms(detail["started"]))
            end = _ms(detail["ended"]) if detail["ended"] else last
            self.client.set_terminated(run_id, status=status, end_time=end)
        except BaseException:
            # A half-written copy would be taken for the run at the next export: remove it.
            with contextlib.suppress(Exception):  # the original error is the one to report
                self.client.delete_run(run_id)
            raise
        entry.update(
            params=len(params),
            metrics=len(metrics),
            tags=len(tags) + 1,
            artifacts=len(detail["artifacts"]),
        )

    def log_artifact(self, run_id: str, dcai_run: str, artifact: dict[str, Any]) -> None:
        name = str(artifact["name"])
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not path.name:
            raise InvalidInputError(
                f"artifact name {name!r} of run {dcai_run[:8]} cannot be an MLflow artifact path"
            )
        data = self.stores.objects.read_bytes(
            str(artifact["sha256"]), what=f"artifact {name!r} of run {dcai_run[:8]}"
        )
        with tempfile.TemporaryDirectory(prefix="dcai-mlflow-") as tmp:
            local = Path(tmp) / path.name
            local.write_bytes(data)
            parent = str(path.parent)
            self.client.log_artifact(run_id, str(local), None if parent == "." else parent)


def _tags(detail: dict[str, Any]) -> dict[str, str]:
    """dcai's tags plus the provenance tags (without ``dcai.run_id``, set at creation)."""
    tags = {str(k): str(v) for k, v in detail["tags"].items()}
    if detail["dataset"]:
        name, _, version = str(detail["dataset"]).rpartition("@")
        tags["dcai.dataset"] = f"{name}@{version[:SHORT_ID_LENGTH]}"
        tags["dcai.dataset_hash"] = version
    code = detail["code"] or {}
    if code.get("commit"):
        tags["dcai.code.commit"] = str(code["commit"])
        tags["mlflow.source.git.commit"] = str(code["commit"])
    if code.get("branch"):
        tags["mlflow.source.git.branch"] = str(code["branch"])
    if code.get("dirty") is not None:
        tags["dcai.code.dirty"] = str(bool(code["dirty"])).lower()
    if code.get("diff_sha256"):
        tags["dcai.code.diff_sha256"] = str(code["diff_sha256"])
    if code.get("kind") != "git" and code.get("script_sha256"):
        tags["dcai.code.script_sha256"] = str(code["script_sha256"])
    if detail.get("author"):
        tags["mlflow.user"] = str(detail["author"])
    if detail.get("error"):
        tags["dcai.error"] = str(detail["error"]).strip()
    return tags


def _ms(iso: str) -> int:
    return _to_ms(datetime.fromisoformat(iso).timestamp())


def _to_ms(seconds: float) -> int:
    return round(seconds * 1000)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _artifact_root(uri: str) -> str | None:
    """For ``sqlite:///PATH``: ``mlartifacts/`` beside the database file; else MLflow's."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite" or not parsed.path or parsed.path in ("/", "/:memory:"):
        return None
    database = Path(unquote(parsed.path[1:]))  # sqlite:///rel.db, sqlite:////abs/path.db
    return (database.resolve().parent / "mlartifacts").as_uri()
