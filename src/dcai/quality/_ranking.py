"""Per-example label quality: how well each given label agrees with the evidence.

Two sources of evidence, each out-of-sample:

* a model's cross-validated predicted probabilities (``pred_probs``);
* the labels of each example's nearest neighbours in feature space, which need no model at all
  (Zhu, Song & Liu, ICML 2022): a label that disagrees with most of its neighbours is suspect.

:func:`neighbor_label_probs` turns neighbour labels into a probability matrix of the same shape
as ``pred_probs``, so the two can be mixed (:func:`mix_probabilities`) and scored the same way
(:func:`label_quality_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from dcai.errors import InvalidInputError
from dcai.quality._validation import (
    check_features,
    check_pred_probs,
    encode_labels,
    fallback,
    n_labels,
)

__all__ = [
    "LABEL_EXACT_MAX_ROWS",
    "LABEL_HNSW_EF_CONSTRUCTION",
    "LABEL_HNSW_EF_SEARCH",
    "LABEL_HNSW_M",
    "LABEL_MAX_APPROX_NEIGHBORS",
    "NEIGHBOR_CANDIDATES",
    "label_quality_scores",
    "mix_probabilities",
    "neighbor_label_probs",
    "normalized_margin",
]

RankBy = Literal["normalized_margin", "self_confidence"]

#: Neighbourhood sizes tried when ``n_neighbors`` is not given; the one whose leave-one-out
#: probabilities best predict the given labels (log-likelihood) is used.
NEIGHBOR_CANDIDATES = (5, 10, 20, 50)
_PROB_FLOOR = 1e-6
#: Up to this many rows neighbour label agreement searches neighbours exactly; above it, an
#: HNSW graph with :data:`LABEL_HNSW_M` links per node, built with
#: :data:`LABEL_HNSW_EF_CONSTRUCTION` and searched with :data:`LABEL_HNSW_EF_SEARCH`, on all
#: cores, keeping faiss' float32 distances (votes need the neighbours, not exact distances).
#: Votes need most, not all, of the true neighbours. On the 100,000-row synthetic set of
#: ``benchmarks/label_issues.py`` (2 cores): recall@20 0.93 against exact search, CPU time of
#: the search 7.1 s against 13.7 s with ``efConstruction=40, efSearch=64`` (recall 0.98), and
#: F1 of ``find_label_issues(..., features=...)`` 0.825 against 0.828 (0.845 with exact
#: search, which takes several times longer). Recall is checked on a fixture in
#: ``tests/quality/test_neighbors.py``.
LABEL_EXACT_MAX_ROWS = 20_000
#: Largest neighbourhood tried by default above :data:`LABEL_EXACT_MAX_ROWS` rows.
LABEL_MAX_APPROX_NEIGHBORS = 20
#: HNSW links per node for neighbour label agreement (faiss' ``M``; see ``nearest_neighbors``).
LABEL_HNSW_M = 16
#: HNSW build candidate list for neighbour label agreement (faiss' ``efConstruction``).
LABEL_HNSW_EF_CONSTRUCTION = 20
#: HNSW query candidate list for neighbour label agreement (faiss' ``efSearch``).
LABEL_HNSW_EF_SEARCH = 32


def normalized_margin(codes: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``(p_given - max_{k != given} p_k + 1) / 2``: 1 = certain and right, 0 = certain and wrong.

    >>> normalized_margin(np.array([0, 1]), np.array([[0.9, 0.1], [0.9, 0.1]])).round(2).tolist()
    [0.9, 0.1]
    """
    rows = np.arange(len(codes))
    given = probs[rows, codes]
    others = probs.copy()
    others[rows, codes] = -np.inf
    margin: np.ndarray = (given - others.max(axis=1) + 1.0) / 2.0
    return margin


