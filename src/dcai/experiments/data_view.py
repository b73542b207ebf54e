"""The data-centric view: the same recipe, parameters and code on successive dataset versions.

One row per dataset version, in lineage order, with the newest finished run on it, the operation
that made the version, and the run's accuracy — the table that says "cleaning labels: +2.1
points; adding 300 examples of slice X: +0.4". Runs count as comparable when their parameters
(the recipe included) and their code (commit and diff hash in git, else the entry script's
SHA-256) equal those of the newest run of the recipe; the others are left out and counted.

Like with like: every row is scored on ONE evaluation set with ONE set of labels, so that a
change between rows is the model's and not the dev set's. By default that set is the dev
examples present in every version of the view, with the labels of the newest version; a pinned
``eval_ref`` (a version: its dev split, or all of it without a split) replaces it. Each step's
change is the paired difference on that set with a 95 % paired bootstrap interval
(:func:`dcai.experiments.compare.paired_bootstrap`, the method of ``dcai runs compare``), called
*real* when the interval excludes 0. When the dev set itself changed between two versions, the
row says by how much (examples added to, removed from and relabelled in dev). The metric each
run logged on its own dev set stays in ``own_metric``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import resolve_ref
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.experiments.compare import (
    MIN_SHARED,
    code_key,
    eval_labels,
    hits,
    missing_predictions,
    paired_bootstrap,
    run_predictions,
)

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["data_view"]


def _dev_labels(stores: Stores, ref: str) -> pd.Series:
    """A version's dev labels (text) by example id; every example when it has no split."""
    version = resolve_ref(stores, ref)
    label, split = version.roles.label, version.roles.split
    frame = version.to_pandas(columns=[EXAMPLE_ID, label] + ([split] if split else []))
    if split:
        frame = frame[frame[split] == "dev"]
    return pd.Series(
        frame[label].astype(str).to_numpy(), index=frame[EXAMPLE_ID].astype(str).to_numpy()
    )


def _dev_change(before: pd.Series, after: pd.Series) -> dict[str, int]:
    shared = before.index.intersection(after.index)
    return {
        "added": int((~after.index.isin(before.index)).sum()),
        "removed": int((~before.index.isin(after.index)).sum()),
        "relabelled": int((before.reindex(shared) != after.reindex(shared)).sum()),
    }


def data_view(
    stores: Stores,
    *,
    recipe: str,
    dataset: str | None = None,
    metric: str = "accuracy",
    eval_ref: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"recipe", "metric", "params", "eval", "rows": [...], "left_out": n}``.

    Rows have ``dataset``, ``seq``, ``operation``, ``message``, ``run``, ``metric`` (accuracy
    on the evaluation set), ``own_metric`` (what the run logged on its own dev set), ``change``
    with ``low``, ``high`` and ``real`` (paired bootstrap against the previous row), and
    ``dev_change`` (added/removed/relabelled dev examples since the previous row).
    """
    if metric != "accuracy":
        raise InvalidInputError(
            f"the data-centric view scores every version on one evaluation set, with accuracy; "
            f"got --metric {metric}",
            hint="Leave out --metric (or compare other metrics with dcai runs list).",
        )
    where = f"params.recipe = '{recipe}' and status = 'FINISHED'"
    from dcai.experiments.query import list_runs, run_detail

    runs = list_runs(stores, where=where)
    if dataset is not None and not runs.empty:
        runs = runs[runs["dataset"].str.startswith(f"{dataset}@")]
    if runs.empty:
        raise UnknownRefError(
            f"no finished runs of recipe {recipe!r}" + (f" on {dataset}" if dataset else ""),
            hint=f"Train some: dcai train {dataset or 'REF'} --recipe {recipe}",
        )
    column = f"metrics.{metric}"
    details = {run_id: run_detail(stores, run_id) for run_id in runs["run"]}

    def key(run_id: str) -> tuple[str, str]:
        detail = details[run_id]
        return json.dumps(detail["params"], sort_keys=True), str(code_key(detail["code"]))

    reference = key(runs["run"].iloc[0])  # the newest run sets what "the same" means
    same = runs[[key(r) == reference for r in runs["run"]]]
    rows = []
    for ref, group in same.groupby("dataset", sort=False):
        newest = group.iloc[0]
        version = resolve_ref(stores, ref)
        own = newest[column] if column in newest.index else None
        rows.append(
            {
                "dataset": ref,
                "seq": version.seq,
                "operation": version.operation,
                "message": version.message,
                "run": newest["run"],
                "own_metric": float(own) if own is not None and pd.notna(own) else None,
            }
        )
    rows.sort(key=lambda r: (r["dataset"].split("@")[0], r["seq"]))

    dev = {row["dataset"]: _dev_labels(stores, row["dataset"]) for row in rows}
    if eval_ref is not None:
        labels, what = eval_labels(stores, eval_ref)
    else:
        common = rows[-1]["dataset"]
        index = dev[common].index
        for row in rows[:-1]:
            index = index[index.isin(dev[row["dataset"]].index)]
        labels = dev[common].reindex(index)
        what = (
            f"the {len(labels):,} dev examples present in all {len(rows)} versions, "
            f"with the labels of {common}"
        )
    scored: list[Any] = []
    for row in rows:
        found = run_predictions(stores, details[row["run"]])
        if eval_ref is not None:
            missing_predictions(found, labels, row["run"], what)
        elif found is not None:
            lacking = int((~labels.index.isin(found[EXAMPLE_ID])).sum())
            found = None if lacking else found
        hit = None if found is None or not len(labels) else hits(found, labels)
        scored.append(hit)
        row["n_eval"] = len(labels) if hit is not None else 0
        row["metric"] = None if hit is None else float(hit.mean())

    previous: int | None = None
    for i, row in enumerate(rows):
        row.update(change=None, low=None, high=None, real=None, dev_change=None)
        if i:
            before, after = dev[rows[i - 1]["dataset"]], dev[row["dataset"]]
            change = _dev_change(before, after)
            row["dev_change"] = change if any(change.values()) else None
        if scored[i] is None:
            continue
        if previous is not None and len(labels) >= MIN_SHARED:
            paired = paired_bootstrap(scored[previous], scored[i], seed=seed)
            row.update(
                change=paired["difference"],
                low=paired["low"],
                high=paired["high"],
                real=paired["real"],
            )
        previous = i
    return {
        "recipe": recipe,
        "metric": metric,
        "params": json.loads(reference[0]),
        "eval": {"examples": what, "n": len(labels), "ref": eval_ref},
        "rows": rows,
        "left_out": int(len(runs) - len(same)),
    }
