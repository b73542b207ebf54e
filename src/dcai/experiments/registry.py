"""The model registry: numbered versions made from runs, and aliases that point at them.

``register_model(ws, RUN, name="digits")`` turns a finished training run into version 1, 2, 3 …
of the model ``digits``. Each version keeps the run (and through it the exact data version,
code version, parameters and metrics), the sha256 of the fitted model and its *signature* —
the training features with their types, the label column and the classes — which is what a
prediction server checks requests against.

An alias (``production``, ``candidate``, any name) points at one version of a model; moving it
is one transaction, and every move is recorded (who, when, from which version to which, why).
A model reference is one of:

=================  =====================================================
``NAME``           the newest version
``NAME/3``         version 3
``NAME@production``the version the alias points at
=================  =====================================================

>>> import tempfile, dcai
>>> from dcai.demo import digits_frame
>>> ws = dcai.Workspace.init(tempfile.mkdtemp())
>>> _ = ws.data.add("digits", digits_frame().head(300), label="label")
>>> _ = ws.data.split("digits", dev=0.2, test=0.0, seed=0)
>>> result = ws.runs.train("digits", recipe="logreg", n_boot=0, capture_code=False)
>>> mv = ws.models.register(result.run, name="digits")
>>> mv.ref, ws.models.set_alias("digits", 1, "production").ref
('digits/1', 'digits/1')
>>> ws.models.get("digits@production").version
1
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dcai.data.versions import current_author, now_iso
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = [
    "AliasMove",
    "ModelSummary",
    "ModelVersion",
    "alias_history",
    "is_model_ref",
    "list_models",
    "load_registered_model",
    "model_versions",
    "register_model",
    "remove_model_alias",
    "resolve_model",
    "set_model_alias",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model (see the module docstring)."""

    name: str
    version: int
    run: str
    dataset: str | None
    model_sha256: str
    signature: dict[str, Any] = field(repr=False)
    aliases: tuple[str, ...]
    description: str
    author: str
    created_at: str
    pk: int = field(default=0, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``NAME/VERSION``: the reference that never moves."""
        return f"{self.name}/{self.version}"

    @property
    def features(self) -> list[str]:
        """The input columns the model was trained on, in order."""
        return [str(item["name"]) for item in self.signature.get("inputs", [])]

    @property
    def classes(self) -> list[Any]:
        """The classes the model predicts, in the order of its probabilities."""
        return list(self.signature.get("classes", []))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "run": self.run,
            "dataset": self.dataset,
            "model_sha256": self.model_sha256,
            "aliases": list(self.aliases),
            "signature": self.signature,
            "description": self.description,
            "author": self.author,
            "created": self.created_at,
        }


@dataclass(frozen=True)
class ModelSummary:
    """One model in a listing: how many versions, the newest, and the aliases."""

    name: str
    versions: int
    latest: int
    aliases: dict[str, int]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": self.versions,
            "latest": self.latest,
            "aliases": self.aliases,
            "created": self.created_at,
        }


@dataclass(frozen=True)
class AliasMove:
    """One recorded move of an alias: ``from_version`` → ``to_version`` (``None`` = unset)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    author: str
    reason: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "author": self.author,
            "reason": self.reason,
            "at": self.at,
        }


# Reading ---------------------------------------------------------------------------------------


def _version_query() -> Any:
    mv = t.model_versions
    return select(
        mv,
        t.models.c.name.label("model_name"),
        t.runs.c.run_id.label("run_public_id"),
        t.datasets.c.name.label("dataset_name"),
        t.versions.c.version_hash,
    ).select_from(
        mv.join(t.models, mv.c.model_id == t.models.c.id)
        .join(t.runs, mv.c.run_id == t.runs.c.id)
        .outerjoin(t.versions, mv.c.version_id == t.versions.c.id)
        .outerjoin(t.datasets, t.versions.c.dataset_id == t.datasets.c.id)
    )


