"""``ws.analysis``: error analysis of a version — metrics by slice, discovered slices, priorities, learning curve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dcai._progress import ProgressCallback

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dcai.analysis.workflow import ErrorAnalysis
    from dcai.store import Stores

__all__ = ["AnalysisNamespace"]


class AnalysisNamespace:
    """Error analysis (``ws.analysis``); :func:`dcai.analysis.workflow.analyze` documents every option.

    >>> import tempfile
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> ws.analysis
    <ws.analysis of ...>
    >>> ws.close()
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.analysis of {self._stores.path}>"

    def analyze(
        self,
        ref: str,
        *,
        audit: str | None = None,
        split: str | None = None,
        by: Sequence[str] = (),
        slices: Sequence[str] = (),
        baselines: Mapping[str, float] | str | Path | None = None,
        metric: str = "accuracy",
        discover: bool = True,
        curves: bool = True,
        requirements: str | Path | None = None,
        baseline_version: str | None = None,
        run: str | None = None,
        hlp: str | int | None = None,
        n_boot: int = 1000,
        repeats: int = 3,
        random_state: int = 0,
        store: bool = True,
        progress: ProgressCallback | None = None,
    ) -> ErrorAnalysis:
        """Error analysis of a version: metrics, slices, priorities, learning curve, clean vs
        collect (see :func:`dcai.analysis.workflow.analyze` for every option).

        >>> ws.analysis.analyze("digits", curves=False, discover=False, n_boot=50).ref == ws.data.version("digits").ref
        True
        """
        from dcai.analysis.workflow import analyze

        return analyze(
            self._stores,
            ref,
            audit=audit,
            split=split,
            by=by,
            slices=slices,
            baselines=baselines,
            metric=metric,
            discover=discover,
            curves=curves,
            requirements=requirements,
            baseline_version=baseline_version,
            run=run,
            hlp=hlp,
            n_boot=n_boot,
            repeats=repeats,
            random_state=random_state,
            store=store,
            progress=progress,
        )
