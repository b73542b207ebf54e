"""``dcai runs compare``: what differs between runs — parameters, metrics, code and data.

Metrics are shown side by side; when two runs scored the same dev examples (both stored
``predictions.parquet``), the accuracy difference gets a paired bootstrap interval over those
examples (Efron & Tibshirani 1993, ch. 16) and is called *real* when the interval excludes 0.
The data difference between their dataset versions is :meth:`dcai.Workspace.diff` plus the
lineage steps that lead from one version to the other (e.g. "review: 41 labels fixed").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.errors import InvalidInputError
from dcai.store import read_parquet_object

if TYPE_CHECKING:
    from dcai.workspace import Workspace

__all__ = ["compare_runs"]

N_BOOT = 2000


def _predictions(ws: Workspace, detail: dict[str, Any]) -> pd.DataFrame | None:
    found = [a for a in detail["artifacts"] if a["name"] == "predictions.parquet"]
    if not found:
        return None
    frame: pd.DataFrame = read_parquet_object(
        ws.objects, found[0]["sha256"], what=f"the predictions of run {detail['id'][:8]}"
    )
    return frame[frame["split"] == "dev"]


def _paired(a: pd.DataFrame, b: pd.DataFrame, seed: int) -> dict[str, Any] | None:
    """Accuracy of b minus a on the dev examples both scored (same labels), with an interval."""
    both = a.merge(b, on=EXAMPLE_ID, suffixes=("_a", "_b"))
    both = both[both["label_a"] == both["label_b"]]
    if len(both) < 10:
        return None
    hit_a = (both["predicted_a"] == both["label_a"]).to_numpy(dtype=float)
    hit_b = (both["predicted_b"] == both["label_b"]).to_numpy(dtype=float)
    diff = hit_b - hit_a
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diff), size=(N_BOOT, len(diff)))
    reps = diff[draws].mean(axis=1)
    low, high = np.quantile(reps, [0.025, 0.975])
    return {
        "metric": "accuracy",
        "n_shared": len(both),
        "difference": float(diff.mean()),
        "low": float(low),
        "high": float(high),
        "real": bool(low > 0 or high < 0),
    }


def _lineage_between(ws: Workspace, a: str, b: str) -> list[str]:
    """The operations on the path from version ``a`` up to version ``b`` (b's ancestors)."""
    steps: list[str] = []
    node = ws.dataset(b)
    target = ws.dataset(a).id
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


def compare_runs(ws: Workspace, keys: list[str], *, seed: int = 0) -> dict[str, Any]:
    """Compare two or more runs (the first is the reference): JSON-ready."""
    if len(keys) < 2:
        raise InvalidInputError(
            "give two or more runs to compare", hint="dcai runs compare RUN RUN"
        )
    details = [ws.run(k) for k in keys]
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
    reference = details[0]
    out: dict[str, Any] = {"runs": ids, "params": params, "metrics": metrics, "pairs": []}
    ref_predictions = _predictions(ws, reference)
    for other in details[1:]:
        pair: dict[str, Any] = {"a": reference["id"][:8], "b": other["id"][:8]}
        code_a, code_b = reference["code"], other["code"]
        pair["code"] = {
            "same_commit": code_a.get("commit") == code_b.get("commit"),
            "same_diff": code_a.get("diff_sha256") == code_b.get("diff_sha256"),
            "a": {k: code_a.get(k) for k in ("commit", "dirty", "diff_sha256")},
            "b": {k: code_b.get(k) for k in ("commit", "dirty", "diff_sha256")},
        }
        data_a, data_b = reference["dataset"], other["dataset"]
        if data_a and data_b and data_a.split("@")[0] == data_b.split("@")[0]:
            diff = ws.diff(data_a, data_b)
            pair["data"] = {
                **{
                    k: v
                    for k, v in diff.counts.items()
                    if k in ("added", "removed", "relabeled", "changed")
                },
                "lineage": _lineage_between(ws, data_a, data_b),
            }
        else:
            pair["data"] = None if data_a == data_b else {"note": "different datasets"}
        other_predictions = _predictions(ws, other)
        pair["paired"] = (
            None
            if ref_predictions is None or other_predictions is None
            else _paired(ref_predictions, other_predictions, seed)
        )
        out["pairs"].append(pair)
    return out
