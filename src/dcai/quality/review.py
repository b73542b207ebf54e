"""Review an audit's issues and commit the decisions as a clean child version.

A review is the queue of one audit's issues plus a decision per example: ``relabel`` (to a
label you give, or to the audit's suggestion), ``keep`` (the label is right; nothing changes),
or ``remove`` (drop the example). Decisions are stored as they are taken, so a review can span
sessions and several reviewers; a later decision on the same example replaces the earlier one.
Applying the review commits a child of the audited version whose lineage names the audit, the
reviewers and every decision; ``dcai data diff`` between the two shows exactly the relabels
and removals.

Decisions are only taken on the *current* data: when the dataset has a newer version than the
one audited, the audit is stale and the review refuses further decisions (audit again).

Examples
--------
>>> import tempfile
>>> from dcai.demo import digits_frame, plant_label_errors
>>> from dcai.workspace import Workspace
>>> ws = Workspace(tempfile.mkdtemp())
>>> _ = ws.data.add("digits", digits_frame().iloc[:300])
>>> _ = plant_label_errors(ws, "digits", rate=0.1, seed=0)
>>> review = ws.quality.review(ws.quality.audit("digits", cv=3).id)
>>> accepted = review.accept_suggested(min_score=0.0)
>>> child = review.apply(message="fix labels")
>>> ws.data.diff(child.parents[0].ref, child.ref).counts["relabeled"] == accepted
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import DatasetVersion, commit_version, current_author, now_iso, resolve_ref
from dcai.errors import InvalidInputError
from dcai.quality.audit import ISSUE_TYPES, Audit, _version_pk, carried_from, suggest_min_score
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["ACTIONS", "Review", "ReviewStatus"]

Action = Literal["relabel", "keep", "remove"]
ACTIONS: tuple[Action, ...] = ("relabel", "keep", "remove")
Status = Literal["open", "decided", "all"]
_SHOWN_IDS = 5


@dataclass(frozen=True)
class ReviewStatus:
    """Where a review stands: issues, decisions by action, whether the audit is current."""

    audit: str
    ref: str
    issues: int
    examples_with_issues: int
    decided: dict[str, int]
    open_examples: int
    stale: bool
    latest_ref: str
    applied: list[dict[str, Any]]
    #: Decisions carried over from audits of earlier versions (unchanged examples), by audit.
    carried: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "audit": self.audit,
            "ref": self.ref,
            "issues": self.issues,
            "examples_with_issues": self.examples_with_issues,
            "decided": self.decided,
            "open_examples": self.open_examples,
            "stale": self.stale,
            "latest_ref": self.latest_ref,
            "applied": self.applied,
            "carried": sum(self.carried.values()),
            "carried_from": self.carried,
        }


def coerce_label(value: Any, labels: pd.Series, *, allow_new_class: bool = False) -> Any:
    """Turn a label typed by a person (often a string) into the label column's type.

    Refuses a class the data set does not have unless ``allow_new_class``, because a typo
    ("dgo") would otherwise quietly become a new class.

    >>> coerce_label("3", pd.Series([1, 3, 5]))
    3
    >>> coerce_label("cat", pd.Series(["cat", "dog"]))
    'cat'
    """
    dtype = labels.dtype
    converted: Any = value
    try:
        if pd.api.types.is_bool_dtype(dtype):
            text = str(value).strip().lower()
            if text not in ("true", "false", "1", "0"):
                raise ValueError(value)
            converted = text in ("true", "1")
        elif pd.api.types.is_integer_dtype(dtype):
            if isinstance(value, float | np.floating) and not float(value).is_integer():
                raise ValueError(value)
            converted = int(str(value).strip()) if isinstance(value, str) else int(value)
        elif pd.api.types.is_float_dtype(dtype):
            converted = float(value)
        else:
            converted = str(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"label {value!r} is not a {dtype} value like the label column's",
            hint=f"Use one of the existing classes, e.g. {labels.iloc[0]!r}.",
        ) from exc
    known = pd.unique(labels)
    if not allow_new_class and converted not in set(known.tolist()):
        shown = ", ".join(repr(k) for k in sorted(known.tolist(), key=str)[:12])
        raise InvalidInputError(
            f"label {converted!r} is not one of the data set's classes ({shown})",
            hint="Check the spelling; to introduce a new class on purpose pass --new-class.",
        )
    return converted.item() if isinstance(converted, np.generic) else converted


class Review:
    """The review queue of one audit, and the decisions taken on it.

    Get one with ``ws.quality.review(audit_id_or_ref)``.
    """

    def __init__(self, stores: Stores, audit: Audit) -> None:
        self.stores = stores
        self.audit = audit

    def __repr__(self) -> str:
        return f"<Review of audit {self.audit.short_id} ({self.audit.version_ref})>"

    # State --------------------------------------------------------------------------------

    def _latest(self) -> DatasetVersion:
        return resolve_ref(self.stores, self.audit.dataset)

    def is_stale(self) -> bool:
        """Whether the dataset has a newer version than the audited one."""
        return self._latest().id != self.audit.version_id

    def _require_current(self) -> None:
        latest = self._latest()
        if latest.id != self.audit.version_id:
            raise InvalidInputError(
                f"audit {self.audit.short_id} is of {self.audit.version_ref}, but "
                f"{self.audit.dataset} has a newer version {latest.ref}: the audit is stale",
                hint=f"Audit the current data first: dcai audit {self.audit.dataset}",
            )

    def decisions(self) -> pd.DataFrame:
        """Every decision: example_id, action, label, issue_types, reviewer, note, decided_at,
        carried_from (the audit a decision carried over from an earlier version came from, else
        None; see :func:`dcai.quality.audit.carried_from`)."""
        with self.stores.meta.read() as conn:
            rows = conn.execute(
                select(t.review_decisions)
                .where(t.review_decisions.c.audit_id == self.audit.pk)
                .order_by(t.review_decisions.c.decided_at, t.review_decisions.c.example_id)
            ).all()
        return pd.DataFrame(
            {
                EXAMPLE_ID: pd.Series([r.example_id for r in rows], dtype=object),
                "action": [r.action for r in rows],
                "label": [None if r.label_json is None else json.loads(r.label_json) for r in rows],
                "issue_types": [r.issue_types for r in rows],
                "reviewer": [r.reviewer for r in rows],
                "note": [r.note for r in rows],
                "decided_at": [r.decided_at for r in rows],
                "carried_from": pd.Series([carried_from(r.note) for r in rows], dtype=object),
            }
        )

    def queue(
        self,
        *,
        type: str | None = None,
        label: Any = None,
        min_score: float | None = None,
        status: Status = "open",
        limit: int | None = None,
        content: bool = False,
    ) -> pd.DataFrame:
        """The issues to review, surest first, with any decision already taken.

        Columns: the issue list's, then ``decision``, ``new_label``, ``reviewer`` and
        ``carried_from`` (see :meth:`decisions`); with ``content``, also ``content`` and
        ``duplicate_group`` (see :meth:`dcai.quality.audit.Audit.issue_content`).

        Parameters
        ----------
        type
            Only issues of this type (``label``, ``label_conflict``, ``duplicate``, ``outlier``,
            ``missing_values``).
        label
            Only examples whose given label is this class (compared as text).
        min_score
            Only issues the detector is at least this sure of (0–1).
        status
            ``open`` (no decision yet; the default), ``decided``, or ``all``.
        limit
            At most this many rows.
        content
            Add what each example contains (its text, or the features driving the flag).
        """
        if type is not None and type not in ISSUE_TYPES:
            raise InvalidInputError(
                f"unknown issue type {type!r}", hint=f"Use one of: {', '.join(ISSUE_TYPES)}."
            )
        if status not in ("open", "decided", "all"):
            raise InvalidInputError(f"unknown status {status!r}", hint="Use open, decided or all.")
        issues = self.audit.issues
        if type is not None:
            issues = issues[issues["type"] == type]
        if label is not None:
            issues = issues[issues["given_label"].astype(str) == str(label)]
        if min_score is not None:
            issues = issues[issues["score"] >= min_score]
        decided = self.decisions()
        merged = issues.merge(
            decided[[EXAMPLE_ID, "action", "label", "reviewer", "carried_from"]].rename(
                columns={"action": "decision", "label": "new_label"}
            ),
            on=EXAMPLE_ID,
            how="left",
        )
        if status == "open":
            merged = merged[merged["decision"].isna()]
        elif status == "decided":
            merged = merged[merged["decision"].notna()]
        merged = merged.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
        merged = merged.head(limit) if limit is not None else merged
        return self.audit.issue_content(merged) if content else merged

    def status(self) -> ReviewStatus:
        """Counts of issues and decisions, and whether the audit is still current."""
        issues = self.audit.issues
        decided = self.decisions()
        counts: dict[str, int] = {a: int((decided["action"] == a).sum()) for a in ACTIONS}
        flagged = set(issues[EXAMPLE_ID])
        open_examples = len(flagged - set(decided[EXAMPLE_ID]))
        latest = self._latest()
        with self.stores.meta.read() as conn:
            applied_rows = conn.execute(
                select(t.review_applications, t.versions.c.version_hash)
                .select_from(
                    t.review_applications.join(
                        t.versions, t.review_applications.c.version_id == t.versions.c.id
                    )
                )
                .where(t.review_applications.c.audit_id == self.audit.pk)
                .order_by(t.review_applications.c.id)
            ).all()
        applied = [
            {
                "ref": f"{self.audit.dataset}@{r.version_hash[:7]}",
                "decisions": r.decisions,
                "reviewer": r.reviewer,
                "applied_at": r.applied_at,
            }
            for r in applied_rows
        ]
        return ReviewStatus(
            audit=self.audit.short_id,
            ref=self.audit.version_ref,
            issues=len(issues),
            examples_with_issues=len(flagged),
            decided=counts,
            open_examples=open_examples,
            stale=latest.id != self.audit.version_id,
            latest_ref=latest.ref,
            applied=applied,
            carried={
                str(k): int(v) for k, v in decided["carried_from"].dropna().value_counts().items()
            },
        )

    # Decisions ----------------------------------------------------------------------------

    def decide(
        self,
        example_ids: Any,
        action: Action,
        *,
        label: Any = None,
        note: str = "",
        reviewer: str | None = None,
        allow_new_class: bool = False,
    ) -> int:
        """Record one decision for each of ``example_ids``; returns how many were recorded.

        ``relabel`` needs ``label`` (coerced to the label column's type and checked against the
        known classes). Unknown example ids are refused, naming them, and nothing is recorded.
        """
        if action not in ACTIONS:
            raise InvalidInputError(
                f"unknown action {action!r}", hint=f"Use one of: {', '.join(ACTIONS)}."
            )
        ids = [example_ids] if isinstance(example_ids, str) else [str(i) for i in example_ids]
        if not ids:
            return 0
        if action == "relabel" and label is None:
            raise InvalidInputError("relabel needs the new label", hint="Give --relabel LABEL.")
        if action != "relabel" and label is not None:
            raise InvalidInputError(f"{action} takes no label", hint="Drop the label, or relabel.")
        version = self.audit.version()
        frame = version.to_pandas(columns=[EXAMPLE_ID, version.roles.label])
        self._check_ids(ids, frame[EXAMPLE_ID])
        value = None
        if action == "relabel":
            value = coerce_label(label, frame[version.roles.label], allow_new_class=allow_new_class)
        return self._record({i: value for i in ids}, action, note=note, reviewer=reviewer)

    def relabel(self, example_id: str, label: Any, **kwargs: Any) -> int:
        """Set a new label for one example."""
        return self.decide([example_id], "relabel", label=label, **kwargs)

    def keep(self, example_ids: Any, **kwargs: Any) -> int:
        """Confirm that the given labels are right."""
        return self.decide(example_ids, "keep", **kwargs)

    def remove(self, example_ids: Any, **kwargs: Any) -> int:
        """Drop examples from the next version."""
        return self.decide(example_ids, "remove", **kwargs)

    def accept_suggested(
        self,
        *,
        min_score: float = 0.0,
        example_ids: Any = None,
        label: Any = None,
        include_decided: bool = False,
        note: str = "",
        reviewer: str | None = None,
    ) -> int:
        """Relabel every open label issue to its suggested label; returns how many.

        Parameters
        ----------
        min_score
            Only issues the detector is at least this sure of.
        example_ids
            Only these examples (default: every label issue that passes the filters).
        label
            Only examples whose given label is this class.
        include_decided
            Also overwrite decisions already taken (default: leave them).
        """
        queue = self.queue(
            type="label",
            label=label,
            min_score=min_score,
            status="all" if include_decided else "open",
        )
        if example_ids is not None:
            wanted = {
                str(i) for i in ([example_ids] if isinstance(example_ids, str) else example_ids)
            }
            version_ids = self.audit.version().to_pandas(columns=[EXAMPLE_ID])[EXAMPLE_ID]
            self._check_ids(sorted(wanted), version_ids)
            queue = queue[queue[EXAMPLE_ID].isin(wanted)]
            missing = wanted - set(queue[EXAMPLE_ID])
            if missing and not include_decided:
                shown = ", ".join(sorted(missing)[:_SHOWN_IDS])
                raise InvalidInputError(
                    f"{len(missing)} example(s) have no open label issue with a suggestion ({shown})",
                    hint="Relabel them explicitly with --relabel LABEL.",
                )
        suggestions = {
            str(row[EXAMPLE_ID]): _plain(row["suggested_label"]) for _, row in queue.iterrows()
        }
        if not suggestions:
            return 0
        return self._record(
            suggestions, "relabel", note=note or "accepted suggestion", reviewer=reviewer
        )

    def undo(self, example_ids: Any) -> int:
        """Forget the decisions on these examples; returns how many were removed."""
        self._require_current()
        ids = [example_ids] if isinstance(example_ids, str) else [str(i) for i in example_ids]
        with self.stores.meta.transaction() as conn:
            result = conn.execute(
                delete(t.review_decisions).where(
                    (t.review_decisions.c.audit_id == self.audit.pk)
                    & (t.review_decisions.c.example_id.in_(ids))
                )
            )
        return int(result.rowcount or 0)

    def _check_ids(self, ids: list[str], known: pd.Series) -> None:
        unknown = [i for i in ids if i not in set(known)]
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:_SHOWN_IDS])
            more = f" and {len(unknown) - _SHOWN_IDS} more" if len(unknown) > _SHOWN_IDS else ""
            raise InvalidInputError(
                f"{len(unknown)} example id(s) are not in {self.audit.version_ref}: {shown}{more}",
                hint=f"List the issues with: dcai review list {self.audit.short_id}",
            )

    def _record(
        self, labels_by_id: dict[str, Any], action: Action, *, note: str, reviewer: str | None
    ) -> int:
        self._require_current()
        reviewer = current_author(reviewer)
        decided_at = now_iso()
        issues = self.audit.issues
        types = issues.groupby(EXAMPLE_ID)["type"].agg(lambda s: ";".join(sorted(set(s))))
        rows = [
            {
                "audit_id": self.audit.pk,
                "example_id": example_id,
                "action": action,
                "label_json": None if value is None else json.dumps(_plain(value)),
                "issue_types": str(types.get(example_id, "")),
                "reviewer": reviewer,
                "note": note,
                "decided_at": decided_at,
            }
            for example_id, value in labels_by_id.items()
        ]
        with self.stores.meta.transaction() as conn:
            conn.execute(
                delete(t.review_decisions).where(
                    (t.review_decisions.c.audit_id == self.audit.pk)
                    & (t.review_decisions.c.example_id.in_(list(labels_by_id)))
                )
            )
            conn.execute(t.review_decisions.insert(), rows)
        return len(rows)

    # Applying -----------------------------------------------------------------------------

    def apply(self, *, message: str = "", author: str | None = None) -> DatasetVersion:
        """Commit the decisions as a child of the audited version (see the module docstring).

        Returns the new version; when every decision is ``keep`` the data does not change and
        the audited version itself is returned (``created`` is False), with the review recorded.
        """
        self._require_current()
        decisions = self.decisions()
        if decisions.empty:
            min_score = suggest_min_score(self.audit.issues)
            example = (
                f"--accept-suggested --min-score {min_score:g}"
                if min_score is not None
                else "EXAMPLE_ID --keep"
            )
            raise InvalidInputError(
                f"audit {self.audit.short_id} has no decisions to apply",
                hint=f"Decide first, e.g.: dcai review decide {self.audit.short_id} {example}",
            )
        parent = self.audit.version()
        roles = parent.roles
        frame = parent.to_pandas()
        relabel = decisions[decisions["action"] == "relabel"]
        removed = set(decisions.loc[decisions["action"] == "remove", EXAMPLE_ID])
        child = frame
        if len(relabel):
            new_labels = dict(zip(relabel[EXAMPLE_ID], relabel["label"], strict=True))
            column = frame[roles.label]
            mapped = frame[EXAMPLE_ID].map(new_labels)
            changed = mapped.notna().to_numpy()
            values = column.astype(object).to_numpy(copy=True)
            values[changed] = mapped[changed].to_numpy()
            child = frame.copy()
            child[roles.label] = _restore_dtype(pd.Series(values, index=frame.index), column)
        if removed:
            child = child[~child[EXAMPLE_ID].isin(removed)].reset_index(drop=True)
            if child.empty:
                raise InvalidInputError(
                    "the decisions remove every example", hint="Keep at least one example."
                )
        annotations = parent.annotations() if parent.n_annotations else None
        if annotations is not None and removed:
            annotations = annotations[~annotations[EXAMPLE_ID].isin(removed)].reset_index(drop=True)
        counts = {a: int((decisions["action"] == a).sum()) for a in ACTIONS}
        reviewers = sorted(set(decisions["reviewer"]))
        params = {
            "audit": self.audit.short_id,
            "audit_id": self.audit.id,
            "audited": self.audit.version_ref,
            "reviewers": reviewers,
            "counts": counts,
            "decisions": [
                {
                    EXAMPLE_ID: row[EXAMPLE_ID],
                    "action": row["action"],
                    "label": _plain(row["label"]),
                    "issue_types": row["issue_types"],
                    "reviewer": row["reviewer"],
                    "note": row["note"],
                    "decided_at": row["decided_at"],
                }
                for _, row in decisions.iterrows()
            ],
        }
        summary = (
            f"review of audit {self.audit.short_id}: {counts['relabel']} relabeled, "
            f"{counts['remove']} removed, {counts['keep']} kept"
        )
        version = commit_version(
            self.stores,
            parent.dataset,
            child,
            roles,
            operation="review",
            params=params,
            message=message or summary,
            author=author,
            parents=[parent],
            annotations=annotations,
            data_object=parent.data_object if child is frame else None,
        )
        with self.stores.meta.transaction() as conn:
            conn.execute(
                t.review_applications.insert().values(
                    audit_id=self.audit.pk,
                    version_id=_version_pk(conn, version),
                    decisions=len(decisions),
                    reviewer=current_author(author),
                    applied_at=now_iso(),
                )
            )
        return version


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (numpy scalars become Python ones)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore_dtype(values: pd.Series, original: pd.Series) -> pd.Series:
    """Give relabeled values the label column's dtype back when they fit it."""
    try:
        return values.astype(original.dtype)
    except (TypeError, ValueError):
        return values


def count_decisions(stores: Stores, audit: Audit) -> int:
    """How many decisions an audit has (for listings)."""
    with stores.meta.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(t.review_decisions.c.audit_id == audit.pk)
            ).scalar_one()
        )
