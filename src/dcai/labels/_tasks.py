"""Task files for labelers (CSV, JSON Lines, Label Studio JSON) and reading their labels back.

:func:`write_task_file` writes the examples to (re)label; labelers fill in ``annotator``
and ``label`` (CSV, JSON Lines) or label in Label Studio and export as JSON.
:func:`read_annotation_file` reads any of these into long-form annotations
(``example_id, annotator, label, guideline, time``) ready for
:func:`dcai.labels.import_annotations`.

The format comes from the suffix unless given: ``.csv`` → ``csv``, ``.jsonl``/``.ndjson`` →
``jsonl``, ``.json`` → ``labelstudio``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dcai._user_files import WorkspaceLike, write_user_file
from dcai.data._schema import EXAMPLE_ID
from dcai.errors import InvalidInputError, SchemaError
from dcai.labels._label_studio import (
    prepare_tasks,
    read_label_studio_export,
    to_label_studio_tasks,
)

__all__ = ["TASK_FORMATS", "read_annotation_file", "task_table", "write_task_file"]

#: Task file formats and the suffixes that select them.
TASK_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "labelstudio"}
_FORMAT_NAMES = ("csv", "jsonl", "labelstudio")
_ANSWER_COLUMNS = ("annotator", "label", "suggested_label", "suggested_score")


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in _FORMAT_NAMES:
            raise InvalidInputError(
                f"unknown task file format {format!r}",
                path=str(path),
                hint=f"Use one of: {', '.join(_FORMAT_NAMES)}.",
            )
        return format
    kind = TASK_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"cannot tell the format from the suffix {path.suffix or '(none)'!r}",
            path=str(path),
            hint="Use .csv, .jsonl or .json (Label Studio), or pass format=.",
        )
    return kind


def task_table(
    frame: pd.DataFrame,
    *,
    data_columns: Sequence[str] | None = None,
    predictions: pd.DataFrame | None = None,
    id_column: str = EXAMPLE_ID,
) -> pd.DataFrame:
    """The rows of a CSV/JSON Lines task file: id, data, optional suggestion, blank answers.

    Columns: ``example_id``, the ``data_columns`` (default: all but the id and ``label``, so
    that labelers relabel without seeing the given label), then ``suggested_label`` and
    ``suggested_score`` when ``predictions`` are given, then empty ``annotator`` and ``label``
    for the labeler to fill.

    Examples
    --------
    >>> import pandas as pd
    >>> task_table(pd.DataFrame({"example_id": [1], "text": ["hi"], "label": ["a"]})).columns.tolist()
    ['example_id', 'text', 'annotator', 'label']
    """
    ids, columns, suggested = prepare_tasks(
        frame, data_columns=data_columns, id_column=id_column, predictions=predictions
    )
    clash = [c for c in columns if c in _ANSWER_COLUMNS]
    if clash:
        raise SchemaError(
            "a data column has the name of an answer column",
            column=str(clash[0]),
            hint=f"Rename it: {', '.join(_ANSWER_COLUMNS)} are filled by labelers or dcai.",
        )
    out = pd.DataFrame({EXAMPLE_ID: ids.to_numpy()})
    for column in columns:
        out[column] = frame[column].to_numpy()
    if predictions is not None:
        out["suggested_label"] = [suggested[i][0] if i in suggested else None for i in ids]
        out["suggested_score"] = [suggested[i][1] if i in suggested else None for i in ids]
    out["annotator"] = None
    out["label"] = None
    return out


def write_task_file(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    format: str | None = None,
    data_columns: Sequence[str] | None = None,
    predictions: pd.DataFrame | None = None,
    id_column: str = EXAMPLE_ID,
    force: bool = False,
    workspace: str | Path | WorkspaceLike | None = None,
) -> Path:
    """Write the examples of ``frame`` as a task file for labelers, atomically.

    Parameters
    ----------
    frame
        The examples to label (e.g. from :func:`dcai.labels.sample_for_labeling`).
    path
        Where to write (through :func:`dcai._user_files.write_user_file`): an existing file
        is refused unless ``force``, and then replaced only once the new one is complete.
    format
        ``"csv"``, ``"jsonl"`` or ``"labelstudio"``; default from the suffix.
    data_columns
        The columns labelers see; default all but the id and ``label``. For Label Studio
        the first is the field the labeling config shows (:func:`label_studio_config`).
    predictions
        Optional suggestions: ``example_id, label[, score]`` — Label Studio pre-annotations,
        or ``suggested_label``/``suggested_score`` columns in CSV and JSON Lines.
    id_column
        The example id column of ``frame``.
    force
        Overwrite an existing file.
    workspace
        The workspace (or its folder) the file must not be written into, if any.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    kind = _format_of(path, format)
    if kind == "labelstudio":
        tasks = to_label_studio_tasks(
            frame, data_columns=data_columns, id_column=id_column, predictions=predictions
        )
        payload = json.dumps(tasks, indent=2, ensure_ascii=False).encode("utf-8")
    else:
        table = task_table(
            frame, data_columns=data_columns, predictions=predictions, id_column=id_column
        )
        if kind == "csv":
            payload = table.to_csv(index=False).encode("utf-8")
        else:
            buffer = io.StringIO()
            table.to_json(
                buffer, orient="records", lines=True, force_ascii=False, date_format="iso"
            )
            payload = buffer.getvalue().encode("utf-8")

    def write(tmp: Path) -> None:
        tmp.write_bytes(payload)

    return write_user_file(path, write, workspace=workspace, force=force)


