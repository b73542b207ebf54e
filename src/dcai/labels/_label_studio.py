"""Label Studio for single-label classification: labeling config, task import JSON, export reader.

dcai hands examples to labelers in Label Studio and reads their labels back as long-form
annotations (``example_id, annotator, label, guideline, time``). The functions here are
pure: they build and parse Python objects; :func:`dcai.labels.write_task_file` and
:func:`dcai.labels.read_annotation_file` do the file I/O.

The labeling config they assume (see :func:`label_studio_config`)::

    <View>
      <Text name="text" value="$text"/>
      <Choices name="label" toName="text" choice="single" showInline="true">
        <Choice value="cat"/>
        <Choice value="dog"/>
      </Choices>
    </View>

- one object tag (``Text``, or ``Image`` for image URLs) named after the data field it shows;
- one ``Choices`` control named ``label`` (``control_name``) with ``choice="single"``;
- every task carries ``data.example_id``, which Label Studio keeps untouched through import
  and export, so labels find their way back to dcai's examples whatever task ids Label
  Studio assigns.

A task to import (Label Studio's "Basic Label Studio JSON format", a list of such objects)::

    {"data": {"text": "the film was great", "example_id": "e1"},
     "predictions": [{"model_version": "dcai", "score": 0.91,
                      "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                  "value": {"choices": ["positive"]}}]}]}

A task in Label Studio's "JSON" export adds ``id`` and ``annotations``; each annotation has
``completed_by`` (a user id, or ``{"id", "email", "first_name", "last_name"}`` in some
versions), ``result`` (a list of regions as above), ``was_cancelled`` (a skipped task),
``created_at`` and ``updated_at``.

References
----------
Label Studio documentation, "Import pre-annotated data" and "Label Studio JSON format of
annotated tasks" (labelstud.io/guide/predictions, labelstud.io/guide/task_format).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.errors import InvalidInputError, SchemaError

__all__ = [
    "label_studio_config",
    "parse_label_studio_export",
    "read_label_studio_export",
    "to_label_studio_tasks",
]

_OUTPUT_COLUMNS = [EXAMPLE_ID, "annotator", "label", "guideline", "time"]
_OBJECT_TAGS = {"text": "Text", "image": "Image"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HINT_EXPORT = (
    "Export the project from Label Studio as 'JSON' (not JSON-MIN or CSV) and read that file."
)
_SHOWN = 3


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInputError(
            f"{what} is {value!r}",
            hint=f"Give {what} as a name of letters, digits and underscores, e.g. 'text'.",
        )
    return value


def label_studio_config(
    classes: Sequence[Any],
    data_field: str = "text",
    kind: str = "text",
    *,
    control_name: str = "label",
) -> str:
    """The labeling config (XML) for single-label classification of one data field.

    Paste it into the project's *Settings → Labeling Interface → Code*. Tasks written by
    :func:`to_label_studio_tasks` with the same ``data_field`` and ``control_name`` fit it.

    Parameters
    ----------
    classes
        The choices, in the order labelers see them.
    data_field
        The task data field to show (a column of your table); also the object tag's name.
    kind
        ``"text"`` shows the field as text, ``"image"`` as an image from the URL it holds.
    control_name
        The name of the ``Choices`` control; export results carry it as ``from_name``.

    Examples
    --------
    >>> print(label_studio_config(["cat", "dog"], "review"))
    <View>
      <Text name="review" value="$review"/>
      <Choices name="label" toName="review" choice="single" showInline="true">
        <Choice value="cat"/>
        <Choice value="dog"/>
      </Choices>
    </View>
    """
    if kind not in _OBJECT_TAGS:
        raise InvalidInputError(
            f"kind is {kind!r}", hint=f"Use one of: {', '.join(repr(k) for k in _OBJECT_TAGS)}."
        )
    _check_name(data_field, "data_field")
    _check_name(control_name, "control_name")
    if isinstance(classes, str) or len(classes) == 0:
        raise InvalidInputError(
            "classes is empty or one string", hint="Give a list of class names."
        )
    values = [str(c) for c in classes]
    if any(pd.isna(c) for c in classes) or any(not v.strip() for v in values):
        raise InvalidInputError("classes holds a missing or empty name", hint="Name every class.")
    if len(set(values)) != len(values):
        raise InvalidInputError("classes has repeated values", hint="List each class once.")
    tag = _OBJECT_TAGS[kind]
    lines = [
        "<View>",
        f'  <{tag} name="{data_field}" value="${data_field}"/>',
        f'  <Choices name="{control_name}" toName="{data_field}" choice="single" showInline="true">',
        *(f"    <Choice value={quoteattr(v)}/>" for v in values),
        "  </Choices>",
        "</View>",
    ]
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unboxed, missing → None, times as ISO 8601."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float | int | str | bool):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _check_predictions(
    predictions: pd.DataFrame, ids: pd.Series, id_column: str
) -> dict[str, tuple[str, float | None]]:
    where = "predictions"
    if not isinstance(predictions, pd.DataFrame):
        raise InvalidInputError(
            f"predictions is a {type(predictions).__name__}, not a DataFrame",
            hint=f"Give a DataFrame with columns {id_column}, label and (optional) score.",
        )
    for column in (id_column, "label"):
        if column not in predictions.columns:
            raise SchemaError(
                "no such column",
                path=where,
                column=column,
                hint=f"Give columns {id_column}, label and (optional) score.",
            )
    pred_ids = predictions[id_column].astype(str)
    rows = [i + 1 for i, known in enumerate(pred_ids.isin(set(ids))) if not known]
    if rows:
        shown = ", ".join(repr(v) for v in pred_ids.iloc[[r - 1 for r in rows]].unique()[:_SHOWN])
        raise InvalidInputError(
            f"{len(rows)} prediction(s) for example ids not in the table ({shown})",
            path=where,
            column=id_column,
            rows=rows,
            hint="Predict for the examples you are writing tasks for.",
        )
    dup = pred_ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise InvalidInputError(
            "more than one prediction for the same example",
            path=where,
            column=id_column,
            rows=[int(i) + 1 for i in np.flatnonzero(dup)],
            hint="Keep one suggestion per example.",
        )
    missing = predictions["label"].isna().to_numpy()
    if missing.any():
        raise InvalidInputError(
            "missing suggested labels",
            path=where,
            column="label",
            rows=[int(i) + 1 for i in np.flatnonzero(missing)],
            hint="Drop those rows.",
        )
    scores: list[float | None] = [None] * len(predictions)
    if "score" in predictions.columns:
        values = pd.to_numeric(predictions["score"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0) | (values > 1)
        if bad.any():
            raise InvalidInputError(
                "scores must be numbers in [0, 1]",
                path=where,
                column="score",
                rows=[int(i) + 1 for i in np.flatnonzero(bad)],
                hint="Give the model's probability of the suggested label.",
            )
        scores = [float(v) for v in values]
    labels = predictions["label"].tolist()
    return {
        i: (str(_json_value(lab)), s) for i, lab, s in zip(pred_ids, labels, scores, strict=True)
    }


def prepare_tasks(
    frame: pd.DataFrame,
    *,
    data_columns: Sequence[str] | None,
    id_column: str,
    predictions: pd.DataFrame | None,
) -> tuple[pd.Series, list[Any], dict[str, tuple[str, float | None]]]:
    """Validate a task table once for every format: (ids as text, data columns, suggestions)."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"frame is a {type(frame).__name__}, not a DataFrame", hint="Give a pandas DataFrame."
        )
    if id_column not in frame.columns:
        raise SchemaError(
            "no such column",
            column=id_column,
            hint="Tasks need an example id column; name yours with id_column= "
            f"(columns: {', '.join(map(str, frame.columns))}).",
        )
    if data_columns is None:
        data_columns = [c for c in frame.columns if c not in (id_column, "label")]
    data_columns = list(data_columns)
    if not data_columns:
        raise InvalidInputError(
            "no data columns to show",
            hint="Name the columns labelers should see with data_columns=.",
        )
    for column in data_columns:
        if column not in frame.columns:
            raise SchemaError(
                "no such column", column=column, hint="Pick data_columns from the table's columns."
            )
    ids = frame[id_column]
    missing = ids.isna().to_numpy()
    if missing.any():
        raise SchemaError(
            "missing example ids",
            column=id_column,
            rows=[int(i) + 1 for i in np.flatnonzero(missing)],
            hint="Give every row an id.",
        )
    ids = ids.astype(str)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            "repeated example ids",
            column=id_column,
            rows=[int(i) + 1 for i in np.flatnonzero(dup)],
            hint="Each task needs its own example id.",
        )
    suggested = {} if predictions is None else _check_predictions(predictions, ids, id_column)
    return ids, data_columns, suggested


