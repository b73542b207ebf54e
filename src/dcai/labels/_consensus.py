"""Consensus labels from several annotators: majority vote, Dawid–Skene, model-assisted.

:func:`majority_vote` counts votes; :class:`~dcai.labels.DawidSkene` (in
:mod:`dcai.labels._dawid_skene`) learns each annotator's confusion matrix; :func:`aggregate`
runs any of the three methods and returns one :class:`ConsensusResult` whatever the method —
labels, per-annotator accuracy and confusion matrices — so a workflow can switch methods
without changing how it reads the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import FallbackWarning, InvalidInputError
from dcai.labels._annotation_codes import (
    EncodedAnnotations,
    align_pred_probs,
    encode_annotations,
)
from dcai.labels._dawid_skene import DawidSkene, check_overlap, check_params, labels_frame

__all__ = ["ConsensusResult", "aggregate", "majority_vote", "vote_winner"]

TieBreak = Literal["most_frequent", "class_order"]
Method = Literal["majority", "dawid_skene", "model_assisted"]
_TIE_BREAKS = ("most_frequent", "class_order")
_METHODS = ("majority", "dawid_skene", "model_assisted")


def tie_order(enc: EncodedAnnotations, tie_break: str) -> np.ndarray:
    """Rank of each class among tied classes (0 wins): by ``tie_break``.

    ``most_frequent``: most labels in the whole data set first, then class order;
    ``class_order``: class order.
    """
    if tie_break not in _TIE_BREAKS:
        raise InvalidInputError(
            f"tie_break must be one of {', '.join(map(repr, _TIE_BREAKS))}; got {tie_break!r}",
            hint="The default, 'most_frequent', prefers the class labelled most often overall.",
        )
    k = enc.n_classes
    if tie_break == "class_order":
        return np.arange(k)
    overall = np.bincount(enc.label, minlength=k)
    order = np.lexsort((np.arange(k), -overall))  # last key first: count desc, then index
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank


def vote_winner(counts: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The class with most votes in each row of ``counts`` (ties go to the lowest ``rank``),
    and whether the row was tied.

    >>> vote_winner(np.array([[2, 2, 0], [0, 1, 3]]), np.array([1, 0, 2]))
    (array([1, 2]), array([ True, False]))
    """
    top = counts.max(axis=1, keepdims=True)
    tied = counts == top
    is_tie = tied.sum(axis=1) > 1
    winner = np.where(tied, rank[None, :], len(rank)).argmin(axis=1)
    return winner, is_tie


def _majority(enc: EncodedAnnotations, tie_break: str) -> tuple[np.ndarray, pd.DataFrame]:
    counts = enc.vote_counts()
    n_labels = counts.sum(axis=1)
    winner, is_tie = vote_winner(counts, tie_order(enc, tie_break))
    confidence = counts[np.arange(len(winner)), winner] / n_labels
    shares = counts / n_labels[:, None]
    return shares, labels_frame(enc.example_ids, enc.classes, winner, confidence, n_labels, is_tie)


def majority_vote(
    annotations: pd.DataFrame,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    tie_break: TieBreak = "most_frequent",
) -> pd.DataFrame:
    """The label most annotators gave each example, with the share of votes it got.

    Use it as the baseline consensus, and when each annotator labels too few examples for
    :class:`DawidSkene` to learn their confusions.

    Parameters
    ----------
    annotations
        Long-form annotations: ``example_id, annotator, label`` (one row per example and
        annotator; examples with a single label are allowed).
    classes
        Every class in the order to report them (sorted distinct labels by default); the order
        also breaks ties under ``tie_break="class_order"``.
    tie_break
        How to choose among classes with the same number of votes. ``"most_frequent"``
        (default): the class with most labels in the whole data set, then the first in class
        order — the choice that is right most often when nothing else tells the classes apart.
        ``"class_order"``: the first in class order. Either way the result is deterministic and
        ``is_tie`` marks the example.

    Returns
    -------
    pandas.DataFrame
        One row per example, sorted by ``example_id``: ``example_id``, ``label``,
        ``confidence`` (share of the example's votes for ``label``), ``n_labels``, ``is_tie``.

    Raises
    ------
    InvalidInputError
        Missing columns, empty values, an annotator labelling an example twice, labels outside
        ``classes``, or an unknown ``tie_break``.

    Examples
    --------
    >>> import pandas as pd
    >>> ann = pd.DataFrame({"example_id": [1, 1, 1, 2, 2, 3],
    ...                     "annotator": ["ann", "bo", "cy", "ann", "bo", "ann"],
    ...                     "label": ["cat", "dog", "dog", "cat", "dog", "cat"]})
    >>> majority_vote(ann)
       example_id label  confidence  n_labels  is_tie
    0           1   dog    0.666667         3   False
    1           2   cat    0.500000         2    True
    2           3   cat    1.000000         1   False
    """
    enc = encode_annotations(annotations, classes=classes)
    return _majority(enc, tie_break)[1]


