"""``dcai runs compare``: what differs between runs — parameters, metrics, code and data.

Metrics are shown side by side. When two runs stored dev predictions (``predictions.parquet``),
their accuracies are compared like for like: on the dev examples both scored, against ONE set of
labels — the labels of the newer run's dataset version (the label column of its predictions), or
those of a pinned evaluation version (``eval_ref``: its dev split, or every example when it has
no split). The difference gets a paired bootstrap interval over those examples (Efron &
Tibshirani 1993, ch. 16) and is called *real* when the interval excludes 0; how many shared
examples carried different labels in the two runs' data is reported with it. The data
difference between their dataset versions is :meth:`dcai.Workspace.diff` plus the lineage steps
that lead from one version to the other (e.g. "review: 41 labels fixed"). Code is the same when
the commit and the diff are (in git), else when the entry scripts' SHA-256 are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._intervals import percentile_interval
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import diff_versions, resolve_ref
from dcai.errors import InvalidInputError
from dcai.store import read_parquet_object

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["code_key", "compare_runs", "eval_labels", "paired_bootstrap", "same_code"]

N_BOOT = 2000
#: Fewer shared examples than this give no paired comparison.
MIN_SHARED = 10


def code_key(code: dict[str, Any]) -> str | None:
    """What identifies a run's code: commit and diff hash in git, else the script's SHA-256.

    >>> code_key({"commit": "ab", "diff_sha256": None})
    'git:ab:None'
    >>> code_key({"kind": "script", "commit": None, "script_sha256": "cd"})
    'script:cd'
    >>> code_key({"kind": "not captured"}) is None
    True
    """
    if code.get("commit"):
        return f"git:{code['commit']}:{code.get('diff_sha256')}"
    if code.get("script_sha256"):
        return f"script:{code['script_sha256']}"
    return None


def same_code(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """True/False when both runs' code is identified the same way (commit, else script hash);
    None when that cannot be told (code not captured, or one in git and the other not)."""
    key_a, key_b = code_key(a), code_key(b)
    if key_a is None or key_b is None or key_a.split(":")[0] != key_b.split(":")[0]:
        return None
    return key_a == key_b


def run_predictions(stores: Stores, detail: dict[str, Any]) -> pd.DataFrame | None:
    """A run's dev predictions (``example_id``, ``label``, ``predicted`` as text), if stored."""
    found = [a for a in detail["artifacts"] if a["name"] == "predictions.parquet"]
    if not found:
        return None
    frame: pd.DataFrame = read_parquet_object(
        stores.objects, found[0]["sha256"], what=f"the predictions of run {detail['id'][:8]}"
    )
    dev = frame[frame["split"] == "dev"]
    return pd.DataFrame(
        {
            EXAMPLE_ID: dev[EXAMPLE_ID].astype(str).to_numpy(),
            "label": dev["label"].astype(str).to_numpy(),
            "predicted": dev["predicted"].astype(str).to_numpy(),
        }
    )


def eval_labels(stores: Stores, ref: str) -> tuple[pd.Series, str]:
    """The examples and labels of a pinned evaluation version: its dev split, or all of it when
    it has no split. A Series of labels (text) indexed by example id, and its description."""
    version = resolve_ref(stores, ref)
    label, split = version.roles.label, version.roles.split
    columns = [EXAMPLE_ID, label] + ([split] if split else [])
    frame = version.to_pandas(columns=columns)
    what = f"{version.ref} (all examples)"
    if split:
        frame = frame[frame[split] == "dev"]
        what = f"{version.ref} (dev split)"
        if frame.empty:
            raise InvalidInputError(
                f"{version.ref} has no dev examples to evaluate on",
                hint=f"Pick a version with a dev split: dcai data split {version.dataset}",
            )
    labels = pd.Series(
        frame[label].astype(str).to_numpy(), index=frame[EXAMPLE_ID].astype(str).to_numpy()
    )
    return labels, what


def hits(predictions: pd.DataFrame, labels: pd.Series) -> np.ndarray:
    """1.0 where the run predicted ``labels`` (indexed by example id), else 0.0."""
    predicted = predictions.set_index(EXAMPLE_ID)["predicted"].reindex(labels.index)
    out: np.ndarray = (predicted.to_numpy() == labels.to_numpy()).astype(float)
    return out


def missing_predictions(
    predictions: pd.DataFrame | None, labels: pd.Series, run_id: str, what: str
) -> None:
    """Refuse an evaluation set that a run has no dev predictions for, saying how many."""
    if predictions is None:
        raise InvalidInputError(
            f"run {run_id[:8]} stored no predictions, so it cannot be scored on {what}",
            hint="Retrain it with dcai train, which stores its dev predictions.",
        )
    lacking = int((~labels.index.isin(predictions[EXAMPLE_ID])).sum())
    if lacking:
        raise InvalidInputError(
            f"run {run_id[:8]} has no dev predictions for {lacking:,} of the {len(labels):,} "
            f"examples of {what}",
            hint="Evaluate on a version whose dev examples every run scored (or leave out --eval).",
        )


