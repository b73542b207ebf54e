"""Turn rule votes into labels with a confidence: majority vote, and a label model that learns
how far to trust each rule without ground truth.

The label model
---------------
Each rule ``j`` has, for every true class ``k``, a distribution over its outcomes — each class
it may vote, and abstaining: ``π_j[k, c]``. Rules are independent given the class (Dawid &
Skene 1979; with abstention as an outcome this is the latent class model of Lazarsfeld, and the
generative model behind Snorkel's, Ratner et al. 2016). Abstaining is evidence too: a keyword
rule for "spam" that stays silent says a little for "ham". The posterior of a row is

    P(y = k | outcomes) ∝ ρ_k · Π_j π_j[k, o_j]^τ_j,

and EM alternates it with the ``π`` and class shares ``ρ`` it implies, starting from the
majority vote's posterior, so it climbs from majority vote rather than from chance. Each
``π_j[k, ·]`` gets one pseudo-count per outcome and ``prior_strength`` (2) more on voting
``k`` (a Dirichlet prior, as Snorkel starts each rule at a precision of 0.7). Rows are grouped by their pattern
of outcomes first, so a million rows with a few thousand distinct patterns fit in well under a
second per round.

**Near-duplicate rules count once.** Rules that copy each other would be counted several
times (majority vote counts them several times too), and EM would take the copies for the
truth. Pairs of rules voting two classes or more, where most of the rarer rule's votes fall
where the other votes too and nearly all of those agree (:data:`DUPLICATE_COVOTE`,
:data:`DUPLICATE_AGREEMENT`), form groups; each member's evidence is weighted
``τ_j = 1 / size of its group`` (a composite likelihood; Varin, Reid & Firth 2011), in the
majority-vote start as in the model. Looser dependence is not caught (BENCHMARKS.md, "Weak
supervision", the loosely correlated case).

With ground truth for some rows (``fit(L, y=...)``, ``None``/NaN elsewhere), those rows are held at
their labels in every E-step, so ``π`` is learned from them too; and the model is then
compared with majority vote on those rows — if majority vote is more accurate there, it is used
instead (``method_`` says which, ``selection_`` gives both accuracies).

>>> import numpy as np
>>> L = np.array([[0, 0, 1], [1, 1, 1], [0, -1, 0], [1, 1, 0], [0, 0, 0], [-1, -1, -1]])
>>> model = LabelModel().fit(L)
>>> model.predict(L).tolist()
[0, 1, 0, 1, 0, -1]
>>> majority_vote(L).tolist()
[0, 1, 0, 1, 0, -1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from dcai.errors import InvalidInputError
from dcai.rules._analyze import encode_labels
from dcai.rules._apply import LabelMatrix, as_codes, n_classes_of, vote_counts

__all__ = [
    "DUPLICATE_AGREEMENT",
    "DUPLICATE_COVOTE",
    "LabelModel",
    "expected_accuracy",
    "majority_vote",
]

#: Near-duplicate rules: the share of the rarer rule's votes cast where the other votes too...
DUPLICATE_COVOTE = 0.8
#: ...and the share of those where the two agree.
DUPLICATE_AGREEMENT = 0.95
#: Two rules need this many rows where both vote before they can count as duplicates.
_MIN_PAIR_ROWS = 30

TieBreak = Literal["abstain", "random"]


def _top(scores: np.ndarray) -> np.ndarray:
    """Per row, the classes whose score ties the best (floating-point ties included)."""
    return np.asarray(np.isclose(scores, scores.max(axis=1, keepdims=True), rtol=1e-9, atol=1e-12))


def _decide(scores: np.ndarray, voted: np.ndarray, tie_break: TieBreak, seed: int) -> np.ndarray:
    top = _top(scores)
    out = scores.argmax(axis=1).astype(np.int32)
    tied = top.sum(axis=1) > 1
    if tie_break == "abstain":
        out[tied] = -1
    elif tie_break == "random":
        rng = np.random.default_rng(seed)
        for i in np.flatnonzero(tied):
            out[i] = int(rng.choice(np.flatnonzero(top[i])))
    else:
        raise InvalidInputError(
            f"unknown tie_break {tie_break!r}", hint="Use 'abstain' or 'random'."
        )
    out[~voted] = -1
    return np.asarray(out)


def majority_vote(
    matrix: LabelMatrix | np.ndarray,
    *,
    n_classes: int | None = None,
    tie_break: TieBreak = "abstain",
    seed: int = 0,
) -> np.ndarray:
    """The most-voted class per row (``-1``: no vote, or a tie with ``tie_break="abstain"``)."""
    codes = as_codes(matrix)
    counts = vote_counts(matrix, n_classes)
    return _decide(counts, np.asarray((codes >= 0).any(axis=1)), tie_break, seed)


class LabelModel:
    """Learn how far to trust each rule from the votes alone (Dawid–Skene with abstention, EM).

    Parameters
    ----------
    n_classes
        Number of classes when fitting a plain integer matrix (a :class:`LabelMatrix` knows).
    class_balance
        Known class shares; default: learned with the rest.
    max_iter, tol
        EM stops after ``max_iter`` rounds or when no probability moves more than ``tol``.
    merge_duplicates
        Count near-duplicate rules once (see the module's notes).
    prior_strength
        Extra pseudo-counts on each rule voting the true class (besides one per outcome): on
        a few hundred rows it keeps the model near "rules are better than chance" instead of
        drifting to the flat solution EM also admits; on many rows the data outweigh it.

    Attributes (after fit): ``outcome_probs_`` (rules × K × (K + 1), the last column abstaining),
    ``accuracies_`` (each rule's probability of being right when it votes), ``class_balance_``,
    ``duplicate_groups_``, ``evidence_weights_`` (τ), ``n_iter_``, ``method_`` (``"em"`` or
    ``"majority"``), ``selection_`` (accuracies on the labelled rows, when labels were given).
    """

    def __init__(
        self,
        *,
        n_classes: int | None = None,
        class_balance: Sequence[float] | None = None,
        max_iter: int = 200,
        tol: float = 1e-5,
        prior_strength: float = 2.0,
        merge_duplicates: bool = True,
    ) -> None:
        if max_iter < 1:
            raise InvalidInputError(f"max_iter={max_iter} is below 1")
        self.n_classes = n_classes
        self.class_balance = None if class_balance is None else np.asarray(class_balance, float)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        if prior_strength < 0:
            raise InvalidInputError(f"prior_strength={prior_strength} is below 0")
        self.prior_strength = float(prior_strength)
        self.merge_duplicates = bool(merge_duplicates)
        self.duplicate_groups_: list[list[int]] = []
        self.evidence_weights_: np.ndarray | None = None
        self.outcome_probs_: np.ndarray | None = None
        self.accuracies_: np.ndarray | None = None
        self.class_balance_: np.ndarray | None = None
        self.n_iter_ = 0
        self.method_ = "em"
        self.selection_: dict[str, Any] = {}
        self._k = 0

    # ---------------------------------------------------------------------------- fitting
    def fit(
        self,
        matrix: LabelMatrix | np.ndarray,
        y: Sequence[Any] | np.ndarray | None = None,
    ) -> LabelModel:
        """Learn the rules' outcome probabilities and the class shares; ``y``: truth where known."""
        codes = as_codes(matrix)
        n, m = codes.shape
        k = n_classes_of(matrix, codes, self.n_classes)
        self._k = k
        if self.class_balance is not None:
            balance = self.class_balance
            if balance.shape != (k,) or np.any(balance <= 0) or not math.isclose(balance.sum(), 1):
                raise InvalidInputError(
                    f"class_balance needs {k} positive shares summing to 1; got {balance.tolist()}"
                )
        classes = matrix.classes if isinstance(matrix, LabelMatrix) else None
        truth = encode_labels(y, classes, n) if y is not None else np.full(n, -1, np.int32)
        if truth.size and int(truth.max()) >= k:
            raise InvalidInputError(f"y has class {int(truth.max())} with only {k} classes")
        if n == 0 or m == 0:
            raise InvalidInputError("the label matrix is empty", hint="Apply at least one rule.")
        patterns, weight = _patterns(codes, truth, k)
        outcomes, known = patterns[:, :m], patterns[:, m].astype(np.int64) - 1
        groups = _near_duplicates(outcomes, weight, k) if self.merge_duplicates else []
        tau = np.ones(m)
        for group in groups:
            tau[group] = 1.0 / len(group)
        start = _majority_start(outcomes, weight, k, tau)
        pi, rho = self._em(outcomes, weight, known, start, tau, k)
        self.duplicate_groups_ = groups
        self.evidence_weights_ = tau
        self.outcome_probs_ = pi
        self.class_balance_ = rho
        voting = pi[:, :, :k].sum(axis=2)  # P(votes | class)
        right = np.einsum("k,jkk->j", rho, pi[:, :, :k])
        self.accuracies_ = right / np.maximum(voting @ rho, 1e-300)
        self.method_ = "em"
        self.selection_ = {}
        if (truth >= 0).any():
            self._select(codes, truth)
        return self

    def _em(
        self,
        outcomes: np.ndarray,
        weight: np.ndarray,
        known: np.ndarray,
        start: np.ndarray,
        tau: np.ndarray,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        m = outcomes.shape[1]
        clamp = np.flatnonzero(known >= 0)
        post = start.copy()
        post[clamp] = np.eye(k)[known[clamp]]
        pi = np.full((m, k, k + 1), 1.0 / (k + 1))
        prior = np.ones((k, k + 1))
        prior[np.arange(k), np.arange(k)] += self.prior_strength
        rho = np.full(k, 1.0 / k) if self.class_balance is None else self.class_balance
        for iteration in range(1, self.max_iter + 1):
            mass = post * weight[:, None]
            new = np.empty_like(pi)
            for j in range(m):
                for c in range(k):
                    new[j, c] = np.bincount(outcomes[:, j], weights=mass[:, c], minlength=k + 1)
            new += prior
            new /= new.sum(axis=2, keepdims=True)
            if self.class_balance is None:
                rho = (mass.sum(axis=0) + 1.0) / (weight.sum() + k)
            post = _softmax(_log_scores(outcomes, new, rho, tau))
            post[clamp] = np.eye(k)[known[clamp]]
            moved = float(np.max(np.abs(new - pi)))
            pi = new
            self.n_iter_ = iteration
            if moved < self.tol:
                break
        return pi, np.asarray(rho, dtype=np.float64)

    def _select(self, codes: np.ndarray, truth: np.ndarray) -> None:
        """Keep the model or fall back to majority vote, by accuracy on the labelled rows."""
        labelled = truth >= 0
        mine = expected_accuracy(self._scores(codes)[labelled], truth[labelled])
        majority = expected_accuracy(vote_counts(codes, self._k)[labelled], truth[labelled])
        self.selection_ = {"labelled": int(labelled.sum()), "em": mine, "majority": majority}
        if majority > mine:
            self.method_ = "majority"

    # ------------------------------------------------------------------------- predicting
    def _fitted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pi, rho, tau = self.outcome_probs_, self.class_balance_, self.evidence_weights_
        if pi is None or rho is None or tau is None:
            raise InvalidInputError("the label model is not fitted", hint="Call .fit(L) first.")
        return pi, rho, tau

    def _scores(self, codes: np.ndarray) -> np.ndarray:
        pi, rho, tau = self._fitted()
        k = self._k
        if codes.shape[1] != pi.shape[0]:
            raise InvalidInputError(
                f"the label matrix has {codes.shape[1]} rules; the model was fitted on {pi.shape[0]}"
            )
        if codes.size and int(codes.max()) >= k:
            raise InvalidInputError(f"a vote of class {int(codes.max())} with only {k} classes")
        if self.method_ == "majority":
            return vote_counts(codes, k).astype(np.float64)
        return _log_scores(np.where(codes >= 0, codes, k), pi, rho, tau)

    def predict_proba(self, matrix: LabelMatrix | np.ndarray) -> np.ndarray:
        """``(rows, K)`` probabilities of each class (abstentions count as evidence too)."""
        codes = as_codes(matrix)
        scores = self._scores(codes)
        if self.method_ == "majority":  # vote shares; no vote: the class shares
            totals = scores.sum(axis=1, keepdims=True)
            rho = self._fitted()[1]
            return np.where(totals > 0, scores / np.maximum(totals, 1), rho)
        return _softmax(scores)

    def predict(
        self, matrix: LabelMatrix | np.ndarray, *, tie_break: TieBreak = "abstain", seed: int = 0
    ) -> np.ndarray:
        """The most probable class per row; ``-1`` where no rule voted (or a tie, by default)."""
        codes = as_codes(matrix)
        return _decide(self._scores(codes), np.asarray((codes >= 0).any(axis=1)), tie_break, seed)


def _log_scores(
    outcomes: np.ndarray, pi: np.ndarray, rho: np.ndarray, tau: np.ndarray
) -> np.ndarray:
    """``log ρ_k + Σ_j τ_j log π_j[k, o_j]`` per row (outcomes: abstaining as ``K``)."""
    log_pi = np.log(pi)
    scores = np.tile(np.log(rho), (outcomes.shape[0], 1))
    for j in range(outcomes.shape[1]):
        scores += tau[j] * log_pi[j][:, outcomes[:, j]].T
    return scores


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    out = np.exp(shifted)
    out /= out.sum(axis=1, keepdims=True)
    return np.asarray(out)


def _patterns(codes: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of (outcomes, truth + 1) — abstain as ``k`` — and how often each occurs.

    Each row is read as a number in base ``k + 1`` when it fits in 63 bits (one sort of a
    million integers), else compared as raw bytes.
    """
    keyed = np.empty((codes.shape[0], codes.shape[1] + 1), dtype=np.int64)
    keyed[:, :-1] = np.where(codes >= 0, codes, k)
    keyed[:, -1] = truth + 1
    base = k + 1
    if keyed.shape[1] * math.log2(base) < 62:
        number = np.zeros(keyed.shape[0], dtype=np.int64)
        for column in range(keyed.shape[1]):
            number *= base
            number += keyed[:, column]
        _, first, counts = np.unique(number, return_index=True, return_counts=True)
        return keyed[first], counts.astype(np.float64)
    patterns, counts = np.unique(keyed, axis=0, return_counts=True)
    return patterns, counts.astype(np.float64)


def _near_duplicates(outcomes: np.ndarray, weight: np.ndarray, k: int) -> list[list[int]]:
    """Groups of rules that fire together and agree: pairs of rules voting two classes or more
    where at least ``DUPLICATE_COVOTE`` of the rarer rule's votes fall where the other votes
    too, and at least ``DUPLICATE_AGREEMENT`` of those agree (union of such pairs)."""
    m = outcomes.shape[1]
    votes = outcomes < k
    counts = np.array([weight[votes[:, j]].sum() for j in range(m)])
    # A rule that only ever votes one class agrees with any other such rule by construction:
    # agreement says nothing about the pair, so only rules voting two classes or more are judged.
    two_sided = [np.unique(outcomes[votes[:, j], j]).size >= 2 for j in range(m)]
    parent = list(range(m))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for j in range(m):
        for other in range(j + 1, m):
            if not (two_sided[j] and two_sided[other]):
                continue
            both = votes[:, j] & votes[:, other]
            together = float(weight[both].sum())
            rarer = float(min(counts[j], counts[other]))
            if together < _MIN_PAIR_ROWS or together < DUPLICATE_COVOTE * rarer:
                continue
            same = float(weight[both & (outcomes[:, j] == outcomes[:, other])].sum())
            if same >= DUPLICATE_AGREEMENT * together:
                parent[root(other)] = root(j)
    groups: dict[int, list[int]] = {}
    for j in range(m):
        groups.setdefault(root(j), []).append(j)
    return [g for g in groups.values() if len(g) > 1]


def _majority_start(
    outcomes: np.ndarray, weight: np.ndarray, k: int, tau: np.ndarray
) -> np.ndarray:
    """(Weighted) majority vote's posterior per pattern, ties shared; no vote: its class shares."""
    counts = np.stack([((outcomes == c) * tau).sum(axis=1) for c in range(k)], axis=1)
    covered = counts.sum(axis=1) > 0
    post = (counts == counts.max(axis=1, keepdims=True)).astype(np.float64)
    post /= post.sum(axis=1, keepdims=True)
    if covered.any():
        shares = (post[covered] * weight[covered, None]).sum(axis=0)
        post[~covered] = shares / shares.sum()
    else:
        post[:] = 1.0 / k
    return np.asarray(post)


def expected_accuracy(scores: np.ndarray, truth: np.ndarray) -> float:
    """Accuracy of taking the top score, a tie counted as a fair draw among the tied classes.

    >>> expected_accuracy(np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]), np.array([0, 1, 0]))
    0.5
    """
    if truth.size == 0:
        return float("nan")
    top = _top(scores)
    return float(np.mean(top[np.arange(truth.size), truth] / top.sum(axis=1)))
