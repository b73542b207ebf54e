"""``ws.deployments``: create and change deployments — canary, shadow, promote, rollback, mode."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcai._progress import ProgressCallback

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import pandas as pd

    from dcai.data.versions import DatasetVersion
    from dcai.deploy.batch import BatchResult
    from dcai.deploy.deployments import Deployment
    from dcai.deploy.ramp import RampEvent, RampResult
    from dcai.store import Stores

__all__ = ["DeploymentsNamespace"]


class DeploymentsNamespace:
    """Deployments of registered models (``ws.deployments``); every change is a revision.

    >>> import tempfile
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> ws.deployments.list()
    []
    >>> ws.close()

    :mod:`dcai.deploy.deployments` walks through a whole release (create, canary, promote,
    rollback).
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.deployments of {self._stores.path}>"

    def create(
        self,
        name: str,
        *,
        model: str,
        mode: str = "full",
        review_below: float | None = None,
        reason: str = "",
        author: str | None = None,
        trusted: Iterable[str] = (),
    ) -> Deployment:
        """Create deployment ``name`` serving ``model`` (``NAME``, ``NAME/3``, ``NAME@alias``,
        pinned to the version it names now).

        >>> ws.deployments.create("app", model="digits/2").primary
        'digits/2'
        """
        from dcai.deploy.deployments import create_deployment

        return create_deployment(
            self._stores,
            name,
            model=model,
            mode=mode,
            review_below=review_below,
            reason=reason,
            author=author,
            trusted=trusted,
        )

    def canary(
        self,
        name: str,
        *,
        model: str | None = None,
        percent: float,
        reason: str = "",
        author: str | None = None,
        trusted: Iterable[str] = (),
    ) -> Deployment:
        """Send ``percent`` of the traffic (sticky by routing key) to ``model``; without
        ``model``, change the live canary's percentage.

        >>> ws.deployments.canary("web", model="digits/2", percent=10).canary_percent
        10.0
        """
        from dcai.deploy.deployments import set_canary

        return set_canary(
            self._stores,
            name,
            model=model,
            percent=percent,
            reason=reason,
            author=author,
            trusted=trusted,
        )

    def ramp(
        self,
        name: str,
        *,
        model: str,
        steps: str | Sequence[float] = "5,25,50,100",
        every: str | float = "10m",
        guards: Iterable[str] = (),
        min_requests: int = 100,
        reason: str = "",
        author: str | None = None,
        trusted: Iterable[str] = (),
        on_event: Callable[[RampEvent], None] | None = None,
    ) -> RampResult:
        """Move ``model`` through canary ``steps`` (percent) of ``name``, each lasting ``every``
        (``"10m"`` or seconds), while every guard (``"error_rate<0.01"``, ``"latency_p95<0.1"``,
        ``"disagreement<0.2"``) holds on the canary's logged traffic; roll back on its own when
        one fails; promote after the last step (100). Blocks until it ends
        (:mod:`dcai.deploy.ramp`).

        Without traffic a step waits, so this example needs none of it: a bad step list is
        refused before anything changes.

        >>> from dcai.errors import InvalidInputError
        >>> try:
        ...     ws.deployments.ramp("web", model="digits/2", steps="50,10", every="1s")
        ... except InvalidInputError as exc:
        ...     print(exc.message)
        --steps '50,10' is not a list of increasing percentages in (0, 100]
        """
        from dcai.deploy.logs import parse_duration
        from dcai.deploy.ramp import parse_guard, parse_steps, run_ramp

        return run_ramp(
            self._stores,
            name,
            model=model,
            steps=parse_steps(steps),
            every=parse_duration(every) if isinstance(every, str) else float(every),
            guards=[parse_guard(g) for g in guards],
            min_requests=min_requests,
            reason=reason,
            author=author,
            trusted=trusted,
            on_event=on_event,
        )

    def shadow(
        self,
        name: str,
        *,
        model: str | None,
        reason: str = "",
        author: str | None = None,
        trusted: Iterable[str] = (),
    ) -> Deployment:
        """Run ``model`` on every request off the response path (logged, never returned);
        ``model=None`` stops it.

        >>> ws.deployments.shadow("web", model="digits/2").shadow
        'digits/2'
        """
        from dcai.deploy.deployments import set_shadow

        return set_shadow(
            self._stores, name, model=model, reason=reason, author=author, trusted=trusted
        )

    def promote(self, name: str, *, reason: str = "", author: str | None = None) -> Deployment:
        """The canary (else the shadow) becomes the primary for all traffic, atomically.

        >>> _ = ws.deployments.canary("web", model="digits/2", percent=10)
        >>> ws.deployments.promote("web").primary
        'digits/2'
        """
        from dcai.deploy.deployments import promote

        return promote(self._stores, name, reason=reason, author=author)

    def rollback(
        self, name: str, *, to: int | None = None, reason: str = "", author: str | None = None
    ) -> Deployment:
        """Return to the routing before the live one (or, with ``to``, to that revision's
        routing), as a new revision.

        >>> _ = ws.deployments.set_mode("web", mode="assist")
        >>> ws.deployments.rollback("web").mode
        'full'
        """
        from dcai.deploy.deployments import rollback

        return rollback(self._stores, name, to=to, reason=reason, author=author)

    def set_mode(
        self,
        name: str,
        *,
        mode: str,
        review_below: float | None = None,
        reason: str = "",
        author: str | None = None,
    ) -> Deployment:
        """Set the degree of automation: ``full``, ``partial`` (needs ``review_below``),
        ``assist`` or ``shadow``.

        >>> ws.deployments.set_mode("web", mode="partial", review_below=0.8).review_below
        0.8
        """
        from dcai.deploy.deployments import set_mode

        return set_mode(
            self._stores, name, mode=mode, review_below=review_below, reason=reason, author=author
        )

    def get(self, name: str) -> Deployment:
        """A deployment's live routing and its history.

        >>> ws.deployments.get("web").primary
        'digits/1'
        """
        from dcai.deploy.deployments import get_deployment

        return get_deployment(self._stores, name)

    def list(self) -> list[Deployment]:
        """Every deployment, by name.

        >>> [d.name for d in ws.deployments.list()]
        ['web']
        """
        from dcai.deploy.deployments import list_deployments

        return list_deployments(self._stores)

    def logs(self, name: str, *, since: str | None = None, limit: int | None = 100) -> pd.DataFrame:
        """Logged predictions of deployment ``name``, newest first, with feedback joined
        (``since``: ``30m``, ``1h``, ``2d`` or an ISO date).

        >>> len(ws.deployments.logs("web"))
        0
        """
        from dcai.deploy.logs import read_log

        return read_log(self._stores, name, since=since, limit=limit)

    def feedback(
        self,
        name: str,
        request_id: str,
        *,
        index: int = 0,
        label: Any = None,
        outcome: str | None = None,
    ) -> None:
        """Record ground truth (``label``) or an ``outcome`` for one logged prediction, as
        ``POST /v1/deployments/{name}/feedback`` does.

        >>> import tempfile
        >>> _ = ws.deployments.predict_batch("digits/1", "digits", tempfile.mkdtemp() + "/p.parquet", deployment="web")
        >>> request_id = ws.deployments.logs("web", limit=1)["request_id"].iloc[0]
        >>> ws.deployments.feedback("web", request_id, label=3)
        >>> int(ws.deployments.logs("web", limit=None)["feedback_label"].notna().sum())
        1
        """
        from dcai.deploy.logs import record_feedback

        record_feedback(self._stores, name, request_id, index=index, label=label, outcome=outcome)

    def to_dataset(
        self,
        name: str,
        *,
        dataset: str | None = None,
        since: str | None = None,
        only_labeled: bool = False,
        sample: str | None = None,
        message: str = "",
        author: str | None = None,
    ) -> DatasetVersion:
        """Commit the logged production rows of deployment ``name`` as the next version of
        ``dataset`` (default: the deployment's name); feedback labels become its labels.

        >>> import tempfile
        >>> _ = ws.deployments.predict_batch("digits/1", "digits", tempfile.mkdtemp() + "/p.parquet", deployment="web")
        >>> ws.deployments.to_dataset("web", dataset="production-rows").rows
        300
        """
        from dcai.deploy.logs import log_to_dataset

        return log_to_dataset(
            self._stores,
            name,
            name=dataset or name,
            since=since,
            only_labeled=only_labeled,
            sample=sample,
            message=message,
            author=author,
        )

    def predict_batch(
        self,
        model: str,
        source: str | Path,
        out: str | Path,
        *,
        deployment: str | None = None,
        chunk_rows: int = 50_000,
        log: bool = True,
        force: bool = False,
        progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Answer every row of a file or dataset version with a registered model; write a
        Parquet file; log the rows with route ``batch`` (``dcai predict``).

        >>> import tempfile
        >>> ws.deployments.predict_batch("digits/1", "digits", tempfile.mkdtemp() + "/p.parquet").rows
        300
        """
        from dcai.deploy.batch import predict_batch

        return predict_batch(
            self._stores,
            model,
            source,
            out,
            deployment=deployment,
            chunk_rows=chunk_rows,
            log=log,
            force=force,
            progress=progress,
        )

    def review_queue(
        self, name: str, *, limit: int | None = 50, since: str | None = None
    ) -> pd.DataFrame:
        """Answers of deployment ``name`` waiting for a person, oldest first.

        >>> len(ws.deployments.review_queue("web"))
        0
        """
        from dcai.deploy.logs import review_queue

        return review_queue(self._stores, name, limit=limit, since=since)

    def decide(
        self, name: str, item: str, *, label: Any = None, accept: bool = False
    ) -> dict[str, Any]:
        """Decide a queued answer (``REQUEST_ID:INDEX``): correct it with ``label`` or confirm
        it with ``accept=True``; stored as feedback from review.

        >>> import tempfile
        >>> _ = ws.deployments.predict_batch("digits/1", "digits", tempfile.mkdtemp() + "/p.parquet", deployment="web")
        >>> request_id = ws.deployments.logs("web", limit=1)["request_id"].iloc[0]
        >>> ws.deployments.decide("web", request_id + ":0", accept=True)["accepted"]
        True
        """
        from dcai.deploy.logs import decide

        return decide(self._stores, name, item, label=label, accept=accept)