def _aliases_of(conn: Any, version_pks: list[int]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    if version_pks:
        rows = conn.execute(
            select(t.model_aliases.c.model_version_id, t.model_aliases.c.alias)
            .where(t.model_aliases.c.model_version_id.in_(version_pks))
            .order_by(t.model_aliases.c.alias)
        )
        for row in rows:
            out.setdefault(int(row.model_version_id), []).append(str(row.alias))
    return {pk: tuple(names) for pk, names in out.items()}


def _from_row(row: Any, aliases: dict[int, tuple[str, ...]]) -> ModelVersion:
    dataset = None
    if row.dataset_name is not None:
        dataset = f"{row.dataset_name}@{row.version_hash}"
    return ModelVersion(
        name=row.model_name,
        version=int(row.version),
        run=row.run_public_id,
        dataset=dataset,
        model_sha256=row.model_object,
        signature=json.loads(row.signature_json),
        aliases=aliases.get(int(row.id), ()),
        description=row.description,
        author=row.author,
        created_at=row.created_at,
        pk=int(row.id),
    )


def _model_pk(conn: Any, name: str) -> int | None:
    value = conn.execute(select(t.models.c.id).where(t.models.c.name == name)).scalar_one_or_none()
    return None if value is None else int(value)


def _unknown_model(conn: Any, name: str) -> UnknownRefError:
    names = [r.name for r in conn.execute(select(t.models.c.name).order_by(t.models.c.name))]
    known = f" (registered: {', '.join(names[:10])})" if names else ""
    return UnknownRefError(
        f"no model {name!r}{known}",
        hint="Register one from a run: dcai models register RUN --name NAME",
    )


def parse_model_ref(ref: str) -> tuple[str, int | None, str | None]:
    """``"digits/3"`` → ``("digits", 3, None)``; ``"digits@production"`` → ``("digits", None,
    "production")``; ``"digits"`` → ``("digits", None, None)``.

    >>> parse_model_ref("digits/3"), parse_model_ref("digits@production")
    (('digits', 3, None), ('digits', None, 'production'))
    """
    text = ref.strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        if not name or not alias:
            raise InvalidInputError(f"cannot read the model reference {ref!r}", hint=_REF_HINT)
        return name, None, alias
    if "/" in text:
        name, _, number = text.rpartition("/")
        if not name or not number.isdigit() or int(number) < 1:
            raise InvalidInputError(f"cannot read the model reference {ref!r}", hint=_REF_HINT)
        return name, int(number), None
    if not text:
        raise InvalidInputError("the model reference is empty", hint=_REF_HINT)
    return text, None, None


_REF_HINT = "Write NAME (newest version), NAME/3 (version 3) or NAME@production (an alias)."


def resolve_model(stores: Stores, ref: str) -> ModelVersion:
    """The model version a reference names (``NAME``, ``NAME/3``, ``NAME@alias``)."""
    name, number, alias = parse_model_ref(ref)
    mv = t.model_versions
    with stores.meta.read() as conn:
        model_pk = _model_pk(conn, name)
        if model_pk is None:
            raise _unknown_model(conn, name)
        query = _version_query().where(mv.c.model_id == model_pk)
        if alias is not None:
            target = conn.execute(
                select(t.model_aliases.c.model_version_id).where(
                    (t.model_aliases.c.model_id == model_pk) & (t.model_aliases.c.alias == alias)
                )
            ).scalar_one_or_none()
            if target is None:
                known = [
                    r.alias
                    for r in conn.execute(
                        select(t.model_aliases.c.alias).where(
                            t.model_aliases.c.model_id == model_pk
                        )
                    )
                ]
                raise UnknownRefError(
                    f"model {name!r} has no alias {alias!r}"
                    + (f" (aliases: {', '.join(sorted(known))})" if known else " (no aliases yet)"),
                    hint=f"Set it: dcai models alias {name} VERSION {alias}",
                )
            query = query.where(mv.c.id == target)
        elif number is not None:
            query = query.where(mv.c.version == number)
        else:
            query = query.order_by(mv.c.version.desc()).limit(1)
        row = conn.execute(query).first()
        if row is None:
            latest = conn.execute(
                select(func.max(mv.c.version)).where(mv.c.model_id == model_pk)
            ).scalar_one()
            raise UnknownRefError(
                f"model {name!r} has no version {number} (versions 1–{latest})",
                hint=f"List them: dcai models show {name}",
            )
        aliases = _aliases_of(conn, [int(row.id)])
    return _from_row(row, aliases)


def model_versions(stores: Stores, name: str) -> list[ModelVersion]:
    """Every version of a model, oldest first."""
    mv = t.model_versions
    with stores.meta.read() as conn:
        model_pk = _model_pk(conn, name)
        if model_pk is None:
            raise _unknown_model(conn, name)
        rows = conn.execute(
            _version_query().where(mv.c.model_id == model_pk).order_by(mv.c.version)
        ).all()
        aliases = _aliases_of(conn, [int(r.id) for r in rows])
    return [_from_row(r, aliases) for r in rows]


def list_models(stores: Stores) -> list[ModelSummary]:
    """Every registered model, by name."""
    mv = t.model_versions
    with stores.meta.read() as conn:
        counts = {
            int(r.model_id): (int(r.n), int(r.latest))
            for r in conn.execute(
                select(
                    mv.c.model_id,
                    func.count().label("n"),
                    func.max(mv.c.version).label("latest"),
                ).group_by(mv.c.model_id)
            )
        }
        aliases: dict[int, dict[str, int]] = {}
        for r in conn.execute(
            select(t.model_aliases.c.model_id, t.model_aliases.c.alias, mv.c.version).join(
                mv, t.model_aliases.c.model_version_id == mv.c.id
            )
        ):
            aliases.setdefault(int(r.model_id), {})[str(r.alias)] = int(r.version)
        models = conn.execute(select(t.models).order_by(t.models.c.name)).all()
    return [
        ModelSummary(
            name=m.name,
            versions=counts.get(int(m.id), (0, 0))[0],
            latest=counts.get(int(m.id), (0, 0))[1],
            aliases=dict(sorted(aliases.get(int(m.id), {}).items())),
            created_at=m.created_at,
        )
        for m in models
    ]


def alias_history(stores: Stores, name: str) -> list[AliasMove]:
    """Every move of every alias of a model, oldest first."""
    e = t.model_alias_events
    with stores.meta.read() as conn:
        model_pk = _model_pk(conn, name)
        if model_pk is None:
            raise _unknown_model(conn, name)
        rows = conn.execute(select(e).where(e.c.model_id == model_pk).order_by(e.c.id)).all()
    return [
        AliasMove(name, r.alias, r.from_version, r.to_version, r.author, r.reason, r.at)
        for r in rows
    ]


# Writing ---------------------------------------------------------------------------------------


def _load_object(stores: Stores, digest: str, *, what: str, trusted: Iterable[str] = ()) -> Any:
    """A stored model by its sha256: bytes verified, only exact trusted types constructed."""
    from dcai.experiments.model_files import load_model_bytes

    data = stores.objects.read_bytes(digest, what=what)
    return load_model_bytes(data, what=what, trusted=trusted)


def _signature(
    stores: Stores, detail: dict[str, Any], digest: str, trusted: Iterable[str]
) -> dict[str, Any]:
    """Training features (name, dtype, role), label column and classes of a run's model."""
    from dcai.data.versions import resolve_ref

    model = _load_object(
        stores, digest, what=f"the model of run {detail['id'][:8]}", trusted=trusted
    )
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])]
    signature: dict[str, Any] = {"classes": classes, "inputs": [], "label": None}
    if detail["dataset"] is not None:
        version = resolve_ref(stores, detail["dataset"])
        roles = version.roles
        signature["label"] = roles.label
        signature["inputs"] = [
            {
                "name": column,
                "dtype": roles.dtypes.get(column, "object"),
                "role": "text" if column in roles.text else "feature",
                # Marked sensitive in the training data: servers hash or drop it in their log.
                **({"sensitive": True} if column in roles.sensitive else {}),
            }
            for column in roles.inputs
        ]
    signature["recipe"] = detail["params"].get("recipe")
    return signature


