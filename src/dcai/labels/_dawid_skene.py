"""Dawid–Skene: estimate each annotator's confusion matrix and the true labels by EM.

Each annotator ``a`` is modelled by a row-stochastic confusion matrix ``π_a[k, c]`` — the
probability of answering ``c`` when the true class is ``k`` — and the true classes by priors
``ρ_k``. Labels are independent given the true class, so the posterior of example ``i`` is

    P(y_i = k | labels) ∝ ρ_k · Π_{(a, c) labels of i} π_a[k, c],

and EM alternates that posterior (E-step) with re-estimating ``π`` and ``ρ`` from the expected
counts (M-step) (Dawid & Skene 1979). Both steps are one sparse-times-dense product with the
``(examples × annotator·class)`` one-hot of the labels, so a million labels over fifty classes
take a few seconds.

Model-assisted consensus replaces the global priors by a per-example prior built from a
model's out-of-sample probabilities, ``q_i(k) ∝ p_ik^w · ρ_k^(1−w)``, whose weight ``w`` is
fitted in the same EM by maximum likelihood of the annotators' labels: a model that explains
the labels well gets a large weight (which also corrects its over- or under-confidence), a
useless one a weight near zero, which leaves plain Dawid–Skene.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import DcaiWarning, InvalidInputError
from dcai.labels._annotation_codes import (
    EncodedAnnotations,
    align_pred_probs,
    encode_annotations,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scipy import sparse

__all__ = [
    "DawidSkene",
    "EMFit",
    "check_overlap",
    "check_params",
    "fit_em",
    "labels_frame",
    "resolve_smoothing",
    "smoothing_counts",
]

#: Probabilities are floored here before taking logs, so that log(0) never appears.
_TINY = 1e-300
#: pred_probs are floored here (then renormalised) before taking logs: a model's 0 is not proof.
PRED_PROBS_FLOOR = 1e-6
#: The model's weight is kept in [0, MAX_MODEL_WEIGHT].
MAX_MODEL_WEIGHT = 4.0
#: smoothing="auto" puts up to AUTO_SMOOTHING·√K pseudo-counts on each confusion row...
AUTO_SMOOTHING = 4.0
#: ...fading as (FADE_CELLS / (FADE_CELLS + labels per confusion cell))².
FADE_CELLS = 5.0


@dataclass(frozen=True)
class EMFit:
    """What EM leaves behind, on integer codes (private; the public face is :class:`DawidSkene`)."""

    posteriors: np.ndarray  # (N, K)
    confusion: np.ndarray  # (M, K_true, K_given)
    priors: np.ndarray  # (K,)
    log_prior: np.ndarray  # (N, K) or (1, K): log of each example's prior over true classes
    log_likelihood: float
    history: np.ndarray  # penalised log-likelihood after each iteration
    n_iter: int
    converged: bool
    model_weight: float | None

    def log_confusion_columns(self) -> np.ndarray:
        """``(M * K_given, K_true)``: row ``a*K + c`` is ``log π_a[:, c]``."""
        m, k, _ = self.confusion.shape
        logs: np.ndarray = np.log(np.maximum(self.confusion, _TINY)).transpose(0, 2, 1)
        return logs.reshape(m * k, k)


def _normalise_rows(log_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors from log scores, in place, and each row's log normaliser."""
    top = log_scores.max(axis=1, keepdims=True)
    log_scores -= top
    np.exp(log_scores, out=log_scores)
    sums = log_scores.sum(axis=1, keepdims=True)
    log_scores /= sums
    return log_scores, (np.log(sums) + top).ravel()


