"""Choose examples for independent double labeling: stratified, or by uncertainty or label issues.

Agreement between labelers is measured on examples that two people labeled independently.
Which examples matters: a sample of the easy majority class says little about the rare ones,
and a sample of only the hardest items makes agreement look worse than it is across the
data. :func:`sample_for_labeling` picks ``n`` examples in one of three ways and records why
each was picked (``selected_by``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.errors import InvalidInputError, SchemaError

__all__ = ["SAMPLING_STRATEGIES", "sample_for_labeling"]

SAMPLING_STRATEGIES = ("stratified", "uncertainty", "label_issues")


def _rows(mask: np.ndarray) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def _allocate(available: np.ndarray, n: int, floor: int) -> np.ndarray:
    """Per-class counts: ``floor`` each (capped by what a class has), the rest proportional.

    The rest goes by the largest-remainder (Hamilton) method, proportional to class size;
    a class that runs out passes its share on. Requires ``n <= available.sum()``.
    """
    alloc = np.minimum(available, floor)
    remaining = n - int(alloc.sum())
    while remaining > 0:
        room = available - alloc
        open_ = np.flatnonzero(room > 0)
        quota = remaining * available[open_] / available[open_].sum()
        whole = np.minimum(np.floor(quota).astype(np.int64), room[open_])
        alloc[open_] += whole
        remaining -= int(whole.sum())
        # Ties in the remainder go to the class seen first, so the result is deterministic.
        for k in sorted(range(len(open_)), key=lambda k: (-(quota[k] - np.floor(quota[k])), k)):
            if remaining == 0:
                break
            if alloc[open_[k]] < available[open_[k]]:
                alloc[open_[k]] += 1
                remaining -= 1
    return np.asarray(alloc, dtype=np.int64)


def _excluded_ids(exclude: Any, id_column: str) -> set[str]:
    if isinstance(exclude, pd.DataFrame):
        if id_column not in exclude.columns:
            raise SchemaError(
                "no such column in exclude",
                column=id_column,
                hint="Give exclude as example ids, or a table with an example_id column.",
            )
        if "annotator" in exclude.columns:
            # Long-form annotations: leave out the examples two or more people already labeled.
            per_example = exclude.groupby(exclude[id_column].astype(str))["annotator"].nunique()
            return set(per_example.index[per_example >= 2])
        return set(exclude[id_column].astype(str))
    if isinstance(exclude, str) or not isinstance(exclude, Collection | pd.Series | np.ndarray):
        raise InvalidInputError(
            f"exclude is a {type(exclude).__name__}",
            hint="Give exclude as a list of example ids or a table of annotations.",
        )
    return {str(v) for v in exclude}


def _scores(scores: Any, frame: pd.DataFrame, strategy: str) -> np.ndarray:
    if isinstance(scores, pd.Series):
        if not scores.index.equals(frame.index):
            missing = ~frame.index.isin(scores.index)
            if missing.any():
                raise InvalidInputError(
                    f"scores has no value for {int(missing.sum())} row(s) of frame",
                    rows=_rows(missing),
                    hint="Give one score per row of frame (a Series aligned on its index).",
                )
            scores = scores.reindex(frame.index)
        values = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float)
    else:
        try:
            values = np.asarray(scores, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                "scores are not numbers",
                hint="Give one number per example, lower = more worth a second look.",
            ) from exc
    if values.ndim == 2 and strategy == "uncertainty":
        if values.shape[1] < 2:
            raise InvalidInputError(
                f"scores has shape {values.shape}", hint="Give pred_probs with a column per class."
            )
        top = np.sort(values, axis=1)
        values = (
            top[:, -1] - top[:, -2]
        )  # margin: small when the model hesitates between two classes
    if values.ndim != 1:
        raise InvalidInputError(
            f"scores has shape {values.shape}",
            hint="Give one score per example (pred_probs only with strategy='uncertainty').",
        )
    if len(values) != len(frame):
        raise InvalidInputError(
            f"scores has {len(values)} values for {len(frame)} rows",
            hint="Give one score per row of frame.",
        )
    bad = ~np.isfinite(values)
    if bad.any():
        raise InvalidInputError(
            f"scores has {int(bad.sum())} missing or infinite value(s)",
            rows=_rows(bad),
            hint="Score every example, or drop the unscored rows first.",
        )
    return np.asarray(values, dtype=float)


def sample_for_labeling(
    frame: pd.DataFrame,
    n: int,
    *,
    strategy: str = "stratified",
    label_column: str = "label",
    scores: Any = None,
    random_state: int | np.random.Generator | None = 0,
    exclude: Any = None,
    id_column: str = EXAMPLE_ID,
    random_share: float = 0.2,
    min_per_class: int = 5,
) -> pd.DataFrame:
    """Choose ``n`` examples for an independent second label.

    Parameters
    ----------
    frame
        One row per example.
    n
        How many examples to choose (1 … the examples not excluded).
    strategy
        ``"stratified"``: by class of ``label_column``. ``"uncertainty"``: lowest model
        confidence first (``scores``: e.g. the predicted probability of the predicted class,
        or ``pred_probs``, from which the margin between the top two classes is used).
        ``"label_issues"``: lowest label-quality score first (``scores``: e.g. an audit's
        per-example ``label_quality``).
    label_column
        The class column for ``"stratified"``; missing labels form a stratum of their own.
    scores
        Per example, lower = more worth a second look; aligned with ``frame`` (a Series is
        aligned on its index). Only for ``"uncertainty"`` and ``"label_issues"``.
    random_state
        Seed or generator; the same seed gives the same sample.
    exclude
        Examples to leave out: example ids, or a long-form annotation table (columns
        ``example_id, annotator``), in which case the examples that two or more annotators
        already labeled are left out. A table without ``annotator`` excludes all its ids.
    id_column
        The example id column; when ``frame`` lacks it, the index holds the ids.
    random_share
        For the score strategies: the share of ``n`` drawn uniformly at random from the
        examples not picked by score.
    min_per_class
        For ``"stratified"``: the floor per class.

    Returns
    -------
    pandas.DataFrame
        The chosen rows of ``frame`` (its index and columns) in a shuffled order, so that
        labelers do not see hard items or classes in blocks, plus ``selected_by``:
        ``"stratified"``, ``"lowest_score"`` or ``"random"``.

    Raises
    ------
    InvalidInputError
        ``n`` ≤ 0 or more than the examples available, an unknown strategy, missing or
        unneeded ``scores``, scores of the wrong length or with missing values.
    SchemaError
        ``label_column`` (stratified) is not in ``frame``.

    Notes
    -----
    **Stratified.** Each class first gets ``min(min_per_class, n // K)`` examples (``K``
    classes, capped by what the class has), so rare classes are in the sample and their
    agreement can be measured; the rest is shared in proportion to class size by the
    largest-remainder method, a full class passing its share on. With ``n < K``, ``n``
    classes are drawn at random, one example each. Within a class, examples are drawn
    uniformly at random.

    **Uncertainty and label issues.** With ``r = random_share * n`` rounded half up:
    the ``n - r`` examples with the lowest scores (ties broken at random), then ``r`` drawn
    uniformly from the rest. The random share (20 % by default) keeps agreement from being measured on
    hard items only: compare agreement on ``selected_by == "random"`` with the rest to see
    how much harder the flagged items are.

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., ch. 5 (proportional allocation).
    Lewis, D. D., & Gale, W. A. (1994). A sequential algorithm for training text
    classifiers. *SIGIR '94*, 3–12 (uncertainty sampling).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"example_id": range(100), "label": ["a"] * 90 + ["b"] * 8 + ["c"] * 2})
    >>> sample = sample_for_labeling(frame, 20)
    >>> sample["label"].value_counts().sort_index().to_dict()
    {'a': 12, 'b': 6, 'c': 2}
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"frame is a {type(frame).__name__}, not a DataFrame", hint="Give a pandas DataFrame."
        )
    if strategy not in SAMPLING_STRATEGIES:
        raise InvalidInputError(
            f"unknown strategy {strategy!r}", hint=f"Use one of: {', '.join(SAMPLING_STRATEGIES)}."
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise InvalidInputError(
            f"n is {n!r}", hint="Give the number of examples to choose, 1 or more."
        )
    if not 0.0 <= float(random_share) <= 1.0:
        raise InvalidInputError(
            f"random_share is {random_share!r}", hint="Give a share between 0 and 1."
        )
    if isinstance(min_per_class, bool) or not isinstance(min_per_class, int) or min_per_class < 0:
        raise InvalidInputError(
            f"min_per_class is {min_per_class!r}", hint="Give a whole number ≥ 0."
        )
    if strategy == "stratified":
        if scores is not None:
            raise InvalidInputError(
                "scores are given but strategy is 'stratified', which does not use them",
                hint="Use strategy='uncertainty' or 'label_issues' to pick by score.",
            )
        if label_column not in frame.columns:
            raise SchemaError(
                "no such column",
                column=label_column,
                hint="Name the class column with label_column=, or sample by score.",
            )
        values = None
    else:
        if scores is None:
            raise InvalidInputError(
                f"strategy {strategy!r} needs scores",
                hint="Pass scores= (lower = more worth a second look), e.g. an audit's label_quality.",
            )
        values = _scores(scores, frame, strategy)
    rng = np.random.default_rng(random_state)

    ids = frame[id_column] if id_column in frame.columns else frame.index.to_series()
    pool = np.ones(len(frame), dtype=bool)
    if exclude is not None:
        pool &= ~ids.astype(str).isin(_excluded_ids(exclude, id_column)).to_numpy()
    available = int(pool.sum())
    n = int(n)
    if n > available:
        left_out = len(frame) - available
        raise InvalidInputError(
            f"n is {n} but only {available} example(s) are available"
            + (f" ({len(frame)} rows, {left_out} excluded)" if left_out else ""),
            hint=f"Choose n ≤ {available}.",
        )
    positions = np.flatnonzero(pool)
    if values is None:
        chosen, reasons = _stratified(
            frame[label_column].to_numpy()[positions], positions, n, min_per_class, rng
        )
    else:
        chosen, reasons = _by_score(values[positions], positions, n, random_share, rng)
    order = rng.permutation(len(chosen))
    out = frame.iloc[chosen[order]].copy()
    out["selected_by"] = np.asarray(reasons, dtype=object)[order]
    return out


def _stratified(
    labels: np.ndarray, positions: np.ndarray, n: int, min_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    codes, _ = pd.factorize(pd.Series(labels, dtype=object), use_na_sentinel=False)
    n_classes = int(codes.max()) + 1
    available = np.bincount(codes, minlength=n_classes).astype(np.int64)
    if n < n_classes:
        alloc = np.zeros(n_classes, dtype=np.int64)
        alloc[rng.choice(n_classes, size=n, replace=False)] = 1
    else:
        alloc = _allocate(available, n, min(min_per_class, n // n_classes))
    picked = [
        rng.choice(positions[codes == c], size=int(alloc[c]), replace=False)
        for c in range(n_classes)
        if alloc[c]
    ]
    chosen = np.sort(np.concatenate(picked))
    return chosen, ["stratified"] * len(chosen)


def _by_score(
    values: np.ndarray, positions: np.ndarray, n: int, random_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    n_random = int(np.floor(random_share * n + 0.5))  # rounded half up
    n_lowest = n - n_random
    tie_break = rng.permutation(len(values))
    ranked = np.lexsort((tie_break, values))  # by score, ties in random order
    lowest = positions[ranked[:n_lowest]]
    rest = positions[ranked[n_lowest:]]
    drawn = rng.choice(rest, size=n_random, replace=False) if n_random else rest[:0]
    return np.concatenate([lowest, drawn]), ["lowest_score"] * n_lowest + ["random"] * n_random
