"""``ws.quality``: audits of a version (label errors, outliers, duplicates, ...) and their reviews."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dcai._progress import ProgressCallback

if TYPE_CHECKING:
    from dcai.quality.audit import Audit
    from dcai.quality.review import Review
    from dcai.store import Stores

__all__ = ["QualityNamespace"]


class QualityNamespace:
    """Audits and reviews (``ws.quality``).

    >>> import tempfile, numpy as np, pandas as pd
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=60), "label": ["a", "b"] * 30})
    >>> v = ws.data.add("toy", frame)
    >>> audit = ws.quality.audit(v.ref, cv=3)
    >>> [a.id for a in ws.quality.audits("toy")] == [audit.id]
    True
    >>> ws.quality.review(audit.id).audit.id == audit.id
    True
    >>> ws.close()
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.quality of {self._stores.path}>"

    def audit(
        self,
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
        """Find label errors, outliers, near-duplicates, missing values and class imbalance in a
        version, and store the result linked to it (see :mod:`dcai.quality.audit`).

        >>> ws.quality.audit("digits", cv=3).version_ref == ws.data.version("digits").ref
        True
        """
        from dcai.quality.audit import run_audit

        return run_audit(
            self._stores,
            ref,
            model=model,
            pred_probs=pred_probs,
            cv=cv,
            embeddings=embeddings,
            backend=backend,
            n_jobs=n_jobs,
            random_state=random_state,
            author=author,
            progress=progress,
        )

    def audits(self, ref: str | None = None) -> list[Audit]:
        """Stored audits, newest first; of one dataset or version when ``ref`` is given.

        >>> len(ws.quality.audits("digits"))
        1
        """
        from dcai.quality.audit import list_audits

        return list_audits(self._stores, ref)

    def review(self, audit: str) -> Review:
        """The review queue of an audit: an audit id, or a dataset ref (its newest audit).

        >>> ws.quality.review("digits").audit.version_ref == ws.data.version("digits").ref
        True
        """
        from dcai.quality.audit import find_audit
        from dcai.quality.review import Review

        return Review(self._stores, find_audit(self._stores, audit))
