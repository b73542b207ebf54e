"""Monitoring a deployment: read its logs in windows, measure them, keep the series, judge rules.

``monitor_deployment(stores, NAME)`` is what ``ws.monitor(NAME)`` and ``dcai monitor NAME`` run:

1. the prediction log (every route), the newest feedback per answered instance (label, outcome,
   and who gave the label: ``review`` decisions make the override rate) and the error log are
   read with DuckDB, from ``since`` on;
2. the *reference* is the serving primary's training data (its dataset version's train split,
   sensitive columns left out) and its dev answers from the training run
   (:func:`reference_for`);
3. :func:`dcai.monitor.windows.compute_windows` measures each window;
4. the windows are stored (table ``monitor_windows``: recomputing a window replaces it), so the
   series grows across runs and the alert rules of ``dcai.toml`` are judged on all of it
   (:mod:`dcai.monitor.alerts`); new and resolved alerts are delivered.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError, UnknownRefError
from dcai.monitor.windows import Reference, compute_windows, fit_reference

if TYPE_CHECKING:
    from collections.abc import Callable

    from dcai.monitor.alerts import AlertSinks
    from dcai.store import Stores

__all__ = [
    "MonitorReport",
    "firing_alerts",
    "monitor_deployment",
    "monitor_settings",
    "reference_for",
    "report_page",
    "stored_windows",
]

#: The window when neither ``--window``, ``--every`` nor ``[monitor] window`` says otherwise.
DEFAULT_WINDOW = "1h"


@dataclass
class MonitorReport:
    """What one monitoring pass found: the windows (oldest first), the per-column table, the
    alerts, and notes on anything skipped."""

    deployment: str
    spec: str
    reference: str | None
    windows: pd.DataFrame
    columns: pd.DataFrame
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The newest window's inputs and the reference the windows were measured against.
    latest_inputs: pd.DataFrame | None = field(default=None, repr=False)
    reference_detail: Reference | None = field(default=None, repr=False)
    #: The limit each alert rule used (calibrated ones learned from the series).
    limits: dict[str, float | None] = field(default_factory=dict)
    #: The alert sinks still delivering (a webhook runs in the background).
    sinks: AlertSinks | None = field(default=None, repr=False)

    @property
    def firing(self) -> list[dict[str, Any]]:
        """The alerts firing now."""
        return [a for a in self.alerts if a["state"] == "firing"]

    def wait_for_delivery(self, timeout: float | None = 30.0) -> bool:
        """Let a webhook delivery still in flight finish (True when none is left)."""
        return self.sinks.close(timeout) if self.sinks is not None else True

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON (no NaN): windows as objects of metric → number or null."""
        return {
            "deployment": self.deployment,
            "window": self.spec,
            "reference": self.reference,
            "windows": [_plain_record(r) for r in self.windows.to_dict(orient="records")],
            "columns": [_plain_record(r) for r in self.columns.to_dict(orient="records")],
            "alerts": self.alerts,
            "events": self.events,
            "notes": self.notes,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _plain_record(record: dict[str, Any]) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in record.items()}


def monitor_settings(stores: Stores) -> dict[str, Any]:
    """``[monitor]`` of the workspace's ``dcai.toml`` as it is now: read at every pass, so a
    rule edited while ``dcai monitor --watch`` runs counts from its next pass."""
    from dcai.config import Settings

    return Settings.load(stores.path).monitor


def _spec(window: str | None, every: int | None, configured: Any) -> tuple[str, float | None]:
    from dcai.deploy.logs import parse_duration

    if window is not None and every is not None:
        raise InvalidInputError("give --window or --every, not both")
    if every is not None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidInputError(
                f"--every must be a positive whole number of requests, got {every!r}"
            )
        return f"every:{every}", None
    text = window if window is not None else str(configured or DEFAULT_WINDOW)
    seconds = parse_duration(text, option="--window")
    return f"{seconds:g}s", seconds


