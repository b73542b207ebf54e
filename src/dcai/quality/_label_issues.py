"""Find examples whose given label is probably wrong.

The method, and why
-------------------
1. **Evidence.** Out-of-sample ``pred_probs`` from any model, and — when features or
   embeddings are given — the labels of each example's nearest neighbours
   (:func:`~dcai.quality.neighbor_label_probs`). The two are mixed with the stacking weight
   that best predicts the given labels (:func:`~dcai.quality._ranking.mix_probabilities`). A
   model and a neighbourhood make different mistakes and the weight follows whichever explains
   the labels better, so neither a weak model nor a poor feature space sinks the result (the
   measured effect is in ``docs/quality.md``).
2. **Ranking.** Each label gets a quality score, the normalised margin
   ``(p_given - max_{k != given} p_k + 1) / 2`` of the mixed probabilities: low when another
   class is clearly preferred.
3. **How many to flag.** Two counts bracket the number of wrong labels. Confident learning's
   calibrated confident joint counts only *confident* disagreements; it is accurate when noise
   is class-conditional but undercounts real, instance-dependent noise, where wrong labels sit
   on ambiguous examples that clear no per-class threshold. The number of examples whose
   predicted class differs from the given one counts *every* disagreement; it is accurate for
   that real noise but overcounts when the model itself errs on clean examples. dcai flags the
   lowest-ranked ``sqrt(m_confident * m_disagree)`` examples: the geometric mean minimises the
   worst-case ratio to the true count over the bracket, and F1 loses about equally from
   flagging ``r`` times too many or too few, so it is the minimax choice for F1 when nothing
   says which kind of noise a data set has. The estimate comes with an interval spanning both
   counts and their sampling error. This bracket is for the *mixed* evidence (with features).
4. **pred_probs alone** (``cutoff="confident_posterior"``, the default without features). A
   model alone errs on many clean examples, so the disagreement count overcounts (at 100,000
   synthetic rows it flagged 15,525 for 10,000 flips). The count is then confident learning's
   (the off-diagonal of the calibrated confident joint), and an example is flagged when two
   rules derived from the estimated joint agree: it is among the ``m`` labels with the
   highest posterior probability of being wrong under the estimated noise transition
   (Bayes' rule with ``T[i, j] = Q[i, j] / sum_i Q[i, j]``), and prune-by-noise-rate
   (Northcutt et al., 2021, sec. 3.2) selects it for its class pair. The measured effect,
   including the data sets that chose no constant, is in ``BENCHMARKS.md``.

References
----------
Northcutt, C., Jiang, L., & Chuang, I. (2021). Confident Learning: Estimating Uncertainty in
Dataset Labels. *JAIR*, 70, 1373–1411.
Zhu, Z., Dong, Z., & Liu, Y. (2022). Detecting Corrupted Labels Without Training a Model to
Predict. *ICML 2022*.
Wei, J., Zhu, Z., Cheng, H., Liu, T., Niu, G., & Liu, Y. (2022). Learning with Noisy Labels
Revisited: A Study Using Real-World Human Annotations (CIFAR-10N/100N). *ICLR 2022*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.quality._confident_learning import (
    LabelNoiseEstimate,
    calibrate_joint,
    confident_true_labels,
    joint_to_frame,
    noise_posterior,
    noise_rates,
    prune_by_noise_rate,
)
from dcai.quality._ranking import mix_probabilities, neighbor_label_probs
from dcai.quality._validation import EncodedLabels, check_pred_probs, encode_labels, n_labels

__all__ = ["LABEL_ISSUE_COLUMNS", "estimate_label_noise", "find_label_issues"]

Cutoff = Literal["minimax", "confident_joint", "predicted_neq_given", "confident_posterior"]
RankBy = Literal["normalized_margin", "self_confidence"]

#: The columns of :func:`find_label_issues`, in order.
LABEL_ISSUE_COLUMNS = (
    "given_label",
    "suggested_label",
    "suggested_label_confidence",
    "label_quality",
    "is_label_issue",
)
_BOOTSTRAP_REPLICATES = 1000
_CUTOFFS = ("minimax", "confident_joint", "predicted_neq_given", "confident_posterior")


@dataclass(frozen=True)
class LabelIssueAnalysis:
    """Everything one pass computes: the per-example table, the noise estimate, the evidence."""

    issues: pd.DataFrame
    noise: LabelNoiseEstimate
    probs: np.ndarray
    weights: np.ndarray
    encoded: EncodedLabels

    def with_attrs(self) -> pd.DataFrame:
        """The per-example table, with the noise estimate (a dict) in ``attrs["label_noise"]``."""
        frame = self.issues
        frame.attrs["label_noise"] = self.noise.to_dict()
        return frame


def analyse_label_issues(
    labels: Any,
    pred_probs: Any,
    features: Any = None,
    *,
    classes: Any = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    n_neighbors: int | None = None,
    cutoff: Cutoff | None = None,
    rank_by: RankBy = "normalized_margin",
    n_issues: int | None = None,
    random_state: int = 0,
) -> LabelIssueAnalysis:
    """:func:`find_label_issues` and :func:`estimate_label_noise` in one pass (for workflows)."""
    if cutoff is None:
        cutoff = "minimax" if features is not None or knn is not None else "confident_posterior"
    if cutoff not in _CUTOFFS:
        raise InvalidInputError(
            f"unknown cutoff {cutoff!r}", hint=f"Use one of: {', '.join(_CUTOFFS)}."
        )
    probs = check_pred_probs(pred_probs, n_examples=n_labels(labels))
    encoded = encode_labels(labels, classes=classes, n_classes=probs.shape[1])
    codes = encoded.codes
    n = len(codes)
    if np.unique(codes).size < 2:
        raise InvalidInputError(
            "every example has the same label: there is nothing to compare it with",
            hint="Label issues need examples of at least two classes.",
        )
    if n_issues is not None and not 0 <= n_issues <= n:
        raise InvalidInputError(
            f"n_issues={n_issues} is outside 0..{n}", hint="Give a count between 0 and n."
        )
    weights = np.ones(1)
    if features is not None or knn is not None:
        neighbor = neighbor_label_probs(
            codes, features, knn=knn, n_neighbors=n_neighbors, classes=np.arange(probs.shape[1])
        )
        probs, weights = mix_probabilities(codes, [probs, neighbor])

    if rank_by not in ("normalized_margin", "self_confidence"):
        raise InvalidInputError(
            f"unknown rank_by {rank_by!r}", hint="Use 'normalized_margin' or 'self_confidence'."
        )
    rows = np.arange(n)
    given = probs[rows, codes]
    # One pass gives the runner-up class and the margin (the probabilities are validated once).
    others = probs.copy()
    others[rows, codes] = -np.inf
    runner_up = others.argmax(axis=1)
    best_other = others[rows, runner_up]
    del others
    margin_quality = (given - best_other + 1.0) / 2.0
    quality = margin_quality if rank_by == "normalized_margin" else given
    # argmax of the row, ties to the lowest column, without another pass over ``probs``.
    predicted = np.where(
        best_other > given,
        runner_up,
        np.where(best_other == given, np.minimum(codes, runner_up), codes),
    )
    disagree = predicted != codes

    guess = confident_true_labels(codes, probs)
    k = probs.shape[1]
    raw_joint = np.zeros((k, k))
    counted = guess >= 0
    np.add.at(raw_joint, (codes[counted], guess[counted]), 1.0)
    label_counts = np.bincount(codes, minlength=k)
    joint = calibrate_joint(raw_joint, label_counts)
    m_confident = float(joint.sum() - np.trace(joint))
    m_disagree = float(disagree.sum())
    estimate = {
        "minimax": float(np.sqrt(m_confident * m_disagree)),
        "confident_joint": m_confident,
        "predicted_neq_given": m_disagree,
        "confident_posterior": m_confident,
    }[cutoff]
    low, high = _count_interval(codes, guess, disagree, k, cutoff, random_state=random_state)

    if n_issues is None and cutoff == "confident_posterior":
        flagged = _confident_posterior_flags(codes, probs, joint, round(estimate))
    else:
        flag_count = round(estimate) if n_issues is None else int(n_issues)
        # Rank by quality; ties (and equal quality) fall back to the margin, then position.
        flagged = np.zeros(n, dtype=bool)
        flagged[np.lexsort((rows, margin_quality, quality))[:flag_count]] = True

    suggested = np.where(flagged & (predicted == codes), runner_up, predicted)
    issues = pd.DataFrame(
        {
            "given_label": encoded.decode(codes),
            "suggested_label": encoded.decode(suggested),
            "suggested_label_confidence": probs[np.arange(n), suggested],
            "label_quality": quality,
            "is_label_issue": flagged,
        }
    )
    noise = LabelNoiseEstimate(
        joint=joint_to_frame(_scale_off_diagonal(joint, estimate), encoded.classes),
        noise_rate=noise_rates(_scale_off_diagonal(joint, estimate), encoded.classes),
        n_issues=estimate,
        interval=(min(low, estimate), max(high, estimate)),
        n_examples=n,
        method=cutoff,
    )
    return LabelIssueAnalysis(
        issues=issues, noise=noise, probs=probs, weights=weights, encoded=encoded
    )


def _confident_posterior_flags(
    codes: np.ndarray, probs: np.ndarray, joint: np.ndarray, count: int
) -> np.ndarray:
    """Flag the examples both confident-learning rules agree on (pred_probs-only default).

    * the ``count`` labels (confident learning's estimate of the number of errors) with the
      highest posterior probability of being wrong under the estimated noise transition
      (:func:`~dcai.quality._confident_learning.noise_posterior`); and
    * prune by noise rate: for every class pair ``(i, j)``, the ``Q[i, j]`` examples labelled
      ``i`` whose margin ``p_j - p_i`` is largest.

    The first ranks every label against all others and follows the confusions the data set
    has (strong on asymmetric noise); the second spreads the flags over class pairs in
    proportion to the estimated noise, so a class the model finds hard does not absorb them
    (strong with a weak model). Requiring both, as the paper's C+NR combines two rules, keeps
    the precision of each.
    """
    first = _top_count(noise_posterior(codes, probs, joint), count)
    second = prune_by_noise_rate(codes, probs, joint)
    flags: np.ndarray = first & second
    return flags


def _top_count(scores: np.ndarray, count: int) -> np.ndarray:
    """Mark the ``count`` highest scores; among equal scores at the boundary, the earliest rows.

    The same set as the first ``count`` of a stable descending sort, in ``O(n)``.

    >>> _top_count(np.array([0.5, 0.9, 0.5, 0.1]), 2).tolist()
    [True, True, False, False]
    """
    n = len(scores)
    top = np.zeros(n, dtype=bool)
    if count <= 0:
        return top
    if count >= n:
        top[:] = True
        return top
    boundary = np.partition(scores, n - count)[n - count]
    top[scores > boundary] = True
    ties = np.flatnonzero(scores == boundary)
    top[ties[: count - int(top.sum())]] = True
    return top


def _scale_off_diagonal(joint: np.ndarray, total_off: float) -> np.ndarray:
    """Rescale the off-diagonal mass to ``total_off``, keeping each row's total (its label count).

    The confident joint says *which* class pairs are confused; the chosen count says how many.
    """
    off = joint.sum() - np.trace(joint)
    if off <= 0:
        return joint
    scaled = joint.copy()
    np.fill_diagonal(scaled, 0.0)
    scaled *= total_off / off
    row_totals = joint.sum(axis=1)
    over = scaled.sum(axis=1) > row_totals
    if over.any():
        scaled[over] *= (row_totals[over] / scaled[over].sum(axis=1))[:, None]
    np.fill_diagonal(scaled, np.maximum(row_totals - scaled.sum(axis=1), 0.0))
    return scaled


def _count_interval(
    codes: np.ndarray,
    guess: np.ndarray,
    disagree: np.ndarray,
    n_classes: int,
    cutoff: str,
    *,
    random_state: int,
) -> tuple[float, float]:
    """95 % interval for the count: a multinomial bootstrap over examples, thresholds fixed.

    Every count here is a function of how many examples fall in each cell of (given label,
    confident class or none, predicted ≠ given), so resampling the cell counts is the same as
    resampling examples, at ``O(K²)`` per replicate. For the minimax count the interval spans
    the lower end of the smaller count to the upper end of the larger one: the data cannot say
    which kind of noise it has, and the interval says so.
    """
    k = n_classes
    cell = (codes * (k + 1) + (guess + 1)) * 2 + disagree.astype(np.int64)
    n_cells = k * (k + 1) * 2
    counts = np.bincount(cell, minlength=n_cells).astype(np.float64)
    n = len(codes)
    rng = np.random.default_rng(random_state)
    draws = rng.multinomial(n, counts / n, size=_BOOTSTRAP_REPLICATES).reshape(
        _BOOTSTRAP_REPLICATES, k, k + 1, 2
    )
    raw = draws.sum(axis=3)[:, :, 1:].astype(np.float64)  # (B, given, confident); no "none"
    label_counts = draws.sum(axis=(2, 3)).astype(np.float64)
    row_sums = raw.sum(axis=2)
    eye = np.eye(k, dtype=bool)
    # Calibrate every replicate at once (rows without confident counts stay on the diagonal).
    empty = row_sums == 0
    raw = np.where(empty[:, :, None] & eye[None], label_counts[:, :, None], raw)
    row_sums = raw.sum(axis=2)
    scale = np.divide(label_counts, row_sums, out=np.zeros_like(row_sums), where=row_sums > 0)
    calibrated = raw * scale[:, :, None]
    confident = calibrated.sum(axis=(1, 2)) - np.trace(calibrated, axis1=1, axis2=2)
    disagreeing = draws[..., 1].sum(axis=(1, 2))
    if cutoff in ("confident_joint", "confident_posterior"):
        low, high = np.percentile(confident, [2.5, 97.5])
    elif cutoff == "predicted_neq_given":
        low, high = np.percentile(disagreeing, [2.5, 97.5])
    else:
        low = np.percentile(np.minimum(confident, disagreeing), 2.5)
        high = np.percentile(np.maximum(confident, disagreeing), 97.5)
    return float(low), float(high)


def find_label_issues(
    labels: Any,
    pred_probs: Any,
    features: Any = None,
    *,
    classes: Any = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    n_neighbors: int | None = None,
    cutoff: Cutoff | None = None,
    rank_by: RankBy = "normalized_margin",
    n_issues: int | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """Find the examples whose given label is probably wrong.

    Parameters
    ----------
    labels
        The given labels, one per example: strings or integers (classification only).
    pred_probs
        Out-of-sample predicted probabilities, ``(n_examples, n_classes)``, e.g. from
        :func:`dcai.quality.cross_val_predict_proba`; columns in the order of ``classes``.
    features
        Optional numeric features or embeddings, one row per example. When given, the labels
        of each example's nearest neighbours are a second, model-free source of evidence.
    classes
        The class of each column of ``pred_probs``; sorted distinct labels by default (and
        ``0..K-1`` for integer labels).
    knn
        Precomputed ``(distances, indices)`` of nearest neighbours, instead of ``features``.
    n_neighbors
        Neighbours that vote; by default chosen from 5, 10, 20, 50 by likelihood.
    cutoff
        How many examples to flag. By default ``"minimax"`` when ``features`` or ``knn`` are
        given and ``"confident_posterior"`` with ``pred_probs`` alone (see the module notes);
        also ``"confident_joint"`` (confident learning's count, lowest ``label_quality``
        first) or ``"predicted_neq_given"`` (every example whose predicted class differs
        from its label).
    rank_by
        ``"normalized_margin"`` (default) or ``"self_confidence"``.
    n_issues
        Flag exactly this many of the lowest-quality labels instead of estimating the count.
    random_state
        Seed of the bootstrap behind the count's interval.

    Returns
    -------
    pandas.DataFrame
        One row per example, in input order: ``given_label``, ``suggested_label`` (the most
        likely class; for a flagged example always another class than the given one),
        ``suggested_label_confidence`` (its probability), ``label_quality`` (in [0, 1], low =
        probably wrong) and ``is_label_issue``. ``frame.attrs["label_noise"]`` holds the
        noise estimate as a dict (see :func:`estimate_label_noise`).

    Raises
    ------
    InvalidInputError
        Labels not among the probability columns, probabilities that are not a distribution,
        NaNs, a single class, multi-label or regression targets, features with NaNs or text.

    See Also
    --------
    estimate_label_noise : how many labels are wrong, and which classes are confused.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from dcai.quality import cross_val_predict_proba
    >>> X, y = load_iris(return_X_y=True)
    >>> noisy = y.copy(); noisy[[0, 60, 120]] = [2, 0, 1]   # three planted errors
    >>> probs = cross_val_predict_proba(X, noisy)
    >>> issues = find_label_issues(noisy, probs, features=X)
    >>> issues.loc[[0, 60, 120], ["given_label", "suggested_label", "is_label_issue"]]
         given_label  suggested_label  is_label_issue
    0              2                0            True
    60             0                1            True
    120            1                2            True
    """
    return analyse_label_issues(
        labels,
        pred_probs,
        features,
        classes=classes,
        knn=knn,
        n_neighbors=n_neighbors,
        cutoff=cutoff,
        rank_by=rank_by,
        n_issues=n_issues,
        random_state=random_state,
    ).with_attrs()


def estimate_label_noise(
    labels: Any,
    pred_probs: Any,
    features: Any = None,
    *,
    classes: Any = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    cutoff: Cutoff | None = None,
    random_state: int = 0,
) -> LabelNoiseEstimate:
    """Estimate how many labels are wrong, per class, and which class pairs are confused.

    The joint of given and true labels has confident learning's shape (which pairs are
    confused) scaled to the count chosen by ``cutoff`` (see :func:`find_label_issues`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 300)
    >>> probs = np.full((300, 3), 0.05); probs[np.arange(300), y] = 0.9
    >>> noisy = y.copy(); noisy[:30] = (y[:30] + 1) % 3
    >>> round(estimate_label_noise(noisy, probs).n_issues)
    30
    """
    return analyse_label_issues(
        labels,
        pred_probs,
        features,
        classes=classes,
        knn=knn,
        cutoff=cutoff,
        random_state=random_state,
    ).noise
