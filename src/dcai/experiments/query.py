"""Reading runs: ``ws.runs(...)`` as a DataFrame, one run in full, and a metric's history.

Filters (:mod:`dcai.experiments._where`) become SQL over indexed tables — the latest value of
every metric is kept in its own table — so a filter over tens of thousands of runs reads only
what matches, and parameters, metrics and tags are fetched for the returned runs alone.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Float, and_, cast, exists, select

from dcai.data.versions import SHORT_ID_LENGTH
from dcai.errors import InvalidInputError
from dcai.experiments._where import Clause, parse_where
from dcai.experiments.runs import effective_status, resolve_run
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["list_runs", "metric_history", "run_detail"]

_BASE_COLUMNS = ["run", "experiment", "name", "status", "dataset", "started", "ended"]


def _compare(column: Any, op: str, value: Any) -> Any:
    return {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[op]


def _condition(clause: Clause) -> Any:
    runs = t.runs
    if clause.field == "metrics":
        m = t.run_latest_metrics
        return exists().where(
            (m.c.run_id == runs.c.id)
            & (m.c.key == clause.key)
            & _compare(m.c.value, clause.op, clause.value)
        )
    if clause.field in ("params", "tags"):
        table = t.run_params if clause.field == "params" else t.run_tags
        column: Any = table.c.value
        if isinstance(clause.value, float):
            column = cast(column, Float)
        return exists().where(
            (table.c.run_id == runs.c.id)
            & (table.c.key == clause.key)
            & _compare(column, clause.op, clause.value)
        )
    value = str(clause.value)
    if clause.field == "status":
        return _compare(runs.c.status, clause.op, value.upper())
    if clause.field == "experiment":
        return _compare(t.experiments.c.name, clause.op, value)
    if clause.field == "name":
        return _compare(runs.c.name, clause.op, value)
    name, _, version = value.partition("@")
    condition = t.datasets.c.name == name
    if version:
        condition = and_(condition, t.versions.c.version_hash.startswith(version))
    return condition if clause.op == "=" else ~condition


def _order(order_by: str | None) -> tuple[str, str, bool]:
    if not order_by:
        return "attr", "started", True
    text = order_by.strip()
    descending = text.endswith(" desc") or text.startswith("-")
    text = text.removesuffix(" desc").removesuffix(" asc").lstrip("-").strip()
    if text.startswith(("metrics.", "params.")):
        kind, _, key = text.partition(".")
        return kind, key, descending
    if text in ("started", "ended", "name", "status"):
        return "attr", text, descending
    raise InvalidInputError(
        f"cannot order by {order_by!r}",
        hint="Order by metrics.KEY, params.KEY, started, ended, name or status; add ' desc'.",
    )


def list_runs(
    stores: Stores,
    *,
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Runs as a DataFrame: ``run, experiment, name, status, dataset, started, ended`` then
    ``params.*``, ``metrics.*`` (latest values) and ``tags.*`` columns; newest first by default.

    ``where`` filters (``"metrics.f1 > 0.8 and params.C = 1"``), ``order_by`` sorts
    (``"metrics.f1 desc"``), ``limit`` caps the rows.
    """
    clauses = parse_where(where or "")
    if experiment is not None:
        clauses.append(Clause("experiment", None, "=", experiment))
    kind, key, descending = _order(order_by)
    runs = t.runs
    query = select(
        runs.c.id,
        runs.c.run_id,
        t.experiments.c.name.label("experiment"),
        runs.c.name,
        runs.c.status,
        runs.c.hostname,
        runs.c.pid,
        runs.c.heartbeat_at,
        runs.c.started_at,
        runs.c.ended_at,
        t.datasets.c.name.label("dataset"),
        t.versions.c.version_hash,
    ).select_from(
        runs.join(t.experiments, runs.c.experiment_id == t.experiments.c.id)
        .outerjoin(t.versions, runs.c.version_id == t.versions.c.id)
        .outerjoin(t.datasets, t.versions.c.dataset_id == t.datasets.c.id)
    )
    for clause in clauses:
        query = query.where(_condition(clause))
    if kind == "attr":
        column = {
            "started": runs.c.id,
            "ended": runs.c.ended_at,
            "name": runs.c.name,
            "status": runs.c.status,
        }[key]
        query = query.order_by(column.desc() if descending else column.asc())
    else:
        table = t.run_latest_metrics if kind == "metrics" else t.run_params
        value = table.c.value if kind == "metrics" else cast(table.c.value, Float)
        sort = (
            select(value)
            .where((table.c.run_id == runs.c.id) & (table.c.key == key))
            .scalar_subquery()
        )
        query = query.order_by(sort.desc() if descending else sort.asc(), runs.c.id.desc())
    if limit is not None:
        if limit < 1:
            raise InvalidInputError(f"limit must be at least 1; got {limit}")
        query = query.limit(limit)
    with stores.meta.read() as conn:
        rows = conn.execute(query).all()
        pks = [r.id for r in rows]
        params = _values(conn, t.run_params, pks)
        metrics = _values(conn, t.run_latest_metrics, pks)
        tags = _values(conn, t.run_tags, pks)
    records = []
    for r in rows:
        record: dict[str, Any] = {
            "run": r.run_id,
            "experiment": r.experiment,
            "name": r.name,
            "status": effective_status(r.status, r.hostname, r.pid, r.heartbeat_at),
            "dataset": None
            if r.dataset is None
            else f"{r.dataset}@{r.version_hash[:SHORT_ID_LENGTH]}",
            "started": r.started_at,
            "ended": r.ended_at,
        }
        for prefix, values in (("params", params), ("metrics", metrics), ("tags", tags)):
            for k, v in values.get(r.id, {}).items():
                record[f"{prefix}.{k}"] = v
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=_BASE_COLUMNS)
    ordered = _BASE_COLUMNS + sorted(c for c in frame.columns if c not in _BASE_COLUMNS)
    return frame[ordered]