def label_quality_scores(
    labels: Any,
    pred_probs: Any,
    *,
    classes: Any = None,
    method: RankBy = "normalized_margin",
) -> np.ndarray:
    """Score each given label in [0, 1]; low means the label is probably wrong.

    Parameters
    ----------
    labels
        The given labels, one per example.
    pred_probs
        Out-of-sample probabilities ``(n_examples, n_classes)``.
    classes
        The class of each column of ``pred_probs`` (sorted distinct labels by default).
    method
        ``"normalized_margin"`` (default): ``(p_given - max other + 1) / 2``, which ranks an
        example low only when another class is clearly preferred; ``"self_confidence"``:
        ``p_given``.

    Notes
    -----
    In ``benchmarks/label_issues.py`` the normalized margin ranked planted label errors as well
    as or better than self-confidence for every noise kind (average precision 0.949 vs 0.948
    uniform, 0.844 vs 0.765 asymmetric, 0.874 vs 0.844 instance-dependent); Kuan & Mueller
    compare such scores on real label errors.

    References
    ----------
    Kuan, J., & Mueller, J. (2022). Model-agnostic label quality scoring to detect real-world
    label errors. *ICML DataPerf Workshop*.

    Examples
    --------
    >>> label_quality_scores(["a", "b"], [[0.8, 0.2], [0.7, 0.3]]).round(2).tolist()
    [0.8, 0.3]
    """
    probs = check_pred_probs(pred_probs, n_examples=n_labels(labels))
    encoded = encode_labels(labels, classes=classes, n_classes=probs.shape[1])
    if method == "normalized_margin":
        return normalized_margin(encoded.codes, probs)
    if method == "self_confidence":
        confidence: np.ndarray = probs[np.arange(len(encoded.codes)), encoded.codes]
        return confidence
    raise InvalidInputError(
        f"unknown method {method!r}", hint="Use 'normalized_margin' or 'self_confidence'."
    )


def _vote_probs(codes: np.ndarray, neighbors: np.ndarray, n_classes: int, k: int) -> np.ndarray:
    """Leave-one-out neighbour label shares, smoothed towards the class prior (one pseudo-vote)."""
    n = len(codes)
    # One bincount over (row, neighbour's class) cells: much faster than np.add.at.
    cells = np.arange(n, dtype=np.int64)[:, None] * n_classes + codes[neighbors[:, :k]]
    votes = np.bincount(cells.ravel(), minlength=n * n_classes).reshape(n, n_classes)
    prior = np.bincount(codes, minlength=n_classes) / n
    return (votes + prior[None, :]) / (k + 1.0)


def _log_likelihood(codes: np.ndarray, probs: np.ndarray) -> float:
    given = probs[np.arange(len(codes)), codes]
    return float(np.log(np.clip(given, _PROB_FLOOR, 1.0)).mean())