def to_label_studio_tasks(
    frame: pd.DataFrame,
    *,
    data_columns: Sequence[str] | None = None,
    id_column: str = EXAMPLE_ID,
    predictions: pd.DataFrame | None = None,
    control_name: str = "label",
    model_version: str = "dcai",
) -> list[dict[str, Any]]:
    """Label Studio tasks (the import JSON, as Python objects) for the rows of ``frame``.

    Parameters
    ----------
    frame
        One row per example, with ``id_column`` and the data to show.
    data_columns
        The columns that go into each task's ``data``; the first is the one the labeling
        config shows (``data_field`` of :func:`label_studio_config`). Default: every column
        but the id and ``label`` — labelers relabel independently, without the given label.
    id_column
        The example id column; written as ``data.example_id`` (a string).
    predictions
        Optional model suggestions: a DataFrame with ``example_id``, ``label`` and optional
        ``score`` (in [0, 1]); Label Studio shows them as pre-annotations.
    control_name
        The ``Choices`` control's name in the labeling config.
    model_version
        Written with each prediction.

    Raises
    ------
    SchemaError, InvalidInputError
        A missing id or data column, repeated or missing ids, predictions for unknown
        examples, or scores outside [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"example_id": ["e1"], "text": ["great film"], "label": ["pos"]})
    >>> to_label_studio_tasks(frame)
    [{'data': {'text': 'great film', 'example_id': 'e1'}}]
    """
    _check_name(control_name, "control_name")
    ids, data_columns, suggested = prepare_tasks(
        frame, data_columns=data_columns, id_column=id_column, predictions=predictions
    )
    _check_name(str(data_columns[0]), "the first data column")
    to_name = str(data_columns[0])
    tasks: list[dict[str, Any]] = []
    columns = {str(c): frame[c].tolist() for c in data_columns}
    for row, example_id in enumerate(ids):
        data = {name: _json_value(values[row]) for name, values in columns.items()}
        data[EXAMPLE_ID] = example_id
        task: dict[str, Any] = {"data": data}
        if example_id in suggested:
            label, score = suggested[example_id]
            prediction: dict[str, Any] = {
                "model_version": model_version,
                "result": [
                    {
                        "from_name": control_name,
                        "to_name": to_name,
                        "type": "choices",
                        "value": {"choices": [label]},
                    }
                ],
            }
            if score is not None:
                prediction["score"] = score
            task["predictions"] = [prediction]
        tasks.append(task)
    return tasks


