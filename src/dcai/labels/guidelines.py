"""Versioned labeling guidelines: the instructions labelers follow, kept like data.

A guideline is markdown text under a name (``sentiment``); each distinct text is a new version
(``sentiment@v2``), stored content-addressed, so adding the same text twice is one version.
Annotations imported while a guideline is in force record ``name@vN`` in their ``guideline``
column, and agreement reports can be split by it, so the effect of revising the instructions is
measured per class.

Examples
--------
>>> import tempfile, pathlib
>>> from dcai.workspace import Workspace
>>> ws = Workspace(tempfile.mkdtemp())
>>> path = pathlib.Path(tempfile.mkdtemp()) / "g.md"
>>> _ = path.write_text("# Sentiment\\nIrony counts as negative.")
>>> ws.labels.add_guideline("sentiment", path).ref
'sentiment@v1'
>>> ws.labels.add_guideline("sentiment", path).created
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dcai.data.versions import current_author, now_iso
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["Guideline", "add_guideline", "list_guidelines", "resolve_guideline"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_SUFFIX = ".md"
_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Guideline:
    """One version of a labeling guideline."""

    name: str
    seq: int
    content_object: str
    message: str
    author: str
    created_at: str
    created: bool = field(default=False, compare=False)
    _stores: Stores | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``name@vN``: what annotations record in their ``guideline`` column."""
        return f"{self.name}@v{self.seq}"

    @property
    def text(self) -> str:
        """The guideline's markdown."""
        if self._stores is None:
            raise InvalidInputError("this Guideline is not bound to a workspace")
        data = self._stores.objects.read_bytes(
            self.content_object, suffix=_SUFFIX, what=f"guideline {self.ref}"
        )
        return data.decode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.seq,
            "sha256": self.content_object,
            "message": self.message,
            "author": self.author,
            "created_at": self.created_at,
        }


def _from_row(stores: Stores, row: Any, *, created: bool = False) -> Guideline:
    return Guideline(
        name=row.name,
        seq=row.seq,
        content_object=row.content_object,
        message=row.message,
        author=row.author,
        created_at=row.created_at,
        created=created,
        _stores=stores,
    )


def _read_text(source: str | Path) -> str:
    path = Path(source)
    if not path.is_file():
        raise InvalidInputError(
            "no such file" if not path.exists() else "not a file",
            path=str(path),
            hint="Give the path of a markdown file with the labeling instructions.",
        )
    data = path.read_bytes()
    if not data.strip():
        raise InvalidInputError(
            "the guideline is empty", path=str(path), hint="Write the instructions first."
        )
    if len(data) > _MAX_BYTES:
        raise InvalidInputError(
            f"the guideline is {len(data):,} bytes; at most {_MAX_BYTES:,}",
            path=str(path),
            hint="Keep images and attachments out of the markdown; link to them instead.",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"not UTF-8 text (byte {exc.start})", path=str(path), hint="Save the file as UTF-8."
        ) from exc


def add_guideline(
    stores: Stores,
    name: str,
    source: str | Path,
    *,
    message: str = "",
    author: str | None = None,
) -> Guideline:
    """Store ``source`` (a markdown file) as the next version of guideline ``name``.

    The same text as an existing version returns that version (``created`` False).
    """
    if not _NAME.match(name):
        raise InvalidInputError(
            f"invalid guideline name {name!r}",
            hint="Use letters, digits, '.', '_' and '-', starting with a letter or digit.",
        )
    text = _read_text(source)

    def writer(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    digest = stores.objects.write(writer, suffix=_SUFFIX)
    with stores.meta.transaction() as conn:
        row = conn.execute(
            select(t.guidelines).where(
                (t.guidelines.c.name == name) & (t.guidelines.c.content_object == digest)
            )
        ).first()
        if row is not None:
            return _from_row(stores, row)
        seq = (
            conn.execute(
                select(func.max(t.guidelines.c.seq)).where(t.guidelines.c.name == name)
            ).scalar()
            or 0
        ) + 1
        conn.execute(
            t.guidelines.insert().values(
                name=name,
                seq=seq,
                content_object=digest,
                message=message or f"add {Path(source).name}",
                author=current_author(author),
                created_at=now_iso(),
            )
        )
        row = conn.execute(
            select(t.guidelines).where((t.guidelines.c.name == name) & (t.guidelines.c.seq == seq))
        ).one()
    return _from_row(stores, row, created=True)


def list_guidelines(stores: Stores, name: str | None = None) -> list[Guideline]:
    """Every guideline version (of ``name``), newest first within each name."""
    query = select(t.guidelines).order_by(t.guidelines.c.name, t.guidelines.c.seq.desc())
    if name is not None:
        query = query.where(t.guidelines.c.name == name)
    with stores.meta.read() as conn:
        rows = conn.execute(query).all()
    if name is not None and not rows:
        raise UnknownRefError(
            f"no guideline named {name!r}",
            hint=f"Add one with: dcai labels guideline add {name} FILE.md",
        )
    return [_from_row(stores, r) for r in rows]


def resolve_guideline(stores: Stores, ref: str) -> Guideline:
    """A guideline version by ``name`` (latest), ``name@latest`` or ``name@vN``."""
    name, _, selector = ref.partition("@")
    versions = list_guidelines(stores, name)
    if selector in ("", "latest"):
        return versions[0]
    match = re.fullmatch(r"v(\d+)", selector)
    if match:
        for version in versions:
            if version.seq == int(match.group(1)):
                return version
    raise UnknownRefError(
        f"guideline {name!r} has no version {selector!r}",
        hint=f"Versions: {', '.join(v.ref for v in versions)}.",
    )
