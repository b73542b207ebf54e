"""Reading the prediction log back: rows with their feedback joined, and production data as the
next dataset version.

The logs are Hive-partitioned Parquet (``deployment=NAME/date=YYYY-MM-DD/``) read with DuckDB,
so a query touches only the deployment's folders and the columns it needs. Feedback (labels or
outcomes sent for a logged prediction) is joined on ``(request_id, index)``; when one instance
got several, the newest counts.

``log_to_dataset`` closes the loop: logged inputs become the rows of a new dataset version.
A row's label is its feedback label when one came back, else the model's answer, and the
``label_source`` column says which (``feedback`` or ``model``: a model's answer is never
mistaken for ground truth); feedback labels are also stored as annotations by the annotator
``feedback``, for agreement and consensus. The model's answer, confidence, model version and
route are kept as metadata; ``example_id`` is ``request_id:index``. Its lineage (operation
``from_logs``) records the deployment, the revisions and model versions that answered, and the
time range. ``sample="uncertainty:N"`` keeps the N rows whose
answers were least confident (smallest margin between the two most probable classes): the rows
most worth a person's label (Settles, *Active Learning Literature Survey*, 2009, §3.1).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dcai.deploy.deployments import check_deployment_name
from dcai.deploy.prediction_log import PREDICTION_FIELDS, feedback_log_dir, prediction_log_dir
from dcai.errors import InvalidInputError, UnknownRefError

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = [
    "FEEDBACK_COLUMNS",
    "check_feedback",
    "decide",
    "decoded",
    "feedback_row",
    "find_request",
    "log_to_dataset",
    "parse_duration",
    "parse_since",
    "read_log",
    "record_feedback",
    "review_queue",
]

#: Columns :func:`read_log` adds to the logged ones: the newest feedback per instance.
FEEDBACK_COLUMNS = ("feedback_label", "feedback_outcome", "feedback_time")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, option: str = "--every") -> float:
    """``"10m"`` → 600.0 seconds (units s, m, h, d, w).

    >>> parse_duration("1.5h")
    5400.0
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or float(match[1]) <= 0:
        raise InvalidInputError(
            f"{option} {text!r} is not a duration",
            hint=f"Write e.g. {option} 30s, 10m or 1h.",
        )
    return float(match[1]) * _UNITS[match[2]]


def parse_since(text: str | None, *, now: datetime | None = None) -> str | None:
    """``"1h"`` → the ISO time one hour ago (UTC); an ISO date or time is taken as is.

    >>> parse_since("90m", now=datetime(2026, 1, 1, 12, tzinfo=UTC))
    '2026-01-01T10:30:00.000000+00:00'
    >>> parse_since("2026-01-01")
    '2026-01-01'
    """
    if text is None:
        return None
    match = _DURATION.match(text)
    if match:
        seconds = float(match[1]) * _UNITS[match[2]]
        moment = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        return moment.isoformat(timespec="microseconds")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"--since {text!r} is neither a duration nor an ISO date",
            hint="Write 30m, 1h, 2d or 2026-12-01 (or 2026-12-01T08:00:00+00:00).",
        ) from None
    return text


def _files(folder: Path, deployment: str) -> str | None:
    """The glob of a deployment's Parquet files, or None when there are none yet."""
    base = folder / f"deployment={deployment}"
    if not any(base.glob("date=*/*.parquet")):
        return None
    return str(base / "date=*" / "*.parquet")


def _connect() -> Any:
    from dcai._optional import import_optional

    duckdb = import_optional("duckdb", extra="serve", purpose="reading the prediction log")
    return duckdb.connect(":memory:")