class _Where:
    """Names a place in an export for messages: ``task 3 (id 17), annotation 2``."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, place: str, what: str, hint: str = _HINT_EXPORT) -> InvalidInputError:
        return InvalidInputError(f"{place}: {what}", path=self.source, hint=hint)


def _annotator(value: Any, place: str, where: _Where) -> tuple[str | None, str | None]:
    """(user id, email) of ``completed_by``: an integer id or a user object."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | str) and str(value).strip():
        return str(value), None
    if isinstance(value, dict):
        user_id = value.get("id")
        email = (
            value.get("email")
            if isinstance(value.get("email"), str) and value.get("email")
            else None
        )
        if user_id is not None or email is not None:
            return (None if user_id is None else str(user_id)), email
    raise where.fail(place, f"completed_by is {value!r}, not a user id or user object")


def _parse_time(value: Any, place: str, where: _Where) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    except (ValueError, TypeError) as exc:
        raise where.fail(
            place, f"cannot read the time {value!r}", hint="Times must be ISO 8601."
        ) from exc


def parse_label_studio_export(
    tasks: Any,
    *,
    control_name: str | None = None,
    example_ids: Collection[Any] | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Long-form annotations from a Label Studio "JSON" export (parsed into Python objects).

    Each submitted annotation with one choice becomes a row ``example_id, annotator, label,
    guideline, time``: the example id from ``data.example_id``, the annotator as the user's
    email when the export gives it (anywhere in the file) and otherwise the user id as text,
    the label from the ``Choices`` result, and the time from ``updated_at`` (else
    ``created_at``). ``guideline`` is None.

    Skipped: cancelled annotations (``was_cancelled``), annotations without a choice, and
    results of other controls (e.g. a comment ``TextArea``). When one labeler has several
    annotations of a task, the latest counts, as in :func:`dcai.labels.import_annotations`.

    Parameters
    ----------
    tasks
        The export: a list of task objects.
    control_name
        The ``Choices`` control to read; needed only when results carry several.
    example_ids
        The known example ids; annotations for other ids are refused.
    source
        The file name, for messages.

    Raises
    ------
    InvalidInputError
        Not a list of tasks, a task without ``data.example_id``, a missing ``completed_by``,
        several choices in one result (multi-label), several ``Choices`` controls without
        ``control_name``, or unknown example ids. The message names the task (position and
        Label Studio id) and the annotation.

    Examples
    --------
    >>> export = [{"id": 7, "data": {"text": "hi", "example_id": "e1"}, "annotations": [
    ...     {"completed_by": 3, "was_cancelled": False, "updated_at": "2024-05-01T10:00:00Z",
    ...      "result": [{"from_name": "label", "to_name": "text", "type": "choices",
    ...                  "value": {"choices": ["greeting"]}}]}]}]
    >>> parse_label_studio_export(export)[["example_id", "annotator", "label"]].values.tolist()
    [['e1', '3', 'greeting']]
    """
    where = _Where(source)
    if not isinstance(tasks, list):
        raise InvalidInputError(
            f"a Label Studio export is a JSON list of tasks, not a JSON {type(tasks).__name__}",
            path=source,
            hint=_HINT_EXPORT,
        )
    records: list[dict[str, Any]] = []
    emails: dict[str, str] = {}
    controls: dict[str, str] = {}
    for t_index, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            raise where.fail(f"task {t_index}", f"is a JSON {type(task).__name__}, not an object")
        task_place = f"task {t_index}" + (f" (id {task['id']})" if "id" in task else "")
        data = task.get("data")
        if not isinstance(data, dict):
            raise where.fail(task_place, "has no 'data' object")
        if data.get(EXAMPLE_ID) is None or str(data.get(EXAMPLE_ID)).strip() == "":
            raise where.fail(
                task_place,
                f"data has no '{EXAMPLE_ID}'",
                hint="Import tasks written by dcai (write_task_file), which carry data.example_id.",
            )
        example_id = str(_json_value(data[EXAMPLE_ID]))
        annotations = task.get("annotations")
        if annotations is None:
            raise where.fail(task_place, "has no 'annotations' list")
        if not isinstance(annotations, list):
            raise where.fail(
                task_place, f"'annotations' is a JSON {type(annotations).__name__}, not a list"
            )
        for a_index, annotation in enumerate(annotations, start=1):
            place = f"{task_place}, annotation {a_index}"
            if not isinstance(annotation, dict):
                raise where.fail(place, f"is a JSON {type(annotation).__name__}, not an object")
            if annotation.get("was_cancelled"):
                continue
            if "completed_by" not in annotation:
                raise where.fail(place, "has no 'completed_by'")
            user_id, email = _annotator(annotation["completed_by"], place, where)
            if user_id is not None and email is not None:
                emails[user_id] = email
            result = annotation.get("result", [])
            if not isinstance(result, list):
                raise where.fail(place, f"'result' is a JSON {type(result).__name__}, not a list")
            for region in result:
                if not isinstance(region, dict) or region.get("type") != "choices":
                    continue
                name = region.get("from_name")
                value = region.get("value")
                choices = value.get("choices") if isinstance(value, dict) else None
                if not isinstance(name, str) or not isinstance(choices, list):
                    raise where.fail(place, "a choices result lacks 'from_name' or 'value.choices'")
                if control_name is not None and name != control_name:
                    continue
                if len(choices) > 1:
                    raise where.fail(
                        place,
                        f"{len(choices)} choices {choices!r} in one result; "
                        "dcai reads single-label classification",
                        hint='Set choice="single" on the Choices control, or keep one choice per task.',
                    )
                if not choices:
                    continue
                controls.setdefault(name, place)
                records.append(
                    {
                        "place": place,
                        "control": name,
                        EXAMPLE_ID: example_id,
                        "user": user_id,
                        "email": email,
                        "label": str(_json_value(choices[0])),
                        "time": _parse_time(
                            annotation.get("updated_at") or annotation.get("created_at"),
                            place,
                            where,
                        ),
                    }
                )
    if control_name is None and len(controls) > 1:
        raise InvalidInputError(
            f"results come from {len(controls)} Choices controls ({', '.join(map(repr, controls))})",
            path=source,
            hint="Say which one holds the label with control_name=.",
        )
    if example_ids is not None:
        known = {str(i) for i in example_ids}
        unknown = [r for r in records if r[EXAMPLE_ID] not in known]
        if unknown:
            shown = ", ".join(f"{r['place']}: {r[EXAMPLE_ID]!r}" for r in unknown[:_SHOWN])
            raise InvalidInputError(
                f"{len(unknown)} annotation(s) for example ids not in the dataset ({shown})",
                path=source,
                hint="Check that the export comes from tasks written for this dataset.",
            )
    for record in records:
        user = record["user"]
        record["annotator"] = (
            record["email"] or (emails.get(user) if user is not None else None) or user
        )
    out = pd.DataFrame(records, columns=[*_OUTPUT_COLUMNS, "place"])
    out["guideline"] = None
    out["time"] = pd.to_datetime(out["time"], utc=True)
    if len(out):
        # A labeler who annotated a task again: the latest annotation counts (file order breaks ties).
        ordered = out.assign(_order=np.arange(len(out))).sort_values(
            ["time", "_order"], na_position="first", kind="stable"
        )
        keep = ordered.drop_duplicates([EXAMPLE_ID, "annotator"], keep="last").index
        out = out.loc[sorted(keep)].reset_index(drop=True)
    for column in (EXAMPLE_ID, "annotator", "label"):
        out[column] = out[column].astype(object)
    # Where each row comes from ("task 3 (id 17), annotation 2"), for messages about its label.
    places = out.pop("place").tolist()
    out.attrs["places"] = places
    return out


def read_label_studio_export(
    path: str | Path,
    *,
    control_name: str | None = None,
    example_ids: Collection[Any] | None = None,
) -> pd.DataFrame:
    """Read a Label Studio "JSON" export file into long-form annotations.

    See :func:`parse_label_studio_export` for what is read and skipped.

    Raises
    ------
    InvalidInputError
        A missing file, text that is not JSON (with line and column), or any problem
        :func:`parse_label_studio_export` reports, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("file not found", path=str(path), hint="Check the path.")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the file is not UTF-8 text (byte {exc.start})", path=str(path), hint=_HINT_EXPORT
        ) from exc
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            path=str(path),
            hint=_HINT_EXPORT,
        ) from exc
    return parse_label_studio_export(
        tasks, control_name=control_name, example_ids=example_ids, source=str(path)
    )
