"""What a server serves right now: one immutable snapshot of every deployment, swapped whole.

A background thread polls one integer — the newest deployment revision id — every
``poll_interval`` seconds. When it moves, the new routing is built *beside* the live snapshot
(models loaded off the request path, each pinned version loaded once and cached), then the
snapshot reference is replaced in one assignment. A request reads the reference once at its
start, so an in-flight request finishes on the routing it started with, and no request ever
waits for a model to load. A deployment whose new routing fails to load keeps serving its old
snapshot, and the error is logged and shown on ``/readyz``; the load is tried again after
``RETRY_SECONDS`` (doubling up to ``MAX_RETRY_SECONDS``), so a model whose object store was
briefly away is served without another change.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dcai.deploy import ExactSplit
from dcai.deploy._models import LoadedModel, load_pinned
from dcai.deploy._privacy import Redactor, redactor_for
from dcai.serve._inputs import RequestParser

if TYPE_CHECKING:
    from dcai.deploy.deployments import Deployment
    from dcai.store import Stores

__all__ = ["Live", "LoadedModel", "Snapshot", "SnapshotSource"]

logger = logging.getLogger(__name__)

#: First wait before a failed load is tried again; doubles up to :data:`MAX_RETRY_SECONDS`.
RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0


@dataclass
class Live:
    """One deployment as served: its routing, loaded models, request parser and splitter."""

    deployment: Deployment
    primary: LoadedModel
    canary: LoadedModel | None
    shadow: LoadedModel | None
    parser: RequestParser
    split: ExactSplit = field(default_factory=ExactSplit)
    #: Hashes or drops the inputs marked sensitive before they are logged.
    redact: Redactor = field(default_factory=lambda: Redactor(frozenset(), "hash", b""))


@dataclass(frozen=True)
class Snapshot:
    """Every deployment's :class:`Live`, as of revision id ``revision_id``."""

    revision_id: int
    deployments: dict[str, Live]
    errors: dict[str, str]


class SnapshotSource:
    """Builds snapshots from the workspace and keeps the newest one current."""

    def __init__(
        self,
        stores: Stores,
        *,
        poll_interval: float = 0.25,
        max_rows: int = 10_000,
        trusted: tuple[str, ...] = (),
    ) -> None:
        self.stores = stores
        self.poll_interval = poll_interval
        self.max_rows = max_rows
        self.trusted = trusted
        self._models: dict[str, LoadedModel] = {}
        self.snapshot = Snapshot(0, {}, {})
        self._seen: int | None = None
        self._retry_at = 0.0
        self._retry_wait = RETRY_SECONDS
        self._stop = threading.Event()
        self._refreshing = threading.Lock()
        self._thread: threading.Thread | None = None
        self.refresh()

    def _model(self, ref: str) -> LoadedModel:
        cached = self._models.get(ref)
        if cached is None:
            cached = load_pinned(self.stores, ref, trusted=self.trusted)
            self._models[ref] = cached
        return cached

    def _live(self, deployment: Deployment, previous: Live | None) -> Live:
        primary = self._model(deployment.primary)
        canary = self._model(deployment.canary) if deployment.canary else None
        shadow = self._model(deployment.shadow) if deployment.shadow else None
        parser = (
            previous.parser
            if previous is not None and previous.primary.ref == primary.ref
            else RequestParser(deployment.name, primary.inputs, max_rows=self.max_rows)
        )
        split = previous.split if previous is not None else ExactSplit()
        redact = redactor_for(self.stores, (primary, canary, shadow))
        return Live(deployment, primary, canary, shadow, parser, split, redact)

    def refresh(self) -> bool:
        """Rebuild the snapshot if any deployment changed; True when it was replaced.

        Called by the poller and by the admin routes (a change made here is served at once);
        one refresh runs at a time.
        """
        with self._refreshing:
            return self._refresh()

    def _refresh(self) -> bool:
        from dcai.deploy.deployments import list_deployments, live_revision_id

        revision_id = live_revision_id(self.stores)
        retry = bool(self.snapshot.errors) and time.monotonic() >= self._retry_at
        if revision_id == self._seen and not retry:
            return False
        current = self.snapshot
        deployments: dict[str, Live] = {}
        errors: dict[str, str] = {}
        for deployment in list_deployments(self.stores):
            previous = current.deployments.get(deployment.name)
            if previous is not None and previous.deployment.revision == deployment.revision:
                deployments[deployment.name] = previous
                continue
            try:
                deployments[deployment.name] = self._live(deployment, previous)
            except Exception as exc:  # a model that fails to load: keep the old routing
                message = f"revision {deployment.revision} not served: {exc}"
                logger.error("deployment %s: %s", deployment.name, message)
                errors[deployment.name] = message
                if previous is not None:
                    deployments[deployment.name] = previous
        if errors:
            self._retry_wait = self._retry_wait * 2 if retry else RETRY_SECONDS
            self._retry_wait = min(self._retry_wait, MAX_RETRY_SECONDS)
            self._retry_at = time.monotonic() + self._retry_wait
        changed = revision_id != self._seen or errors != current.errors
        self.snapshot = Snapshot(revision_id, deployments, errors)
        self._seen = revision_id
        return changed

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception:  # the database is busy or away: keep serving, retry
                logger.exception("could not refresh the deployments")

    def start(self) -> None:
        """Poll for changes in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="dcai-deployments", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