def _m_step(
    one_hot: sparse.csr_matrix,
    posteriors: np.ndarray,
    n_annotators: int,
    pseudo: np.ndarray,
    prior_pseudo: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Confusions ``(M, K_true, K_given)`` and priors from posteriors: the MAP estimate under
    Dirichlet priors with ``pseudo`` counts on the confusions, ``prior_pseudo`` per class."""
    k = posteriors.shape[1]
    # expected[a, k, c] = Σ over a's labels c of P(y = k). Written as dense @ sparse, which
    # scipy runs several times faster than the equivalent sparse.T @ dense.
    flat = np.asarray(posteriors.T @ one_hot)  # (K_true, M * K_given)
    expected = flat.reshape(k, n_annotators, k).transpose(1, 0, 2)
    expected = expected + pseudo
    rows = expected.sum(axis=2, keepdims=True)
    confusion = np.divide(expected, rows, out=np.full_like(expected, 1.0 / k), where=rows > 0)
    mass = posteriors.sum(axis=0) + prior_pseudo
    priors = mass / mass.sum() if mass.sum() > 0 else np.full(k, 1.0 / k)
    return confusion, priors


def smoothing_counts(initial: np.ndarray, smoothing: float, *, adaptive: bool) -> np.ndarray:
    """The Dirichlet pseudo-counts ``(M, K_true, K_given)`` added to the expected counts.

    ``initial[k_true, a, c_given]`` are the expected counts under the initial posteriors. Each
    annotator's row ``k`` gets ``s_a`` pseudo-counts spread like ``m_a[k, :]``: their own overall
    agreement on the diagonal, and the errors of everyone pooled (where a true class's mistakes
    go) off it. ``s_a = smoothing``, or with ``adaptive`` ``smoothing · (τ / (τ + n_a / K²))²``
    with ``τ = 5``: the prior fades as the annotator's labels per confusion cell grow.
    """
    k = initial.shape[0]
    per = initial.transpose(1, 0, 2)  # (M, K_true, K_given)
    errors = per.sum(axis=0) + 1.0 / k  # one pseudo-label per row, spread uniformly
    np.fill_diagonal(errors, 0.0)
    sums = errors.sum(axis=1, keepdims=True)  # 0 only with a single class
    errors = np.divide(errors, sums, out=np.zeros_like(errors), where=sums > 0)
    n_labels = per.sum(axis=(1, 2))
    # The annotator's agreement rate, with a Laplace pseudo-count so it is never 0 or 1.
    agree = (np.trace(per, axis1=1, axis2=2) + 1.0) / (n_labels + 2.0)
    eye = np.eye(k)[None]
    centre = agree[:, None, None] * eye + (1 - agree)[:, None, None] * errors[None]
    strength = np.full(len(agree), smoothing)
    if adaptive:
        strength *= (FADE_CELLS / (FADE_CELLS + n_labels / k**2)) ** 2
    counts: np.ndarray = strength[:, None, None] * centre
    return counts


def _dirichlet_log_density(
    confusion: np.ndarray, priors: np.ndarray | None, pseudo: np.ndarray, prior_pseudo: float
) -> float:
    """Log-density of the smoothing prior, up to a constant (0 without smoothing)."""
    value = float((pseudo * np.log(np.maximum(confusion, _TINY))).sum())
    if priors is not None and prior_pseudo > 0:
        value += float(prior_pseudo * np.log(np.maximum(priors, _TINY)).sum())
    return value


def _model_log_prior(log_probs: np.ndarray, weight: float, offsets: np.ndarray) -> np.ndarray:
    """Per-example log prior ``w·log p_ik + b_k``, normalised over ``k`` (``b``: per class)."""
    scores = weight * log_probs
    scores += offsets[None, :]
    top = scores.max(axis=1, keepdims=True)
    scores -= top
    log_z = np.log(np.exp(scores).sum(axis=1, keepdims=True))
    scores -= log_z
    return scores


@dataclass
class _ModelPrior:
    """The model's per-example prior and its fitted weight (mutable state of EM)."""

    log_probs: np.ndarray
    weight: float = 1.0  # the model taken as calibrated, to begin with
    frozen: bool = False

    @classmethod
    def start(cls, pred_probs: np.ndarray) -> _ModelPrior:
        floored = np.maximum(pred_probs, PRED_PROBS_FLOOR)
        return cls(np.log(floored / floored.sum(axis=1, keepdims=True)))

    def log_prior(self, log_rho: np.ndarray, *, fit: np.ndarray | None = None) -> np.ndarray:
        """``log q_ik = w·log p_ik + (1 − w)·log ρ_k − log Z_i``, after raising
        ``Q(w) = Σ_ik T_ik log q_ik`` (concave in ``w``) by one Newton step when posteriors
        ``fit`` are given. The step is clipped to ``[0, MAX_MODEL_WEIGHT]`` and halved until
        ``Q`` does not drop (a generalised M-step); once a full step is below 1e-4 the weight
        is kept as it is."""
        log_q = _model_log_prior(self.log_probs, self.weight, (1 - self.weight) * log_rho)
        if fit is None or self.frozen:
            return log_q
        current = float((fit * log_q).sum())
        direction = self.log_probs - log_rho  # d log q / dw, up to the normaliser
        q = np.exp(log_q)
        mean = (q * direction).sum(axis=1)
        gradient = float((fit * direction).sum() - mean.sum())
        curvature = float(((q * direction**2).sum(axis=1) - mean**2).sum())
        del q, direction, mean
        if curvature <= 0:
            self.frozen = True
            return log_q
        step = float(np.clip(self.weight + gradient / curvature, 0.0, MAX_MODEL_WEIGHT))
        step -= self.weight
        settled = abs(step) < 1e-4
        for _ in range(12):
            weight = self.weight + step
            candidate = _model_log_prior(self.log_probs, weight, (1 - weight) * log_rho)
            if float((fit * candidate).sum()) >= current:
                self.weight, self.frozen = weight, settled
                return candidate
            step *= 0.5
        self.frozen = True
        return log_q


def fit_em(
    enc: EncodedAnnotations,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float | str = "auto",
    pred_probs: np.ndarray | None = None,
) -> EMFit:
    """Run Dawid–Skene EM on encoded annotations (optionally with a model prior).

    ``smoothing`` as in :class:`DawidSkene`; ``tol`` is on the change of the penalised
    log-likelihood per label.
    """
    k, m = enc.n_classes, enc.n_annotators
    one_hot = enc.one_hot()
    # Dawid & Skene's start: each example's vote shares.
    votes = enc.vote_counts().astype(np.float64)
    posteriors = votes / votes.sum(axis=1, keepdims=True)
    del votes
    # The smoothing prior is set from the initial posteriors, once: fixed during EM, so EM with
    # the MAP M-step never lowers the penalised log-likelihood.
    adaptive = isinstance(smoothing, str)
    base = resolve_smoothing(smoothing, k)
    pseudo = smoothing_counts(
        np.asarray(posteriors.T @ one_hot).reshape(k, m, k), base, adaptive=adaptive
    )
    prior_pseudo = base / k
    model = _ModelPrior.start(pred_probs) if pred_probs is not None else None

    history: list[float] = []
    log_prior = np.zeros((1, k))
    converged = False
    n_iter = 0
    penalty = 0.0
    confusion = np.full((m, k, k), 1.0 / k)
    priors = np.full(k, 1.0 / k)
    for n_iter in range(1, max_iter + 1):
        confusion, priors = _m_step(one_hot, posteriors, m, pseudo, prior_pseudo)
        if model is not None:
            # The first E-step takes the model as calibrated (w = 1); w is fitted from then
            # on, against posteriors that already weigh the model in.
            log_rho = np.log(np.maximum(priors, _TINY))
            log_prior = model.log_prior(log_rho, fit=posteriors if n_iter > 1 else None)
        else:
            log_prior = np.log(np.maximum(priors, _TINY))[None, :]
        penalty = _dirichlet_log_density(confusion, priors, pseudo, prior_pseudo)
        log_w = np.log(np.maximum(confusion, _TINY)).transpose(0, 2, 1).reshape(m * k, k)
        scores = np.asarray(one_hot @ log_w)
        scores += log_prior
        posteriors, log_norm = _normalise_rows(scores)
        history.append(float(log_norm.sum()) + penalty)
        if len(history) > 1 and abs(history[-1] - history[-2]) <= tol * enc.n_labels:
            converged = True
            break
    return EMFit(
        posteriors=posteriors,
        confusion=confusion,
        priors=priors,
        log_prior=log_prior,
        log_likelihood=history[-1] - penalty,
        history=np.asarray(history),
        n_iter=n_iter,
        converged=converged,
        model_weight=model.weight if model is not None else None,
    )


def labels_frame(
    example_ids: np.ndarray,
    classes: np.ndarray,
    winner: np.ndarray,
    confidence: np.ndarray,
    n_labels: np.ndarray,
    is_tie: np.ndarray,
) -> pd.DataFrame:
    """The consensus frame every method returns: one row per example, sorted by example_id."""
    return pd.DataFrame(
        {
            "example_id": example_ids,
            "label": classes[winner],
            "confidence": confidence.astype(np.float64),
            "n_labels": n_labels.astype(np.int64),
            "is_tie": is_tie.astype(bool),
        }
    )


def posterior_labels(enc: EncodedAnnotations, posteriors: np.ndarray) -> pd.DataFrame:
    """Most probable class of each example (first in class order among exact ties)."""
    winner = posteriors.argmax(axis=1)
    top = posteriors[np.arange(len(winner)), winner]
    ties = (posteriors >= top[:, None] * (1 - 1e-12)).sum(axis=1) > 1
    return labels_frame(enc.example_ids, enc.classes, winner, top, enc.labels_per_example(), ties)


def resolve_smoothing(smoothing: Any, n_classes: int) -> float:
    """Pseudo-counts per confusion row (before fading): ``"auto"`` is ``4·√K``.

    >>> resolve_smoothing("auto", 4), resolve_smoothing(0.5, 4)
    (8.0, 0.5)
    """
    if isinstance(smoothing, str) and smoothing == "auto":
        return AUTO_SMOOTHING * float(np.sqrt(n_classes))
    return float(smoothing)


def check_overlap(enc: EncodedAnnotations) -> None:
    """Refuse data from which no labeler's reliability can be learnt (no shared examples)."""
    if enc.n_annotators >= 2 and (enc.labels_per_example() >= 2).any():
        return
    who = "a single labeler" if enc.n_annotators < 2 else "labelers who share no example"
    raise InvalidInputError(
        f"Dawid–Skene needs examples labelled by two or more labelers; these are labels from {who}",
        column="annotator",
        hint="It learns each labeler's reliability from the examples they share with others. "
        "Use method='majority', give pred_probs (method='model_assisted'), or have some "
        "examples labelled twice (dcai labels sample).",
    )


def check_params(max_iter: Any, tol: Any, smoothing: Any, init: Any) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise InvalidInputError(
            f"max_iter must be a positive integer; got {max_iter!r}", hint="Try max_iter=100."
        )
    checks = [("tol", tol)]
    if not (isinstance(smoothing, str) and smoothing == "auto"):
        checks.append(("smoothing", smoothing))
    for name, value in checks:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.floating | np.integer)
            or not np.isfinite(value)
            or value < 0
        ):
            raise InvalidInputError(
                f"{name} must be a finite number ≥ 0; got {value!r}",
                hint="Try tol=1e-6, smoothing='auto'.",
            )
    if init != "majority":
        raise InvalidInputError(
            f"init must be 'majority'; got {init!r}",
            hint="EM starts from each example's vote shares (Dawid & Skene's own start).",
        )