def paired_bootstrap(
    hit_a: np.ndarray, hit_b: np.ndarray, *, seed: int = 0, n_boot: int = N_BOOT
) -> dict[str, Any]:
    """Accuracy of b minus a on the same examples, with a 95 % paired bootstrap interval.

    The examples are resampled with replacement ``n_boot`` times (the same draw for both
    runs); the interval is the 2.5 and 97.5 percentiles of the mean difference (Efron &
    Tibshirani 1993, ch. 16). ``real`` when the interval excludes 0.
    """
    diff = np.asarray(hit_b, dtype=float) - np.asarray(hit_a, dtype=float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    reps = diff[draws].mean(axis=1)
    low, high = percentile_interval(reps, 0.95)
    return {
        "metric": "accuracy",
        "n_shared": len(diff),
        "difference": float(diff.mean()),
        "low": float(low),
        "high": float(high),
        "real": bool(low > 0 or high < 0),
    }


def _paired(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    newer: str,
    labels: pd.Series | None,
    labels_from: str,
    seed: int,
) -> dict[str, Any] | None:
    """b minus a on the examples both scored, against one set of labels (see the module)."""
    both = a.merge(b, on=EXAMPLE_ID, suffixes=("_a", "_b"))
    if labels is not None:
        both = both[both[EXAMPLE_ID].isin(labels.index)]
    if len(both) < MIN_SHARED:
        return None
    ids = both[EXAMPLE_ID].to_numpy()
    source = both[f"label_{newer}"] if labels is None else labels.reindex(ids)
    truth = source.to_numpy()
    result = paired_bootstrap(
        (both["predicted_a"].to_numpy() == truth).astype(float),
        (both["predicted_b"].to_numpy() == truth).astype(float),
        seed=seed,
    )
    result["labels_from"] = labels_from
    result["n_labels_differ"] = int((both["label_a"] != both["label_b"]).sum())
    return result


def _lineage_between(stores: Stores, a: str, b: str) -> list[str]:
    """The operations on the path from version ``a`` up to version ``b`` (b's ancestors)."""
    steps: list[str] = []
    node = resolve_ref(stores, b)
    target = resolve_ref(stores, a).id
    seen = 0
    while node.id != target and seen < 200:
        parents = node.parents
        count = node.params.get("annotations") or node.params.get("examples") or ""
        steps.append(
            f"{node.operation} ({node.ref}){': ' + str(count) if count else ''}: {node.message}"
        )
        if not parents:
            return []  # not an ancestor: the diff alone says what changed
        node = parents[0]
        seen += 1
    return list(reversed(steps))


def _code_pair(code_a: dict[str, Any], code_b: dict[str, Any]) -> dict[str, Any]:
    both_git = bool(code_a.get("commit")) and bool(code_b.get("commit"))
    fields = ("kind", "commit", "dirty", "diff_sha256", "script_sha256")
    return {
        # Outside git there is no commit to compare: None, not "the same".
        "same_commit": code_a.get("commit") == code_b.get("commit") if both_git else None,
        "same_diff": code_a.get("diff_sha256") == code_b.get("diff_sha256") if both_git else None,
        "same_script": None
        if not (code_a.get("script_sha256") and code_b.get("script_sha256"))
        else code_a.get("script_sha256") == code_b.get("script_sha256"),
        "same_code": same_code(code_a, code_b),
        "a": {k: code_a.get(k) for k in fields},
        "b": {k: code_b.get(k) for k in fields},
    }


def compare_runs(
    stores: Stores, keys: list[str], *, seed: int = 0, eval_ref: str | None = None
) -> dict[str, Any]:
    """Compare two or more runs (the first is the reference): JSON-ready.

    ``eval_ref`` pins the evaluation set (a dataset version: its dev split, or all of it);
    every run must have dev predictions for all its examples.
    """
    if len(keys) < 2:
        raise InvalidInputError(
            "give two or more runs to compare", hint="dcai runs compare RUN RUN"
        )
    from dcai.experiments.query import run_detail

    details = [run_detail(stores, k) for k in keys]
    ids = [d["id"][:8] for d in details]
    all_params = sorted(set().union(*(d["params"] for d in details)))
    params = {
        key: {i: d["params"].get(key) for i, d in zip(ids, details, strict=True)}
        for key in all_params
        if len({d["params"].get(key) for d in details}) > 1
    }
    all_metrics = sorted(set().union(*(d["metrics"] for d in details)))
    metrics = {
        key: {i: d["metrics"].get(key) for i, d in zip(ids, details, strict=True)}
        for key in all_metrics
    }
    predictions = [run_predictions(stores, d) for d in details]
    pinned: pd.Series | None = None
    pinned_what = ""
    if eval_ref is not None:
        pinned, pinned_what = eval_labels(stores, eval_ref)
        for detail, found in zip(details, predictions, strict=True):
            missing_predictions(found, pinned, detail["id"], pinned_what)
    reference = details[0]
    out: dict[str, Any] = {
        "runs": ids,
        "params": params,
        "metrics": metrics,
        "eval": pinned_what or None,
        "pairs": [],
    }
    for other, other_predictions in zip(details[1:], predictions[1:], strict=True):
        pair: dict[str, Any] = {"a": reference["id"][:8], "b": other["id"][:8]}
        pair["code"] = _code_pair(reference["code"], other["code"])
        data_a, data_b = reference["dataset"], other["dataset"]
        if data_a and data_b and data_a.split("@")[0] == data_b.split("@")[0]:
            diff = diff_versions(stores, data_a, data_b)
            pair["data"] = {
                **{
                    k: v
                    for k, v in diff.counts.items()
                    if k in ("added", "removed", "relabeled", "changed")
                },
                "lineage": _lineage_between(stores, data_a, data_b),
            }
        else:
            pair["data"] = None if data_a == data_b else {"note": "different datasets"}
        started_a, started_b = str(reference.get("started") or ""), str(other.get("started") or "")
        newer = "b" if started_b >= started_a else "a"
        newer_run = other if newer == "b" else reference
        labels_from = pinned_what or (
            f"run {newer_run['id'][:8]} ({newer_run['dataset']}), the newer run"
        )
        pair["paired"] = (
            None
            if predictions[0] is None or other_predictions is None
            else _paired(
                predictions[0],
                other_predictions,
                newer=newer,
                labels=pinned,
                labels_from=labels_from,
                seed=seed,
            )
        )
        out["pairs"].append(pair)
    return out