def read_log(
    stores: Stores,
    deployment: str,
    *,
    since: str | None = None,
    limit: int | None = 100,
    routes: tuple[str, ...] | None = None,
    request_id: str | None = None,
    waiting_review: bool = False,
) -> pd.DataFrame:
    """Logged predictions of ``deployment``, newest first, with their feedback
    (``feedback_label``, ``feedback_outcome``, ``feedback_time``) joined.

    ``request_id`` keeps one request's rows; ``waiting_review`` only answers flagged
    ``needs_review`` that have no feedback label yet (the review queue). Every filter is
    applied by DuckDB while it reads.
    """
    check_deployment_name(deployment)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(f"--limit must be a positive whole number, got {limit!r}")
    start = parse_since(since)
    predictions = _files(prediction_log_dir(stores.path), deployment)
    if predictions is None:
        return pd.DataFrame(columns=[*(name for name, _ in PREDICTION_FIELDS), *FEEDBACK_COLUMNS])
    feedback = _files(feedback_log_dir(stores.path), deployment)
    joined = (
        """LEFT JOIN (
            SELECT request_id, "index",
                   arg_max(label, time) AS feedback_label,
                   arg_max(outcome, time) AS feedback_outcome,
                   max(time) AS feedback_time
            FROM read_parquet(?, hive_partitioning = false)
            GROUP BY request_id, "index"
        ) f USING (request_id, "index")"""
        if feedback is not None
        else ""
    )
    feedback_columns = (
        "f.feedback_label, f.feedback_outcome, f.feedback_time"
        if feedback is not None
        else "NULL AS feedback_label, NULL AS feedback_outcome, NULL AS feedback_time"
    )
    where, params = [], [predictions]
    if feedback is not None:
        params.append(feedback)
    if start is not None:
        where.append("p.time >= ?")
        params.append(start)
    if routes:
        where.append(f"p.route IN ({', '.join('?' for _ in routes)})")
        params.extend(routes)
    if request_id is not None:
        where.append("p.request_id = ?")
        params.append(request_id)
    if waiting_review:
        where.append("p.needs_review")
        if feedback is not None:
            where.append("f.feedback_label IS NULL")
    columns = ", ".join(f'p."{name}"' for name, _ in PREDICTION_FIELDS)
    query = f"""
        SELECT {columns}, {feedback_columns}
        FROM read_parquet(?, hive_partitioning = false) p
        {joined}
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY p.time DESC, p."index"
        {f"LIMIT {int(limit)}" if limit is not None else ""}
    """
    with _connect() as conn:
        frame: pd.DataFrame = conn.execute(query, params).df()
    return frame


def find_request(stores: Stores, deployment: str, request_id: str) -> int | None:
    """How many instances request ``request_id`` answered, or None if it is not logged."""
    check_deployment_name(deployment)
    predictions = _files(prediction_log_dir(stores.path), deployment)
    if predictions is None:
        return None
    with _connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = false) "
            "WHERE request_id = ? AND route <> 'shadow'",
            [predictions, request_id],
        ).fetchone()
    count = int(row[0]) if row else 0
    return count or None


def _sensitive_columns(stores: Stores, versions: Any) -> list[str]:
    """Input columns any of the model ``versions`` marks sensitive, in first-seen order."""
    from dcai.experiments.registry import resolve_model

    columns: dict[str, None] = {}
    for ref in sorted(set(versions)):
        try:
            signature = resolve_model(stores, str(ref)).signature
        except UnknownRefError:  # a version deleted since: nothing to say about its inputs
            continue
        for item in signature.get("inputs", []):
            if item.get("sensitive"):
                columns[str(item["name"])] = None
    return list(columns)


def decoded(value: Any) -> Any:
    """A JSON cell of the log (label, feedback label) as a value; missing is None."""
    return (
        None
        if value is None or (isinstance(value, float) and pd.isna(value))
        else json.loads(value)
    )


def _like(value: Any, example: Any) -> Any:
    """``value`` (text from a command line) in the type of the model's labels, when it reads
    as one: ``"7"`` for integer classes is ``7``."""
    if not isinstance(value, str) or isinstance(example, str):
        return value
    kinds: list[Any] = [bool] if isinstance(example, bool) else [int, float]
    for kind in kinds:
        try:
            if kind is bool:
                if value.lower() in ("true", "false"):
                    return value.lower() == "true"
                continue
            return kind(value)
        except ValueError:
            continue
    return value


def _margin(probabilities: str) -> float:
    values = sorted(json.loads(probabilities).values(), reverse=True)
    return float(values[0] - (values[1] if len(values) > 1 else 0.0))


