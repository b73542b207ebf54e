"""``ws.project``: the project's targets and baselines (``dcai.toml``), and its status."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcai.project._targets import Baseline, Target
    from dcai.project.status_workflow import ProjectStatus
    from dcai.store import Stores

__all__ = ["ProjectNamespace"]


class ProjectNamespace:
    """Scope and status (``ws.project``): ``dcai scope`` and ``dcai status``.

    >>> ws.project
    <ws.project of ...>
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.project of {self._stores.path}>"

    def target(self, metric: str, text: str) -> Target:
        """Set the target of ``metric`` (``"OP VALUE"``, e.g. ``">= 0.9"``) in ``dcai.toml``.

        >>> ws.project.target("accuracy", ">= 0.9").text
        '>= 0.9'
        """
        from dcai.project.scope_file import set_target

        return set_target(self._stores.path, metric, text)

    def baseline(
        self, name: str, value: float, *, source: str, metric: str | None = None
    ) -> Baseline:
        """Keep a baseline: ``value`` of ``metric`` (default: the only target's) and where it
        comes from.

        >>> ws.project.baseline("old_system", 0.82, source="rules engine", metric="accuracy").value
        0.82
        """
        from dcai.project.scope_file import set_baseline

        return set_baseline(self._stores.path, name, value, source=source, metric=metric)

    def targets(self) -> tuple[list[Target], list[Baseline]]:
        """The targets and baselines ``dcai.toml`` holds.

        >>> ws.project.targets()
        ([], [])
        """
        from dcai.project.scope_file import read_scope

        return read_scope(self._stores.path)

    def status(self) -> ProjectStatus:
        """Each target beside its newest measured value, and the next action (``dcai status``).

        >>> _ = ws.project.target("accuracy", ">= 0.5")
        >>> status = ws.project.status()
        >>> row = status.targets[0]
        >>> row.metric, row.met, row.source.startswith("run ")
        ('accuracy', True, True)
        """
        from dcai.project.status_workflow import project_status

        return project_status(self._stores)