def read_annotation_file(
    path: str | Path,
    *,
    format: str | None = None,
    example_ids: Collection[Any] | None = None,
    control_name: str | None = None,
) -> pd.DataFrame:
    """Read labelers' answers into long-form annotations ``example_id, annotator, label, guideline, time``.

    CSV and JSON Lines files go through :func:`dcai.labels.read_annotations` (columns
    ``example_id``, ``annotator``, ``label``, optional ``guideline`` and ``time``; other
    columns such as the shown data are ignored); Label Studio JSON exports through
    :func:`dcai.labels.read_label_studio_export`.

    Parameters
    ----------
    path
        The file.
    format
        ``"csv"``, ``"jsonl"`` or ``"labelstudio"``; default from the suffix.
    example_ids
        The known example ids; annotations for other ids are refused, naming them.
    control_name
        Label Studio only: the ``Choices`` control holding the label.

    Raises
    ------
    InvalidInputError, SchemaError
        A missing or malformed file, unfilled answers, or unknown example ids.
    """
    path = Path(path)
    kind = _format_of(path, format)
    if kind == "labelstudio":
        return read_label_studio_export(path, control_name=control_name, example_ids=example_ids)
    from dcai.data._readers import SUPPORTED_SUFFIXES
    from dcai.labels.annotations import read_annotations

    if SUPPORTED_SUFFIXES.get(path.suffix.lower()) != kind:
        raise InvalidInputError(
            f"format {kind!r} does not match the suffix {path.suffix or '(none)'!r}",
            path=str(path),
            hint=f"Rename the file to end in .{kind}.",
        )
    out = read_annotations(path)
    if example_ids is not None:
        unknown = ~out[EXAMPLE_ID].isin({str(i) for i in example_ids}).to_numpy()
        if unknown.any():
            shown = ", ".join(repr(v) for v in out.loc[unknown, EXAMPLE_ID].unique()[:3])
            raise SchemaError(
                f"{int(unknown.sum())} annotation(s) for example ids not in the dataset ({shown})",
                path=str(path),
                column=EXAMPLE_ID,
                rows=[int(i) + 1 for i in np.flatnonzero(unknown)],
                hint="Check the ids against the task file you handed out.",
            )
    return out
