"""Batch prediction: a registered model over a file or a dataset version, chunk by chunk.

``dcai predict MODEL_REF INPUT --out FILE.parquet`` reads INPUT (CSV, Parquet, JSON Lines, or
a dataset version ref), checks that every training feature of the model is there (naming the
first missing one), answers ``chunk_rows`` rows at a time with the same code the server uses
(so a row gets the same answer online and offline), writes one Parquet file — the row's id
(``example_id`` for a dataset version, else ``row``), ``label``, ``confidence`` and one
``p_<class>`` column per class — to a temporary name and renames it, and logs every row like an
online request with ``route=batch`` under the deployment it is run for (by default the model's
name), so production data from batch jobs flows back like any other.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dcai._progress import ProgressCallback, Steps
from dcai.deploy._models import answers, load_pinned
from dcai.deploy._privacy import redactor_for
from dcai.deploy.deployments import check_deployment_name
from dcai.deploy.prediction_log import (
    PartitionedLog,
    inputs_json,
    prediction_block,
    prediction_log_dir,
)
from dcai.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["BatchResult", "predict_batch"]

DEFAULT_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class BatchResult:
    """What ``dcai predict`` reports."""

    model_version: str
    rows: int
    out: Path
    deployment: str
    logged: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "rows": self.rows,
            "out": str(self.out),
            "deployment": self.deployment,
            "logged": self.logged,
            "seconds": round(self.seconds, 3),
        }


def _read(stores: Stores, source: str | Path) -> tuple[pd.DataFrame, str]:
    path = Path(source)
    if path.exists():
        from dcai.data._readers import read_table

        return read_table(path), "row"
    from dcai.data.versions import resolve_ref

    return resolve_ref(stores, str(source)).to_pandas(), "example_id"


def predict_batch(
    stores: Stores,
    model: str,
    source: str | Path,
    out: str | Path,
    *,
    deployment: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    log: bool = True,
    force: bool = False,
    trusted: tuple[str, ...] = (),
    progress: ProgressCallback | None = None,
) -> BatchResult:
    """Answer every row of ``source`` with the registered ``model``; write ``out``."""
    from dcai._user_files import check_output_path, write_user_file

    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidInputError(f"chunk_rows must be a positive whole number, got {chunk_rows!r}")
    check_output_path(out, workspace=stores.path, force=force)
    loaded = load_pinned(stores, model, trusted=trusted)
    name = check_deployment_name(deployment or loaded.ref.split("/")[0])
    frame, id_column = _read(stores, source)
    missing = [f for f in loaded.features if f not in frame.columns]
    if missing:
        raise SchemaError(
            f"{source} has no column {missing[0]!r}, a training feature of {loaded.ref}"
            + (f" ({len(missing)} missing)" if len(missing) > 1 else ""),
            hint=f"The model needs: {', '.join(loaded.features[:10])}"
            + (" …" if len(loaded.features) > 10 else ""),
        )
    ids = frame[id_column] if id_column in frame.columns else pd.Series(range(len(frame)))
    writer = PartitionedLog(prediction_log_dir(stores.path)) if log else None
    redact = redactor_for(stores, [loaded])
    steps = Steps(progress, total=max(1, -(-len(frame) // chunk_rows)))
    parts: list[pd.DataFrame] = []
    start = time.perf_counter()
    logged = 0
    try:
        for lo in range(0, len(frame), chunk_rows):
            chunk = frame.iloc[lo : lo + chunk_rows]
            steps(f"rows {lo + 1:,}–{lo + len(chunk):,}")
            began = time.perf_counter()
            probs = loaded.predict(chunk)
            answered = answers(loaded, probs)
            latency = (time.perf_counter() - began) * 1000 / max(len(chunk), 1)
            part = pd.DataFrame(
                probs, columns=[f"p_{c}" for c in loaded.classes], index=chunk.index
            )
            part.insert(0, "confidence", [a["confidence"] for a in answered])
            part.insert(0, "label", [a["label"] for a in answered])
            part.insert(0, id_column, ids.iloc[lo : lo + len(chunk)].to_numpy())
            parts.append(part)
            if writer is not None:
                records = chunk[loaded.features].to_dict(orient="records")
                writer.extend_block(  # one queue item per chunk, as the server does per request
                    prediction_block(
                        answered,
                        [inputs_json(redact(row)) for row in records],
                        request_id=uuid.uuid4().hex,
                        time=datetime.now(UTC).isoformat(timespec="microseconds"),
                        deployment=name,
                        revision=0,
                        route="batch",
                        model_version=loaded.ref,
                        latency_ms=latency,
                    )
                )
                logged += len(records)
    finally:
        if writer is not None:
            writer.close()
    result = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    written = write_user_file(
        out, lambda tmp: result.to_parquet(tmp, index=False), workspace=stores.path, force=force
    )
    steps.done()
    if writer is not None and writer.dropped_rows:
        logged -= writer.dropped_rows
    return BatchResult(loaded.ref, len(result), written, name, logged, time.perf_counter() - start)