def log_to_dataset(
    stores: Stores,
    deployment: str,
    *,
    name: str,
    since: str | None = None,
    only_labeled: bool = False,
    sample: str | None = None,
    message: str = "",
    author: str | None = None,
) -> DatasetVersion:
    """Commit the logged production rows of ``deployment`` as the next version of ``name``."""
    from dcai.data._content import canonical_frame
    from dcai.data._schema import infer_roles, validate_table
    from dcai.data.versions import check_dataset_name, commit_version

    check_dataset_name(name)
    count = None
    if sample is not None:
        kind, _, n = sample.partition(":")
        if kind != "uncertainty" or not n.isdigit() or int(n) < 1:
            raise InvalidInputError(
                f"--sample {sample!r} is not understood", hint="Write --sample uncertainty:500."
            )
        count = int(n)
    rows = read_log(
        stores, deployment, since=since, limit=None, routes=("primary", "canary", "batch")
    )
    if rows.empty:
        raise UnknownRefError(
            f"deployment {deployment!r} logged no predictions"
            + (f" since {since}" if since else ""),
            hint="Send traffic to `dcai serve` (or run `dcai predict`), then try again.",
        )
    if only_labeled:
        rows = rows[rows["feedback_label"].notna()]
        if rows.empty:
            raise InvalidInputError(
                f"no logged prediction of {deployment!r} has feedback yet",
                hint="Send labels to POST /v1/deployments/NAME/feedback, or drop --only-labeled.",
            )
    if count is not None:
        margins = rows["probabilities"].map(_margin)
        rows = rows.loc[margins.sort_values(kind="stable").index[:count]]
    rows = rows.sort_values(["time", "request_id", "index"], kind="stable")
    inputs = pd.DataFrame([json.loads(text) for text in rows["inputs"]], index=rows.index)
    predicted = [json.loads(v) for v in rows["label"]]
    given = [decoded(v) for v in rows["feedback_label"]]
    labels = [p if g is None else g for g, p in zip(given, predicted, strict=True)]
    if len({type(v) for v in labels}) > 1:  # e.g. feedback "7" for a class 7: one type
        labels = [str(v) for v in labels]
    ids = (rows["request_id"] + ":" + rows["index"].astype(str)).to_numpy()
    frame = inputs.assign(
        label=labels,
        label_source=["model" if g is None else "feedback" for g in given],
        predicted=predicted,
        confidence=rows["confidence"].to_numpy(),
        model_version=rows["model_version"].to_numpy(),
        route=rows["route"].to_numpy(),
        logged_at=rows["time"].to_numpy(),
        request_id=ids,
    ).reset_index(drop=True)
    meta = ("label_source", "predicted", "confidence", "model_version", "route", "logged_at")
    # Inputs the models were trained with marked sensitive reach the log only hashed (or not at
    # all): they come back as metadata, still marked sensitive, never as model inputs.
    sensitive = [c for c in _sensitive_columns(stores, rows["model_version"]) if c in inputs]
    roles = infer_roles(
        frame,
        label="label",
        id="request_id",
        meta=(*meta, *sensitive),
        features=[c for c in inputs.columns if c not in sensitive],
        sensitive=sensitive,
        source=f"the log of {deployment}",
    )
    validate_table(frame, roles, source=f"the log of {deployment}")
    labeled = [i for i, g in enumerate(given) if g is not None]
    annotations = pd.DataFrame(
        {
            "example_id": [str(ids[i]) for i in labeled],
            "annotator": "feedback",
            "label": [labels[i] for i in labeled],
            "guideline": None,
            "time": [str(rows["feedback_time"].iloc[i]) for i in labeled],
        }
    )
    params = {
        "deployment": deployment,
        "revisions": sorted({int(r) for r in rows["revision"]}),
        "model_versions": sorted(set(rows["model_version"])),
        "since": since,
        "from": str(rows["time"].min()),
        "to": str(rows["time"].max()),
        "rows": len(frame),
        "labeled": len(labeled),
        "only_labeled": only_labeled,
        "sample": sample,
    }
    return commit_version(
        stores,
        name,
        canonical_frame(frame, roles),
        roles,
        operation="from_logs",
        params=params,
        message=message or f"production rows of {deployment}",
        author=author,
        parent_is_latest=True,
        annotations=annotations if len(annotations) else None,
    )