def _extraction(reference: Reference | None) -> tuple[list[str], list[Any], list[Any], list[str]]:
    """How DuckDB reads the monitored inputs out of the logged JSON, parsing each document once
    (``from_json`` into a struct: numeric features as DOUBLE, the others as text): SELECT
    expressions and their parameters, the parameters of the parsing subquery (the struct
    type), and the features in order. ``_raw`` keeps a row's JSON only where it may break the
    schema — a known key (a feature, or a sensitive input's hash) missing or not a number (its
    value NULL), or a key count other than the known keys' — for :func:`_violations` to judge
    in Python; on clean traffic that is no row. Column names only ever travel as parameters."""
    if reference is None or not reference.features:
        return [], [], [], []
    features = list(reference.features)
    known = [*features, *(c for c in reference.ignored if c not in features)]
    expressions = [f'struct_extract(p._s, ?) AS "_f{i}"' for i in range(len(features))]
    params: list[Any] = list(features)
    # Every known key present and not null, and no other key: the row is clean as parsed.
    suspect = " OR ".join(
        ["len(json_keys(p.inputs)) <> ?"] + ["struct_extract(p._s, ?) IS NULL"] * len(known)
    )
    expressions.append(f"CASE WHEN {suspect} THEN p.inputs END AS _raw")
    params.extend([len(known), *known])
    struct = json.dumps({c: "DOUBLE" if c in reference.numeric_range else "VARCHAR" for c in known})
    return expressions, params, [struct], features


def _violations(raw: pd.Series, reference: Reference) -> np.ndarray:
    """Per row: does its logged JSON break the schema — a feature absent, a numeric feature
    holding something that is not a number, or a key the model has no input for (sensitive
    inputs are known: their hashes are logged)? ``raw`` is None for rows already known clean."""
    import orjson

    features = list(reference.features)
    numeric = set(reference.numeric_range)
    known = {*features, *reference.ignored}
    out = np.zeros(len(raw), dtype=bool)
    texts = raw.to_numpy(dtype=object)
    for position in np.flatnonzero(raw.notna().to_numpy()):
        text = texts[position]
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            out[position] = True
            continue
        out[position] = (
            not isinstance(record, dict)
            or any(f not in record for f in features)
            or any(k not in known for k in record)
            or any(f in numeric and not _is_number(record[f]) for f in features)
        )
    return out


def _parsed(rows: pd.DataFrame, reference: Reference, features: list[str]) -> pd.DataFrame:
    """The monitored inputs of a query with :func:`_extraction`'s columns, and ``_violation``."""
    renamed = {f"_f{i}": column for i, column in enumerate(features)}
    parsed = rows[list(renamed)].rename(columns=renamed)
    parsed["_violation"] = _violations(rows["_raw"], reference)
    for column in reference.categories:  # JSON true/false: Python's spelling
        parsed[column] = parsed[column].replace({"true": "True", "false": "False"})
    return parsed


def _is_number(value: Any) -> bool:
    """What DuckDB reads as DOUBLE: null, a number, a boolean, or text that parses as one."""
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


#: The prediction log columns monitoring reads (the inputs only when it parses them itself).
_READ = (
    "request_id",
    "index",
    "time",
    "revision",
    "route",
    "model_version",
    "label",
    "confidence",
    "needs_review",
    "latency_ms",
)


def _unknown_inputs(
    conn: Any, predictions: str, reference: Reference, since: str | None
) -> list[tuple[str, int]]:
    """Logged input keys the model has no input for, with how many rows carry each (the ten
    most frequent)."""
    known = [*reference.features, *reference.ignored]
    found = conn.execute(
        """SELECT k, count(*) FROM (
               SELECT unnest(json_keys(inputs)) AS k
               FROM read_parquet(?, hive_partitioning = false)
               WHERE route <> 'shadow' """
        + ("AND time >= ? " if since is not None else "")
        + """) WHERE NOT list_contains(?::VARCHAR[], k)
           GROUP BY k ORDER BY count(*) DESC, k LIMIT 10""",
        [predictions, *([since] if since is not None else []), known],
    ).fetchall()
    return [(str(k), int(n)) for k, n in found]


