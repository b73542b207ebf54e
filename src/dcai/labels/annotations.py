"""Annotations from several labelers, in long form, committed with lineage.

One row per (example, annotator): ``example_id, annotator, label`` plus optional
``guideline`` (the guideline version the labeler followed) and ``time``. Importing commits
a child version with the same rows and the merged annotations; a labeler who labels an
example again replaces their earlier label.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._readers import read_table, source_name
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import DatasetVersion, commit_version, resolve_ref
from dcai.errors import SchemaError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dcai.store import Stores

__all__ = [
    "ANNOTATION_COLUMNS",
    "coerce_label_value",
    "import_annotations",
    "label_kind",
    "read_annotations",
]

ANNOTATION_COLUMNS = (EXAMPLE_ID, "annotator", "label", "guideline", "time")


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(np.asarray(mask))]


def read_annotations(
    source: pd.DataFrame | str | Path,
    *,
    id_column: str = EXAMPLE_ID,
    annotator_column: str = "annotator",
    label_column: str = "label",
) -> pd.DataFrame:
    """Read and validate a long-form annotation table into the canonical columns.

    >>> import pandas as pd
    >>> read_annotations(pd.DataFrame({"example_id": [1, 1], "annotator": ["ann", "bo"],
    ...                                "label": ["cat", "dog"]})).columns.tolist()
    ['example_id', 'annotator', 'label', 'guideline', 'time']
    """
    where = source_name(source)
    raw = read_table(source)
    columns = list(raw.columns)
    for option, column in (
        ("--id", id_column),
        ("--annotator", annotator_column),
        ("--label", label_column),
    ):
        if column not in columns:
            raise SchemaError(
                "no such column",
                path=where,
                column=column,
                hint=f"Annotations need example_id, annotator and label columns; name yours with {option} "
                f"(columns: {', '.join(columns)}).",
            )
    out = pd.DataFrame(
        {
            EXAMPLE_ID: raw[id_column],
            "annotator": raw[annotator_column],
            "label": raw[label_column],
            "guideline": raw["guideline"] if "guideline" in columns else None,
            "time": raw["time"] if "time" in columns else None,
        }
    )
    for column, source_column in (
        (EXAMPLE_ID, id_column),
        ("annotator", annotator_column),
        ("label", label_column),
    ):
        empty = out[column].isna().to_numpy(copy=True)
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            empty |= (
                (out[column].astype("string").str.strip() == "").fillna(False).to_numpy(dtype=bool)
            )
        if empty.any():
            raise SchemaError(
                f"{int(empty.sum())} empty value(s)",
                path=where,
                column=source_column,
                rows=_rows(empty),
                hint="Every annotation needs an example id, an annotator and a label; fill or drop those rows.",
            )
    out[EXAMPLE_ID] = out[EXAMPLE_ID].astype(str)
    out["annotator"] = out["annotator"].astype(str)
    out["guideline"] = (
        out["guideline"].astype("string").astype(object).where(out["guideline"].notna(), None)
    )
    if out["time"].notna().any():
        try:
            out["time"] = pd.to_datetime(out["time"], utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            bad = (
                pd.to_datetime(out["time"], utc=True, errors="coerce").isna() & out["time"].notna()
            )
            raise SchemaError(
                "cannot read these times",
                path=where,
                column="time",
                rows=_rows(bad),
                hint="Write times as ISO 8601, e.g. 2026-11-23T10:00:00Z.",
            ) from exc
    else:
        out["time"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    dup = out.duplicated([EXAMPLE_ID, "annotator"], keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            "the same annotator labels the same example more than once",
            path=where,
            rows=_rows(dup),
            hint="Keep one label per (example_id, annotator), e.g. the latest.",
        )
    return out


def _declared_classes(parent: DatasetVersion, classes: Sequence[object] | None) -> set[str] | None:
    """The class set labels must come from (as text), or None when nothing is declared."""
    if classes is not None:
        return {str(c) for c in classes}
    if parent.roles.label is None:
        return None
    values = parent.to_pandas(columns=[parent.roles.label])[parent.roles.label].dropna()
    distinct = set(values.astype(str).unique())
    # A constant placeholder or free text (values that rarely repeat) is not a class set.
    if len(distinct) < 2 or len(distinct) > len(values) / 2:
        return None
    return distinct


def _check_class_set(new: pd.DataFrame, declared: set[str], *, where: str, column: str) -> None:
    outside = ~new["label"].astype(str).isin(declared).to_numpy()
    if not outside.any():
        return
    found = pd.unique(new.loc[outside, "label"].astype(str))
    shown = ", ".join(repr(v) for v in found[:5])
    known = ", ".join(sorted(declared)[:12]) + (", …" if len(declared) > 12 else "")
    raise SchemaError(
        f"{int(outside.sum())} label(s) outside the declared class set ({shown}); "
        f"the classes are {known}",
        path=where,
        column=column,
        rows=_rows(outside),
        hint="Fix the labels, or accept a new class on purpose with --allow-new-classes "
        "(allow_new_classes=True) or declare the set with --classes a,b,c.",
    )


_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def label_kind(dtype: Any) -> str:
    """``bool``, ``int``, ``float`` or ``str``: the type imported labels are coerced to."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "str"