def _values(conn: Any, table: Any, pks: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(pks), 900):  # SQLite's limit on bound parameters
        chunk = pks[start : start + 900]
        for row in conn.execute(
            select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(chunk))
        ):
            out.setdefault(row.run_id, {})[row.key] = row.value
    return out


def run_detail(stores: Stores, key: str) -> dict[str, Any]:
    """One run in full, JSON-ready: ``id, experiment, name, status, dataset, code, params,
    metrics`` (latest value per key), ``tags, artifacts, environment, started, ended, error``."""
    pk, _ = resolve_run(stores, key)
    runs = t.runs
    with stores.meta.read() as conn:
        r = conn.execute(
            select(
                runs,
                t.experiments.c.name.label("experiment"),
                t.datasets.c.name.label("dataset"),
                t.versions.c.version_hash,
            )
            .select_from(
                runs.join(t.experiments, runs.c.experiment_id == t.experiments.c.id)
                .outerjoin(t.versions, runs.c.version_id == t.versions.c.id)
                .outerjoin(t.datasets, t.versions.c.dataset_id == t.datasets.c.id)
            )
            .where(runs.c.id == pk)
        ).one()
        params = _values(conn, t.run_params, [pk]).get(pk, {})
        metrics = _values(conn, t.run_latest_metrics, [pk]).get(pk, {})
        tags = _values(conn, t.run_tags, [pk]).get(pk, {})
        artifacts = [
            {"name": a.name, "sha256": a.object, "size": a.size, "kind": a.kind}
            for a in conn.execute(select(t.run_artifacts).where(t.run_artifacts.c.run_id == pk))
        ]
    return {
        "id": r.run_id,
        "experiment": r.experiment,
        "name": r.name,
        "status": effective_status(r.status, r.hostname, r.pid, r.heartbeat_at),
        "dataset": None if r.dataset is None else f"{r.dataset}@{r.version_hash}",
        "code": json.loads(r.code_json),
        "params": params,
        "metrics": metrics,
        "tags": tags,
        "artifacts": artifacts,
        "environment": json.loads(r.env_json),
        "author": r.author,
        "started": r.started_at,
        "ended": r.ended_at,
        "error": r.error,
    }


def metric_history(stores: Stores, key: str, metric: str) -> pd.DataFrame:
    """Every value of one metric of one run: ``step, value, timestamp``, by step."""
    pk, _ = resolve_run(stores, key)
    m = t.run_metrics
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(m.c.step, m.c.value, m.c.timestamp)
            .where((m.c.run_id == pk) & (m.c.key == metric))
            .order_by(m.c.step, m.c.id)
        ).all()
    return pd.DataFrame(rows, columns=["step", "value", "timestamp"])