def _fetch(conn: Any, sql: str, params: list[Any]) -> pd.DataFrame:
    """A query's rows as a DataFrame by way of Arrow: text columns stay Arrow-backed instead
    of becoming a Python string per value (a million-row log: 0.5 s instead of 1.4 s)."""
    table = conn.sql(sql, params=params).to_arrow_table()
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _read_since(
    conn: Any, files: str | None, columns: tuple[str, ...], since: str | None
) -> pd.DataFrame:
    """``columns`` of a log's rows (``files``: a glob, or None for no log yet) from ``since``."""
    if files is None:
        return pd.DataFrame(columns=list(columns))
    sql = f"SELECT {', '.join(columns)} FROM read_parquet(?, hive_partitioning = false)"
    if since is None:
        return _fetch(conn, sql, [files])
    return _fetch(conn, sql + " WHERE time >= ?", [files, since])


def _read_logs(
    stores: Stores, name: str, since: str | None, reference: Reference | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Prediction rows with their newest feedback joined, error rows, the monitored inputs
    read out of the logged JSON by DuckDB (None when there is no reference), and the serving
    processes' usage samples."""
    from dcai.deploy.logs import _connect, _files
    from dcai.deploy.prediction_log import (
        error_log_dir,
        feedback_log_dir,
        prediction_log_dir,
        usage_log_dir,
    )

    predictions = _files(prediction_log_dir(stores.path), name)
    feedback = _files(feedback_log_dir(stores.path), name)
    errors = _files(error_log_dir(stores.path), name)
    usage = _files(usage_log_dir(stores.path), name)
    extract, extract_params, parse_params, extracted = _extraction(reference)
    logged = [*_READ, *([] if extract else ["inputs"])]
    columns = ", ".join([*(f'p."{c}"' for c in logged), *extract])
    source = (
        "(SELECT *, from_json(inputs, ?) AS _s FROM read_parquet(?, hive_partitioning = false))"
        if extract
        else "read_parquet(?, hive_partitioning = false)"
    )
    parsed = None
    with _connect() as conn:
        if predictions is None:
            rows = pd.DataFrame(columns=logged)
        else:
            params: list[Any] = [*extract_params, *parse_params, predictions]
            joined = ""
            extra = "NULL AS feedback_label, NULL AS feedback_outcome, NULL AS feedback_source"
            if feedback is not None:
                joined = """LEFT JOIN (
                    SELECT request_id, "index",
                        arg_max(label, time) FILTER (WHERE label IS NOT NULL) AS feedback_label,
                        arg_max(source, time) FILTER (WHERE label IS NOT NULL)
                            AS feedback_source,
                        arg_max(outcome, time) FILTER (WHERE outcome IS NOT NULL)
                            AS feedback_outcome
                    FROM read_parquet(?, hive_partitioning = false)
                    GROUP BY request_id, "index"
                ) f USING (request_id, "index")"""
                extra = "f.feedback_label, f.feedback_outcome, f.feedback_source"
                params.append(feedback)
            where = ""
            if since is not None:
                where = "WHERE p.time >= ?"
                params.append(since)
            rows = _fetch(
                conn,
                f"""SELECT {columns}, {extra}
                    FROM {source} p {joined} {where}
                    ORDER BY p.time, p.request_id, p."index" """,
                params,
            )
            if extract:
                assert reference is not None
                parsed = _parsed(rows, reference, extracted)
                rows = rows.drop(columns=[*(f"_f{i}" for i in range(len(extracted))), "_raw"])
                if parsed["_violation"].any():
                    unknown = _unknown_inputs(conn, predictions, reference, since)
                    if unknown:
                        parsed.attrs["unknown_inputs"] = unknown
        error_rows = _read_since(conn, errors, ("time", "route", "model_version"), since)
        usage_rows = _read_since(conn, usage, ("time", "pid", "memory_mb", "cpu_percent"), since)
    return rows, error_rows, parsed, usage_rows


#: References fitted in this process, by workspace and model version (both immutable): the
#: passes of ``dcai monitor --watch`` fit each once. The newest few are kept.
_REFERENCES: dict[tuple[str, str], tuple[Reference | None, list[str]]] = {}
_KEPT_REFERENCES = 4


def reference_for(stores: Stores, model: str) -> tuple[Reference | None, list[str]]:
    """The reference of a registered model version: its training rows (the train split of its
    dataset version; sensitive inputs left out) and its dev answers; None with a note when the
    version names no dataset. Fitted once per process and version."""
    from dcai.experiments.registry import resolve_model

    key = (str(stores.path.resolve()), resolve_model(stores, model).ref)
    if key not in _REFERENCES:
        if len(_REFERENCES) >= _KEPT_REFERENCES:
            _REFERENCES.pop(next(iter(_REFERENCES)))
        _REFERENCES[key] = _fit_reference_for(stores, key[1])
    reference, notes = _REFERENCES[key]
    return reference, list(notes)


def _fit_reference_for(stores: Stores, model: str) -> tuple[Reference | None, list[str]]:
    from dcai.data.versions import resolve_ref
    from dcai.experiments.query import run_detail
    from dcai.experiments.registry import resolve_model
    from dcai.store import read_parquet_object

    version = resolve_model(stores, model)
    if version.dataset is None:
        return None, [f"{version.ref} names no training dataset: no input reference"]
    data = resolve_ref(stores, version.dataset)
    every = version.signature.get("inputs", [])
    inputs = [i for i in every if not i.get("sensitive")]
    ignored = [str(i["name"]) for i in every if i.get("sensitive")]
    names = [str(i["name"]) for i in inputs]
    split = data.roles.split
    frame = data.to_pandas(columns=[*names, *([split] if split else [])])
    train = frame[frame[split] == "train"] if split else frame
    text = [str(i["name"]) for i in inputs if i.get("role") == "text"]
    numeric, categorical = [], []
    for column in names:
        if column in text:
            continue
        series = train[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numeric.append(column)
        else:
            categorical.append(column)
    confidence = correct = None
    notes: list[str] = []
    try:
        detail = run_detail(stores, version.run)
        found = [a for a in detail["artifacts"] if a["name"] == "predictions.parquet"]
        if found:
            answers = read_parquet_object(
                stores.objects, found[0]["sha256"], what=f"the dev answers of {version.ref}"
            )
            dev = answers[answers["split"] == "dev"]
            probs = [c for c in dev.columns if str(c).startswith("p_")]
            if probs and len(dev):
                confidence = dev[probs].to_numpy(dtype=np.float64).max(axis=1)
                correct = (dev["predicted"].astype(str) == dev["label"].astype(str)).to_numpy(
                    dtype=np.float64
                )
    except UnknownRefError:
        notes.append(f"the training run of {version.ref} is gone: no dev answers")
    reference = fit_reference(
        version.ref,
        train,
        numeric=numeric,
        categorical=categorical,
        text=text,
        classes=version.classes,
        dev_confidence=confidence,
        dev_correct=correct,
        ignored=ignored,
    )
    return reference, [*notes, *reference.notes]


def _store(
    stores: Stores, name: str, spec: str, windows: pd.DataFrame, columns: pd.DataFrame, model: str
) -> None:
    """Replace the stored rows of these windows (one transaction)."""
    from sqlalchemy import delete, insert

    from dcai.store import schema as t

    if windows.empty:
        return
    now = datetime.now(UTC).isoformat(timespec="seconds")
    per_window = {
        start: [_plain_record(r) for r in group.drop(columns="window_start").to_dict("records")]
        for start, group in columns.groupby("window_start", sort=False)
    }
    metric_names = [
        c for c in windows.columns if c not in ("window_start", "window_end", "complete")
    ]
    rows = [
        {
            "deployment": name,
            "spec": spec,
            "window_start": record["window_start"],
            "window_end": record["window_end"],
            "complete": int(bool(record["complete"])),
            "model_version": model,
            "metrics_json": json.dumps(
                {m: _plain(record[m]) for m in metric_names}, allow_nan=False
            ),
            "columns_json": json.dumps(per_window.get(record["window_start"], []), allow_nan=False),
            "computed_at": now,
        }
        for record in windows.to_dict("records")
    ]
    starts = [r["window_start"] for r in rows]
    w = t.monitor_windows
    with stores.meta.transaction() as conn:
        for chunk in range(0, len(starts), 500):
            conn.execute(
                delete(w).where(
                    w.c.deployment == name,
                    w.c.spec == spec,
                    w.c.window_start.in_(starts[chunk : chunk + 500]),
                )
            )
        conn.execute(insert(w), rows)


def stored_windows(stores: Stores, name: str, spec: str) -> pd.DataFrame:
    """Every stored window of ``name`` for this window ``spec``, oldest first."""
    from sqlalchemy import select

    from dcai.store import schema as t

    w = t.monitor_windows
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(w.c.window_start, w.c.window_end, w.c.complete, w.c.metrics_json)
            .where(w.c.deployment == name, w.c.spec == spec)
            .order_by(w.c.window_start)
        ).all()
    records = [
        {
            "window_start": r.window_start,
            "window_end": r.window_end,
            "complete": bool(r.complete),
            **json.loads(r.metrics_json),
        }
        for r in rows
    ]
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    metrics = [c for c in frame.columns if c not in ("window_start", "window_end", "complete")]
    frame[metrics] = frame[metrics].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    return frame


def _rules(stores: Stores) -> list[Any]:
    from dcai.monitor.alerts import parse_rules

    raw = monitor_settings(stores).get("rules", [])
    where = f"{stores.path / 'dcai.toml'} [[monitor.rules]]"
    if not isinstance(raw, list):
        raise InvalidInputError(
            "[monitor] rules must be an array of tables", hint="Write [[monitor.rules]] tables."
        )
    return parse_rules(raw, where=where)


def _previous_alerts(stores: Stores, name: str, spec: str) -> list[Any]:
    from sqlalchemy import select

    from dcai.monitor.alerts import Alert
    from dcai.store import schema as t

    a = t.monitor_alerts
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(a.c.alert_json).where(a.c.deployment == name, a.c.spec == spec).order_by(a.c.id)
        ).all()
    return [Alert.from_dict(json.loads(r.alert_json)) for r in rows]