def register_model(
    stores: Stores,
    run: str,
    *,
    name: str,
    description: str = "",
    author: str | None = None,
    trusted: Iterable[str] = (),
) -> ModelVersion:
    """Register the fitted model of a finished run as the next version of ``name``.

    The run must have finished and stored a model (``dcai train`` does); its artifact's hash
    and types are checked before anything is written (``trusted``: exact extra type names for
    a ``module:callable`` recipe's own model), and the signature (features, label, classes)
    is read from the run's dataset version and the model itself.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"model name {name!r} is not allowed",
            hint="Use letters, digits, '.', '_' and '-' (up to 200 characters); no '/' or '@'.",
        )
    from dcai.experiments.query import run_detail

    detail = run_detail(stores, run)
    if detail["status"] != "FINISHED":
        raise InvalidInputError(
            f"run {detail['id'][:8]} is {detail['status']}; only a FINISHED run can be registered",
            hint="Train again (dcai train REF) and register that run.",
        )
    from dcai.experiments.model_files import LEGACY_MODEL_ARTIFACT, MODEL_ARTIFACT

    by_name = {a["name"]: a for a in detail["artifacts"]}
    found = by_name.get(MODEL_ARTIFACT) or by_name.get(LEGACY_MODEL_ARTIFACT)
    if found is None:
        raise InvalidInputError(
            f"run {detail['id'][:8]} stored no model (no {MODEL_ARTIFACT} artifact)",
            hint="Register a run made by dcai train.",
        )
    digest = found["sha256"]
    signature = _signature(stores, detail, digest, trusted)
    from dcai.experiments.runs import resolve_run

    run_pk, _ = resolve_run(stores, detail["id"])
    who = current_author(author)
    mv = t.model_versions
    with stores.meta.transaction() as conn:
        model_pk = _model_pk(conn, name)
        if model_pk is None:
            model_pk = int(
                conn.execute(
                    t.models.insert().values(name=name, description="", created_at=now_iso())
                ).inserted_primary_key[0]  # type: ignore[index]
            )
        latest = conn.execute(
            select(func.max(mv.c.version)).where(mv.c.model_id == model_pk)
        ).scalar_one()
        version_pk = conn.execute(
            select(t.runs.c.version_id).where(t.runs.c.id == run_pk)
        ).scalar_one()
        pk = int(
            conn.execute(
                mv.insert().values(
                    model_id=model_pk,
                    version=int(latest or 0) + 1,
                    run_id=run_pk,
                    version_id=version_pk,
                    model_object=digest,
                    signature_json=json.dumps(signature, default=str),
                    description=description,
                    author=who,
                    created_at=now_iso(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        row = conn.execute(_version_query().where(mv.c.id == pk)).one()
    return _from_row(row, {})


def set_model_alias(
    stores: Stores,
    name: str,
    version: int | str,
    alias: str,
    *,
    author: str | None = None,
    reason: str = "",
) -> ModelVersion:
    """Point ``alias`` at ``version`` of ``name`` (moving it if it pointed elsewhere)."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidInputError(
            f"alias {alias!r} is not allowed",
            hint="Start with a letter; then letters, digits, '_' or '-' (e.g. production).",
        )
    number = _version_number(version)
    mv = t.model_versions
    a = t.model_aliases
    who = current_author(author)
    with stores.meta.transaction() as conn:
        model_pk = _model_pk(conn, name)
        if model_pk is None:
            raise _unknown_model(conn, name)
        target = conn.execute(
            select(mv.c.id).where((mv.c.model_id == model_pk) & (mv.c.version == number))
        ).scalar_one_or_none()
        if target is None:
            latest = conn.execute(
                select(func.max(mv.c.version)).where(mv.c.model_id == model_pk)
            ).scalar_one()
            raise UnknownRefError(
                f"model {name!r} has no version {number} (versions 1–{latest}); "
                f"alias {alias!r} not moved",
                hint=f"List them: dcai models show {name}",
            )
        current = _alias_version(conn, model_pk, alias)
        if current != number:
            conn.execute(a.delete().where((a.c.model_id == model_pk) & (a.c.alias == alias)))
            conn.execute(
                a.insert().values(
                    model_id=model_pk,
                    alias=alias,
                    model_version_id=target,
                    set_by=who,
                    set_at=now_iso(),
                )
            )
            conn.execute(
                t.model_alias_events.insert().values(
                    model_id=model_pk,
                    alias=alias,
                    from_version=current,
                    to_version=number,
                    author=who,
                    reason=reason,
                    at=now_iso(),
                )
            )
    return resolve_model(stores, f"{name}/{number}")


