"""Assign examples to train/dev/test splits, stratified and group-aware, and report balance.

Stratified assignment allocates each stratum (by default each class) with the
largest-remainder method, carrying each split's rounding backlog from stratum to stratum
(error diffusion), so every class count per split is within one example of its target and
the split sizes are too, even when many classes are small. Group-aware assignment keeps every group (a patient, a
user, a source document) in one split: groups are visited from largest to smallest (ties in
a seeded random order) and each goes to the split whose per-stratum counts fall furthest
short of their targets, the greedy rule behind scikit-learn's ``StratifiedGroupKFold``.

References
----------
Kohavi, R. (1995). A study of cross-validation and bootstrap for accuracy estimation and
model selection. IJCAI. (Stratification lowers the variance of held-out estimates.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError

__all__ = ["BalanceReport", "assign_splits", "balance_report", "split_fractions"]

_SPLITS = ("train", "dev", "test")


def split_fractions(dev: float, test: float) -> dict[str, float]:
    """Validate ``dev`` and ``test`` fractions; train gets the rest.

    >>> split_fractions(0.1, 0.2)
    {'train': 0.7, 'dev': 0.1, 'test': 0.2}
    """
    for name, value in (("dev", dev), ("test", test)):
        if not 0.0 <= value < 1.0:
            raise InvalidInputError(
                f"--{name} must be a fraction in [0, 1); got {value}",
                hint="For example --dev 0.1 --test 0.2.",
            )
    if dev + test >= 1.0:
        raise InvalidInputError(
            f"--dev + --test must leave room for train; got {dev} + {test}",
            hint="Lower one of them.",
        )
    return {"train": round(1.0 - dev - test, 12), "dev": dev, "test": test}


def _allocate(
    n: int,
    fractions: np.ndarray[Any, Any],
    backlog: np.ndarray[Any, Any],
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Split ``n`` whole examples by ``fractions``: each count is the floor or the ceiling.

    The examples left after flooring go to the splits with the largest remainder plus
    ``backlog`` (how far each split already is behind its target from earlier strata), so
    per-stratum counts stay within one of their targets and split totals do too.
    """
    exact = fractions * n
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    if short:
        order = np.argsort(-(exact - counts + backlog), kind="stable")
        counts[order[:short]] += 1
    backlog += exact - counts
    return np.asarray(counts, dtype=np.int64)