def _save_alerts(stores: Stores, name: str, spec: str, alerts: list[Any]) -> None:
    """Insert new episodes and update changed ones (one transaction)."""
    from sqlalchemy import insert, select, update

    from dcai.store import schema as t

    a = t.monitor_alerts
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with stores.meta.transaction() as conn:
        known = {
            (r.rule, r.since): (r.id, r.alert_json)
            for r in conn.execute(
                select(a.c.id, a.c.rule, a.c.since, a.c.alert_json).where(
                    a.c.deployment == name, a.c.spec == spec
                )
            )
        }
        for alert in alerts:
            text = json.dumps(alert.to_dict(), allow_nan=False, sort_keys=True)
            found = known.get((alert.rule, alert.since))
            if found is None:
                conn.execute(
                    insert(a).values(
                        deployment=name,
                        spec=spec,
                        rule=alert.rule,
                        since=alert.since,
                        state=alert.state,
                        alert_json=text,
                        updated_at=now,
                    )
                )
            elif found[1] != text:
                conn.execute(
                    update(a)
                    .where(a.c.id == found[0])
                    .values(state=alert.state, alert_json=text, updated_at=now)
                )


def firing_alerts(stores: Stores) -> dict[str, int]:
    """How many alerts are firing per deployment (every window size): ``/metrics`` shows it."""
    from sqlalchemy import func, select

    from dcai.store import schema as t

    a = t.monitor_alerts
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(a.c.deployment, func.count())
            .where(a.c.state == "firing")
            .group_by(a.c.deployment)
        ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def _sinks(stores: Stores, console: Callable[[str], None] | None) -> AlertSinks:
    from dcai.monitor.alerts import AlertSinks

    settings = monitor_settings(stores)
    target = str(settings.get("alerts_file", "monitor/alerts.jsonl"))
    root = stores.path.resolve()
    path = (root / target).resolve()
    if not path.is_relative_to(root):
        raise InvalidInputError(
            f"[monitor] alerts_file {target!r} leaves the workspace folder",
            hint='Give a path inside it, e.g. alerts_file = "monitor/alerts.jsonl".',
        )
    webhook = settings.get("webhook")
    return AlertSinks(
        jsonl_path=path, webhook=None if webhook is None else str(webhook), console=console
    )


