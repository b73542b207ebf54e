"""Retraining, closing the loop: production rows with ground truth become training data.

``retrain(stores, NAME)`` (``dcai retrain NAME``, and ``dcai monitor --watch`` when the
``[monitor.retrain]`` policy says so):

1. takes the serving primary's model version, its training dataset version and its training
   run (recipe, parameters);
2. reads the deployment's logged answers that got a *feedback label* (ground truth or a
   person's review decision). The newest of them — those in the last monitoring window
   (``holdout``, default the ``[monitor] window``) — are held out as the *production window*
   the two models are compared on; the older ones join the train split;
3. commits the training version plus those rows as the next version of the same dataset
   (operation ``retrain``; lineage: the deployment, its revisions and model versions, the time
   range, the alerts firing), so the data change is recorded like any other;
4. trains the same recipe with the same parameters on it and registers the candidate;
5. compares candidate and production on the same examples — the dev split (unchanged: new
   rows only enter train) and the held-out production window — each a paired bootstrap of
   the accuracy difference (Efron & Tibshirani 1993, ch. 16), and says whether it is real;
6. with ``canary`` starts a canary of the candidate at that percentage.

Production labels are coerced to the type of the training labels (feedback sent as ``"7"``
for a class ``7``); rows whose inputs lack a training feature, or whose label is not a class
the data knows, are left out and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = ["RetrainPolicy", "RetrainResult", "due_for_retraining", "retrain", "retrain_policy"]

#: Fewer held-out production rows than this: no production comparison (its interval would be
#: too wide to say anything).
MIN_PRODUCTION_ROWS = 10


@dataclass
class RetrainResult:
    """The new dataset version, run and model version, the comparisons, and the canary."""

    dataset: str
    run: str
    model: str
    comparison: dict[str, Any]
    added_rows: int
    held_out_rows: int
    canary: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run": self.run,
            "model": self.model,
            "comparison": self.comparison,
            "added_rows": self.added_rows,
            "held_out_rows": self.held_out_rows,
            "canary": self.canary,
            "notes": self.notes,
        }


def _as_training_labels(values: pd.Series, labels: pd.Series) -> pd.Series:
    """Feedback labels (decoded JSON) in the type of the training ``labels`` — the coercion
    ``dcai labels import`` applies — or None where a value is not of that type."""
    from dcai.labels.annotations import coerce_label_value, label_kind

    kind = label_kind(labels.dtype)

    def one(value: Any) -> Any:
        if value is None:
            return None
        try:
            return coerce_label_value(value, kind)
        except (TypeError, ValueError, OverflowError):
            return None

    return values.map(one)


def _labelled_rows(stores: Stores, name: str, since: str | None) -> pd.DataFrame:
    from dcai.deploy.logs import decoded, read_log

    rows = read_log(stores, name, since=since, limit=None, routes=("primary", "canary", "batch"))
    rows = rows[rows["feedback_label"].notna()]
    rows = rows.assign(truth=[decoded(v) for v in rows["feedback_label"]])
    return rows.sort_values(["time", "request_id", "index"], kind="stable").reset_index(drop=True)


def _firing(stores: Stores, name: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from dcai.store import schema as t

    a = t.monitor_alerts
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(a.c.alert_json).where(a.c.deployment == name, a.c.state == "firing")
        ).all()
    return [json.loads(r.alert_json) for r in rows]


def _compare(
    production: Any, candidate: Any, X: pd.DataFrame, truth: np.ndarray, what: str
) -> dict[str, Any] | None:
    from dcai.experiments.compare import paired_bootstrap

    if len(truth) == 0:
        return None
    hit_a = (np.asarray(production.predict(X), dtype=object) == truth).astype(float)
    hit_b = (np.asarray(candidate.predict(X), dtype=object) == truth).astype(float)
    result = paired_bootstrap(hit_a, hit_b)
    return {
        "on": what,
        "n": len(truth),
        "production_accuracy": float(hit_a.mean()),
        "candidate_accuracy": float(hit_b.mean()),
        **{k: result[k] for k in ("difference", "low", "high", "real")},
    }


def retrain(
    stores: Stores,
    name: str,
    *,
    canary: float | None = None,
    since: str | None = None,
    holdout: str | None = None,
    reason: str = "",
    author: str | None = None,
    n_boot: int = 200,
) -> RetrainResult:
    """Retrain deployment ``name``'s primary on its training data plus labelled production
    rows, compare, register, and optionally canary the candidate (module docstring)."""
    from dcai.data._content import canonical_frame
    from dcai.data.versions import commit_version, resolve_ref
    from dcai.deploy.deployments import get_deployment, set_canary
    from dcai.deploy.logs import parse_duration, parse_since
    from dcai.experiments.query import run_detail
    from dcai.experiments.recipes import parse_param
    from dcai.experiments.registry import load_registered_model, register_model
    from dcai.experiments.train import train
    from dcai.monitor.deployment import monitor_settings

    if canary is not None and not 0 < canary <= 100:
        raise InvalidInputError(f"--canary {canary} is outside (0, 100]", hint="Use e.g. 10.")
    deployment = get_deployment(stores, name)
    production, production_model = load_registered_model(stores, deployment.primary)
    if production.dataset is None:
        raise InvalidInputError(
            f"{production.ref} records no training dataset: nothing to retrain from",
            hint="Retrain models trained with dcai train (or runs that log their dataset).",
        )
    base = resolve_ref(stores, production.dataset)
    roles = base.roles
    if roles.split is None:
        raise InvalidInputError(
            f"{base.ref} has no train/dev split", hint=f"Split it: dcai data split {base.dataset}"
        )
    detail = run_detail(stores, production.run)
    # Stored as text: read back the way `dcai train --param` reads them (numbers, true/false).
    params = dict(parse_param(f"{k}={v}") for k, v in detail["params"].items())
    recipe = str(params.pop("recipe", None) or production.signature.get("recipe") or "logreg")
    frame = base.to_pandas()
    notes: list[str] = []

    rows = _labelled_rows(stores, name, parse_since(since))
    if rows.empty:
        raise InvalidInputError(
            f"no logged prediction of {name!r} has a feedback label yet",
            hint=f"Send labels to POST /v1/deployments/{name}/feedback or decide the review "
            f"queue (dcai review-queue {name} list), then retrain.",
        )
    features = list(roles.inputs)
    inputs = pd.DataFrame([json.loads(text) for text in rows["inputs"]], index=rows.index)
    missing = [f for f in features if f not in inputs.columns]
    if missing:
        raise InvalidInputError(
            f"the logged inputs of {name!r} lack training feature(s) "
            + ", ".join(repr(m) for m in missing[:5]),
            hint="Columns marked sensitive are hashed in the log: they cannot train a model.",
        )
    complete = inputs[features].notna().any(axis=1)
    truth = _as_training_labels(
        pd.Series(rows["truth"].tolist(), index=rows.index, dtype=object), frame[roles.label]
    )
    known = set(frame[roles.label].dropna().tolist())
    usable = truth.notna() & truth.isin(known) & complete
    if (~usable).any():
        notes.append(
            f"{int((~usable).sum())} labelled row(s) left out: a label the data does not know "
            "or no input"
        )
    rows, inputs, truth = rows[usable], inputs[usable], truth[usable]
    window = holdout or str(monitor_settings(stores).get("window") or "1h")
    cut = pd.to_datetime(rows["time"], utc=True, format="ISO8601")
    held = (
        cut >= cut.max() - timedelta(seconds=parse_duration(window, option="--holdout"))
        if len(rows)
        else pd.Series(False, rows.index)
    )
    ids = (rows["request_id"] + ":" + rows["index"].astype(str)).to_numpy()
    fresh = ~pd.Series(ids, index=rows.index).isin(set(frame["example_id"].astype(str)))
    add = (~held) & fresh
    if not add.any():
        raise InvalidInputError(
            f"every labelled production row of {name!r} is in the held-out window ({window}) "
            "or already in the training data: nothing new to train on",
            hint="Wait for more feedback, or hold out a shorter window: --holdout 10m.",
        )
    new = inputs.loc[add, features].copy()
    new.insert(0, "example_id", ids[add.to_numpy()])
    new[roles.label] = truth[add].to_numpy()
    new[roles.split] = "train"
    for column in frame.columns:
        if column not in new.columns:
            new[column] = False if column in roles.tags else None
    combined = pd.concat([frame, new[frame.columns]], ignore_index=True)
    for column in features:  # keep the training dtypes (JSON gives ints for integral floats)
        if pd.api.types.is_float_dtype(frame[column]):
            combined[column] = combined[column].astype(np.float64)
    firing = _firing(stores, name)
    lineage = {
        "deployment": name,
        "reason": reason or "retrain",
        "base": base.ref,
        "production_model": production.ref,
        "revisions": sorted({int(r) for r in rows["revision"]}),
        "model_versions": sorted(set(rows["model_version"])),
        "from": str(rows["time"].min()),
        "to": str(rows["time"].max()),
        "added_rows": int(add.sum()),
        "held_out_rows": int(held.sum()),
        "holdout": window,
        "alerts": [
            {k: a.get(k) for k in ("rule", "metric", "value", "threshold", "since", "window")}
            for a in firing
        ],
    }
    annotations = base.annotations()
    version: DatasetVersion = commit_version(
        stores,
        base.dataset,
        canonical_frame(combined, roles),
        roles,
        operation="retrain",
        params=lineage,
        message=f"{base.ref} + {int(add.sum())} labelled production rows of {name}",
        author=author,
        parents=[base],
        annotations=annotations if len(annotations) else None,
    )
    trained = train(
        stores, version.ref, recipe=recipe, params=params, n_boot=n_boot, capture_code=False
    )
    candidate = register_model(
        stores,
        trained.run,
        name=production.name,
        description=f"retrained from {production.ref} on {version.ref} ({reason or 'retrain'})",
        author=author,
    )
    _, candidate_model = load_registered_model(stores, candidate.ref)
    dev = frame[frame[roles.split] == "dev"]
    comparison: dict[str, Any] = {
        "dev": _compare(
            production_model,
            candidate_model,
            dev[production.features],
            dev[roles.label].to_numpy(dtype=object),
            f"the dev split of {base.ref}",
        )
    }
    held_rows = inputs.loc[held, features]
    if len(held_rows) >= MIN_PRODUCTION_ROWS:
        for column in features:
            if pd.api.types.is_float_dtype(frame[column]):
                held_rows[column] = held_rows[column].astype(np.float64)
        comparison["production"] = _compare(
            production_model,
            candidate_model,
            held_rows[production.features],
            truth[held].to_numpy(dtype=object),
            f"the newest labelled production window ({window}, not trained on)",
        )
    else:
        comparison["production"] = None
        notes.append(
            f"{len(held_rows)} labelled row(s) in the newest {window}: fewer than "
            f"{MIN_PRODUCTION_ROWS}, no production comparison"
        )
    started = None
    if canary is not None:
        changed = set_canary(
            stores,
            name,
            model=candidate.ref,
            percent=canary,
            reason=f"retrained: {candidate.ref} on {version.ref}",
            author=author,
        )
        started = {"revision": changed.revision, "model": candidate.ref, "percent": canary}
    return RetrainResult(
        dataset=version.ref,
        run=trained.run,
        model=candidate.ref,
        comparison=comparison,
        added_rows=int(add.sum()),
        held_out_rows=int(held.sum()),
        canary=started,
        notes=notes,
    )


@dataclass(frozen=True)
class RetrainPolicy:
    """``[monitor.retrain]``: retrain when one of ``on`` (rule names) is firing, at most every
    ``min_interval`` seconds, with a canary of ``canary`` percent (None: none)."""

    on: tuple[str, ...]
    min_interval: float
    canary: float | None


def retrain_policy(settings: dict[str, Any]) -> RetrainPolicy | None:
    """The policy of ``dcai.toml``'s ``[monitor.retrain]``, or None when there is none."""
    from dcai.deploy.logs import parse_duration

    raw = settings.get("retrain")
    if raw is None:
        return None
    where = "dcai.toml [monitor.retrain]"
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} must be a table", hint='Write on = ["errors"].')
    unknown = sorted(set(raw) - {"on", "min_interval", "canary"})
    if unknown:
        raise InvalidInputError(
            f"{where}: unknown key {unknown[0]!r}", hint="Valid keys: on, min_interval, canary."
        )
    on = raw.get("on")
    if not isinstance(on, list) or not on or not all(isinstance(r, str) for r in on):
        raise InvalidInputError(
            f"{where}: on must name the rules that trigger it", hint='Write on = ["errors"].'
        )
    interval = parse_duration(str(raw.get("min_interval", "1d")), option="min_interval")
    canary = raw.get("canary")
    if canary is not None and (
        isinstance(canary, bool) or not isinstance(canary, int | float) or not 0 < canary <= 100
    ):
        raise InvalidInputError(f"{where}: canary {canary!r} is outside (0, 100]")
    return RetrainPolicy(tuple(on), interval, None if canary is None else float(canary))


def last_retrain(stores: Stores, name: str) -> datetime | None:
    """When ``name`` was last retrained (the newest ``retrain`` version naming it)."""
    from sqlalchemy import select

    from dcai.store import schema as t

    v = t.versions
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(v.c.created_at, v.c.params_json).where(v.c.operation == "retrain")
        ).all()
    times = [
        datetime.fromisoformat(r.created_at)
        for r in rows
        if json.loads(r.params_json).get("deployment") == name
    ]
    return max(times) if times else None


def due_for_retraining(
    stores: Stores, name: str, firing: list[dict[str, Any]], policy: RetrainPolicy
) -> str | None:
    """Why ``name`` should be retrained now under ``policy`` (a reason), or None."""
    triggered = sorted({a["rule"] for a in firing if a["rule"] in policy.on})
    if not triggered:
        return None
    last = last_retrain(stores, name)
    if last is not None:
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if datetime.now(UTC) - last < timedelta(seconds=policy.min_interval):
            return None
    return "alert(s) firing: " + ", ".join(triggered)
