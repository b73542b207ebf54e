"""``ws.rules``: labeling rules measured on the workspace's dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcai._progress import ProgressCallback
    from dcai.rules.analysis_workflow import RulesReport
    from dcai.store import Stores

__all__ = ["RulesNamespace"]


class RulesNamespace:
    """Labeling rules (``ws.rules``); the rules themselves live in :mod:`dcai.rules`.

    >>> ws.rules
    <ws.rules of ...>
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.rules of {self._stores.path}>"

    def analyze(
        self,
        ref: str,
        rules_file: str | Path,
        *,
        split: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> RulesReport:
        """Each rule of ``rules_file`` against the version's labels, and the label model
        against majority vote on the test split (``dcai rules analyze``).

        >>> import pathlib, tempfile
        >>> rules_file = pathlib.Path(tempfile.mkdtemp()) / "digit_rules.py"
        >>> _ = rules_file.write_text(
        ...     "from dcai.rules import threshold\\n"
        ...     "hollow = threshold('px35', '<=', 1, label=0, name='hollow')\\n"
        ... )
        >>> report = ws.rules.analyze("digits", rules_file, split="dev")
        >>> report.table["rule"].tolist(), report.evaluated_on
        (['hollow'], 'dev split')
        """
        from dcai.rules.analysis_workflow import analyze_rules

        return analyze_rules(self._stores, ref, rules_file, split=split, progress=progress)