def report_page(stores: Stores, report: MonitorReport) -> str:
    """The self-contained HTML page of ``report`` (``dcai monitor --html``, the demo): the
    stored series of its window size, the rules with the limits they used, the alerts, and the
    newest window's inputs against the reference (:mod:`dcai.monitor.report_html`)."""
    from dcai.monitor.alerts import parse_rules
    from dcai.monitor.report_html import render_monitor_report

    series = stored_windows(stores, report.deployment, report.spec)
    return render_monitor_report(
        deployment=report.deployment,
        window=report.spec,
        series=series if not series.empty else report.windows,
        columns=report.columns,
        alerts=report.alerts,
        rules=parse_rules(monitor_settings(stores).get("rules", [])),
        limits=report.limits,
        reference=report.reference_detail,
        latest_inputs=report.latest_inputs,
        notes=report.notes,
    )


def monitor_deployment(
    stores: Stores,
    name: str,
    *,
    window: str | None = None,
    every: int | None = None,
    since: str | None = None,
    store: bool = True,
    now: datetime | None = None,
    console: Callable[[str], None] | None = None,
) -> MonitorReport:
    """Measure ``name``'s logged traffic per window (module docstring); ``store`` keeps the
    windows, judges the alert rules on the stored series and delivers new and resolved alerts
    (``console`` gets one line each; the JSON Lines file and webhook of ``[monitor]``)."""
    from dcai.deploy.deployments import get_deployment
    from dcai.deploy.logs import parse_since

    deployment = get_deployment(stores, name)
    spec, seconds = _spec(window, every, monitor_settings(stores).get("window"))
    rules = _rules(stores)
    start = parse_since(since, now=now)
    reference, reference_notes = reference_for(stores, deployment.primary)
    rows, errors, parsed, usage = _read_logs(stores, name, start, reference)
    notes: list[str] = []
    if rows.empty:
        notes.append(
            f"no logged predictions for {name}"
            + (f" since {start}" if start else "")
            + ": serve it (dcai serve) or predict in batch with --deployment"
        )
    notes.extend(reference_notes)
    if parsed is not None and parsed.attrs.get("unknown_inputs"):
        named = ", ".join(f"{k!r} ({n:,} rows)" for k, n in parsed.attrs["unknown_inputs"])
        notes.append(
            f"logged inputs the model {deployment.primary} was not trained on: {named} — "
            "counted as schema violations, not monitored"
        )
    moment = (now or datetime.now(UTC)).timestamp()
    result = compute_windows(
        rows,
        errors=errors,
        reference=reference,
        window_seconds=seconds,
        every=every,
        now=moment,
        parsed_inputs=parsed,
        usage=usage,
    )
    notes.extend(result.notes)
    report = MonitorReport(
        deployment=name,
        spec=spec,
        reference=reference.model if reference is not None else None,
        windows=result.windows,
        columns=result.columns,
        notes=notes,
        latest_inputs=result.latest_inputs,
        reference_detail=reference,
    )
    if not store:
        return report
    from dcai.monitor.alerts import evaluate

    _store(stores, name, spec, result.windows, result.columns, deployment.primary)
    if rules:
        series = stored_windows(stores, name, spec)
        if not series.empty:
            judged = evaluate(rules, series, _previous_alerts(stores, name, spec))
            _save_alerts(stores, name, spec, judged.alerts)
            report.alerts = [a.to_dict() for a in judged.alerts]
            report.events = [a.to_dict() for a in judged.events]
            report.limits = dict(judged.limits)
            notes.extend(f"rule {rule}: {why}" for rule, why in judged.skipped.items())
            if judged.events:
                report.sinks = _sinks(stores, console)
                report.sinks.deliver(judged.events, deployment=name)
    return report