def assign_splits(
    strata: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
    *,
    fractions: Mapping[str, float],
    groups: Sequence[Any] | np.ndarray[Any, Any] | pd.Series | None = None,
    random_state: int = 0,
) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Return one split name per example.

    Parameters
    ----------
    strata
        The value to stratify on per example (usually the label). Pass a constant for a
        plain random split.
    fractions
        Split name → share, summing to 1, e.g. ``{"train": .7, "dev": .1, "test": .2}``.
    groups
        Optional group per example; a group never straddles two splits.
    random_state
        Seed; the same inputs and seed always give the same assignment.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array(["a"] * 50 + ["b"] * 50)
    >>> splits = assign_splits(labels, fractions={"train": .6, "dev": .2, "test": .2})
    >>> sorted((s, int(((splits == s) & (labels == "a")).sum())) for s in set(splits))
    [('dev', 10), ('test', 10), ('train', 30)]
    """
    names = [n for n in fractions if fractions[n] > 0]
    shares = np.array([fractions[n] for n in names], dtype=float)
    strata_codes, _ = pd.factorize(
        pd.Series(np.asarray(strata, dtype=object)), use_na_sentinel=False
    )
    n = len(strata_codes)
    rng = np.random.default_rng(random_state)
    out = np.empty(n, dtype=object)
    if groups is None:
        backlog = np.zeros(len(shares))
        n_strata = int(strata_codes.max()) + 1 if n else 0
        for code in rng.permutation(n_strata):
            members = np.flatnonzero(strata_codes == code)
            rng.shuffle(members)
            counts = _allocate(len(members), shares, backlog)
            start = 0
            for name, count in zip(names, counts, strict=True):
                out[members[start : start + count]] = name
                start += count
        return out
    group_codes, _ = pd.factorize(
        pd.Series(np.asarray(groups, dtype=object)), use_na_sentinel=False
    )
    if len(group_codes) != n:
        raise InvalidInputError(f"groups has {len(group_codes)} values for {n} examples")
    n_groups = int(group_codes.max()) + 1
    n_strata = int(strata_codes.max()) + 1
    # Per-group stratum counts, as a dense matrix (groups × strata).
    table = np.zeros((n_groups, n_strata), dtype=np.int64)
    np.add.at(table, (group_codes, strata_codes), 1)
    totals = table.sum(axis=0)
    targets = shares[:, None] * totals[None, :]  # splits × strata
    assigned = np.zeros_like(targets)
    order = rng.permutation(n_groups)
    order = order[np.argsort(-table[order].sum(axis=1), kind="stable")]
    group_split = np.empty(n_groups, dtype=np.int64)
    weights = 1.0 / np.maximum(totals, 1)
    for g in order:
        vector = table[g] * weights
        # Deficit per split, weighted so that rare strata count as much as common ones.
        score = ((targets - assigned) * weights) @ vector
        # Prefer splits that still have room; ties go to the split with more room overall.
        room = (targets.sum(axis=1) - assigned.sum(axis=1)) / np.maximum(targets.sum(axis=1), 1)
        split = int(np.lexsort((-room, -score))[0])
        group_split[g] = split
        assigned[split] += table[g]
    out[:] = np.asarray(names, dtype=object)[group_split[group_codes]]
    return out


@dataclass(frozen=True)
class BalanceReport:
    """Class counts and shares per split, and warnings about thin classes."""

    counts: pd.DataFrame
    shares: pd.DataFrame
    sizes: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sizes": self.sizes,
            "counts": {
                str(k): {s: int(v) for s, v in row.items()} for k, row in self.counts.iterrows()
            },
            "shares": {
                str(k): {s: round(float(v), 4) for s, v in row.items()}
                for k, row in self.shares.iterrows()
            },
            "warnings": self.warnings,
        }


def balance_report(
    labels: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
    splits: Sequence[Any] | np.ndarray[Any, Any] | pd.Series,
    *,
    min_per_split: int = 5,
) -> BalanceReport:
    """Count each class per split and warn where a class is (nearly) absent from a split.

    A warning is raised for every class with fewer than ``min_per_split`` examples in a
    split that is in use: a dev or test estimate on so few examples is mostly noise.

    >>> r = balance_report(["a", "a", "b", "a"], ["train", "test", "train", "train"], min_per_split=1)
    >>> r.counts.loc["b", "test"], r.warnings
    (np.int64(0), ["class 'b' has 0 examples in test (1 in all): metrics for it there are unreliable"])
    """
    frame = pd.DataFrame(
        {"label": np.asarray(labels, dtype=object), "split": np.asarray(splits, dtype=object)}
    )
    used = [s for s in _SPLITS if (frame["split"] == s).any()] + sorted(
        set(frame["split"].dropna()) - set(_SPLITS)
    )
    counts = pd.crosstab(frame["label"], frame["split"]).reindex(columns=used, fill_value=0)
    counts.index = counts.index.map(str)
    counts.columns.name = None
    counts.index.name = "label"
    shares = counts / counts.sum(axis=0).replace(0, 1)
    sizes = {s: int(counts[s].sum()) for s in used}
    warnings = []
    totals = counts.sum(axis=1)
    for label, row in counts.iterrows():
        for split in used:
            if row[split] < min_per_split:
                warnings.append(
                    f"class {label!r} has {int(row[split])} example{'s' if row[split] != 1 else ''} "
                    f"in {split} ({int(totals[label])} in all): metrics for it there are unreliable"
                )
    return BalanceReport(counts=counts, shares=shares, sizes=sizes, warnings=warnings)