class DawidSkene:
    """Estimate true labels and every annotator's confusion matrix from their labels.

    Use it when examples are labelled by several annotators of unequal (and class-dependent)
    skill: unlike a majority vote, it learns whom to trust for which class, and it uses that to
    break ties and to outvote a consistent error. It needs labels from each annotator on enough
    examples shared with others; with very few labels per annotator a majority vote is as good.

    Parameters
    ----------
    max_iter
        Most EM iterations (each is an M-step then an E-step).
    tol
        Stop when the penalised log-likelihood changes by at most ``tol`` per label between two
        iterations.
    smoothing
        Pseudo-counts of a Dirichlet prior on each row of every confusion matrix (and, spread
        over the classes, on the class priors), so rows seen rarely are not estimated as 0 or 1;
        see Notes. ``"auto"`` (default): ``4·√K`` for ``K`` classes, fading for annotators with
        many labels per confusion cell; a number: that many, for every annotator; 0: the plain
        maximum-likelihood estimate of the paper.
    init
        ``"majority"``: start from each example's vote shares, as in the paper.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The classes, in column order.
    probs_ : pandas.DataFrame
        Posterior class probabilities, indexed by example_id (sorted), one column per class.
    labels_ : pandas.DataFrame
        One row per example, sorted by example_id: ``example_id, label, confidence`` (the
        posterior probability of ``label``), ``n_labels`` and ``is_tie`` (an exact tie of the top
        posteriors, which goes to the first class in class order).
    confusion_ : dict[Any, pandas.DataFrame]
        Per annotator, ``P(given label | true class)``: rows true classes, columns given labels;
        each row sums to 1.
    accuracy_ : pandas.Series
        Per annotator, ``Σ_k ρ_k π_a[k, k]``: the chance their label is right on an example
        drawn from the estimated class priors.
    priors_ : pandas.Series
        Estimated class priors ``ρ`` (with ``pred_probs``: the mean posterior).
    n_iter_ : int
        EM iterations run.
    converged_ : bool
        Whether ``tol`` was reached within ``max_iter``.
    log_likelihood_ : float
        Log-likelihood of the labels under the fitted parameters, without the smoothing prior.
    log_likelihood_history_ : numpy.ndarray
        The penalised log-likelihood (log-likelihood plus the log-density of the smoothing
        prior, up to a constant) after each iteration; EM never lowers it.
    model_weight_ : float or None
        With ``pred_probs``: the fitted weight of the model's log-probabilities.

    Notes
    -----
    The M-step is the MAP estimate under ``Dirichlet(1 + s_a · m_a[k, :])`` on row ``k`` of
    annotator ``a``'s confusion matrix and ``Dirichlet(1 + s / K)`` on the priors:
    ``π_a[k, c] ∝ n_a[k, c] + s_a · m_a[k, c]`` with ``n_a`` the expected counts. The centre
    ``m_a`` is set once, from the initial vote shares: the annotator's own overall agreement on
    the diagonal (a Laplace-smoothed rate), and off it the errors of all annotators pooled (where
    each true class's mistakes go, plus one pseudo-label per row spread uniformly). So a rarely
    seen row of a careful annotator is shrunk towards "careful", not towards random. With
    ``smoothing="auto"``, ``s = 4·√K`` — the strength grows with ``√K`` because a row has
    ``K − 1`` free entries — and ``s_a = s · (5 / (5 + n_a / K²))²`` fades once the annotator
    has many labels per confusion cell (``n_a`` their number of labels), where any prior only
    blurs real, annotator-specific error patterns. A number gives ``s_a = smoothing`` for all.
    On simulated crowds (``benchmarks/consensus.py``) this is far better than no smoothing where
    labels per annotator are few and classes many, and the same elsewhere.

    Because the prior is fixed before EM, no iteration lowers the penalised log-likelihood
    ``Σ_i log Σ_k ρ_k Π π_a[k, c] + log prior(π, ρ)``, and convergence is judged on it. An
    iteration costs two sparse products, ``O(n_labels · K)``, plus ``O(n_examples · K +
    n_annotators · K²)``.

    References
    ----------
    Dawid, A. P., & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
    using the EM algorithm. *Journal of the Royal Statistical Society C*, 28(1), 20–28.

    Examples
    --------
    >>> import pandas as pd
    >>> ann = pd.DataFrame({
    ...     "example_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...     "annotator": ["ann", "bo", "cy"] * 3,
    ...     "label": ["cat", "cat", "dog", "dog", "dog", "dog", "cat", "cat", "cat"]})
    >>> ds = DawidSkene().fit(ann)
    >>> ds.labels_["label"].tolist()
    ['cat', 'dog', 'cat']
    >>> ds.accuracy_.round(2).to_dict()
    {'ann': 0.79, 'bo': 0.79, 'cy': 0.67}
    """

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-6,
        smoothing: float | Literal["auto"] = "auto",
        init: Literal["majority"] = "majority",
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.init = init

    def __repr__(self) -> str:
        return (
            f"DawidSkene(max_iter={self.max_iter!r}, tol={self.tol!r}, smoothing={self.smoothing!r}, "
            f"init={self.init!r})"
        )

    def fit(
        self,
        annotations: pd.DataFrame,
        *,
        classes: Sequence[Any] | np.ndarray | None = None,
        pred_probs: Any = None,
    ) -> DawidSkene:
        """Fit to long-form annotations (``example_id, annotator, label``).

        Parameters
        ----------
        annotations
            One row per (example, annotator); examples with a single label are allowed.
        classes
            Every class in the order to report them (sorted distinct labels by default).
        pred_probs
            Optional out-of-sample probabilities of a model, used as a per-example prior (see
            :func:`dcai.labels.aggregate` with ``method="model_assisted"``): a DataFrame with
            ``example_id`` and one column per class, or an array whose rows follow the sorted
            distinct example ids and whose columns follow ``classes``. Sets ``model_weight_``.
        """
        check_params(self.max_iter, self.tol, self.smoothing, self.init)
        enc = encode_annotations(annotations, classes=classes)
        probs = align_pred_probs(pred_probs, enc) if pred_probs is not None else None
        if probs is None:
            check_overlap(enc)
            if enc.n_annotators < 3:
                warnings.warn(
                    f"Dawid–Skene with {enc.n_annotators} labelers cannot tell which one is right "
                    "where they disagree (reliabilities are not identifiable from two labelers); "
                    "the fit mirrors the majority vote. Use dcai.labels.aggregate, which falls "
                    "back to a majority vote, or give pred_probs.",
                    DcaiWarning,
                    stacklevel=2,
                )
        fit = fit_em(
            enc,
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            smoothing=self.smoothing if isinstance(self.smoothing, str) else float(self.smoothing),
            pred_probs=probs,
        )
        self._set_fitted(enc, fit)
        return self

    def _set_fitted(self, enc: EncodedAnnotations, fit: EMFit) -> None:
        classes = pd.Index(enc.classes)
        self._encoded = enc
        self._fit = fit
        self.classes_ = enc.classes
        self.probs_ = pd.DataFrame(
            fit.posteriors, index=pd.Index(enc.example_ids, name="example_id"), columns=classes
        )
        self.labels_ = posterior_labels(enc, fit.posteriors)
        self.confusion_ = {
            annotator: pd.DataFrame(
                fit.confusion[a],
                index=pd.Index(enc.classes, name="true"),
                columns=pd.Index(enc.classes, name="given"),
            )
            for a, annotator in enumerate(enc.annotator_ids)
        }
        diagonal = np.diagonal(fit.confusion, axis1=1, axis2=2)
        self.accuracy_ = pd.Series(
            diagonal @ fit.priors,
            index=pd.Index(enc.annotator_ids, name="annotator"),
            name="accuracy",
        )
        self.priors_ = pd.Series(fit.priors, index=classes, name="prior")
        self.n_iter_ = fit.n_iter
        self.converged_ = fit.converged
        self.log_likelihood_ = fit.log_likelihood
        self.log_likelihood_history_ = fit.history
        self.model_weight_ = fit.model_weight