@dataclass(frozen=True)
class ConsensusResult:
    """Consensus labels and what they say about the annotators.

    Attributes
    ----------
    method
        ``"majority"``, ``"dawid_skene"`` or ``"model_assisted"``.
    labels
        One row per example, sorted by ``example_id``: ``example_id, label, confidence,
        n_labels, is_tie``. ``confidence`` is the vote share (majority) or the posterior
        probability (the other methods) of ``label``.
    probs
        Per example (index ``example_id``) and class: vote shares or posterior probabilities.
    annotators
        One row per annotator: ``annotator, n_labels, accuracy``. Majority: the share of their
        labels equal to the consensus (their own vote included, so optimistic — see
        :func:`human_level_performance` for a leave-one-out figure); Dawid–Skene and
        model-assisted: the estimated ``Σ_k ρ_k π[k, k]``.
    confusion
        Per annotator, ``P(given label | consensus class)`` (rows: consensus/true class,
        columns: given label). For majority vote, rates against the majority labels, with NaN
        rows for classes that never won.
    model_weight
        Model-assisted only: the fitted weight ``w`` of the model's probabilities in the prior
        ``p^w · ρ^(1−w)`` (0: the model is ignored; 1: taken as calibrated; above 1:
        sharpened; below 1: softened).
    fallback
        Why a different method than the one asked for was used (e.g. Dawid–Skene with fewer
        than three labelers falls back to majority vote; ``method`` then says ``"majority"``),
        else None.
    """

    method: str
    labels: pd.DataFrame
    probs: pd.DataFrame
    annotators: pd.DataFrame
    confusion: dict[Any, pd.DataFrame] = field(repr=False)
    model_weight: float | None = None
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: method, model weight and the per-annotator table."""
        table = self.annotators.astype({"annotator": str})
        return {
            "method": self.method,
            "fallback": self.fallback,
            "n_examples": len(self.labels),
            "n_ties": int(self.labels["is_tie"].sum()),
            "model_weight": self.model_weight,
            "annotators": table.to_dict(orient="records"),
        }


def _annotator_frame(enc: EncodedAnnotations, accuracy: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "annotator": enc.annotator_ids,
            "n_labels": np.bincount(enc.annotator, minlength=enc.n_annotators).astype(np.int64),
            "accuracy": accuracy.astype(np.float64),
        }
    )


def _confusion_frames(enc: EncodedAnnotations, matrices: np.ndarray) -> dict[Any, pd.DataFrame]:
    return {
        annotator: pd.DataFrame(
            matrices[a],
            index=pd.Index(enc.classes, name="true"),
            columns=pd.Index(enc.classes, name="given"),
        )
        for a, annotator in enumerate(enc.annotator_ids)
    }


def _break_ties_by_model(
    enc: EncodedAnnotations, labels: pd.DataFrame, tie_probs: Any
) -> pd.DataFrame:
    """Tied majority votes go to the tied class the model finds most probable (still flagged)."""
    probs = align_pred_probs(tie_probs, enc)
    counts = enc.vote_counts()
    tied = counts == counts.max(axis=1, keepdims=True)
    choice = np.where(tied, probs, -np.inf).argmax(axis=1)
    is_tie = labels["is_tie"].to_numpy()
    labels = labels.copy()
    winners = np.where(is_tie, choice, pd.Index(enc.classes).get_indexer(labels["label"]))
    labels["label"] = enc.classes[winners]
    return labels


def _majority_result(
    enc: EncodedAnnotations, tie_break: str, *, tie_probs: Any = None, fallback: str | None = None
) -> ConsensusResult:
    shares, labels = _majority(enc, tie_break)
    if tie_probs is not None:
        labels = _break_ties_by_model(enc, labels, tie_probs)
    k, m = enc.n_classes, enc.n_annotators
    consensus = pd.Index(enc.classes).get_indexer(labels["label"].to_numpy())
    truth = consensus[enc.example]
    counts = (
        np.bincount((enc.annotator * k + truth) * k + enc.label, minlength=m * k * k)
        .reshape(m, k, k)
        .astype(np.float64)
    )
    rows = counts.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = counts / rows
    agree = np.bincount(enc.annotator, weights=truth == enc.label, minlength=m)
    accuracy = agree / np.bincount(enc.annotator, minlength=m)
    return ConsensusResult(
        method="majority",
        labels=labels,
        probs=pd.DataFrame(
            shares, index=pd.Index(enc.example_ids, name="example_id"), columns=enc.classes
        ),
        annotators=_annotator_frame(enc, accuracy),
        confusion=_confusion_frames(enc, rates),
        fallback=fallback,
    )


#: Said (as a FallbackWarning and in ``ConsensusResult.fallback``) when Dawid–Skene has too
#: few labelers to tell which of them is right.
TWO_LABELERS = (
    "Dawid–Skene needs three or more labelers: with {n} labeler(s) it cannot tell which one is "
    "right where they disagree (their reliabilities are not identifiable), so the consensus is "
    "a majority vote; disagreements are ties (confidence 0.5, is_tie){ties}. Add a third "
    "labeler, or use method='model_assisted' with an audit."
)


def _too_few_labelers(enc: EncodedAnnotations) -> bool:
    """Fewer than three labelers in all: Dawid–Skene's reliabilities are not identifiable."""
    return enc.n_annotators < 3


