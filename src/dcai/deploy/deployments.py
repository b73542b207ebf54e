"""Deployments: an endpoint's routing — primary, canary with its percentage, shadow, degree of
automation — kept as an append-only history of revisions.

Every change (create, canary, shadow, promote, rollback, set, ramp) writes revision ``n + 1``
holding the *whole* routing, in one transaction; the newest revision is live. Nothing is ever
updated in place, so ``show`` can print the history, a server can tell that something changed
from one integer, and a rollback is one more revision that restores an earlier routing.

Models are pinned by version (``digits/3``), never by alias: moving ``digits@production`` later
does not change what a deployment serves until someone changes the deployment. A change is
refused — and the live revision keeps serving — unless every model it names loads (hash and
trusted types checked, as :meth:`Workspace.load_model` does) and takes no input column that the
primary does not (requests are checked against the primary's training features).

Degrees of automation (``mode``): ``full`` — the model answers; ``partial`` — answers below the
``review_below`` confidence are flagged ``needs_review`` and queued for a person; ``assist`` —
every answer is a suggestion for a person to confirm; ``shadow`` — human only: the model's
output is logged, not acted on.

>>> import tempfile, dcai
>>> from dcai.demo import digits_frame
>>> ws = dcai.Workspace.init(tempfile.mkdtemp())
>>> _ = ws.data.add("digits", digits_frame().head(300), label="label")
>>> _ = ws.data.split("digits", dev=0.2, test=0.0, seed=0)
>>> for C in (1.0, 0.1):
...     run = ws.runs.train("digits", params={"C": C}, n_boot=0, capture_code=False).run
...     _ = ws.models.register(run, name="digits")
>>> ws.deployments.create("web", model="digits/1").revision
1
>>> ws.deployments.canary("web", model="digits/2", percent=10).canary
'digits/2'
>>> d = ws.deployments.promote("web")
>>> d.primary, d.canary, d.revision
('digits/2', None, 3)
>>> ws.deployments.rollback("web").primary
'digits/1'
>>> ws.close()
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import Connection, func, select

from dcai._provenance import current_author, now_iso
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import schema as t

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dcai.experiments.registry import ModelVersion
    from dcai.store import Stores

__all__ = [
    "ACTIONS",
    "MODES",
    "Deployment",
    "Mode",
    "Revision",
    "check_deployment_name",
    "create_deployment",
    "get_deployment",
    "list_deployments",
    "live_revision_id",
    "promote",
    "rollback",
    "set_canary",
    "set_mode",
    "set_shadow",
]

Mode = Literal["full", "partial", "assist", "shadow"]
MODES: tuple[str, ...] = get_args(Mode)
Action = Literal["create", "canary", "shadow", "promote", "rollback", "set", "ramp"]
ACTIONS: tuple[str, ...] = get_args(Action)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class Revision:
    """One revision of a deployment: the whole routing after one change."""

    revision: int
    action: str
    primary: str
    canary: str | None
    canary_percent: float
    shadow: str | None
    mode: str
    review_below: float | None
    parent_revision: int | None
    reason: str
    author: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "action": self.action,
            "primary": self.primary,
            "canary": self.canary,
            "canary_percent": self.canary_percent,
            "shadow": self.shadow,
            "mode": self.mode,
            "review_below": self.review_below,
            "parent_revision": self.parent_revision,
            "reason": self.reason,
            "author": self.author,
            "at": self.created_at,
        }


@dataclass(frozen=True)
class Deployment:
    """A deployment as its live revision says, with the history (oldest first)."""

    name: str
    created_at: str
    created_by: str
    live: Revision
    history: tuple[Revision, ...] = field(repr=False)

    @property
    def revision(self) -> int:
        return self.live.revision

    @property
    def primary(self) -> str:
        return self.live.primary

    @property
    def canary(self) -> str | None:
        return self.live.canary

    @property
    def canary_percent(self) -> float:
        return self.live.canary_percent

    @property
    def shadow(self) -> str | None:
        return self.live.shadow

    @property
    def mode(self) -> str:
        return self.live.mode

    @property
    def review_below(self) -> float | None:
        return self.live.review_below

    def to_dict(self, *, history: bool = True) -> dict[str, Any]:
        """What ``dcai deploy show --json`` prints."""
        live = self.live
        out: dict[str, Any] = {
            "name": self.name,
            "revision": live.revision,
            "primary": {"model": live.primary},
            "canary": (
                {"model": live.canary, "percent": live.canary_percent} if live.canary else None
            ),
            "shadow": {"model": live.shadow} if live.shadow else None,
            "mode": live.mode,
            "review_below": live.review_below,
            "updated_at": live.created_at,
            "updated_by": live.author,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }
        if history:
            out["history"] = [r.to_dict() for r in self.history]
        return out


# Reading ---------------------------------------------------------------------------------


def _model_refs(conn: Connection, pks: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({int(pk) for pk in pks if pk is not None})
    if not wanted:
        return {}
    mv, m = t.model_versions, t.models
    rows = conn.execute(
        select(mv.c.id, m.c.name, mv.c.version)
        .join(m, m.c.id == mv.c.model_id)
        .where(mv.c.id.in_(wanted))
    )
    return {int(r.id): f"{r.name}/{r.version}" for r in rows}


def _revisions(conn: Connection, deployment_pk: int) -> list[Revision]:
    r = t.deployment_revisions
    rows = conn.execute(
        select(r).where(r.c.deployment_id == deployment_pk).order_by(r.c.revision)
    ).all()
    refs = _model_refs(
        conn,
        [
            pk
            for row in rows
            for pk in (row.primary_version_id, row.canary_version_id, row.shadow_version_id)
        ],
    )
    return [
        Revision(
            revision=int(row.revision),
            action=row.action,
            primary=refs[int(row.primary_version_id)],
            canary=refs[int(row.canary_version_id)] if row.canary_version_id is not None else None,
            canary_percent=float(row.canary_percent),
            shadow=refs[int(row.shadow_version_id)] if row.shadow_version_id is not None else None,
            mode=row.mode,
            review_below=None if row.review_below is None else float(row.review_below),
            parent_revision=None if row.parent_revision is None else int(row.parent_revision),
            reason=row.reason,
            author=row.author,
            created_at=row.created_at,
        )
        for row in rows
    ]


def _deployment_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(t.deployments).where(t.deployments.c.name == name)).first()
    if row is None:
        names = [
            r.name
            for r in conn.execute(select(t.deployments.c.name).order_by(t.deployments.c.name))
        ]
        known = f" (deployments: {', '.join(names[:10])})" if names else " (none yet)"
        raise UnknownRefError(
            f"no deployment {name!r}{known}",
            hint="Create one: dcai deploy create NAME --model MODEL_REF",
        )
    return row


def get_deployment(stores: Stores, name: str) -> Deployment:
    """A deployment's live routing and its history."""
    with stores.meta.read() as conn:
        row = _deployment_row(conn, name)
        history = _revisions(conn, int(row.id))
    return Deployment(row.name, row.created_at, row.created_by, history[-1], tuple(history))


