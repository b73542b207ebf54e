"""Confident learning: count, estimate and locate label errors from out-of-sample probabilities.

Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) estimates the joint distribution of
given (noisy) and true labels by counting, for each example, which class its out-of-sample
probabilities point to *confidently* — above that class's own average self-confidence. The
calibrated counts give the noise rate of every class pair; pruning removes, for each pair, that
many of the examples whose margin most favours the other class.

Every function here takes integer labels ``0..K-1`` and a validated ``(n, K)`` probability
matrix (see :mod:`dcai.quality._validation`); :func:`estimate_label_noise` is the public entry
point that validates its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai.quality._validation import check_pred_probs, encode_labels, n_labels

__all__ = [
    "LabelNoiseEstimate",
    "calibrate_joint",
    "compute_confident_joint",
    "confident_joint_counts",
    "confident_true_labels",
    "noise_posterior",
    "per_class_thresholds",
    "prune_by_noise_rate",
]


def per_class_thresholds(codes: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Each class's mean self-confidence: ``t_j = mean(p_j(x) for x labelled j)``.

    A class with no examples gets threshold 1 + ε, so nothing is confidently counted into it.

    >>> per_class_thresholds(np.array([0, 0, 1]), np.array([[.9, .1], [.7, .3], [.2, .8]]))
    array([0.8, 0.8])
    """
    k = probs.shape[1]
    sums = np.bincount(codes, weights=probs[np.arange(len(codes)), codes], minlength=k)
    counts = np.bincount(codes, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0 + 1e-6)
    return thresholds


def confident_true_labels(codes: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The confidently predicted class of each example, or -1 when no class clears its threshold.

    Among the classes whose probability reaches their threshold, the most probable one.
    """
    thresholds = per_class_thresholds(codes, probs)
    above = probs >= thresholds[None, :] - 1e-9
    masked = np.where(above, probs, -1.0)
    guess = masked.argmax(axis=1)
    guess[~above.any(axis=1)] = -1
    result: np.ndarray = guess
    return result


def confident_joint_counts(
    codes: np.ndarray, probs: np.ndarray, *, calibrate: bool = True
) -> np.ndarray:
    """The confident joint ``C[i, j]``: examples labelled ``i`` confidently belonging to ``j``.

    With ``calibrate`` (the default), rows are rescaled to the number of examples given each
    label, so ``C`` sums to ``n`` and estimates counts of (given, true) pairs (eq. 3 of the
    paper).

    >>> codes = np.array([0, 0, 0, 1, 1, 1])
    >>> probs = np.array([[.9, .1], [.8, .2], [.1, .9], [.2, .8], [.3, .7], [.1, .9]])
    >>> confident_joint_counts(codes, probs, calibrate=False).astype(int).tolist()
    [[2, 1], [0, 2]]
    """
    k = probs.shape[1]
    guess = confident_true_labels(codes, probs)
    counted = guess >= 0
    joint = np.zeros((k, k), dtype=np.float64)
    np.add.at(joint, (codes[counted], guess[counted]), 1.0)
    if calibrate:
        joint = calibrate_joint(joint, np.bincount(codes, minlength=k))
    return joint


def calibrate_joint(joint: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """Rescale each row of a (given × true) count matrix to the number of examples given that label.

    A row with no confident counts keeps all its examples on the diagonal.
    """
    joint = joint.astype(np.float64, copy=True)
    row_sums = joint.sum(axis=1)
    empty = row_sums == 0
    joint[empty] = 0.0
    joint[empty, np.flatnonzero(empty)] = label_counts[empty]
    row_sums = joint.sum(axis=1)
    scale = np.divide(label_counts, row_sums, out=np.zeros_like(row_sums), where=row_sums > 0)
    scaled: np.ndarray = joint * scale[:, None]
    return scaled


def _round_preserving_rows(joint: np.ndarray) -> np.ndarray:
    """Round each row to integers whose sum is the rounded row sum (largest remainders)."""
    floor = np.floor(joint)
    remainder = joint - floor
    out = floor.astype(np.int64)
    targets = np.rint(joint.sum(axis=1)).astype(np.int64)
    for i in range(joint.shape[0]):
        missing = int(targets[i] - out[i].sum())
        if missing > 0:
            order = np.argsort(-remainder[i], kind="stable")[:missing]
            out[i, order] += 1
    rounded: np.ndarray = out
    return rounded


def prune_by_noise_rate(
    codes: np.ndarray, probs: np.ndarray, joint: np.ndarray, *, min_per_class: int = 1
) -> np.ndarray:
    """Flag, for every class pair ``(given i, true j)``, the ``joint[i, j]`` examples labelled
    ``i`` whose margin ``p_j - p_i`` is largest; keep at least ``min_per_class`` per class.
    """
    counts = _round_preserving_rows(joint)
    n, k = probs.shape
    flagged = np.zeros(n, dtype=bool)
    by_class = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[by_class], np.arange(k + 1))
    for i in range(k):
        members = by_class[starts[i] : starts[i + 1]]
        if len(members) <= min_per_class:
            continue
        budget = len(members) - min_per_class
        wanted = [j for j in range(k) if j != i and min(counts[i, j], budget) > 0]
        if not wanted:
            continue
        rows = probs[members]  # one gather per class, then column arithmetic
        for j in wanted:
            m = int(min(counts[i, j], budget))
            margin = rows[:, j] - rows[:, i]
            top = (
                np.argpartition(-margin, m - 1)[:m] if m < len(members) else np.arange(len(members))
            )
            flagged[members[top]] = True
    return flagged


def noise_posterior(codes: np.ndarray, probs: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Posterior probability that each given label is wrong, under class-conditional noise.

    The calibrated confident joint ``Q[i, j]`` (given ``i``, true ``j``) gives the noise
    transition ``T[i, j] = P(given = i | true = j) = Q[i, j] / sum_i Q[i, j]``; with the
    out-of-sample probabilities standing in for ``P(true = j | x)``, Bayes' rule gives
    ``P(true = j | x, given = i) ∝ T[i, j] p_j(x)`` and the result is ``1 -`` its value at
    ``j = i``. Unlike a margin, it knows which confusions the data set actually has: a label
    that disagrees with the model towards a class it is often confused with is more suspect
    than one that disagrees towards a class it is never confused with.

    >>> codes = np.array([0, 0, 1, 1])
    >>> probs = np.array([[.9, .1], [.4, .6], [.2, .8], [.3, .7]])
    >>> noise_posterior(codes, probs, np.array([[1.0, 1.0], [0.0, 2.0]])).round(2).tolist()
    [0.04, 0.33, 0.0, 0.0]
    """
    columns = joint.sum(axis=0)
    transition = np.divide(
        joint, columns[None, :], out=np.zeros_like(joint, dtype=np.float64), where=columns > 0
    )
    weighted = transition[codes] * probs
    total = weighted.sum(axis=1)
    own = weighted[np.arange(len(codes)), codes]
    posterior: np.ndarray = 1.0 - np.divide(own, total, out=np.ones_like(total), where=total > 0)
    clipped: np.ndarray = np.clip(posterior, 0.0, 1.0)
    return clipped


@dataclass(frozen=True)
class LabelNoiseEstimate:
    """How noisy the labels are: the joint of given and true labels, and what it implies.

    ``joint.loc[given, true]`` is the estimated share of all examples that carry label
    ``given`` but belong to ``true``; ``noise_rate[c]`` is the share of examples labelled ``c``
    whose label is wrong; ``n_issues`` estimates how many labels are wrong in all, with a
    ``(low, high)`` 95 % interval.
    """

    joint: pd.DataFrame
    noise_rate: pd.Series
    n_issues: float
    interval: tuple[float, float]
    n_examples: int
    method: str

    @property
    def rate(self) -> float:
        """The estimated share of wrong labels."""
        return self.n_issues / self.n_examples if self.n_examples else 0.0

    def confused_pairs(self, top: int = 10) -> pd.DataFrame:
        """The class pairs most often confused: given, true, share of all examples, count."""
        stacked = self.joint.stack()
        stacked.index = stacked.index.set_names(["given", "true"])
        pairs = stacked.reset_index(name="share")
        pairs = pairs[pairs["given"] != pairs["true"]]
        pairs = pairs[pairs["share"] > 0].sort_values("share", ascending=False).head(top)
        pairs["count"] = pairs["share"] * self.n_examples
        return pairs.reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_examples": self.n_examples,
            "n_issues": self.n_issues,
            "interval": list(self.interval),
            "rate": self.rate,
            "noise_rate": {str(k): float(v) for k, v in self.noise_rate.items()},
            "confused_pairs": self.confused_pairs()
            .astype({"given": str, "true": str})
            .to_dict(orient="records"),
        }