def neighbor_label_probs(
    labels: Any,
    features: Any = None,
    *,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    n_neighbors: int | None = None,
    classes: Any = None,
    candidates: Sequence[int] = NEIGHBOR_CANDIDATES,
) -> np.ndarray:
    """Class probabilities from the labels of each example's nearest neighbours (not its own).

    Parameters
    ----------
    labels
        The given labels, one per example.
    features
        A numeric feature matrix (or embeddings); not needed when ``knn`` is given.
    knn
        Precomputed ``(distances, indices)`` of each example's nearest neighbours, itself
        excluded, nearest first (as returned by :func:`dcai.quality.nearest_neighbors`).
    n_neighbors
        How many neighbours vote. By default the size from ``candidates`` whose probabilities
        give the given labels the highest leave-one-out log-likelihood.
    classes
        Column order of the result (sorted distinct labels by default).

    Returns
    -------
    numpy.ndarray
        ``(n_examples, n_classes)``: the share of the ``k`` neighbours carrying each class,
        smoothed with one pseudo-vote spread by the class prior, ``(votes + prior) / (k + 1)``.

    References
    ----------
    Zhu, Z., Dong, Z., & Liu, Y. (2022). Detecting Corrupted Labels Without Training a Model
    to Predict. *ICML 2022*, PMLR 162, 27412–27427.

    Examples
    --------
    >>> X = [[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]
    >>> neighbor_label_probs(["a", "a", "b", "b", "b", "b"], X, n_neighbors=2).round(2)[2].tolist()
    [0.78, 0.22]
    """
    encoded = encode_labels(labels, classes=classes)
    codes, n_classes = encoded.codes, encoded.n_classes
    n = len(codes)
    if n < 3:
        raise InvalidInputError(
            f"neighbour agreement needs at least 3 examples; got {n}",
            hint="Give more examples, or leave features out to use pred_probs alone.",
        )
    if knn is None:
        if features is None:
            raise InvalidInputError(
                "neighbour agreement needs features or precomputed neighbours (knn=)",
                hint="Pass a numeric feature matrix or embeddings.",
            )
        from dcai.quality._neighbors import nearest_neighbors

        matrix = check_features(features, n_examples=n)
        wanted = n_neighbors if n_neighbors is not None else max(candidates)
        exact = n <= LABEL_EXACT_MAX_ROWS
        if not exact and n_neighbors is None:
            # Above the threshold 20 neighbours are already a large sample of a small region.
            candidates = [c for c in candidates if c <= LABEL_MAX_APPROX_NEIGHBORS] or [
                LABEL_MAX_APPROX_NEIGHBORS
            ]
            wanted = max(candidates)
        _, indices = nearest_neighbors(
            matrix,
            k=min(wanted, n - 1),
            exact=exact,
            n_jobs=-1,
            hnsw_m=LABEL_HNSW_M,
            hnsw_ef_construction=LABEL_HNSW_EF_CONSTRUCTION,
            hnsw_ef_search=LABEL_HNSW_EF_SEARCH,
            # Exact search keeps the float64 refinement (ties by position, as documented);
            # above the threshold only the neighbours matter and faiss' order is kept.
            refine=exact,
        )
    else:
        indices = np.asarray(knn[1])
        if indices.ndim != 2 or indices.shape[0] != n:
            raise InvalidInputError(
                f"knn indices have shape {indices.shape}; expected ({n}, k)",
                hint="Pass the (distances, indices) of the same examples, in the same order.",
            )
    available = indices.shape[1]
    if n_neighbors is not None:
        if n_neighbors > available:
            fallback(
                f"n_neighbors={n_neighbors} but only {available} neighbours are available; "
                f"using {available}"
            )
        return _vote_probs(codes, indices, n_classes, min(n_neighbors, available))
    sizes = sorted({min(k, available) for k in candidates if k >= 1})
    best_k, best_ll = sizes[0], -np.inf
    for k in sizes:
        ll = _log_likelihood(codes, _vote_probs(codes, indices, n_classes, k))
        if ll > best_ll:
            best_k, best_ll = k, ll
    return _vote_probs(codes, indices, n_classes, best_k)


def mix_probabilities(
    codes: np.ndarray, sources: Sequence[np.ndarray], *, grid: int = 21
) -> tuple[np.ndarray, np.ndarray]:
    """Mix probability matrices with the weights that best predict the given labels.

    Each source is out-of-sample, so the mixture weight that maximises the log-likelihood of
    the given labels is an honest stacking weight (Wolpert, 1992). Two sources are mixed on a
    grid of ``grid`` weights; returns the mixture and the weights.

    >>> codes = np.array([0, 1, 1])
    >>> a = np.array([[.9, .1], [.2, .8], [.6, .4]]); b = np.full((3, 2), .5)
    >>> mix_probabilities(codes, [a, b])[1].round(2).tolist()
    [1.0, 0.0]
    """
    if len(sources) == 1:
        return sources[0], np.ones(1)
    if len(sources) != 2:
        raise InvalidInputError("mix_probabilities mixes one or two sources")
    first, second = sources
    best_w, best_ll = 1.0, -np.inf
    for w in np.linspace(0.0, 1.0, grid):
        ll = _log_likelihood(codes, w * first + (1.0 - w) * second)
        if ll > best_ll + 1e-12:
            best_w, best_ll = float(w), ll
    return best_w * first + (1.0 - best_w) * second, np.array([best_w, 1.0 - best_w])
