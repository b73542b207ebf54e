"""Immutable, content-addressed dataset versions with lineage.

A version is committed in two phases. First its tables are written to the artifact store
under their sha256 (atomic, idempotent). Then one metadata transaction records the version
and its parents. A process killed before the commit leaves no visible version, only
unreferenced objects; identical content is recognised by its hash and stored once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, func, select

from dcai._progress import ProgressCallback, Steps
from dcai._provenance import current_author as current_author
from dcai._provenance import now_iso as now_iso
from dcai.data._content import canonical_frame, content_hash, row_hashes
from dcai.data._readers import read_table, source_name
from dcai.data._schema import (
    EXAMPLE_ID,
    ColumnRoles,
    convert_iso_datetimes,
    infer_roles,
    validate_table,
)
from dcai.data._splits import BalanceReport, balance_report
from dcai.data.catalog import SHORT_ID_LENGTH, DatasetSummary, list_datasets
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import read_parquet_object
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.data._diff import VersionDiff
    from dcai.store import Stores

__all__ = [
    "SHORT_ID_LENGTH",
    "DatasetSummary",
    "DatasetVersion",
    "add_dataset",
    "commit_version",
    "list_datasets",
    "log",
    "resolve_ref",
]

_MAX_NAME = 200
_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{_MAX_NAME - 1}}}$")
_DATA_SUFFIX = ".parquet"


def check_dataset_name(name: str) -> str:
    """Dataset names: letters, digits, ``.``, ``_``, ``-``; starting with a letter or digit."""
    if not _NAME.match(name):
        too_long = len(name) > _MAX_NAME
        shown = f"{name[:40]!r}… ({len(name)} characters)" if too_long else repr(name)
        raise InvalidInputError(
            f"invalid dataset name {shown}"
            + (f": a name has at most {_MAX_NAME} characters" if too_long else ""),
            hint=f"Use 1 to {_MAX_NAME} letters, digits, '.', '_' and '-', "
            "starting with a letter or digit.",
        )
    return name


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset.

    Read its rows with :meth:`to_pandas`, its labelers' annotations with
    :meth:`annotations`, and walk lineage through :attr:`parents`.
    """

    dataset: str
    id: str
    seq: int
    rows: int
    roles: ColumnRoles
    operation: str
    params: dict[str, Any]
    message: str
    author: str
    created_at: str
    data_object: str
    annotations_object: str | None
    n_annotations: int
    parent_ids: tuple[str, ...]
    #: True when this call committed the version, False when it already existed.
    created: bool = field(default=False, compare=False)
    _stores: Stores | None = field(default=None, repr=False, compare=False)

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID_LENGTH]

    @property
    def ref(self) -> str:
        """``name@<short hash>``: the stable way to point at this version."""
        return f"{self.dataset}@{self.short_id}"

    @property
    def label_column(self) -> str:
        return self.roles.label

    def _bound_stores(self) -> Stores:
        if self._stores is None:
            raise InvalidInputError("this DatasetVersion is not bound to a workspace")
        return self._stores

    def to_pandas(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The version's rows: ``example_id``, data columns, label and (if any) split."""
        return read_parquet_object(
            self._bound_stores().objects,
            self.data_object,
            suffix=_DATA_SUFFIX,
            columns=columns,
            what=f"dataset version {self.ref}",
        )

    def annotations(self) -> pd.DataFrame:
        """Annotations in long form: ``example_id, annotator, label, guideline, time``."""
        if self.annotations_object is None:
            return pd.DataFrame(columns=[EXAMPLE_ID, "annotator", "label", "guideline", "time"])
        return read_parquet_object(
            self._bound_stores().objects,
            self.annotations_object,
            suffix=_DATA_SUFFIX,
            what=f"the annotations of {self.ref}",
        )

    @property
    def parents(self) -> list[DatasetVersion]:
        stores = self._bound_stores()
        return [resolve_ref(stores, f"{self.dataset}@{pid}") for pid in self.parent_ids]

    def label_counts(self) -> pd.Series:
        """Examples per class, most common first."""
        return self.to_pandas(columns=[self.roles.label])[self.roles.label].value_counts()

    def balance(self, *, min_per_split: int = 5) -> BalanceReport:
        """Class counts and shares per split (needs a split column: see ``Workspace.split``)."""
        if self.roles.split is None:
            raise InvalidInputError(
                f"{self.ref} has no split column",
                hint=f"Make one with: dcai data split {self.dataset} --dev 0.1 --test 0.2",
            )
        frame = self.to_pandas(columns=[self.roles.label, self.roles.split])
        return balance_report(
            frame[self.roles.label], frame[self.roles.split], min_per_split=min_per_split
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no rows)."""
        return {
            "ref": self.ref,
            "dataset": self.dataset,
            "id": self.id,
            "seq": self.seq,
            "rows": self.rows,
            "operation": self.operation,
            "params": self.params,
            "message": self.message,
            "author": self.author,
            "created_at": self.created_at,
            "parents": [f"{self.dataset}@{p[:SHORT_ID_LENGTH]}" for p in self.parent_ids],
            "columns": self.roles.to_dict(),
            "annotations": self.n_annotations,
        }

    def __repr__(self) -> str:
        return f"<DatasetVersion {self.ref} rows={self.rows} op={self.operation}>"


def _from_row(
    stores: Stores, row: Any, dataset: str, parent_ids: tuple[str, ...], created: bool = False
) -> DatasetVersion:
    schema = json.loads(row.schema_json)
    return DatasetVersion(
        dataset=dataset,
        id=row.version_hash,
        seq=row.seq,
        rows=row.rows,
        roles=ColumnRoles.from_dict(schema),
        operation=row.operation,
        params=json.loads(row.params_json),
        message=row.message,
        author=row.author,
        created_at=row.created_at,
        data_object=row.data_object,
        annotations_object=row.annotations_object,
        n_annotations=row.n_annotations,
        parent_ids=parent_ids,
        created=created,
        _stores=stores,
    )


def _parent_hashes(conn: Connection, version_pk: int) -> tuple[str, ...]:
    parent = t.versions.alias("parent")
    rows = conn.execute(
        select(parent.c.version_hash)
        .select_from(t.version_parents.join(parent, t.version_parents.c.parent_id == parent.c.id))
        .where(t.version_parents.c.child_id == version_pk)
        .order_by(t.version_parents.c.position)
    ).all()
    return tuple(r.version_hash for r in rows)


def _dataset_id(conn: Connection, name: str) -> int | None:
    return conn.execute(
        select(t.datasets.c.id).where(t.datasets.c.name == name)
    ).scalar_one_or_none()


def resolve_ref(stores: Stores, ref: str) -> DatasetVersion:
    """Find a version by ``name`` (latest), ``name@latest``, ``name@v3`` or ``name@<hash prefix>``."""
    name, _, selector = ref.partition("@")
    with stores.meta.read() as conn:
        dataset_pk = _dataset_id(conn, name)
        if dataset_pk is None:
            known = [r.name for r in conn.execute(select(t.datasets.c.name)).all()]
            hint = (
                f"Known datasets: {', '.join(sorted(known))}."
                if known
                else "Add one with: dcai data add NAME FILE --label COL"
            )
            raise UnknownRefError(f"no dataset named {name!r}", hint=hint)
        query = select(t.versions).where(t.versions.c.dataset_id == dataset_pk)
        if selector in ("", "latest"):
            query = query.order_by(t.versions.c.seq.desc()).limit(1)
        elif re.fullmatch(r"v\d+", selector):
            query = query.where(t.versions.c.seq == int(selector[1:]))
        elif re.fullmatch(r"[0-9a-f]{4,64}", selector):
            query = query.where(t.versions.c.version_hash.startswith(selector, autoescape=True))
        else:
            raise UnknownRefError(
                f"cannot read the version in {ref!r}",
                hint="Refs look like NAME, NAME@latest, NAME@v3 or NAME@3f2a9c1 (a hash prefix).",
            )
        rows = conn.execute(query).all()
        if not rows:
            raise UnknownRefError(
                f"dataset {name!r} has no version {selector!r}",
                hint=f"See its versions with: dcai data log {name}",
            )
        if len(rows) > 1:
            raise UnknownRefError(
                f"{ref!r} matches {len(rows)} versions",
                hint="Give more characters of the hash.",
            )
        return _from_row(stores, rows[0], name, _parent_hashes(conn, rows[0].id))


def log(stores: Stores, name: str) -> list[DatasetVersion]:
    """Every version of ``name``, newest first."""
    name = name.partition("@")[0]
    resolve_ref(stores, name)  # raises a helpful error for unknown names
    with stores.meta.read() as conn:
        dataset_pk = _dataset_id(conn, name)
        rows = conn.execute(
            select(t.versions)
            .where(t.versions.c.dataset_id == dataset_pk)
            .order_by(t.versions.c.seq.desc())
        ).all()
        return [_from_row(stores, r, name, _parent_hashes(conn, r.id)) for r in rows]


def diff_versions(stores: Stores, a: str, b: str) -> VersionDiff:
    """Examples added, removed, relabeled, changed and moved from version ``a`` to ``b``."""
    from dcai.data._diff import diff_frames

    va, vb = resolve_ref(stores, a), resolve_ref(stores, b)
    return diff_frames(
        va.to_pandas(),
        vb.to_pandas(),
        va.roles,
        vb.roles,
        a_name=va.ref,
        b_name=vb.ref,
        annotations_a=va.annotations(),
        annotations_b=vb.annotations(),
    )


def _damaged(stores: Stores, digest: str) -> bool:
    """Whether a stored table object is missing or no longer matches its hash."""
    if not stores.objects.exists(digest, suffix=_DATA_SUFFIX):
        return True
    return stores.objects.check(digest, suffix=_DATA_SUFFIX) is not None


def _repair_objects(
    stores: Stores, existing: DatasetVersion, frame: pd.DataFrame, annotations: pd.DataFrame | None
) -> None:
    """Adding content whose version exists rewrites the version's objects if they are damaged.

    The content was just hashed to the version's own hash, so these rows are exactly the
    version's rows: writing them again repairs the object (or, if this pyarrow encodes the
    same rows to other bytes, points the version at the new object in one transaction).
    """
    pairs = [("data_object", existing.data_object, frame)]
    if existing.annotations_object is not None and annotations is not None:
        pairs.append(("annotations_object", existing.annotations_object, annotations))
    for column, digest, table in pairs:
        if not _damaged(stores, digest):
            continue
        written = _write_table(stores, table)
        if written != digest:
            with stores.meta.transaction() as conn:
                conn.execute(
                    t.versions.update()
                    .where(t.versions.c.version_hash == existing.id)
                    .where(
                        t.versions.c.dataset_id
                        == select(t.datasets.c.id)
                        .where(t.datasets.c.name == existing.dataset)
                        .scalar_subquery()
                    )
                    .values({column: written})
                )
            object.__setattr__(existing, column, written)


def _write_table(stores: Stores, frame: pd.DataFrame) -> str:
    dictionary = _dictionary_columns(frame)

    def writer(path: Path) -> None:
        frame.to_parquet(
            path, index=False, engine="pyarrow", compression="zstd", use_dictionary=dictionary
        )

    return stores.objects.write(writer, suffix=_DATA_SUFFIX)


_DICTIONARY_SAMPLE_ROWS = 1 << 16


def _dictionary_columns(frame: pd.DataFrame) -> list[str]:
    """Columns worth dictionary-encoding in Parquet: values repeat in a sample of rows.

    Trying a dictionary on mostly distinct values (float features, ids) and falling back
    to plain encoding costs more than the rest of the write, and makes larger files.

    >>> import pandas as pd
    >>> _dictionary_columns(pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "y": ["a", "b", "a", "a"]}))
    ['y']
    """
    sample = frame.iloc[:_DICTIONARY_SAMPLE_ROWS]
    columns = []
    for column, series in sample.items():
        if isinstance(series.dtype, pd.CategoricalDtype):
            repeats = True  # the dictionary is what keeps the categories and their order
        else:
            try:
                repeats = series.nunique(dropna=False) <= len(series) // 2
            except TypeError:  # unhashable values: keep the writer's default
                repeats = True
        if repeats:
            columns.append(str(column))
    return columns


def annotations_digest(annotations: pd.DataFrame | None) -> str | None:
    """Content hash of an annotations table (row order does not matter)."""
    if annotations is None or len(annotations) == 0:
        return None
    import hashlib

    import numpy as np

    digest = hashlib.sha256(json.dumps(list(map(str, annotations.columns))).encode())
    digest.update(np.sort(row_hashes(annotations)).tobytes())
    return digest.hexdigest()


def commit_version(
    stores: Stores,
    name: str,
    frame: pd.DataFrame,
    roles: ColumnRoles,
    *,
    operation: str,
    params: dict[str, Any],
    message: str = "",
    author: str | None = None,
    parents: list[DatasetVersion] | None = None,
    annotations: pd.DataFrame | None = None,
    data_object: str | None = None,
    parent_is_latest: bool = False,
    progress: ProgressCallback | None = None,
) -> DatasetVersion:
    """Commit a canonical frame (and annotations) as a version of ``name``.

    Returns the existing version, with ``created=False``, when the content is already
    committed in this dataset; nothing new is stored then. With ``parent_is_latest`` the
    parent is whichever version is latest when the commit happens (inside the write lock),
    so concurrent adds form one chain instead of forking from a stale parent.
    """
    check_dataset_name(name)
    steps = Steps(progress, total=3)
    steps("hashing content")
    ann_digest = annotations_digest(annotations)
    version_hash = content_hash(frame, roles, annotations_digest=ann_digest)
    existing = _find(stores, name, version_hash)
    if existing is not None:
        _repair_objects(stores, existing, frame, annotations)
        steps.done()
        return existing
    steps("writing data")
    if data_object is None:
        data_object = _write_table(stores, frame)
    annotations_object = None
    if ann_digest is not None and annotations is not None:
        annotations_object = _write_table(stores, annotations)
    steps("committing")
    author = current_author(author)
    created_at = now_iso()
    schema = roles.to_dict()
    schema["dtypes"] = {str(c): str(frame[c].dtype) for c in frame.columns}
    with stores.meta.transaction() as conn:
        dataset_pk = _dataset_id(conn, name)
        if dataset_pk is None:
            dataset_pk = conn.execute(
                t.datasets.insert().values(name=name, created_at=created_at, created_by=author)
            ).inserted_primary_key[0]  # type: ignore[index]
        else:
            # Another process may have committed the same content while we were writing.
            row = conn.execute(
                select(t.versions.c.id).where(
                    (t.versions.c.dataset_id == dataset_pk)
                    & (t.versions.c.version_hash == version_hash)
                )
            ).first()
            if row is not None:
                conn.rollback()
                found = _find(stores, name, version_hash)
                assert found is not None  # invariant: the row was just seen
                steps.done()
                return found
        seq = (
            conn.execute(
                select(func.max(t.versions.c.seq)).where(t.versions.c.dataset_id == dataset_pk)
            ).scalar()
            or 0
        ) + 1
        version_pk = conn.execute(
            t.versions.insert().values(
                dataset_id=dataset_pk,
                version_hash=version_hash,
                seq=seq,
                rows=len(frame),
                data_object=data_object,
                annotations_object=annotations_object,
                n_annotations=0 if annotations is None else len(annotations),
                schema_json=json.dumps(schema),
                operation=operation,
                params_json=json.dumps(params, default=str),
                message=message,
                author=author,
                created_at=created_at,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        if parent_is_latest:
            latest = conn.execute(
                select(t.versions.c.id).where(
                    (t.versions.c.dataset_id == dataset_pk) & (t.versions.c.seq == seq - 1)
                )
            ).scalar_one_or_none()
            parent_pks = [] if latest is None else [latest]
        else:
            parent_pks = [
                conn.execute(
                    select(t.versions.c.id).where(
                        (t.versions.c.dataset_id == _dataset_id(conn, parent.dataset))
                        & (t.versions.c.version_hash == parent.id)
                    )
                ).scalar_one()
                for parent in parents or []
            ]
        for position, parent_pk in enumerate(parent_pks):
            conn.execute(
                t.version_parents.insert().values(
                    child_id=version_pk, position=position, parent_id=parent_pk
                )
            )
    steps.done()
    version = resolve_ref(stores, f"{name}@{version_hash}")
    return _with_created(version)


def _with_created(version: DatasetVersion) -> DatasetVersion:
    from dataclasses import replace

    return replace(version, created=True)


def _find(stores: Stores, name: str, version_hash: str) -> DatasetVersion | None:
    with stores.meta.read() as conn:
        dataset_pk = _dataset_id(conn, name)
        if dataset_pk is None:
            return None
        row = conn.execute(
            select(t.versions).where(
                (t.versions.c.dataset_id == dataset_pk)
                & (t.versions.c.version_hash == version_hash)
            )
        ).first()
        if row is None:
            return None
        return _from_row(stores, row, name, _parent_hashes(conn, row.id))


def latest_or_none(stores: Stores, name: str) -> DatasetVersion | None:
    """The latest version of ``name``, or ``None`` for a new dataset."""
    try:
        return resolve_ref(stores, name)
    except UnknownRefError:
        return None


def _carried_annotations(parent: DatasetVersion | None, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The parent's annotations of examples that are still present."""
    if parent is None or not parent.n_annotations:
        return None
    annotations = parent.annotations()
    kept = annotations[annotations[EXAMPLE_ID].isin(frame[EXAMPLE_ID])].reset_index(drop=True)
    return kept if len(kept) else None