_KIND_WORDS = {"bool": "a boolean", "int": "an integer", "float": "a number", "str": "text"}


def coerce_label_value(value: Any, kind: str) -> Any:
    """``value`` (often text from a file) as a label of ``kind``; ValueError when it is not one.

    >>> coerce_label_value("1", "int"), coerce_label_value("Yes", "bool"), coerce_label_value(2, "str")
    (1, True, '2')
    >>> coerce_label_value("1.5", "int")
    Traceback (most recent call last):
    ...
    ValueError: 1.5
    """
    if isinstance(value, np.generic):
        value = value.item()
    if kind == "str":
        return str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if not np.isfinite(number):
        raise ValueError(value)
    if kind == "float":
        return number
    if isinstance(value, int):
        return value
    if not number.is_integer():
        raise ValueError(value)
    text = str(value).strip()
    return int(text) if text.lstrip("+-").isdigit() else int(number)


def _coerce_labels(
    new: pd.DataFrame,
    labels: pd.Series,
    *,
    where: str,
    column: str,
    places: Sequence[str] | None,
) -> pd.Series:
    """The imported labels in the type of the data set's label column, or a refusal naming
    the first label that is not of that type (its row, or its Label Studio task)."""
    kind = label_kind(labels.dtype)
    coerced: list[Any] = []
    for row, value in enumerate(new["label"].tolist()):
        try:
            coerced.append(coerce_label_value(value, kind))
        except (TypeError, ValueError, OverflowError) as exc:
            classes = sorted(pd.unique(labels.dropna()).tolist(), key=str)
            shown = ", ".join(str(c) for c in classes[:12]) + (", …" if len(classes) > 12 else "")
            place = ""
            rows: list[int] | None = [row + 1]
            if places is not None and row < len(places):
                place, rows = f" ({places[row]})", None
            raise SchemaError(
                f"label {value!r}{place} is not {_KIND_WORDS[kind]} like the data set's labels",
                path=where,
                column=column,
                rows=rows,
                hint=f"The data set's classes are {shown}; write one of them.",
            ) from exc
    return pd.Series(coerced, index=new.index, dtype=object)


def _value_kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    return "str"