def check_feedback(
    request_id: Any, index: Any, label: Any, outcome: Any
) -> tuple[str, int, Any, str | None]:
    """Validate one feedback item: a request id, an instance index, a label or an outcome."""
    if not isinstance(request_id, str) or not re.fullmatch(r"[0-9a-f]{32}", request_id):
        raise InvalidInputError(
            f"request_id must be the 32-character id a prediction returned, got {request_id!r}"
        )
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInputError(f"index must be a whole number ≥ 0, got {index!r}")
    if (label is None) == (outcome is None):
        raise InvalidInputError(
            "give either a label (ground truth) or an outcome (e.g. clicked)",
            hint='{"request_id": "...", "index": 0, "label": "cat"}',
        )
    if outcome is not None and (not isinstance(outcome, str) or not 0 < len(outcome) <= 200):
        raise InvalidInputError(f"outcome must be a short text, got {outcome!r}")
    if label is not None and not isinstance(label, str | int | float | bool):
        raise InvalidInputError(f"label must be a string, number or boolean, got {label!r}")
    return request_id, index, label, outcome


def feedback_row(
    deployment: str, request_id: str, index: int, label: Any, outcome: str | None, source: str
) -> dict[str, Any]:
    """One feedback log row."""
    return {
        "request_id": request_id,
        "index": index,
        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        "deployment": deployment,
        "label": None if label is None else json.dumps(label),
        "outcome": outcome,
        "source": source,
    }


def record_feedback(
    stores: Stores,
    deployment: str,
    request_id: str,
    *,
    index: int = 0,
    label: Any = None,
    outcome: str | None = None,
    source: str = "api",
) -> None:
    """Record ground truth (``label``) or an ``outcome`` for one logged prediction (``source``:
    ``api``, or ``review`` for a person's decision on the review queue)."""
    from dcai.deploy.prediction_log import FEEDBACK_FIELDS, PartitionedLog

    check_deployment_name(deployment)
    request_id, index, label, outcome = check_feedback(request_id, index, label, outcome)
    answered = find_request(stores, deployment, request_id)
    if answered is None:
        raise UnknownRefError(
            f"no logged prediction {request_id} for deployment {deployment!r}",
            hint="Feedback refers to the request_id a prediction returned (logged within a second).",
        )
    if index >= answered:
        raise InvalidInputError(
            f"request {request_id} answered {answered} instance(s); index {index} is out of range"
        )
    log = PartitionedLog(feedback_log_dir(stores.path), FEEDBACK_FIELDS)
    try:
        log.append(feedback_row(deployment, request_id, index, label, outcome, source))
    finally:
        log.close()
    if log.dropped_rows:
        from dcai.errors import StorageError

        raise StorageError(f"cannot write feedback to {feedback_log_dir(stores.path)}")


def review_queue(
    stores: Stores, deployment: str, *, limit: int | None = 50, since: str | None = None
) -> pd.DataFrame:
    """Answers waiting for a person, oldest first: logged with ``needs_review`` (modes
    ``partial``, ``assist``, ``shadow``) and no feedback label yet."""
    rows = read_log(
        stores,
        deployment,
        since=since,
        limit=None,
        routes=("primary", "canary"),
        waiting_review=True,
    )
    waiting = rows.sort_values(["time", "request_id", "index"], kind="stable")
    return waiting if limit is None else waiting.head(limit)


def decide(
    stores: Stores,
    deployment: str,
    item: str,
    *,
    label: Any = None,
    accept: bool = False,
) -> dict[str, Any]:
    """A person's decision on a queued answer ``item`` (``REQUEST_ID`` or ``REQUEST_ID:INDEX``):
    ``label`` corrects it, ``accept`` confirms the model's answer. Stored as feedback
    (source ``review``), which is what takes it off the queue."""
    request_id, _, index_text = item.partition(":")
    if index_text and not index_text.isdigit():
        raise InvalidInputError(f"cannot read the item {item!r}", hint="Write REQUEST_ID:INDEX.")
    index = int(index_text or 0)
    if accept == (label is not None):
        raise InvalidInputError(
            "give either --label L (a correction) or --accept (the model was right)"
        )
    rows = read_log(
        stores, deployment, limit=None, routes=("primary", "canary", "batch"), request_id=request_id
    )
    match = rows[rows["index"] == index]
    if match.empty:
        raise UnknownRefError(
            f"no logged prediction {item} for deployment {deployment!r}",
            hint=f"List the queue: dcai review-queue {deployment} list",
        )
    suggested = json.loads(match.iloc[0]["label"])
    label = suggested if accept else _like(label, suggested)
    record_feedback(stores, deployment, request_id, index=index, label=label, source="review")
    return {"request_id": request_id, "index": index, "label": label, "accepted": accept}
