"""k nearest neighbours of every example: exact below a size threshold, approximate above.

One neighbour search serves several detectors (outliers, near-duplicates, neighbour label
probabilities): compute it once with :func:`nearest_neighbors` and pass the result as
``knn=`` to each of them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from dcai.errors import InvalidInputError
from dcai.quality._validation import check_features, fallback, rows_of

__all__ = [
    "EXACT_MAX_ROWS",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "check_knn",
    "nearest_neighbors",
]

#: Up to this many rows the search is exact (brute force); above it an HNSW index is used.
#: At 100,000 × 16 both take about 15 s on two cores; beyond, exact search grows as n² d
#: (about 90 min at 1,000,000 × 16) while the HNSW index grows as n log n (4.5 min).
EXACT_MAX_ROWS = 100_000
#: HNSW graph degree: links per node (faiss' ``M``). 32 keeps recall@10 above 0.9 on
#: isotropic Gaussian data in 32 dimensions (the hard case); memory is about 8·M bytes a row.
HNSW_M = 32
#: Candidate list size while the HNSW graph is built (faiss' ``efConstruction``).
HNSW_EF_CONSTRUCTION = 40
#: Candidate list size of each HNSW query (faiss' ``efSearch``); at least ``2 (k + 1)``.
HNSW_EF_SEARCH = 64

Metric = Literal["euclidean", "cosine"]
_METRICS = ("euclidean", "cosine")
# Queries sent to faiss per call, and float64 values per block when distances are refined:
# both keep the working memory to tens of megabytes whatever the number of rows.
_QUERY_BLOCK = 16_384
_REFINE_VALUES = 1 << 22


def nearest_neighbors(
    features: Any,
    *,
    k: int = 10,
    metric: Metric = "euclidean",
    exact: bool | None = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    hnsw_m: int = HNSW_M,
    hnsw_ef_construction: int = HNSW_EF_CONSTRUCTION,
    hnsw_ef_search: int | None = None,
    refine: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the ``k`` nearest other examples of every example (leave-one-out).

    Use it to compute the neighbour graph once and hand it to several detectors
    (``find_outliers(..., knn=...)``, ``find_duplicates(..., knn=...)``).

    Parameters
    ----------
    features
        Numeric matrix ``(n_examples, n_features)`` (array or all-numeric DataFrame).
    k
        Neighbours per example. ``k >= n_examples`` falls back to ``n_examples - 1`` with a
        :class:`~dcai.errors.FallbackWarning`.
    metric
        ``"euclidean"``, or ``"cosine"`` for the cosine distance ``1 - cos(x, y)`` in [0, 2]
        (rows are scaled to unit length first; an all-zero row has no direction and is refused).
    exact
        ``True`` forces brute-force search, ``False`` forces the approximate HNSW index;
        ``None`` (default) searches exactly up to :data:`EXACT_MAX_ROWS` rows.
    random_state
        Seed of the HNSW level generator (approximate search only).
    n_jobs
        Threads for faiss: ``None`` keeps faiss' default (all cores, or ``OMP_NUM_THREADS``),
        ``-1`` all cores, ``-2`` all but one, a positive number that many.
    hnsw_m
        Links per node of the HNSW graph (approximate search only; default :data:`HNSW_M`).
        Fewer links build and search faster at some cost in recall; neighbour label
        agreement uses 16 (see :func:`dcai.quality.neighbor_label_probs`).
    hnsw_ef_construction
        Candidate list size while the HNSW graph is built (approximate search only; default
        :data:`HNSW_EF_CONSTRUCTION`). Smaller builds faster, with a slightly worse graph.
    hnsw_ef_search
        Candidate list size of each HNSW query (approximate search only). ``None`` (default)
        uses ``max(`` :data:`HNSW_EF_SEARCH` ``, 2(k+1))``; a number is used as given (but at
        least ``k + 1``). Smaller searches faster at some cost in recall.
    refine
        ``True`` (default) recomputes the distances of the kept pairs in float64 (see Notes);
        ``False`` keeps faiss' float32 distances, which is enough when only the neighbours
        (not exact distances) matter, e.g. for neighbour label votes.

    Returns
    -------
    distances : numpy.ndarray of float32, shape (n_examples, k)
        Distances to the neighbours, ascending along each row.
    indices : numpy.ndarray of int64, shape (n_examples, k)
        Positions (0-based) of the neighbours. An example is never its own neighbour, but
        another row with identical features is, at distance 0.

    Raises
    ------
    InvalidInputError
        Non-numeric or non-finite features, fewer than two rows, ``k < 1``, an unknown
        metric, or (cosine) an all-zero row.

    Notes
    -----
    *Exact search* is brute force with faiss' ``IndexFlatL2`` (BLAS, in blocks of queries, so
    memory stays bounded). *Approximate search* builds a faiss ``IndexHNSWFlat`` (Malkov &
    Yashunin, 2018) with ``M`` = :data:`HNSW_M`, ``efConstruction`` =
    :data:`HNSW_EF_CONSTRUCTION` and ``efSearch`` = ``max(`` :data:`HNSW_EF_SEARCH` ``, 2(k+1))``.
    Measured on two cores (see ``BENCHMARKS.md``): recall@10 0.91 on 200,000 × 32 isotropic
    Gaussian points (the hardest case; clustered data reaches 0.98) and 0.99 on
    1,000,000 × 16, where the search takes about 4.5 minutes and 0.5 GB beyond the data
    (exact search: about 90 minutes). At the threshold, 100,000 × 16, exact and approximate
    search both take about 15 s.

    Each row is queried for ``k + 1`` neighbours; its own position is dropped, or, when it is
    absent (more than ``k`` exact copies, or the approximate index missed it), the last
    candidate is. The distances of the kept pairs are then recomputed in float64 (the BLAS
    expansion ``|x|² + |y|² - 2x·y`` loses precision exactly where near-duplicates live) and
    each row is sorted by distance, ties by position (``refine=False`` skips this and keeps
    faiss' float32 distances and order). The HNSW graph is built by several
    threads, so with ``n_jobs`` other than 1 the approximate neighbours may differ slightly
    from run to run.

    References
    ----------
    .. [1] Johnson, J., Douze, M. & Jégou, H. (2019). Billion-scale similarity search with
       GPUs. IEEE Transactions on Big Data 7(3), 535–547. (faiss)
    .. [2] Malkov, Y. A. & Yashunin, D. A. (2018). Efficient and robust approximate nearest
       neighbor search using Hierarchical Navigable Small World graphs. IEEE TPAMI 42(4),
       824–836.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    >>> distances, indices = nearest_neighbors(X, k=2)
    >>> indices.tolist()
    [[1, 2], [0, 2], [0, 1], [2, 0]]
    >>> distances[0].tolist()
    [0.0, 1.0]
    """
    matrix = check_features(features)
    n = matrix.shape[0]
    if n < 2:
        raise InvalidInputError(
            f"features has {n} row(s); nearest neighbours need at least 2",
            hint="Give at least two examples.",
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer; got {k!r}", hint="Use e.g. k=10.")
    k = int(k)
    if metric not in _METRICS:
        raise InvalidInputError(
            f"metric must be one of {', '.join(_METRICS)}; got {metric!r}",
            hint='Use "cosine" for embeddings, "euclidean" for standardised tabular features.',
        )
    if isinstance(hnsw_m, bool) or not isinstance(hnsw_m, int | np.integer) or hnsw_m < 2:
        raise InvalidInputError(f"hnsw_m must be an integer >= 2; got {hnsw_m!r}")
    for name, value in (
        ("hnsw_ef_construction", hnsw_ef_construction),
        ("hnsw_ef_search", 1 if hnsw_ef_search is None else hnsw_ef_search),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InvalidInputError(f"{name} must be a positive integer; got {value!r}")
    if exact not in (None, True, False):
        raise InvalidInputError(f"exact must be True, False or None; got {exact!r}")
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, int | np.integer)
    ):
        raise InvalidInputError(
            f"random_state must be an integer or None; got {random_state!r}",
            hint="Use e.g. random_state=0 for reproducible approximate neighbours.",
        )
    threads = _thread_count(n_jobs)
    if metric == "cosine":
        matrix = _unit_rows(matrix)
    if k >= n:
        fallback(f"k={k} but there are only {n} examples; using k={n - 1} neighbours instead")
        k = n - 1
    use_exact = n <= EXACT_MAX_ROWS if exact is None else exact
    # A core dependency, imported here to keep `import dcai.quality` light.
    faiss: Any = importlib.import_module("faiss")

    with _faiss_threads(faiss, threads):
        if use_exact:
            index = faiss.IndexFlatL2(matrix.shape[1])
        else:
            index = faiss.IndexHNSWFlat(matrix.shape[1], int(hnsw_m))
            index.hnsw.efConstruction = int(hnsw_ef_construction)
            index.hnsw.efSearch = (
                max(HNSW_EF_SEARCH, 2 * (k + 1))
                if hnsw_ef_search is None
                else max(int(hnsw_ef_search), k + 1)
            )
            seed = int(np.random.default_rng(random_state).integers(2**31 - 1))
            index.hnsw.rng = faiss.RandomGenerator(seed)
        index.add(matrix)
        distances = np.empty((n, k), dtype=np.float32)
        indices = np.empty((n, k), dtype=np.int64)
        flat = index if use_exact else None
        for start in range(0, n, _QUERY_BLOCK):
            stop = min(n, start + _QUERY_BLOCK)
            squared, found = index.search(matrix[start:stop], k + 1)
            found = found.astype(np.int64, copy=False)
            if not refine:
                squared = _drop_self(squared, start, found)
            found = _drop_self(found, start)
            missing = (found < 0).any(axis=1)
            if missing.any():
                # The graph returned fewer than k + 1 results for a few rows: search them exactly.
                if flat is None:
                    flat = faiss.IndexFlatL2(matrix.shape[1])
                    flat.add(matrix)
                rows = np.flatnonzero(missing)
                again_squared, again = flat.search(matrix[start + rows], k + 1)
                again = again.astype(np.int64, copy=False)
                if not refine:
                    squared[rows] = _drop_self(again_squared, start + rows, again)
                found[rows] = _drop_self(again, start + rows)
            if refine:
                block_d, block_i = _refine(matrix, np.arange(start, stop), found, metric)
            else:
                # faiss returns squared L2 distances, ascending; for unit rows the cosine
                # distance is half of it. Both maps are monotone, so the order stays.
                np.maximum(squared, 0.0, out=squared)
                block_d = squared / 2 if metric == "cosine" else np.sqrt(squared)
                block_i = found
            distances[start:stop] = block_d
            indices[start:stop] = block_i
    return distances, indices


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix.astype(np.float64), axis=1)
    zero = norms == 0
    if zero.any():
        raise InvalidInputError(
            f"features has {int(zero.sum())} all-zero row(s): the cosine distance is undefined",
            rows=rows_of(zero),
            hint='Drop those rows or use metric="euclidean".',
        )
    return np.ascontiguousarray(matrix / norms[:, None].astype(np.float32))