def _align_existing(existing: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Earlier annotations in the same label type as the new ones (older imports kept text)."""
    try:
        values = [coerce_label_value(v, kind) for v in existing["label"].tolist()]
    except (TypeError, ValueError, OverflowError):
        return existing
    existing = existing.copy()
    existing["label"] = pd.Series(values, index=existing.index, dtype=object)
    return existing


def _is_label_studio(source: pd.DataFrame | str | Path, format: str | None) -> bool:
    """Whether ``source`` is a Label Studio export: said so, or a ``.json`` file with an array."""
    if format is not None:
        return format.lower() in ("labelstudio", "label-studio", "label_studio")
    if isinstance(source, pd.DataFrame):
        return False
    path = Path(source)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip()
    return head.startswith(b"[")


def import_annotations(
    stores: Stores,
    ref: str,
    source: pd.DataFrame | str | Path,
    *,
    id_column: str = EXAMPLE_ID,
    annotator_column: str = "annotator",
    label_column: str = "label",
    guideline: str | None = None,
    format: str | None = None,
    classes: Sequence[object] | None = None,
    allow_new_classes: bool = False,
    message: str = "",
    author: str | None = None,
) -> DatasetVersion:
    """Commit a child of ``ref`` carrying these annotations merged with its existing ones.

    Refuses, naming the rows, annotations whose ``example_id`` is not in the version. With
    ``guideline`` (a guideline ref such as ``sentiment`` or ``sentiment@v2``), rows that do not
    name a guideline record that version as the one in force. A Label Studio JSON export
    (``format="labelstudio"``, or a ``.json`` file holding a JSON array) is read with
    :func:`dcai.labels.read_annotation_file`.

    Labels must come from the declared class set: ``classes`` when given, else the values of
    the version's label column when it holds classes (two or more distinct values, used on
    average at least twice each; a constant placeholder or free text such as transcripts is
    not a class set and is not checked). A label outside it is refused,
    naming the rows, unless ``allow_new_classes`` (a class the guideline added on purpose).
    """
    parent = resolve_ref(stores, ref)
    where = source_name(source)
    places: list[str] | None = None
    if _is_label_studio(source, format):
        from dcai.labels._tasks import read_annotation_file

        source = read_annotation_file(Path(source), format="labelstudio")
        places = source.attrs.get("places")
    new = read_annotations(
        source, id_column=id_column, annotator_column=annotator_column, label_column=label_column
    )
    kind = None
    if parent.roles.label is not None:
        labels = parent.to_pandas(columns=[parent.roles.label])[parent.roles.label]
        kind = label_kind(labels.dtype)
        new["label"] = _coerce_labels(new, labels, where=where, column=label_column, places=places)
    guideline_ref = None
    if guideline is not None:
        from dcai.labels.guidelines import resolve_guideline

        guideline_ref = resolve_guideline(stores, guideline).ref
        new["guideline"] = new["guideline"].where(new["guideline"].notna(), guideline_ref)
    known = parent.to_pandas(columns=[EXAMPLE_ID])[EXAMPLE_ID]
    unknown = ~new[EXAMPLE_ID].isin(known).to_numpy()
    if unknown.any():
        shown = ", ".join(repr(v) for v in new.loc[unknown, EXAMPLE_ID].unique()[:3])
        raise SchemaError(
            f"{int(unknown.sum())} annotation(s) for example ids not in {parent.ref} ({shown})",
            path=where,
            column=id_column,
            rows=_rows(unknown),
            hint=f"Check the ids against: dcai data export {parent.ref} FILE",
        )
    declared = _declared_classes(parent, classes)
    if declared is not None and not allow_new_classes:
        _check_class_set(new, declared, where=where, column=label_column)
    existing = parent.annotations()
    if len(existing) and kind is not None:
        existing = _align_existing(existing, kind)
    if len(existing):
        keep = ~existing.set_index([EXAMPLE_ID, "annotator"]).index.isin(
            new.set_index([EXAMPLE_ID, "annotator"]).index
        )
        merged = pd.concat([existing[keep], new], ignore_index=True)
    else:
        merged = new
    replaced = len(existing) + len(new) - len(merged)
    merged = merged.sort_values([EXAMPLE_ID, "annotator"], kind="stable").reset_index(drop=True)
    if len({_value_kind(v) for v in merged["label"].tolist()}) > 1:
        # Labels of mixed types cannot be stored in one column: keep them all as text.
        merged["label"] = merged["label"].astype(str).astype(object)
    return commit_version(
        stores,
        parent.dataset,
        parent.to_pandas(),
        parent.roles,
        operation="import_annotations",
        params={
            "source": where if isinstance(source, pd.DataFrame) else str(Path(source).resolve()),
            "annotations": len(new),
            "annotators": int(new["annotator"].nunique()),
            "replaced": replaced,
            "guideline": guideline_ref,
        },
        message=message or f"import {len(new)} annotations from {Path(where).name}",
        author=author,
        parents=[parent],
        annotations=merged,
        data_object=parent.data_object,
    )