def joint_to_frame(joint_counts: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """A (given × true) count matrix as a frame of shares, indexed by class values."""
    total = joint_counts.sum()
    shares = joint_counts / total if total > 0 else joint_counts
    index = pd.Index(classes, name="given")
    return pd.DataFrame(shares, index=index, columns=pd.Index(classes, name="true"))


def noise_rates(joint_counts: np.ndarray, classes: np.ndarray) -> pd.Series:
    """Share of each given class whose label is wrong, from a (given × true) count matrix."""
    row = joint_counts.sum(axis=1)
    off = row - np.diag(joint_counts)
    rates = np.divide(off, row, out=np.zeros_like(off, dtype=np.float64), where=row > 0)
    return pd.Series(rates, index=pd.Index(classes, name="class"), name="noise_rate")


def compute_confident_joint(
    labels: Any, pred_probs: Any, *, classes: Any = None, calibrate: bool = True
) -> pd.DataFrame:
    """Confident learning's joint of given (rows) and true (columns) labels, as counts.

    Parameters
    ----------
    labels
        The given labels, one per example.
    pred_probs
        Out-of-sample probabilities ``(n_examples, n_classes)``.
    classes
        The class of each column of ``pred_probs`` (sorted distinct labels by default).
    calibrate
        Rescale rows to the number of examples given each label (default), so the matrix sums
        to the number of examples.

    References
    ----------
    Northcutt, C., Jiang, L., & Chuang, I. (2021). Confident Learning: Estimating Uncertainty
    in Dataset Labels. *Journal of Artificial Intelligence Research*, 70, 1373–1411.

    Examples
    --------
    >>> joint = compute_confident_joint(["a", "a", "a", "b", "b", "b"],
    ...                                 [[.9, .1], [.8, .2], [.1, .9], [.2, .8], [.3, .7], [.1, .9]],
    ...                                 calibrate=False)
    >>> joint.loc["a"].tolist(), joint.loc["b"].tolist()   # rows: given; columns: true
    ([2.0, 1.0], [0.0, 2.0])
    """
    probs = check_pred_probs(pred_probs, n_examples=n_labels(labels))
    encoded = encode_labels(labels, classes=classes, n_classes=probs.shape[1])
    counts = confident_joint_counts(encoded.codes, probs, calibrate=calibrate)
    return pd.DataFrame(
        counts,
        index=pd.Index(encoded.classes, name="given"),
        columns=pd.Index(encoded.classes, name="true"),
    )
