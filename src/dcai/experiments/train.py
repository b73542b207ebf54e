"""``dcai train``: fit a recipe on a version's train split, evaluate on dev, record a run.

The run records the data version, the code version, the recipe and its parameters; its metrics
are the dev (and, with ``test=True``, test) metrics of :func:`dcai.analysis.classification_metrics`
with their bootstrap intervals. Artifacts: ``metrics.json`` (overall, per class, per slice),
``predictions.parquet`` (the evaluated examples' labels, predictions and probabilities) and
``model.dcai`` — the fitted model in dcai's own safe format, loaded back only through
:func:`dcai.experiments.model_files.load_model`, which checks the artifact's sha256 and
constructs only an exact list of trusted types (never plain pickle).

Every run also reports its baselines: the majority class and dcai's simple linear model on the
same split, and human-level performance when the labelers' data has it — progress is measured
against a baseline, not in the abstract.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import resolve_ref
from dcai.errors import DcaiError, InvalidInputError, UnknownRefError
from dcai.experiments.model_files import MODEL_ARTIFACT, dump_model, load_model

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["TrainResult", "load_model", "train"]

#: ``--overfit-check`` fits this many training examples and needs this training accuracy.
OVERFIT_EXAMPLES = 50
OVERFIT_ACCURACY = 0.9
_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_recall", "roc_auc")


@dataclass
class TrainResult:
    """What ``dcai train`` prints: the run, its metrics, the model artifact, the baselines."""

    run: str
    metrics: dict[str, float | None]
    model_artifact: str
    baselines: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "metrics": self.metrics,
            "model_artifact": self.model_artifact,
            "baselines": self.baselines,
            "notes": self.notes,
        }


def _split_rows(version: Any, frame: pd.DataFrame, name: str) -> np.ndarray:
    column = version.roles.split
    if column is None:
        raise InvalidInputError(
            f"{version.ref} has no train/dev split",
            hint=f"Split it first: dcai data split {version.dataset}",
        )
    rows: np.ndarray = (frame[column] == name).to_numpy()
    if not rows.any():
        raise InvalidInputError(
            f"{version.ref} has no examples in split {name!r}",
            hint=f"Split it again with a {name} share: dcai data split {version.dataset}",
        )
    return rows


def _scores(
    model: Any, X: pd.DataFrame, y: np.ndarray, classes: list[Any], n_boot: int, seed: int
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    from dcai.analysis._metrics import classification_metrics

    predicted = np.asarray(model.predict(X), dtype=object)
    probs = None
    if hasattr(model, "predict_proba"):
        raw = np.asarray(model.predict_proba(X), dtype=float)
        fitted = [c for c in getattr(model, "classes_", [])]
        if len(fitted) == len(classes) and all(c in fitted for c in classes):
            probs = raw[:, [fitted.index(c) for c in classes]]
    report = classification_metrics(
        y, predicted, pred_probs=probs, classes=classes, n_boot=n_boot, random_state=seed
    )
    return report, predicted, probs


def train(
    stores: Stores,
    ref: str,
    *,
    recipe: str = "logreg",
    params: dict[str, Any] | None = None,
    experiment: str | None = None,
    test: bool = False,
    overfit_check: bool = False,
    n_boot: int = 500,
    random_state: int = 0,
    capture_code: bool = True,
) -> TrainResult:
    """Fit ``recipe`` on the train split of ``ref``, evaluate on dev (and test), record a run."""
    from sklearn.base import clone

    from dcai.analysis._metrics import metric_by_group
    from dcai.experiments.recipes import build_recipe
    from dcai.experiments.runs import start_run

    version = resolve_ref(stores, ref)
    frame = version.to_pandas()
    inputs = list(version.roles.inputs)
    if not inputs:
        raise InvalidInputError(f"{version.ref} has no feature or text columns to train on")
    train_rows = _split_rows(version, frame, "train")
    dev_rows = _split_rows(version, frame, "dev")
    test_rows = _split_rows(version, frame, "test") if test else None
    X = frame[inputs]
    y = frame[version.roles.label].to_numpy()
    classes = sorted(pd.unique(y[train_rows]).tolist(), key=str)
    model = build_recipe(
        recipe, X, params, random_state=random_state, text_columns=list(version.roles.text)
    )
    notes: list[str] = []
    with start_run(
        stores,
        experiment=experiment or version.dataset,
        dataset=version.ref,
        params={"recipe": recipe, **(params or {})},
        tags={"kind": "train"},
        capture_code=capture_code,
    ) as run:
        if overfit_check:
            _overfit_check(model, X[train_rows], y[train_rows], recipe, random_state)
        try:
            fitted = clone(model).fit(X[train_rows], y[train_rows])
        except Exception as exc:  # the recipe's own error, in one line, and the run FAILED
            raise InvalidInputError(
                f"recipe {recipe!r} failed to fit {version.ref}: {type(exc).__name__}: {exc}",
                hint="Check the recipe and its parameters (try --overfit-check on a small subset).",
            ) from exc
        evaluated: dict[str, Any] = {}
        predictions = []
        for split, rows in (("dev", dev_rows), ("test", test_rows)):
            if rows is None:
                continue
            report, predicted, probs = _scores(
                fitted, X[rows], y[rows], classes, n_boot, random_state
            )
            evaluated[split] = report
            prefix = "" if split == "dev" else "test."
            for name in _METRICS:
                estimate = report.metric(name)
                if estimate.value is not None and estimate.value == estimate.value:
                    run.log_metric(prefix + name, float(estimate.value))
            table = pd.DataFrame(
                {
                    EXAMPLE_ID: frame.loc[rows, EXAMPLE_ID].to_numpy(),
                    "split": split,
                    "label": y[rows].astype(str),
                    "predicted": predicted.astype(str),
                }
            )
            if probs is not None:
                for j, c in enumerate(classes):
                    table[f"p_{c}"] = probs[:, j]
            predictions.append(table)
        slices = {}
        columns = [*version.roles.meta, *version.roles.tags]
        for column in columns:
            groups = frame.loc[dev_rows, column].astype(str).to_numpy()
            per = metric_by_group(
                y[dev_rows], np.asarray(fitted.predict(X[dev_rows]), dtype=object), groups, n_boot=0
            )
            slices[column] = per[["group", "n", "value"]].to_dict(orient="records")
        baselines = _baselines(
            stores, version, X, y, train_rows, dev_rows, classes, random_state, notes
        )
        for name, value in baselines.items():
            if value is not None:
                run.log_metric(f"baseline.{name}", value)
        run.log_artifact(
            json.dumps(
                {split: report.to_dict() for split, report in evaluated.items()}
                | {"slices": slices, "baselines": baselines},
                default=str,
            ).encode("utf-8"),
            "metrics.json",
        )
        buffer = io.BytesIO()
        pd.concat(predictions, ignore_index=True).to_parquet(buffer, index=False)
        run.log_artifact(buffer.getvalue(), "predictions.parquet")
        model_sha = run.log_artifact(dump_model(fitted), MODEL_ARTIFACT)
        run.set_tag("model_artifact", model_sha)
        metrics = {
            ("" if split == "dev" else "test.") + name: _value(report.metric(name).value)
            for split, report in evaluated.items()
            for name in _METRICS
        }
    return TrainResult(
        run=run.id, metrics=metrics, model_artifact=model_sha, baselines=baselines, notes=notes
    )


def _value(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def _overfit_check(model: Any, X: pd.DataFrame, y: np.ndarray, recipe: str, seed: int) -> None:
    from sklearn.base import clone

    rng = np.random.default_rng(seed)
    take = rng.choice(len(y), size=min(OVERFIT_EXAMPLES, len(y)), replace=False)
    small_X, small_y = X.iloc[take], y[take]
    try:
        predicted = clone(model).fit(small_X, small_y).predict(small_X)
    except Exception as exc:
        raise InvalidInputError(
            f"overfit check failed: recipe {recipe!r} cannot fit {len(take)} examples: "
            f"{type(exc).__name__}: {exc}",
            hint="Check the recipe, its parameters and the features.",
        ) from exc
    accuracy = float((np.asarray(predicted) == small_y).mean())
    if accuracy < OVERFIT_ACCURACY:
        raise InvalidInputError(
            f"overfit check failed: recipe {recipe!r} reaches only {accuracy:.0%} training accuracy "
            f"on {len(take)} examples (needs {OVERFIT_ACCURACY:.0%})",
            hint="A model that cannot fit a handful of examples has a bug or too little capacity; "
            "check the features, the labels and the parameters.",
        )


def _baselines(
    stores: Stores,
    version: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    dev_rows: np.ndarray,
    classes: list[Any],
    seed: int,
    notes: list[str],
) -> dict[str, float | None]:
    from dcai.quality import default_model

    majority = pd.Series(y[train_rows]).mode().iloc[0]
    out: dict[str, float | None] = {"majority.accuracy": float((y[dev_rows] == majority).mean())}
    try:
        linear = default_model(X, random_state=seed).fit(X[train_rows], y[train_rows])
        out["linear.accuracy"] = float(
            (np.asarray(linear.predict(X[dev_rows])) == y[dev_rows]).mean()
        )
    except Exception as exc:  # a baseline must never fail the run
        notes.append(f"the linear baseline could not be fitted: {exc}")
        out["linear.accuracy"] = None
    from dcai.labels.reports import latest_report

    try:
        hlp = latest_report(stores, version.dataset, "hlp")
        overall = hlp.table.query("scope == 'overall'")
        out["hlp.accuracy"] = float(overall["accuracy"].iloc[0]) if len(overall) else None
    except UnknownRefError:
        notes.append("no human-level performance stored (dcai labels hlp) to compare with")
        out["hlp.accuracy"] = None
    out["production.accuracy"] = _production_score(stores, version, X[dev_rows], y[dev_rows], notes)
    return out


def _production_score(
    stores: Stores, version: Any, X: pd.DataFrame, y: np.ndarray, notes: list[str]
) -> float | None:
    """Dev accuracy of the model aliased ``production`` that was trained on this dataset:
    the old system is a baseline too."""
    from dcai.experiments.registry import list_models, load_registered_model

    for summary in list_models(stores):
        if "production" not in summary.aliases:
            continue
        try:
            registered, model = load_registered_model(stores, f"{summary.name}@production")
        except DcaiError as exc:  # a baseline must never fail the run
            notes.append(f"the production model {summary.name} could not be loaded: {exc}")
            continue
        if registered.dataset is None or registered.dataset.split("@")[0] != version.dataset:
            continue
        missing = [c for c in registered.features if c not in X.columns]
        if missing:
            notes.append(
                f"the production model {registered.ref} needs columns this version lacks: "
                + ", ".join(missing[:5])
            )
            return None
        try:
            predicted = np.asarray(model.predict(X[registered.features]), dtype=object)
        except Exception as exc:  # the old model may not fit today's data: say so
            notes.append(f"the production model {registered.ref} failed on this dev split: {exc}")
            return None
        notes.append(f"production baseline: {registered.ref} on this version's dev split")
        return float((predicted == np.asarray(y, dtype=object)).mean())
    return None
