"""Audit a dataset version: every detector, stored with the version it describes.

``ws.audit(ref)`` computes out-of-sample probabilities (cross-validation, or the caller's own
``pred_probs``), one nearest-neighbour search shared by every distance-based detector, then
label issues, outliers, near-duplicates (with label conflicts), missing values and class
imbalance. The per-example scores, the issue list and the probabilities are stored as
content-addressed Parquet objects and linked to the version in one metadata transaction, so
an audit is immutable and, like a version, stored once: the same data and parameters give the
same audit id.

The issue list has one row per (example, issue type) with ``example_id``, ``type``,
``score``, ``given_label`` and ``suggested_label``. Its ``score`` says how sure the detector
is that this *is* an issue, in [0, 1], high = surer (``1 -`` the detector's per-example
quality score, where low means suspicious), so ``--min-score 0.9`` keeps the clearest ones.

Examples
--------
>>> import tempfile
>>> from dcai.demo import digits_frame
>>> from dcai.workspace import Workspace
>>> ws = Workspace(tempfile.mkdtemp())
>>> v = ws.add_dataset("digits", digits_frame().iloc[:300])
>>> audit = ws.audit("digits", cv=3)
>>> audit.version_ref == v.ref, set(audit.issues.columns) >= {"example_id", "type", "score"}
(True, True)
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from dcai._progress import ProgressCallback, Steps
from dcai.data._content import row_hashes
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import (
    SHORT_ID_LENGTH,
    DatasetVersion,
    current_author,
    now_iso,
    resolve_ref,
)
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import _tables as t
from dcai.store import read_parquet_object

if TYPE_CHECKING:
    from dcai.workspace import Workspace

__all__ = ["ISSUE_COLUMNS", "ISSUE_TYPES", "Audit", "find_audit", "list_audits", "run_audit"]

#: Issue types, in the order summaries list them.
ISSUE_TYPES = ("label", "label_conflict", "duplicate", "outlier", "missing_values")
#: Columns of the issue list.
ISSUE_COLUMNS = ("example_id", "type", "score", "given_label", "suggested_label")
#: Neighbours searched once and shared by the detectors.
_SHARED_NEIGHBORS = 50
_SUFFIX = ".parquet"


@dataclass(frozen=True)
class Audit:
    """One stored audit of one dataset version.

    ``scores`` has one row per example (``example_id`` first, then every detector's columns);
    ``issues`` one row per (example, issue type); ``summary`` the counts, the label-noise
    estimate and the class balance; ``pred_probs`` the out-of-sample probabilities used.
    """

    id: str
    dataset: str
    version_id: str
    params: dict[str, Any]
    summary: dict[str, Any]
    author: str
    created_at: str
    scores_object: str
    issues_object: str
    probs_object: str | None
    pk: int = field(repr=False, compare=False, default=0)
    created: bool = field(default=False, compare=False)
    _workspace: Workspace | None = field(default=None, repr=False, compare=False)

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID_LENGTH]

    @property
    def version_ref(self) -> str:
        return f"{self.dataset}@{self.version_id[:SHORT_ID_LENGTH]}"

    def _ws(self) -> Workspace:
        if self._workspace is None:
            raise InvalidInputError("this Audit is not bound to a workspace")
        return self._workspace

    def _read(self, digest: str) -> pd.DataFrame:
        frame: pd.DataFrame = read_parquet_object(
            self._ws().objects, digest, suffix=_SUFFIX, what=f"audit {self.id[:8]} of {self.version_ref}"
        )
        return frame

    @property
    def scores(self) -> pd.DataFrame:
        """Per-example scores and flags of every detector."""
        return self._read(self.scores_object)

    @property
    def issues(self) -> pd.DataFrame:
        """The issue list: one row per (example, issue type), surest first."""
        return self._read(self.issues_object)

    @property
    def pred_probs(self) -> pd.DataFrame:
        """Out-of-sample probabilities: ``example_id`` and one column per class."""
        if self.probs_object is None:
            raise UnknownRefError(f"audit {self.short_id} stored no probabilities")
        return self._read(self.probs_object)

    def version(self) -> DatasetVersion:
        """The audited dataset version."""
        return resolve_ref(self._ws(), self.version_ref)

    def to_dict(self, *, issues: bool = False) -> dict[str, Any]:
        """JSON-ready description; with ``issues``, the whole issue list too."""
        data: dict[str, Any] = {
            "audit": self.short_id,
            "id": self.id,
            "ref": self.version_ref,
            "created_at": self.created_at,
            "author": self.author,
            "params": self.params,
            "summary": self.summary,
        }
        if issues:
            frame = self.issues
            data["issues"] = [
                {key: _json_value(value) for key, value in row.items()}
                for row in frame.to_dict(orient="records")
            ]
        return data

    def __repr__(self) -> str:
        counts = self.summary.get("issues_by_type", {})
        shown = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
        return f"<Audit {self.short_id} of {self.version_ref}: {shown or 'no issues'}>"


def _json_value(value: Any) -> Any:
    if value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


# Running --------------------------------------------------------------------------------------


def _class_names(classes: np.ndarray) -> list[str]:
    return [str(c) for c in classes]


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def run_audit(
    ws: Workspace,
    ref: str,
    *,
    model: Any = None,
    pred_probs: Any = None,
    cv: int = 5,
    embeddings: bool = False,
    backend: str | None = None,
    n_jobs: int | None = None,
    random_state: int = 0,
    author: str | None = None,
    progress: ProgressCallback | None = None,
) -> Audit:
    """Run every detector on a version and store the results (see the module docstring).

    Parameters
    ----------
    ws, ref
        The workspace and the version to audit (``name`` means its latest version).
    model
        A scikit-learn classifier to cross-validate; by default one chosen by data type
        (:func:`dcai.quality.default_model`).
    pred_probs
        Your own out-of-sample probabilities instead: an array in row order with columns in
        sorted class order, or a DataFrame with ``example_id`` and one column per class.
    cv
        Cross-validation folds.
    embeddings
        Represent text columns by sentence embeddings (``pip install 'dcai[embeddings]'``)
        instead of TF-IDF for the distance-based detectors.
    backend, n_jobs
        Where the folds run (``joblib`` or ``dask``); default from the workspace settings.
    random_state
        Seed for folds and bootstrap intervals.
    """
    from dcai.quality import _features
    from dcai.quality._cross_val import cross_val_predict_proba
    from dcai.quality._dataset_issues import find_class_imbalance, find_missing_values
    from dcai.quality._duplicates import find_duplicates
    from dcai.quality._label_issues import analyse_label_issues
    from dcai.quality._neighbors import nearest_neighbors
    from dcai.quality._outliers import find_outliers

    steps = Steps(progress, total=7)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    steps("reading")
    version = resolve_ref(ws, ref)
    roles = version.roles
    frame = version.to_pandas()
    inputs = list(roles.inputs)
    if not inputs:
        raise InvalidInputError(
            f"{version.ref} has no feature or text columns to audit",
            hint="Declare features or --text columns when adding the data.",
        )
    labels = frame[roles.label].to_numpy()
    lap("read")

    steps("building features")
    # Feature columns are typed by their values; declared text columns are always text.
    typed = _features.infer_feature_roles(frame[list(roles.features)]) if roles.features else None
    matrix = _features.feature_matrix(
        frame[inputs],
        numeric=typed.numeric if typed else (),
        categorical=typed.categorical if typed else (),
        text=(typed.text if typed else ()) + tuple(roles.text),
        embeddings=embeddings,
        random_state=random_state,
    )
    lap("features")

    steps("searching neighbours")
    knn = nearest_neighbors(matrix, k=min(_SHARED_NEIGHBORS, len(frame) - 1))
    lap("neighbours")

    steps("cross-validating")
    classes = np.unique(labels)
    if pred_probs is None:
        probs = cross_val_predict_proba(
            frame[inputs],
            labels,
            model=model,
            cv=cv,
            n_jobs=n_jobs,
            backend=backend or ws.settings.compute_backend,
            scheduler_address=ws.settings.scheduler_address,
            random_state=random_state,
            classes=classes,
        )
        probs_source = "cross_validation"
    else:
        probs = _align_probs(pred_probs, frame[EXAMPLE_ID], classes)
        probs_source = "given"
    lap("cross_validation")

    steps("finding issues")
    label_analysis = analyse_label_issues(
        labels, probs, classes=classes, knn=knn, random_state=random_state
    )
    label_frame = label_analysis.issues
    outliers = find_outliers(matrix, knn=knn)
    input_hashes = row_hashes(frame[inputs])
    duplicates = find_duplicates(matrix, labels=labels, knn=knn, row_hashes=input_hashes)
    missing = find_missing_values(frame[inputs])
    imbalance = find_class_imbalance(labels)
    lap("detectors")

    steps("summarising")
    scores = pd.concat(
        [
            frame[[EXAMPLE_ID]].reset_index(drop=True),
            label_frame.reset_index(drop=True),
            outliers.reset_index(drop=True),
            duplicates.reset_index(drop=True),
            missing.reset_index(drop=True),
        ],
        axis=1,
    )
    if roles.split is not None:
        scores.insert(1, "split", frame[roles.split].to_numpy())
    issues = issue_list(scores)
    probs_frame = pd.DataFrame(probs, columns=_class_names(classes))
    probs_frame.insert(0, EXAMPLE_ID, frame[EXAMPLE_ID].to_numpy())
    accuracy = float((probs.argmax(axis=1) == label_analysis.encoded.codes).mean())
    params = {
        "ref": version.ref,
        "cv": cv if pred_probs is None else None,
        "model": _model_name(model, frame[inputs]) if pred_probs is None else None,
        "probabilities": probs_source,
        "embeddings": embeddings,
        "random_state": random_state,
        "neighbors": int(knn[1].shape[1]),
        "evidence_weights": {
            "model": float(label_analysis.weights[0]),
            "neighbors": float(label_analysis.weights[1])
            if len(label_analysis.weights) > 1
            else 0.0,
        },
    }
    summary = _summary(
        scores, issues, label_analysis.noise.to_dict(), imbalance, accuracy, len(frame)
    )
    lap("summary")
    summary["timings_s"] = timings

    steps("storing")
    from dcai.data.versions import _write_table

    scores_object = _write_table(ws, scores)
    issues_object = _write_table(ws, issues)
    probs_object = _write_table(ws, probs_frame)
    audit_hash = _digest(version.id, params, scores_object, probs_object)
    existing = _find_by_hash(ws, audit_hash)
    if existing is not None:
        steps.done()
        return existing
    author = current_author(author)
    created_at = now_iso()
    with ws.meta.transaction() as conn:
        # Another process may have stored the same audit while this one computed it.
        if conn.execute(select(t.audits.c.id).where(t.audits.c.audit_hash == audit_hash)).first():
            conn.rollback()
            steps.done()
            raced = _find_by_hash(ws, audit_hash)
            assert raced is not None  # invariant: the row was just seen
            return raced
        version_pk = _version_pk(conn, version)
        conn.execute(
            t.audits.insert().values(
                audit_hash=audit_hash,
                version_id=version_pk,
                params_json=json.dumps(params, default=str),
                summary_json=json.dumps(summary, default=str),
                scores_object=scores_object,
                issues_object=issues_object,
                probs_object=probs_object,
                author=author,
                created_at=created_at,
            )
        )
    steps.done()
    found = _find_by_hash(ws, audit_hash)
    assert found is not None  # invariant: just committed
    return replace(found, created=True)


def _model_name(model: Any, inputs: pd.DataFrame) -> str:
    """The model's repr on one line, without memory addresses (it is part of the audit id)."""
    if model is None:
        from dcai.quality._models import default_model

        text = f"default: {default_model(inputs)!r}"
    else:
        text = repr(model)
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return re.sub(r"\s+", " ", text)


def _align_probs(pred_probs: Any, example_ids: pd.Series, classes: np.ndarray) -> np.ndarray:
    """The caller's probabilities in the version's row order and sorted class order."""
    if isinstance(pred_probs, pd.DataFrame):
        if EXAMPLE_ID not in pred_probs.columns:
            raise InvalidInputError(
                "pred_probs has no example_id column",
                column=EXAMPLE_ID,
                hint="Give a DataFrame with example_id and one column per class, or an array in row order.",
            )
        by_id = pred_probs.set_index(pred_probs[EXAMPLE_ID].astype(str))
        missing_ids = ~example_ids.isin(by_id.index)
        if missing_ids.any():
            raise InvalidInputError(
                f"pred_probs has no row for {int(missing_ids.sum())} example(s) "
                f"(e.g. {example_ids[missing_ids].iloc[0]!r})",
                hint="Give probabilities for every example of the version.",
            )
        names = _class_names(classes)
        absent = [c for c in names if c not in map(str, by_id.columns)]
        if absent:
            raise InvalidInputError(
                f"pred_probs has no column for class(es) {', '.join(absent[:5])}",
                hint="Name one column per class, as the label values are written.",
            )
        by_id.columns = [str(c) for c in by_id.columns]
        aligned: np.ndarray = by_id.loc[example_ids.to_numpy(), names].to_numpy(dtype=np.float64)
        return aligned
    return np.asarray(pred_probs, dtype=np.float64)


def issue_list(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (example, issue type) from the per-example scores, surest first."""
    parts = []
    given = scores["given_label"]
    specs = [
        ("label", "is_label_issue", 1.0 - scores["label_quality"], scores["suggested_label"]),
        (
            "label_conflict",
            "is_label_conflict_issue",
            1.0 - scores["duplicate_score"],
            None,
        ),
        ("duplicate", "is_duplicate_issue", 1.0 - scores["duplicate_score"], None),
        ("outlier", "is_outlier_issue", 1.0 - scores["outlier_score"], None),
        ("missing_values", "is_missing_values_issue", 1.0 - scores["missing_values_score"], None),
    ]
    for kind, flag, score, suggested in specs:
        mask = scores[flag].to_numpy(dtype=bool)
        if not mask.any():
            continue
        part = pd.DataFrame(
            {
                "example_id": scores.loc[mask, EXAMPLE_ID].to_numpy(),
                "type": kind,
                "score": score[mask].to_numpy(dtype=np.float64).clip(0.0, 1.0),
                "given_label": given[mask].to_numpy(),
                "suggested_label": (
                    suggested[mask].to_numpy()
                    if suggested is not None
                    else np.full(int(mask.sum()), None, dtype=object)
                ),
            }
        )
        parts.append(part)
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
        empty["score"] = empty["score"].astype(np.float64)
        return empty
    issues = pd.concat(parts, ignore_index=True)
    order = {k: i for i, k in enumerate(ISSUE_TYPES)}
    issues["_order"] = issues["type"].map(order)
    issues = issues.sort_values(["_order", "score", "example_id"], ascending=[True, False, True])
    issues = issues.drop(columns="_order").reset_index(drop=True)
    issues["suggested_label"] = _nullable_like(issues["suggested_label"], given)
    return issues


def _nullable_like(values: pd.Series, like: pd.Series) -> pd.Series:
    """Suggestions typed like the labels, with missing entries (Parquet keeps 3 as 3, not 3.0)."""
    kind = like.dtype.kind
    target = {"i": "Int64", "u": "UInt64", "b": "boolean", "f": "Float64"}.get(kind)
    if target is None:
        return values.astype(object).where(values.notna(), None)
    return values.astype(target)


def _summary(
    scores: pd.DataFrame,
    issues: pd.DataFrame,
    noise: dict[str, Any],
    imbalance: pd.DataFrame,
    accuracy: float,
    n: int,
) -> dict[str, Any]:
    by_type = {kind: int((issues["type"] == kind).sum()) for kind in ISSUE_TYPES}
    by_class: dict[str, dict[str, int]] = {}
    for (label, kind), count in issues.groupby(["given_label", "type"]).size().items():
        by_class.setdefault(str(label), {})[str(kind)] = int(count)
    worst = issues[issues["type"] == "label"].head(10)
    imbalance_records = [
        {key: _json_value(value) for key, value in row.items()}
        for row in imbalance.astype({imbalance.columns[0]: str}).to_dict(orient="records")
    ]
    return {
        "examples": n,
        "examples_with_issues": int(issues["example_id"].nunique()),
        "issues_by_type": by_type,
        "issues_by_class": by_class,
        "label_noise": noise,
        "model_agreement": accuracy,
        "class_balance": imbalance_records,
        "worst": [
            {key: _json_value(value) for key, value in row.items()}
            for row in worst.to_dict(orient="records")
        ],
    }


# Reading --------------------------------------------------------------------------------------


def _version_pk(conn: Any, version: DatasetVersion) -> int:
    dataset_pk = conn.execute(
        select(t.datasets.c.id).where(t.datasets.c.name == version.dataset)
    ).scalar_one()
    return int(
        conn.execute(
            select(t.versions.c.id).where(
                (t.versions.c.dataset_id == dataset_pk) & (t.versions.c.version_hash == version.id)
            )
        ).scalar_one()
    )


def _audit_query() -> Any:
    return select(
        t.audits,
        t.versions.c.version_hash,
        t.datasets.c.name.label("dataset_name"),
    ).select_from(
        t.audits.join(t.versions, t.audits.c.version_id == t.versions.c.id).join(
            t.datasets, t.versions.c.dataset_id == t.datasets.c.id
        )
    )


def _from_row(ws: Workspace, row: Any) -> Audit:
    return Audit(
        id=row.audit_hash,
        dataset=row.dataset_name,
        version_id=row.version_hash,
        params=json.loads(row.params_json),
        summary=json.loads(row.summary_json),
        author=row.author,
        created_at=row.created_at,
        scores_object=row.scores_object,
        issues_object=row.issues_object,
        probs_object=row.probs_object,
        pk=row.id,
        _workspace=ws,
    )


def _find_by_hash(ws: Workspace, audit_hash: str) -> Audit | None:
    with ws.meta.read() as conn:
        row = conn.execute(_audit_query().where(t.audits.c.audit_hash == audit_hash)).first()
    return None if row is None else _from_row(ws, row)


def list_audits(ws: Workspace, ref: str | None = None) -> list[Audit]:
    """Audits, newest first; of one dataset (``name``) or one version (``name@hash``)."""
    query = _audit_query().order_by(t.audits.c.id.desc())
    if ref is not None:
        name, _, selector = ref.partition("@")
        version = resolve_ref(ws, ref)  # raises a helpful error for unknown refs
        query = query.where(t.datasets.c.name == name)
        if selector:
            query = query.where(t.versions.c.version_hash == version.id)
    with ws.meta.read() as conn:
        rows = conn.execute(query).all()
    return [_from_row(ws, r) for r in rows]


def find_audit(ws: Workspace, key: str) -> Audit:
    """An audit by id prefix, or the newest audit of a dataset or version ref."""
    key = key.strip()
    if "@" not in key and re.fullmatch(r"[0-9a-f]{4,64}", key):
        with ws.meta.read() as conn:
            rows = conn.execute(
                _audit_query().where(t.audits.c.audit_hash.startswith(key, autoescape=True))
            ).all()
        if len(rows) == 1:
            return _from_row(ws, rows[0])
        if len(rows) > 1:
            raise UnknownRefError(
                f"audit id {key!r} matches {len(rows)} audits",
                hint="Give more characters of the id.",
            )
    try:
        audits = list_audits(ws, key)
    except UnknownRefError as error:
        raise UnknownRefError(
            f"no audit or dataset {key!r}",
            hint="Give an audit id (see: dcai audits) or a dataset ref that has been audited.",
        ) from error
    if "@" not in key and audits:
        # A dataset name means its latest version; audits of older versions are stale.
        latest = resolve_ref(ws, key)
        current = [a for a in audits if a.version_id == latest.id]
        if not current:
            raise UnknownRefError(
                f"the latest version {latest.ref} has not been audited (only older versions were)",
                hint=f"Run: dcai audit {key}",
            )
        audits = current
    if not audits:
        raise UnknownRefError(f"{key!r} has not been audited", hint=f"Run: dcai audit {key}")
    return audits[0]
