"""Audit a dataset version: every detector, stored with the version it describes.

``ws.quality.audit(ref)`` computes out-of-sample probabilities (cross-validation, or the caller's own
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
>>> v = ws.data.add("digits", digits_frame().iloc[:300])
>>> audit = ws.quality.audit("digits", cv=3)
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
from dcai.store import read_parquet_object
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = [
    "ISSUE_COLUMNS",
    "ISSUE_TYPES",
    "Audit",
    "carried_from",
    "content_text",
    "find_audit",
    "list_audits",
    "run_audit",
    "suggest_min_score",
]

#: Issue types, in the order summaries list them.
ISSUE_TYPES = ("label", "label_conflict", "duplicate", "outlier", "missing_values")
#: Columns of the issue list.
ISSUE_COLUMNS = ("example_id", "type", "score", "given_label", "suggested_label")
#: Neighbours searched once and shared by the detectors.
_SHARED_NEIGHBORS = 50
_SUFFIX = ".parquet"
#: Feature columns shown beside an issue of a table (the ones that drive the flag).
CONTENT_FEATURES = 3
#: How a decision carried over from an earlier audit starts its note (see :func:`carried_from`).
_CARRIED_NOTE = re.compile(r"^\[carried from audit ([0-9a-f]+) of ([^\]]+)\]\s?")


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
    _stores: Stores | None = field(default=None, repr=False, compare=False)

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID_LENGTH]

    @property
    def version_ref(self) -> str:
        return f"{self.dataset}@{self.version_id[:SHORT_ID_LENGTH]}"

    def _bound_stores(self) -> Stores:
        if self._stores is None:
            raise InvalidInputError("this Audit is not bound to a workspace")
        return self._stores

    def _read(self, digest: str) -> pd.DataFrame:
        frame: pd.DataFrame = read_parquet_object(
            self._bound_stores().objects,
            digest,
            suffix=_SUFFIX,
            what=f"audit {self.id[:8]} of {self.version_ref}",
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
        return resolve_ref(self._bound_stores(), self.version_ref)

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

    def issue_content(
        self, issues: pd.DataFrame | None = None, *, max_features: int = CONTENT_FEATURES
    ) -> pd.DataFrame:
        """The issues (default: all) with what a reviewer needs to see beside each id.

        Adds ``content``: for data with text columns, the text (a dict when there are several
        text columns); for tables, a dict ``{column: value}`` of the ``max_features`` feature
        columns that drive the flag (label issues: the numeric features on which the example
        looks least like its given class and most like the suggested one; outliers: the
        largest |z-score|; missing values: the missing columns; duplicates: the first
        columns), then other features in order. Adds ``duplicate_group`` for duplicates and
        label conflicts (``None`` otherwise). Values are JSON-ready (``None`` for missing).
        """
        return _with_content(self, self.issues if issues is None else issues, max_features)

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


# Content beside an issue -----------------------------------------------------------------


def _plain_value(value: Any) -> Any:
    """A JSON-ready scalar: numpy scalars unwrapped, NaN/NA as None, other objects as text."""
    value = _json_value(value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _with_content(audit: Audit, issues: pd.DataFrame, max_features: int) -> pd.DataFrame:
    out = issues.reset_index(drop=True).copy()
    out["content"] = pd.Series([None] * len(out), dtype=object)
    out["duplicate_group"] = pd.Series([None] * len(out), dtype=object)
    if out.empty:
        return out
    version = audit.version()
    roles = version.roles
    ids = out[EXAMPLE_ID].astype(str).to_numpy()
    if out["type"].isin(["duplicate", "label_conflict"]).any():
        scores = audit.scores
        if "duplicate_group" in scores.columns:
            groups = scores.set_index(scores[EXAMPLE_ID].astype(str))["duplicate_group"]
            dup = out["type"].isin(["duplicate", "label_conflict"]).to_numpy()
            values = groups.reindex(ids).to_numpy(dtype=object)
            out["duplicate_group"] = [
                _plain_value(v) if d and _plain_value(v) not in (None, -1) else None
                for v, d in zip(values, dup, strict=True)
            ]
    if roles.text:
        data = version.to_pandas(columns=[EXAMPLE_ID, *roles.text])
        data = data.set_index(data[EXAMPLE_ID].astype(str)).reindex(ids)
        if len(roles.text) == 1:
            out["content"] = [_plain_value(v) for v in data[roles.text[0]].to_numpy(dtype=object)]
        else:
            out["content"] = [
                {c: _plain_value(row[c]) for c in roles.text}
                for _, row in data[list(roles.text)].iterrows()
            ]
        return out
    features = list(roles.features)
    if not features:
        return out
    data = version.to_pandas(columns=[EXAMPLE_ID, roles.label, *features])
    out["content"] = _table_content(data, roles.label, features, out, max_features)
    return out


def _table_content(
    data: pd.DataFrame,
    label: str,
    features: list[str],
    issues: pd.DataFrame,
    max_features: int,
) -> list[dict[str, Any]]:
    """``{column: value}`` of the features that drive each issue (see ``Audit.issue_content``)."""
    numeric = [
        c
        for c in features
        if pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(data[c])
    ]
    values = data[numeric].to_numpy(dtype=np.float64) if numeric else np.empty((len(data), 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(values, axis=0) if len(values) else np.zeros(len(numeric))
        std = np.nanstd(values, axis=0) if len(values) else np.ones(len(numeric))
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    z = (values - np.nan_to_num(mean)) / std
    labels = data[label].astype(str).to_numpy()
    class_means: dict[str, np.ndarray] = {}
    if numeric:
        by_class = pd.DataFrame(z).groupby(labels).mean()
        class_means = {str(k): row.to_numpy(dtype=np.float64) for k, row in by_class.iterrows()}
    position = {example_id: i for i, example_id in enumerate(data[EXAMPLE_ID].astype(str))}
    order = {c: i for i, c in enumerate(features)}
    contents: list[dict[str, Any]] = []
    for issue in issues.itertuples(index=False):
        i = position.get(str(issue.example_id))
        if i is None:
            contents.append({})
            continue
        row_z = z[i]
        kind = str(issue.type)
        missing = data.iloc[i][features].isna().to_numpy(dtype=bool)
        if kind == "label":
            given = class_means.get(str(issue.given_label))
            suggested = issue.suggested_label
            target = None if _plain_value(suggested) is None else class_means.get(str(suggested))
            relevance = np.abs(row_z - given) if given is not None else np.abs(row_z)
            if target is not None:
                relevance = relevance - np.abs(row_z - target)
        elif kind == "outlier":
            relevance = np.abs(row_z)
        else:
            relevance = np.full(len(numeric), -np.inf)
        score = {c: -np.inf for c in features}
        score.update(
            {c: float(r) for c, r in zip(numeric, relevance, strict=True) if np.isfinite(r)}
        )
        if kind == "missing_values":
            score.update({c: np.inf for c, m in zip(features, missing, strict=True) if m})
        chosen = sorted(features, key=lambda c: (-score[c], order[c]))[:max_features]
        contents.append({c: _plain_value(data.iloc[i][c]) for c in chosen})
    return contents


def content_text(content: Any) -> str:
    """One line for a table cell: the text with whitespace collapsed, or ``col=value, ...``.

    >>> content_text({"x": 1.23456, "colour": "red"})
    'x=1.235, colour=red'
    >>> content_text("  two   words ")
    'two words'
    """
    if content is None:
        return ""
    if isinstance(content, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in content.items())
    return " ".join(str(content).split())


def _short(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:.4g}"
    return " ".join(str(value).split())


def suggest_min_score(issues: pd.DataFrame, *, k: int = 10, step: float = 0.05) -> float | None:
    """A round ``--min-score`` that accepts about the ``k`` surest label suggestions.

    The largest multiple of ``step`` (else of 0.01) at or below the ``k``-th highest score of
    the label issues with a suggestion, so it never exceeds the top score and accepting with it
    takes at least one decision; ``None`` when there is no suggestion to accept.

    >>> suggest_min_score(pd.DataFrame({"type": ["label"] * 2, "score": [0.874, 0.5],
    ...                                 "suggested_label": ["a", "b"]}), k=1)
    0.85
    """
    labelled = issues[(issues["type"] == "label") & issues["suggested_label"].notna()]
    scores = np.sort(labelled["score"].to_numpy(dtype=np.float64))[::-1]
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return None
    kth = float(scores[min(k, len(scores)) - 1])
    for grid in (step, 0.01):
        value = round(np.floor(kth / grid) * grid, 4)
        while value > kth:
            value = round(value - grid, 4)
        if value > 0:
            return float(value)
    return 0.0


def carried_from(note: str | None) -> str | None:
    """The audit a carried-over decision came from (its short id), else ``None``.

    >>> carried_from("[carried from audit 1a2b3c4 of ds@9f8e7d6] looks right")
    '1a2b3c4'
    >>> carried_from("looks right") is None
    True
    """
    match = _CARRIED_NOTE.match(note or "")
    return match.group(1) if match else None


def _carry_decisions(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    columns: list[str],
    issues: pd.DataFrame,
) -> list[dict[str, Any]]:
    """Review decisions of earlier audits to carry to a new audit of ``version``.

    ``columns`` are the content compared: the inputs, then the label (last).

    For each example, the decision of the nearest audited ancestor version of the same
    dataset that decided on it; carried when the example is still there with the same
    content and label (same row hash over the inputs and the label): ``keep`` only when the new
    audit flags the example again, ``relabel``/``remove`` (not applied yet) always. The note
    records where it came from (``[carried from audit ID of REF] ...``; see :func:`carried_from`).
    """
    with stores.meta.read() as conn:
        dataset_pk = conn.execute(
            select(t.datasets.c.id).where(t.datasets.c.name == version.dataset)
        ).scalar_one()
        version_rows = conn.execute(
            select(t.versions.c.id, t.versions.c.version_hash).where(
                t.versions.c.dataset_id == dataset_pk
            )
        ).all()
        hash_of = {int(r.id): str(r.version_hash) for r in version_rows}
        current = next((pk for pk, h in hash_of.items() if h == version.id), None)
        if current is None:
            return []
        edges = conn.execute(
            select(t.version_parents.c.child_id, t.version_parents.c.parent_id).where(
                t.version_parents.c.child_id.in_(list(hash_of))
            )
        ).all()
        parents: dict[int, list[int]] = {}
        for edge in edges:
            parents.setdefault(int(edge.child_id), []).append(int(edge.parent_id))
        distance = {current: 0}
        frontier = [current]
        while frontier:
            following = []
            for pk in frontier:
                for parent in parents.get(pk, []):
                    if parent in hash_of and parent not in distance:
                        distance[parent] = distance[pk] + 1
                        following.append(parent)
            frontier = following
        del distance[current]
        if not distance:
            return []
        audit_rows = conn.execute(
            select(t.audits.c.id, t.audits.c.audit_hash, t.audits.c.version_id).where(
                t.audits.c.version_id.in_(list(distance))
            )
        ).all()
        if not audit_rows:
            return []
        decision_rows = conn.execute(
            select(t.review_decisions).where(
                t.review_decisions.c.audit_id.in_([int(r.id) for r in audit_rows])
            )
        ).all()
    # Nearest version first, then newest audit.
    rank = {int(r.id): (distance[int(r.version_id)], -int(r.id)) for r in audit_rows}
    audit_of = {int(r.id): r for r in audit_rows}
    chosen: dict[str, Any] = {}
    for row in sorted(decision_rows, key=lambda r: rank[int(r.audit_id)]):
        chosen.setdefault(str(row.example_id), row)
    if not chosen:
        return []
    current_hash = dict(
        zip(frame[EXAMPLE_ID].astype(str), row_hashes(frame[columns]).tolist(), strict=True)
    )
    label_column = columns[-1]
    current_label = {
        str(i): _plain_value(v)
        for i, v in zip(frame[EXAMPLE_ID], frame[label_column].to_numpy(dtype=object), strict=True)
    }
    flagged_types = issues.groupby(issues[EXAMPLE_ID].astype(str))["type"].agg(
        lambda s: ";".join(sorted(set(s)))
    )
    carried: list[dict[str, Any]] = []
    by_audit: dict[int, list[Any]] = {}
    for example_id, row in chosen.items():
        if example_id not in current_hash:
            continue  # removed since
        if row.action == "keep" and example_id not in flagged_types.index:
            continue  # nothing to keep: the new audit does not flag it
        by_audit.setdefault(int(row.audit_id), []).append(row)
    for audit_pk, rows in sorted(by_audit.items()):
        source = audit_of[audit_pk]
        source_version = resolve_ref(stores, f"{version.dataset}@{hash_of[int(source.version_id)]}")
        old = source_version.to_pandas()
        if any(c not in old.columns for c in columns):
            continue  # the content columns changed: nothing is the same example any more
        wanted = {str(r.example_id) for r in rows}
        old = old[old[EXAMPLE_ID].astype(str).isin(wanted)]
        old_hash = dict(
            zip(old[EXAMPLE_ID].astype(str), row_hashes(old[columns]).tolist(), strict=True)
        )
        ref = f"{version.dataset}@{hash_of[int(source.version_id)][:SHORT_ID_LENGTH]}"
        for row in rows:
            example_id = str(row.example_id)
            if old_hash.get(example_id) != current_hash[example_id]:
                continue  # changed since the decision: review it again
            already = row.label_json is not None and json.loads(row.label_json) == (
                current_label.get(example_id)
            )
            if row.action == "relabel" and already:
                continue  # already has the new label: nothing left to do
            note = str(row.note or "")
            if carried_from(note) is None:
                prefix = f"[carried from audit {source.audit_hash[:SHORT_ID_LENGTH]} of {ref}]"
                note = f"{prefix} {note}".rstrip()
            carried.append(
                {
                    "example_id": example_id,
                    "action": row.action,
                    "label_json": row.label_json,
                    "issue_types": str(flagged_types.get(example_id, "")),
                    "reviewer": row.reviewer,
                    "note": note,
                    "decided_at": row.decided_at,
                }
            )
    return carried


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
    stores: Stores,
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
    from dcai.quality._duplicates import find_duplicates, split_leakage
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
    version = resolve_ref(stores, ref)
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
            backend=backend or stores.settings.compute_backend,
            scheduler_address=stores.settings.scheduler_address,
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
    # Text near-duplicates are confirmed on the text itself, not only on its vectors.
    text_columns = list((typed.text if typed else ()) + tuple(roles.text))
    duplicates = find_duplicates(
        matrix,
        labels=labels,
        knn=knn,
        row_hashes=input_hashes,
        texts=frame[text_columns] if text_columns else None,
    )
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
    suggested = suggest_min_score(issues)
    summary["suggested_min_score"] = suggested
    if roles.split is not None:
        # Duplicate groups spanning train/dev/test leak: the model is scored on what it saw.
        leaks = split_leakage(scores["duplicate_group"], scores["split"])
        summary["split_leakage"] = {
            "groups": len(leaks),
            "examples": int(leaks["examples"].sum()) if len(leaks) else 0,
        }
    lap("summary")
    summary["timings_s"] = timings

    steps("storing")
    from dcai.data.versions import _write_table

    scores_object = _write_table(stores, scores)
    issues_object = _write_table(stores, issues)
    probs_object = _write_table(stores, probs_frame)
    audit_hash = _digest(version.id, params, scores_object, probs_object)
    existing = _find_by_hash(stores, audit_hash)
    if existing is not None:
        steps.done()
        return existing
    # Review decisions on unchanged examples carry over from audits of earlier versions.
    carried = _carry_decisions(stores, version, frame, [*inputs, roles.label], issues)
    summary["carried_decisions"] = len(carried)
    author = current_author(author)
    created_at = now_iso()
    with stores.meta.transaction() as conn:
        # Another process may have stored the same audit while this one computed it.
        if conn.execute(select(t.audits.c.id).where(t.audits.c.audit_hash == audit_hash)).first():
            conn.rollback()
            steps.done()
            raced = _find_by_hash(stores, audit_hash)
            assert raced is not None  # invariant: the row was just seen
            return raced
        version_pk = _version_pk(conn, version)
        inserted = conn.execute(
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
        if carried:
            key = inserted.inserted_primary_key
            assert key is not None  # invariant: a row was just inserted
            audit_pk = int(key[0])
            conn.execute(
                t.review_decisions.insert(), [{"audit_id": audit_pk, **row} for row in carried]
            )
    steps.done()
    found = _find_by_hash(stores, audit_hash)
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


def _from_row(stores: Stores, row: Any) -> Audit:
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
        _stores=stores,
    )


def _find_by_hash(stores: Stores, audit_hash: str) -> Audit | None:
    with stores.meta.read() as conn:
        row = conn.execute(_audit_query().where(t.audits.c.audit_hash == audit_hash)).first()
    return None if row is None else _from_row(stores, row)


def list_audits(stores: Stores, ref: str | None = None) -> list[Audit]:
    """Audits, newest first; of one dataset (``name``) or one version (``name@hash``)."""
    query = _audit_query().order_by(t.audits.c.id.desc())
    if ref is not None:
        name, _, selector = ref.partition("@")
        version = resolve_ref(stores, ref)  # raises a helpful error for unknown refs
        query = query.where(t.datasets.c.name == name)
        if selector:
            query = query.where(t.versions.c.version_hash == version.id)
    with stores.meta.read() as conn:
        rows = conn.execute(query).all()
    return [_from_row(stores, r) for r in rows]


def find_audit(stores: Stores, key: str) -> Audit:
    """An audit by id prefix, or the newest audit of a dataset or version ref."""
    key = key.strip()
    if "@" not in key and re.fullmatch(r"[0-9a-f]{4,64}", key):
        with stores.meta.read() as conn:
            rows = conn.execute(
                _audit_query().where(t.audits.c.audit_hash.startswith(key, autoescape=True))
            ).all()
        if len(rows) == 1:
            return _from_row(stores, rows[0])
        if len(rows) > 1:
            raise UnknownRefError(
                f"audit id {key!r} matches {len(rows)} audits",
                hint="Give more characters of the id.",
            )
    try:
        audits = list_audits(stores, key)
    except UnknownRefError as error:
        raise UnknownRefError(
            f"no audit or dataset {key!r}",
            hint="Give an audit id (see: dcai audits) or a dataset ref that has been audited.",
        ) from error
    if "@" not in key and audits:
        # A dataset name means its latest version; audits of older versions are stale.
        latest = resolve_ref(stores, key)
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
