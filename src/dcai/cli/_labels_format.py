"""JSON shapes of label results that only the CLI prints (``dcai labels ... --json``).

Kept out of the label workflows: how a result is laid out for a terminal user is the
interface's business, not the workflow's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from dcai.labels._conventions import ConventionReport

__all__ = ["convention_report_dict"]


def convention_report_dict(report: ConventionReport, *, groups: int = 50) -> dict[str, Any]:
    """A convention report as JSON: conventions, per-labeler usage, the largest groups, rules."""

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        parsed: list[dict[str, Any]] = json.loads(
            frame.to_json(orient="records", default_handler=str)
        )
        return parsed

    return {
        "conventions": records(report.conventions),
        "usage": records(report.usage),
        "groups": records(report.groups.head(groups)),
        "n_groups": len(report.groups),
        "rules": report.rules.to_dict(),
    }