def aggregate(
    annotations: pd.DataFrame,
    *,
    method: Method = "majority",
    pred_probs: Any = None,
    classes: Sequence[Any] | np.ndarray | None = None,
    tie_break: TieBreak = "most_frequent",
    smoothing: float | Literal["auto"] = "auto",
    max_iter: int = 100,
    tol: float = 1e-6,
    tie_probs: Any = None,
) -> ConsensusResult:
    """Turn several annotators' labels into one consensus label per example.

    Which method:

    - ``"majority"``: the most frequent label (ties: see :func:`majority_vote`). Needs nothing
      else; the baseline.
    - ``"dawid_skene"``: :class:`DawidSkene`, which learns every annotator's confusion matrix
      and weighs their labels by it. Better than majority when annotators differ in skill or
      confuse particular classes, and each has labelled a fair number of shared examples.
    - ``"model_assisted"``: Dawid–Skene with a model's out-of-sample ``pred_probs`` as a
      per-example prior ``q_i(k) ∝ p_ik^w · ρ_k^(1−w)`` (``ρ``: the class priors). The weight
      ``w ∈ [0, 4]`` is fitted in the same EM, by maximum likelihood of the annotators' labels:
      a model that predicts what careful annotators say gets a large weight (``w`` also corrects
      over- or under-confidence), a model no better than the class priors gets ``w ≈ 0``, which
      is plain Dawid–Skene. Most useful when examples have one or two labels each.

    Parameters
    ----------
    annotations
        Long-form annotations: ``example_id, annotator, label`` (one row per example and
        annotator; examples with a single label are allowed).
    method
        ``"majority"`` (default), ``"dawid_skene"`` or ``"model_assisted"``.
    pred_probs
        ``model_assisted`` only, and required there: out-of-sample class probabilities, either
        a DataFrame with an ``example_id`` column and one column per class (extra rows are
        ignored), or an array of shape ``(n_examples, n_classes)`` whose rows follow the sorted
        distinct ``example_id`` values of ``annotations`` and whose columns follow ``classes``.
        Probabilities are floored at 1e-6 before taking logs.
    classes
        Every class, in the order to report them (sorted distinct labels by default).
    tie_break
        ``majority`` only: see :func:`majority_vote`.
    smoothing, max_iter, tol
        Dawid–Skene's EM settings: see :class:`DawidSkene`.
    tie_probs
        ``majority`` (and the two-labeler fallback of ``dawid_skene``) only: a model's
        probabilities, in the form of ``pred_probs``, that break tied votes — the tied class
        the model finds most probable wins; the example stays flagged ``is_tie`` and its
        ``confidence`` stays the vote share.

    Returns
    -------
    ConsensusResult

    Raises
    ------
    InvalidInputError
        Bad annotations (see :func:`majority_vote`), an unknown method, ``pred_probs`` missing
        for or given to the wrong method, or ``pred_probs`` with the wrong shape, columns or
        rows, NaNs or rows that do not sum to 1.

    Notes
    -----
    With fewer than three labelers in all, ``"dawid_skene"`` falls back to ``"majority"`` with
    a :class:`~dcai.errors.FallbackWarning` (the result's ``method`` is ``"majority"`` and
    ``fallback`` says why). Where two labelers disagree, the likelihood is the same whichever
    of them is taken as right, so EM only mirrors its starting point (both labelers equally
    accurate, every disputed item at about 0.5). Latent class models such as Dawid–Skene's are
    identifiable (up to relabeling the classes, under mild conditions) from three
    conditionally independent labelers (Allman, Matias & Rhodes 2009, by Kruskal's theorem);
    Zhang, Chen, Zhou & Jordan (2014) build their provable initialisation of Dawid–Skene's EM
    on three such groups of workers. The majority vote says the same honestly: a disputed item is a tie
    with confidence 0.5, flagged ``is_tie``, broken by ``tie_probs`` when given.

    Model-assisted consensus is generative: the true class of example ``i`` is drawn from
    ``q_i`` and each annotator answers through their confusion matrix, so the posterior is
    ``P(y_i = k) ∝ q_i(k) Π π_a[k, c]`` — the model's calibrated probability times the
    annotators' likelihoods, which is Bayes' rule when the model and the annotators err
    independently given the true class. The first E-step takes the model as calibrated
    (``w = 1``); after that each EM iteration moves ``w`` by one Newton step on the expected
    complete-data log-likelihood, which is concave in ``w`` (halved until it does not lower it).
    The idea of scoring a model as
    one more source of evidence, weighted by how well it agrees with the annotators, follows
    CROWDLAB (Goh, Tkachenko & Mueller 2022); the method here — a model prior inside
    Dawid–Skene's EM — is dcai's own.

    References
    ----------
    Dawid, A. P., & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
    using the EM algorithm. *Journal of the Royal Statistical Society C*, 28(1), 20–28.

    Allman, E. S., Matias, C., & Rhodes, J. A. (2009). Identifiability of parameters in latent
    structure models with many observed variables. *The Annals of Statistics*, 37(6A),
    3099–3132.

    Zhang, Y., Chen, X., Zhou, D., & Jordan, M. I. (2014). Spectral methods meet EM: A
    provably optimal algorithm for crowdsourcing. *Advances in Neural Information Processing
    Systems 27* (NIPS 2014), 1260–1268.

    Goh, H. W., Tkachenko, U., & Mueller, J. (2022). CROWDLAB: Supervised learning to infer
    consensus labels and quality scores for data with multiple annotators. *NeurIPS 2022
    Workshop on Human in the Loop Learning*. arXiv:2210.06812.

    Examples
    --------
    >>> import pandas as pd
    >>> ann = pd.DataFrame({"example_id": [1, 1, 2, 2, 3],
    ...                     "annotator": ["ann", "bo", "ann", "bo", "bo"],
    ...                     "label": ["cat", "cat", "dog", "cat", "dog"]})
    >>> aggregate(ann).labels["label"].tolist()
    ['cat', 'cat', 'dog']
    >>> probs = pd.DataFrame({"example_id": [1, 2, 3], "cat": [.9, .2, .6], "dog": [.1, .8, .4]})
    >>> result = aggregate(ann, method="model_assisted", pred_probs=probs)
    >>> result.labels["label"].tolist()
    ['cat', 'dog', 'dog']
    """
    if method not in _METHODS:
        raise InvalidInputError(
            f"method must be one of {', '.join(map(repr, _METHODS))}; got {method!r}",
            hint="Use 'model_assisted' with pred_probs from a cross-validated model.",
        )
    if method == "model_assisted" and pred_probs is None:
        raise InvalidInputError(
            "method='model_assisted' needs pred_probs",
            hint="Pass out-of-sample probabilities, e.g. from dcai.quality.cross_val_predict_proba.",
        )
    if method != "model_assisted" and pred_probs is not None:
        raise InvalidInputError(
            f"pred_probs is used only by method='model_assisted', not {method!r}",
            hint="Pass method='model_assisted', or drop pred_probs.",
        )
    if tie_probs is not None and method == "model_assisted":
        raise InvalidInputError(
            "tie_probs breaks majority-vote ties; model_assisted uses pred_probs",
            hint="Drop tie_probs.",
        )
    if method == "majority":
        enc = encode_annotations(annotations, classes=classes)
        return _majority_result(enc, tie_break, tie_probs=tie_probs)
    if method == "dawid_skene":
        check_params(max_iter, tol, smoothing, "majority")
        enc = encode_annotations(annotations, classes=classes)
        check_overlap(enc)
        if _too_few_labelers(enc):
            ties = ", broken by the model's probabilities" if tie_probs is not None else ""
            reason = TWO_LABELERS.format(n=enc.n_annotators, ties=ties)
            warnings.warn(reason, FallbackWarning, stacklevel=2)
            return _majority_result(enc, tie_break, tie_probs=tie_probs, fallback=reason)
    ds = DawidSkene(max_iter=max_iter, tol=tol, smoothing=smoothing).fit(
        annotations, classes=classes, pred_probs=pred_probs
    )
    enc = ds._encoded
    return ConsensusResult(
        method=method,
        labels=ds.labels_,
        probs=ds.probs_,
        annotators=_annotator_frame(enc, ds.accuracy_.to_numpy()),
        confusion=ds.confusion_,
        model_weight=ds.model_weight_,
    )
