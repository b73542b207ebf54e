"""``ws.monitor``: monitoring windows of a deployment's log, their stored series, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from dcai.monitor.deployment import MonitorReport
    from dcai.monitor.retrain import RetrainResult
    from dcai.store import Stores

__all__ = ["MonitorNamespace"]


class MonitorNamespace:
    """Monitor deployments (``ws.monitor(NAME)``); see :mod:`dcai.monitor.deployment`.

    >>> ws.monitor
    <ws.monitor of ...>
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.monitor of {self._stores.path}>"

    def __call__(
        self,
        name: str,
        *,
        window: str | None = None,
        every: int | None = None,
        since: str | None = None,
        store: bool = True,
        now: datetime | None = None,
    ) -> MonitorReport:
        """Measure deployment ``name``'s logged traffic per window (``window="1h"``, or
        ``every=N`` requests; default ``[monitor] window`` of ``dcai.toml``, else 1 h), keep the
        windows, judge the alert rules (``dcai monitor``).

        >>> report = ws.monitor("web", window="1h")
        >>> report.reference, len(report.windows)  # nothing logged yet
        ('digits/1', 0)
        """
        from dcai.monitor.deployment import monitor_deployment

        return monitor_deployment(
            self._stores, name, window=window, every=every, since=since, store=store, now=now
        )

    def windows(
        self, name: str, *, window: str | None = None, every: int | None = None
    ) -> pd.DataFrame:
        """The stored windows of ``name`` for one window size, oldest first.

        >>> ws.monitor.windows("web", window="1h").empty
        True
        """
        from dcai.monitor.deployment import _spec, monitor_settings, stored_windows

        spec, _ = _spec(window, every, monitor_settings(self._stores).get("window"))
        return stored_windows(self._stores, name, spec)

    def retrain(
        self,
        name: str,
        *,
        canary: float | None = None,
        since: str | None = None,
        holdout: str | None = None,
        reason: str = "",
        author: str | None = None,
    ) -> RetrainResult:
        """Retrain ``name``'s primary on its training data plus the labelled production rows,
        register and compare the candidate, optionally canary it (``dcai retrain``; see
        :mod:`dcai.monitor.retrain`).

        >>> ws.monitor.retrain("web")  # nothing labelled in production yet
        Traceback (most recent call last):
        ...
        dcai.errors.InvalidInputError: no logged prediction of 'web' has a feedback label yet...
        """
        from dcai.monitor.retrain import retrain

        return retrain(
            self._stores,
            name,
            canary=canary,
            since=since,
            holdout=holdout,
            reason=reason,
            author=author,
        )