def _thread_count(n_jobs: int | None) -> int | None:
    """Threads for ``n_jobs`` (joblib's convention for negative values); None keeps faiss'."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise InvalidInputError(
            f"n_jobs must be a non-zero integer or None; got {n_jobs!r}",
            hint="Use n_jobs=-1 for all cores.",
        )
    cores = os.cpu_count() or 1
    return int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))


@contextmanager
def _faiss_threads(faiss: Any, threads: int | None) -> Iterator[None]:
    """Run with ``threads`` OpenMP threads, restoring faiss' global setting afterwards."""
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _drop_self(
    found: np.ndarray, rows: int | np.ndarray, positions: np.ndarray | None = None
) -> np.ndarray:
    """Drop each row's own position from ``k + 1`` candidates (else the last candidate).

    With ``positions``, drop the same entries from ``found`` (e.g. the distances) as would
    be dropped from ``positions``.
    """
    n_rows, width = found.shape
    own = np.arange(n_rows) + rows if isinstance(rows, int) else np.asarray(rows)
    keep = (found if positions is None else positions) != own[:, None]
    no_self = keep.all(axis=1)
    keep[no_self, width - 1] = False
    kept: np.ndarray = found[keep].reshape(n_rows, width - 1)
    return kept


def _refine(
    matrix: np.ndarray, rows: np.ndarray, found: np.ndarray, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """Recompute the distances of the pairs in float64 and sort each row by (distance, index)."""
    n_rows, k = found.shape
    out = np.empty((n_rows, k), dtype=np.float64)
    step = max(1, _REFINE_VALUES // max(1, k * matrix.shape[1]))
    for start in range(0, n_rows, step):
        stop = min(n_rows, start + step)
        queries = matrix[rows[start:stop]].astype(np.float64)
        diff = matrix[found[start:stop]].astype(np.float64) - queries[:, None, :]
        squared = np.einsum("ijk,ijk->ij", diff, diff)
        # For unit rows, 1 - cos(x, y) = |x - y|² / 2, computed without cancellation.
        out[start:stop] = squared / 2 if metric == "cosine" else np.sqrt(squared)
    by_index = np.argsort(found, axis=1, kind="stable")
    found = np.take_along_axis(found, by_index, axis=1)
    out = np.take_along_axis(out, by_index, axis=1)
    order = np.argsort(out, axis=1, kind="stable")
    return (
        np.take_along_axis(out, order, axis=1).astype(np.float32),
        np.take_along_axis(found, order, axis=1),
    )


def check_knn(knn: Any, *, n_examples: int, name: str = "knn") -> tuple[np.ndarray, np.ndarray]:
    """Validate a precomputed ``(distances, indices)`` pair from :func:`nearest_neighbors`.

    Distances must be finite, non-negative and ascending along rows; indices must be
    positions in ``0..n_examples-1`` other than the row itself.

    >>> d, i = check_knn((np.array([[0.5], [0.5]]), np.array([[1], [0]])), n_examples=2)
    >>> d.dtype, i.dtype
    (dtype('float64'), dtype('int64'))
    """
    hint = "Pass the (distances, indices) pair returned by dcai.quality.nearest_neighbors."
    if not isinstance(knn, tuple | list) or len(knn) != 2:
        raise InvalidInputError(f"{name} must be a (distances, indices) pair", hint=hint)
    try:
        distances = np.asarray(knn[0], dtype=np.float64)
        raw = np.asarray(knn[1])
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} holds values that are not numbers ({exc})", hint=hint
        ) from exc
    if distances.ndim != 2 or raw.shape != distances.shape or distances.shape[1] < 1:
        raise InvalidInputError(
            f"{name}: distances {distances.shape} and indices {raw.shape} must be the same "
            "(n_examples, k) shape with k >= 1",
            hint=hint,
        )
    if distances.shape[0] != n_examples:
        raise InvalidInputError(
            f"{name} has {distances.shape[0]} rows but there are {n_examples} examples",
            hint="Compute the neighbours on the same features, in the same order.",
        )
    if raw.dtype.kind not in "iu":
        raise InvalidInputError(f"{name}: indices must be integers; got {raw.dtype}", hint=hint)
    indices = raw.astype(np.int64)
    bad = ~np.isfinite(distances).all(axis=1) | (distances < 0).any(axis=1)
    bad |= (np.diff(distances, axis=1) < 0).any(axis=1)
    bad |= ((indices < 0) | (indices >= n_examples)).any(axis=1)
    bad |= (indices == np.arange(n_examples)[:, None]).any(axis=1)
    if bad.any():
        raise InvalidInputError(
            f"{name} has {int(bad.sum())} invalid row(s): distances must be finite, "
            "non-negative and ascending, indices other rows' positions",
            rows=rows_of(bad),
            hint=hint,
        )
    return distances, indices
