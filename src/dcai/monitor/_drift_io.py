"""Save and load a fitted :class:`~dcai.monitor.drift.DriftDetector` without pickle.

A detector is a directory of two files: ``detector.json`` (format name, version, settings,
column kinds and counts, each array's length and SHA-256, and a SHA-256 of the JSON body itself)
and ``numeric.npz`` (the sorted references or quantile grids, read with
``allow_pickle=False``). Loading checks the format, the version, every field's type, every
array's dtype, shape and hash, and refuses anything else with an
:class:`~dcai.errors.InvalidInputError` that names the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dcai._atomic import atomic_write_bytes
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.monitor.drift import DriftDetector

__all__ = ["FORMAT", "VERSION", "load_detector", "save_detector"]

FORMAT = "dcai.drift-detector"
VERSION = 1
_JSON = "detector.json"
_ARRAYS = "numeric.npz"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _body_digest(body: dict[str, Any]) -> str:
    return _digest(json.dumps(body, sort_keys=True, allow_nan=False).encode())


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def save_detector(detector: DriftDetector, path: Path) -> Path:
    """Write ``detector`` to directory ``path`` (created if needed); return the path."""
    from dcai.monitor.drift import NumericSummary

    summaries = detector._fitted()
    arrays: dict[str, np.ndarray] = {}
    columns: list[dict[str, Any]] = []
    for index, summary in enumerate(summaries.values()):
        entry: dict[str, Any] = {
            "name": summary.name,
            "kind": summary.kind,
            "raw_kind": summary.raw_kind,
            "source": summary.source,
            "n_rows": summary.n_rows,
        }
        if isinstance(summary, NumericSummary):
            key = f"c{index}"
            arrays[key] = summary.values
            entry.update(
                array=key,
                length=int(summary.values.size),
                sha256=_digest(summary.values.tobytes()),
                n=summary.n,
                n_nan=summary.n_nan,
                n_posinf=summary.n_posinf,
                n_neginf=summary.n_neginf,
                sd=_number(summary.sd),
                exact=summary.exact,
            )
        else:
            entry.update(
                n_missing=summary.n_missing, counts=[[k, v] for k, v in summary.counts.items()]
            )
        columns.append(entry)
    body = {
        "format": FORMAT,
        "version": VERSION,
        "settings": detector.settings(),
        "n_reference_rows": detector.n_reference_rows_,
        "columns": columns,
    }
    document = {**body, "sha256": _body_digest(body)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path / _ARRAYS, buffer.getvalue())
    atomic_write_bytes(path / _JSON, json.dumps(document, indent=1, allow_nan=False).encode())
    return path


def _refuse(path: Path, message: str) -> InvalidInputError:
    return InvalidInputError(
        message,
        path=str(path),
        hint="The saved detector is damaged or was edited: fit it again and save it anew.",
    )


def load_detector(cls: type[DriftDetector], path: Path) -> DriftDetector:
    """Read and verify a detector saved by :func:`save_detector`."""
    from dcai.monitor.drift import CategoricalSummary, NumericSummary, Summary

    meta, arrays_path = path / _JSON, path / _ARRAYS
    if not meta.is_file() or not arrays_path.is_file():
        raise InvalidInputError(
            f"no saved drift detector here (expected {_JSON} and {_ARRAYS})",
            path=str(path),
            hint="Give the directory written by DriftDetector.save().",
        )
    try:
        document = json.loads(meta.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(meta, f"not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _refuse(meta, "not a dcai drift detector")
    if document.get("version") != VERSION:
        raise InvalidInputError(
            f"written in format version {document.get('version')!r}; this dcai reads {VERSION}",
            path=str(meta),
            hint="Use the dcai release that wrote it, or fit the detector again.",
        )
    body = {k: v for k, v in document.items() if k != "sha256"}
    if document.get("sha256") != _body_digest(body):
        raise _refuse(meta, "the contents do not match their checksum")
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise _refuse(arrays_path, f"cannot read the arrays ({exc})") from exc
    try:
        detector = cls(**body["settings"])
        summaries: dict[str, Summary] = {}
        for entry in body["columns"]:
            summary: Summary
            if entry["kind"] == "numeric":
                values = arrays[entry["array"]]
                if (
                    values.dtype != np.float64
                    or values.shape != (entry["length"],)
                    or _digest(values.tobytes()) != entry["sha256"]
                ):
                    raise _refuse(arrays_path, f"array of column {entry['name']!r} is corrupt")
                sd = entry["sd"]
                summary = NumericSummary(
                    name=str(entry["name"]),
                    raw_kind=entry["raw_kind"],
                    source=str(entry["source"]),
                    n_rows=int(entry["n_rows"]),
                    n=int(entry["n"]),
                    n_nan=int(entry["n_nan"]),
                    n_posinf=int(entry["n_posinf"]),
                    n_neginf=int(entry["n_neginf"]),
                    sd=math.nan if sd is None else float(sd),
                    exact=bool(entry["exact"]),
                    values=values,
                )
            elif entry["kind"] == "categorical":
                summary = CategoricalSummary(
                    name=str(entry["name"]),
                    raw_kind=entry["raw_kind"],
                    source=str(entry["source"]),
                    n_rows=int(entry["n_rows"]),
                    n_missing=int(entry["n_missing"]),
                    counts={str(k): int(v) for k, v in entry["counts"]},
                )
            else:
                raise _refuse(meta, f"unknown column kind {entry['kind']!r}")
            summaries[summary.name] = summary
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise _refuse(meta, f"a field is missing or malformed ({exc!r})") from exc
    detector.summaries_ = summaries
    detector.n_reference_rows_ = int(body["n_reference_rows"])
    return detector
