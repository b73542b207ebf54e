"""The data-centric view: the same recipe, parameters and code on successive dataset versions.

One row per dataset version, in lineage order, with the metric of the newest finished run on it,
its change from the previous row and the operation that made the version — the table that says
"cleaning labels: +2.1 points; adding 300 examples of slice X: +0.4". Runs count as comparable
when their parameters (the recipe included) and their code (commit and diff hash) equal those of
the newest run of the recipe; the others are left out and counted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from dcai.errors import InvalidInputError, UnknownRefError

if TYPE_CHECKING:
    from dcai.workspace import Workspace

__all__ = ["data_view"]


def data_view(
    ws: Workspace, *, recipe: str, dataset: str | None = None, metric: str = "accuracy"
) -> dict[str, Any]:
    """``{"recipe", "metric", "rows": [...], "left_out": n}``; rows have ``dataset``, ``seq``,
    ``operation``, ``message``, ``run``, ``metric``, ``change``."""
    where = f"params.recipe = '{recipe}' and status = 'FINISHED'"
    runs = ws.runs(where=where)
    if dataset is not None and not runs.empty:
        runs = runs[runs["dataset"].str.startswith(f"{dataset}@")]
    if runs.empty:
        raise UnknownRefError(
            f"no finished runs of recipe {recipe!r}" + (f" on {dataset}" if dataset else ""),
            hint=f"Train some: dcai train {dataset or 'REF'} --recipe {recipe}",
        )
    column = f"metrics.{metric}"
    if column not in runs.columns:
        raise InvalidInputError(
            f"the runs of recipe {recipe!r} have no metric {metric!r}",
            hint="Pick one of: "
            + ", ".join(
                c.removeprefix("metrics.") for c in runs.columns if c.startswith("metrics.")
            ),
        )
    details = {run_id: ws.run(run_id) for run_id in runs["run"]}

    def key(run_id: str) -> tuple[str, str]:
        detail = details[run_id]
        code = detail["code"]
        return (
            json.dumps(detail["params"], sort_keys=True),
            f"{code.get('commit')}:{code.get('diff_sha256')}",
        )

    reference = key(runs["run"].iloc[0])  # the newest run sets what "the same" means
    same = runs[[key(r) == reference for r in runs["run"]]]
    rows = []
    for ref, group in same.groupby("dataset", sort=False):
        newest = group.iloc[0]
        version = ws.dataset(ref)
        rows.append(
            {
                "dataset": ref,
                "seq": version.seq,
                "operation": version.operation,
                "message": version.message,
                "run": newest["run"],
                "metric": float(newest[column]) if pd.notna(newest[column]) else None,
            }
        )
    rows.sort(key=lambda r: (r["dataset"].split("@")[0], r["seq"]))
    previous: float | None = None
    for row in rows:
        value = row["metric"]
        row["change"] = None if previous is None or value is None else value - previous
        previous = value if value is not None else previous
    return {
        "recipe": recipe,
        "metric": metric,
        "params": json.loads(reference[0]),
        "rows": rows,
        "left_out": int(len(runs) - len(same)),
    }