def list_deployments(stores: Stores) -> list[Deployment]:
    """Every deployment, by name."""
    with stores.meta.read() as conn:
        rows = conn.execute(select(t.deployments).order_by(t.deployments.c.name)).all()
        out = []
        for row in rows:
            history = _revisions(conn, int(row.id))
            out.append(
                Deployment(row.name, row.created_at, row.created_by, history[-1], tuple(history))
            )
    return out


def live_revision_id(stores: Stores) -> int:
    """The newest revision row id across all deployments: a server polls this one integer
    to notice any change made from the CLI, the API or another process."""
    with stores.meta.read() as conn:
        return int(conn.execute(select(func.max(t.deployment_revisions.c.id))).scalar_one() or 0)


# Checks ----------------------------------------------------------------------------------


def check_deployment_name(name: str) -> str:
    """``name`` if it can name a deployment (and a log folder), else InvalidInputError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"deployment name {name!r} is not allowed",
            hint="Use letters, digits, '.', '_' and '-' (up to 200 characters), starting with a "
            "letter or digit.",
        )
    return name


def _check_percent(percent: float) -> float:
    if (
        isinstance(percent, bool)
        or not isinstance(percent, int | float)
        or not math.isfinite(percent)
        or not 0 < percent <= 100
    ):
        raise InvalidInputError(
            f"canary percent must be in (0, 100], got {percent!r}",
            hint="Pass --percent 10 for a tenth of the traffic; promote or rollback to end it.",
        )
    return float(percent)


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidInputError(f"unknown mode {mode!r}", hint=f"Use one of: {', '.join(MODES)}.")
    return mode


def _check_threshold(review_below: float | None) -> float | None:
    if review_below is None:
        return None
    if (
        isinstance(review_below, bool)
        or not isinstance(review_below, int | float)
        or not math.isfinite(review_below)
        or not 0 < review_below < 1
    ):
        raise InvalidInputError(
            f"--review-below must be a confidence in (0, 1), got {review_below!r}",
            hint="Pass e.g. --review-below 0.8: answers less confident than that go to a person.",
        )
    return float(review_below)


def _check_partial(mode: str, review_below: float | None) -> None:
    if mode == "partial" and review_below is None:
        raise InvalidInputError(
            "mode partial needs a confidence threshold",
            hint="Pass --review-below C (e.g. 0.8): below it a person decides.",
        )


def _loadable(stores: Stores, ref: str, trusted: Iterable[str]) -> ModelVersion:
    """Resolve ``ref`` to a pinned version and load it once: a model that does not load is
    refused before the deployment changes."""
    from dcai.experiments.registry import load_registered_model

    version, _ = load_registered_model(stores, ref, trusted=trusted)
    return version


def _check_inputs(candidate: ModelVersion, primary_features: list[str], role: str) -> None:
    missing = [f for f in candidate.features if f not in set(primary_features)]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise InvalidInputError(
            f"the {role} model {candidate.ref} needs input columns the primary does not take: "
            f"{shown}",
            hint="Requests are checked against the primary's training features; train the "
            "candidate on the same columns, or make it the primary of a new deployment.",
        )


def _features_of(stores: Stores, ref: str) -> list[str]:
    from dcai.experiments.registry import resolve_model

    return resolve_model(stores, ref).features


# Writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Routing:
    primary: int
    canary: int | None
    canary_percent: float
    shadow: int | None
    mode: str
    review_below: float | None


def _routing_of(conn: Connection, deployment_pk: int, revision: int) -> _Routing:
    r = t.deployment_revisions
    row = conn.execute(
        select(r).where((r.c.deployment_id == deployment_pk) & (r.c.revision == revision))
    ).one()
    return _Routing(
        int(row.primary_version_id),
        None if row.canary_version_id is None else int(row.canary_version_id),
        float(row.canary_percent),
        None if row.shadow_version_id is None else int(row.shadow_version_id),
        row.mode,
        None if row.review_below is None else float(row.review_below),
    )


def _live(conn: Connection, deployment_pk: int) -> tuple[int, Any]:
    r = t.deployment_revisions
    row = conn.execute(
        select(r).where(r.c.deployment_id == deployment_pk).order_by(r.c.revision.desc()).limit(1)
    ).one()
    return int(row.revision), row


def _append(
    conn: Connection,
    deployment_pk: int,
    revision: int,
    action: str,
    routing: _Routing,
    *,
    parent: int | None,
    reason: str,
    author: str,
) -> None:
    conn.execute(
        t.deployment_revisions.insert().values(
            deployment_id=deployment_pk,
            revision=revision,
            action=action,
            primary_version_id=routing.primary,
            canary_version_id=routing.canary,
            canary_percent=routing.canary_percent if routing.canary is not None else 0.0,
            shadow_version_id=routing.shadow,
            mode=routing.mode,
            review_below=routing.review_below,
            parent_revision=parent,
            reason=reason,
            author=author,
            created_at=now_iso(),
        )
    )


def _change(
    stores: Stores,
    name: str,
    action: str,
    update: Any,
    *,
    reason: str,
    author: str | None,
) -> Deployment:
    """Append a revision whose routing is ``update(conn, live routing, live row)``."""
    who = current_author(author)
    with stores.meta.transaction() as conn:
        row = _deployment_row(conn, name)
        pk = int(row.id)
        live_number, live_row = _live(conn, pk)
        current = _routing_of(conn, pk, live_number)
        routing, parent = update(conn, current, live_row)
        _append(
            conn, pk, live_number + 1, action, routing, parent=parent, reason=reason, author=who
        )
    return get_deployment(stores, name)


def create_deployment(
    stores: Stores,
    name: str,
    *,
    model: str,
    mode: str = "full",
    review_below: float | None = None,
    reason: str = "",
    author: str | None = None,
    trusted: Iterable[str] = (),
) -> Deployment:
    """Create deployment ``name`` serving ``model`` (revision 1)."""
    check_deployment_name(name)
    mode, review_below = _check_mode(mode), _check_threshold(review_below)
    _check_partial(mode, review_below)
    version = _loadable(stores, model, trusted)
    who = current_author(author)
    with stores.meta.transaction() as conn:
        exists = conn.execute(
            select(t.deployments.c.id).where(t.deployments.c.name == name)
        ).first()
        if exists is not None:
            raise InvalidInputError(
                f"deployment {name!r} already exists",
                hint=f"Change it instead: dcai deploy canary {name} --model REF --percent P, "
                f"or see it: dcai deploy show {name}",
            )
        pk = int(
            conn.execute(
                t.deployments.insert().values(name=name, created_at=now_iso(), created_by=who)
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        routing = _Routing(version.pk, None, 0.0, None, mode, review_below)
        _append(conn, pk, 1, "create", routing, parent=None, reason=reason, author=who)
    return get_deployment(stores, name)


def set_canary(
    stores: Stores,
    name: str,
    *,
    model: str | None = None,
    percent: float,
    reason: str = "",
    author: str | None = None,
    trusted: Iterable[str] = (),
    action: str = "canary",
) -> Deployment:
    """Send ``percent`` of the traffic to ``model`` (or change the live canary's percentage
    when ``model`` is omitted)."""
    percent = _check_percent(percent)
    version = _loadable(stores, model, trusted) if model is not None else None

    def update(conn: Connection, current: _Routing, live_row: Any) -> tuple[_Routing, int]:
        canary = version.pk if version is not None else current.canary
        if canary is None:
            raise InvalidInputError(
                f"deployment {name!r} has no canary to change",
                hint=f"Start one: dcai deploy canary {name} --model REF --percent {percent:g}",
            )
        if canary == current.primary:
            raise InvalidInputError(
                f"{model} is already the primary of {name!r}",
                hint="A canary is a different model version.",
            )
        if version is not None:
            primary_ref = _model_refs(conn, [current.primary])[current.primary]
            _check_inputs(version, _features_of(stores, primary_ref), "canary")
        routing = _Routing(
            current.primary, canary, percent, current.shadow, current.mode, current.review_below
        )
        return routing, int(live_row.revision)

    return _change(stores, name, action, update, reason=reason, author=author)


def set_shadow(
    stores: Stores,
    name: str,
    *,
    model: str | None,
    reason: str = "",
    author: str | None = None,
    trusted: Iterable[str] = (),
) -> Deployment:
    """Run ``model`` beside the primary on every request, off the response path (its answers
    are logged, never returned); ``model=None`` stops the shadow."""
    version = _loadable(stores, model, trusted) if model is not None else None

    def update(conn: Connection, current: _Routing, live_row: Any) -> tuple[_Routing, int]:
        if version is None and current.shadow is None:
            raise InvalidInputError(f"deployment {name!r} has no shadow to stop")
        if version is not None:
            if version.pk == current.primary:
                raise InvalidInputError(
                    f"{model} is already the primary of {name!r}",
                    hint="A shadow is a different model version.",
                )
            primary_ref = _model_refs(conn, [current.primary])[current.primary]
            _check_inputs(version, _features_of(stores, primary_ref), "shadow")
        routing = _Routing(
            current.primary,
            current.canary,
            current.canary_percent,
            None if version is None else version.pk,
            current.mode,
            current.review_below,
        )
        return routing, int(live_row.revision)

    return _change(stores, name, "shadow", update, reason=reason, author=author)


def promote(
    stores: Stores, name: str, *, reason: str = "", author: str | None = None
) -> Deployment:
    """The candidate — the canary, else the shadow — becomes the primary, for all traffic at
    once (the blue-green switch: one transaction, picked up by servers as one change)."""

    def update(conn: Connection, current: _Routing, live_row: Any) -> tuple[_Routing, int]:
        if current.canary is not None:
            routing = _Routing(
                current.canary, None, 0.0, current.shadow, current.mode, current.review_below
            )
        elif current.shadow is not None:
            routing = _Routing(current.shadow, None, 0.0, None, current.mode, current.review_below)
        else:
            raise InvalidInputError(
                f"deployment {name!r} has no canary or shadow to promote",
                hint=f"Start one: dcai deploy canary {name} --model REF --percent P",
            )
        return routing, int(live_row.revision)

    return _change(stores, name, "promote", update, reason=reason, author=author)


def rollback(
    stores: Stores,
    name: str,
    *,
    to: int | None = None,
    reason: str = "",
    author: str | None = None,
) -> Deployment:
    """Return to the routing before the live one (a new revision; the history keeps both), or
    with ``to`` to the routing of that earlier revision.

    Repeated rollbacks keep walking back: each returns to the revision the restored one
    changed.
    """
    if to is not None and (isinstance(to, bool) or not isinstance(to, int) or to < 1):
        raise InvalidInputError(f"--to must be a revision number, got {to!r}")

    def update(conn: Connection, current: _Routing, live_row: Any) -> tuple[_Routing, int | None]:
        parent = live_row.parent_revision if to is None else to
        if to is not None and to >= int(live_row.revision):
            raise InvalidInputError(
                f"revision {to} of {name!r} is not earlier than the live revision "
                f"{int(live_row.revision)}",
                hint=f"See the history: dcai deploy show {name}",
            )
        if parent is None:
            raise InvalidInputError(
                f"deployment {name!r} is at its first routing (revision "
                f"{int(live_row.revision)}): there is nothing to roll back to",
                hint=f"See the history: dcai deploy show {name}",
            )
        pk = int(live_row.deployment_id)
        target = _routing_of(conn, pk, int(parent))
        r = t.deployment_revisions
        grandparent = conn.execute(
            select(r.c.parent_revision).where(
                (r.c.deployment_id == pk) & (r.c.revision == int(parent))
            )
        ).scalar_one()
        return target, None if grandparent is None else int(grandparent)

    return _change(stores, name, "rollback", update, reason=reason, author=author)


def set_mode(
    stores: Stores,
    name: str,
    *,
    mode: str,
    review_below: float | None = None,
    reason: str = "",
    author: str | None = None,
) -> Deployment:
    """Change the degree of automation (and the review threshold)."""

    mode, threshold = _check_mode(mode), _check_threshold(review_below)

    def update(conn: Connection, current: _Routing, live_row: Any) -> tuple[_Routing, int]:
        kept = threshold if threshold is not None else current.review_below
        _check_partial(mode, kept)
        routing = _Routing(
            current.primary, current.canary, current.canary_percent, current.shadow, mode, kept
        )
        return routing, int(live_row.revision)

    return _change(stores, name, "set", update, reason=reason, author=author)