def remove_model_alias(
    stores: Stores, name: str, alias: str, *, author: str | None = None, reason: str = ""
) -> AliasMove:
    """Unset an alias (recorded in the history like any move)."""
    a = t.model_aliases
    who = current_author(author)
    with stores.meta.transaction() as conn:
        model_pk = _model_pk(conn, name)
        if model_pk is None:
            raise _unknown_model(conn, name)
        current = _alias_version(conn, model_pk, alias)
        if current is None:
            raise UnknownRefError(f"model {name!r} has no alias {alias!r}")
        conn.execute(a.delete().where((a.c.model_id == model_pk) & (a.c.alias == alias)))
        at = now_iso()
        conn.execute(
            t.model_alias_events.insert().values(
                model_id=model_pk,
                alias=alias,
                from_version=current,
                to_version=None,
                author=who,
                reason=reason,
                at=at,
            )
        )
    return AliasMove(name, alias, int(current), None, who, reason, at)


def _alias_version(conn: Any, model_pk: int, alias: str) -> int | None:
    """The version number ``alias`` points at now (None when unset)."""
    a, mv = t.model_aliases, t.model_versions
    value = conn.execute(
        select(mv.c.version)
        .select_from(a.join(mv, a.c.model_version_id == mv.c.id))
        .where((a.c.model_id == model_pk) & (a.c.alias == alias))
    ).scalar_one_or_none()
    return None if value is None else int(value)


def _version_number(version: int | str) -> int:
    text = str(version).strip().lstrip("v")
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(
            f"model version must be a positive whole number; got {version!r}",
            hint="Versions are numbered 1, 2, 3 … per model: dcai models show NAME",
        )
    return int(text)


def load_registered_model(
    stores: Stores, ref: str, *, trusted: Iterable[str] = ()
) -> tuple[ModelVersion, Any]:
    """The version a reference names and its fitted model (hash and types checked first)."""
    version = resolve_model(stores, ref)
    model = _load_object(stores, version.model_sha256, what=f"model {version.ref}", trusted=trusted)
    return version, model


def is_model_ref(stores: Stores, ref: str) -> bool:
    """Whether ``ref`` names a registered model (``NAME/3``, ``NAME@alias``, or a registered
    ``NAME``) rather than a run id."""
    if "/" in ref or "@" in ref:
        return True
    with stores.meta.read() as conn:
        return _model_pk(conn, ref.strip()) is not None