def add_dataset(
    stores: Stores,
    name: str,
    source: pd.DataFrame | str | Path,
    *,
    label: str | None = None,
    id: str | None = None,
    text: tuple[str, ...] | list[str] = (),
    meta: tuple[str, ...] | list[str] = (),
    features: tuple[str, ...] | list[str] | None = None,
    sensitive: tuple[str, ...] | list[str] = (),
    message: str = "",
    author: str | None = None,
    progress: ProgressCallback | None = None,
) -> DatasetVersion:
    """Read, validate and commit a table as the next version of ``name``."""
    check_dataset_name(name)
    steps = Steps(progress, total=6)
    where = source_name(source)
    steps("reading")
    raw = read_table(source)
    steps("checking columns")
    parent = latest_or_none(stores, name)
    if parent is not None:
        # A new version of an existing dataset keeps the column roles declared before,
        # unless this call declares them again.
        previous, present = parent.roles, set(map(str, raw.columns))
        label = label or (previous.label if previous.label in present else None)
        id = id or (previous.id if previous.id in present else None)
        text = text or tuple(c for c in previous.text if c in present)
        meta = meta or tuple(c for c in previous.meta if c in present)
        sensitive = sensitive or tuple(c for c in previous.sensitive if c in present)
    roles = infer_roles(
        raw,
        label=label,
        id=id,
        text=text,
        meta=meta,
        features=features,
        sensitive=sensitive,
        source=where,
    )
    validate_table(raw, roles, source=where)
    # Metadata columns of ISO 8601 date/time strings are stored as datetimes (when every
    # value parses), before hashing, so the version id reflects the typed content. Declared
    # --meta columns convert too: a re-add carries the inferred roles over as declared ones.
    raw = convert_iso_datetimes(raw, roles.meta)
    frame = canonical_frame(raw, roles)
    del raw
    params = {
        "source": where if isinstance(source, pd.DataFrame) else str(Path(source).resolve()),
        "label": roles.label,
        "id": roles.id,
        "text": list(roles.text),
        "meta": list(roles.meta),
    }
    if roles.sensitive:
        params["sensitive"] = list(roles.sensitive)

    def sub(description: str, _done: int, _total: int) -> None:
        if description != "done":
            steps(description)

    version = commit_version(
        stores,
        name,
        frame,
        roles,
        operation="add",
        params=params,
        message=message or f"add {Path(where).name}",
        author=author,
        parent_is_latest=True,
        annotations=_carried_annotations(parent, frame),
        progress=sub,
    )
    steps.done()
    return version
