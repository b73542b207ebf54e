"""Exact and near-duplicate examples, grouped, with label conflicts inside groups.

For text, candidate pairs found by vector distance are confirmed on the text itself
(character-shingle resemblance, Broder 1997), and :func:`split_leakage` counts the groups
that span train/dev/test splits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dcai.errors import InvalidInputError
from dcai.quality._neighbors import check_knn, nearest_neighbors
from dcai.quality._validation import check_features, encode_labels, rows_of

__all__ = [
    "DUPLICATE_K",
    "NEAR_DUPLICATE_RATIO",
    "SHORT_TEXT",
    "TEXT_SIMILARITY",
    "find_duplicates",
    "split_leakage",
    "text_similarity",
]

#: Default ``threshold``: a pair is a near-duplicate when its distance is at most this
#: fraction of the median nearest-neighbour distance.
NEAR_DUPLICATE_RATIO = 0.15
#: Neighbours searched per example when ``knn`` is not given.
DUPLICATE_K = 10
#: Default ``text_threshold``: a candidate pair of texts is a near-duplicate when the
#: Jaccard resemblance of their character 3-gram shingles is at least this.
TEXT_SIMILARITY = 0.8
#: Texts shorter than this once normalised (or empty once normalised, like emoji-only ones)
#: are duplicates only when identical (after Unicode NFKC, case-folding and whitespace).
SHORT_TEXT = 10
#: Similarity of texts equal once punctuation and symbols are stripped but not before, and
#: the cap of shingle resemblance: 1.0 is kept for texts identical up to case and spacing.
_NORMALISED_MATCH = 0.99
_SHINGLE = 3
_SPACES = re.compile(r"\s+")


def find_duplicates(
    features: Any,
    *,
    labels: Sequence[Any] | np.ndarray | pd.Series | None = None,
    threshold: float | None = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    row_hashes: Sequence[Any] | np.ndarray | pd.Series | None = None,
    texts: Sequence[Any] | np.ndarray | pd.Series | pd.DataFrame | None = None,
    text_threshold: float | None = None,
) -> pd.DataFrame:
    r"""Group exact and near-duplicate examples and flag all copies but one per group.

    Use it before training and before splitting: duplicates inflate the weight of some
    examples, leak between train and test splits, and copies that disagree on their label
    are label errors by construction.

    Parameters
    ----------
    features
        Numeric matrix ``(n_examples, n_features)`` (embeddings for text or images).
    labels
        Given labels, one per example. When present, groups whose members carry different
        labels are flagged as label conflicts.
    threshold
        A pair is a near-duplicate when its distance is at most ``threshold`` times the median
        nearest-neighbour distance (a number >= 0). Default :data:`NEAR_DUPLICATE_RATIO` (0.15).
        ``0`` keeps exact duplicates (and pairs at distance 0) only.
    knn
        Precomputed ``(distances, indices)`` from :func:`~dcai.quality.nearest_neighbors`
        (any metric); by default the :data:`DUPLICATE_K` (10) Euclidean nearest neighbours.
    row_hashes
        One hashable value per example (e.g. the sha256 of an image file or of a text):
        when given, exact duplicates are rows with equal hashes instead of equal features.
    texts
        The examples' text, one per row (a DataFrame's columns are joined per row), when the
        features are (or include) vectors of text such as TF-IDF or embeddings. Every
        candidate pair is then confirmed on the text itself: it must have
        :func:`text_similarity` >= ``text_threshold``, and ``duplicate_score`` measures text
        similarity. Each row's nearest neighbour, and rows whose texts are equal once
        normalised (at a distance within the cut), are candidates too.
    text_threshold
        Minimum :func:`text_similarity` of a near-duplicate pair of texts, in [0, 1];
        default :data:`TEXT_SIMILARITY` (0.8).

    Returns
    -------
    pandas.DataFrame
        One row per example in input order (with the input's index when ``features`` is a
        DataFrame), and columns

        - ``duplicate_group`` (int): the group's number, ``-1`` when the example has no
          duplicate. Groups are numbered 0, 1, … in order of their first member;
        - ``duplicate_score`` (float in [0, 1]): low = closer to its nearest neighbour
          relative to the typical spacing; 0 for an exact duplicate, 0.5 at the median.
          With ``texts`` it is ``1 -`` a text similarity (0 for identical texts, 0.01 for
          texts equal up to punctuation): for a flagged copy, to the group's first row (the
          copy that is kept); for the first row, to the most similar row it is linked with;
          for rows outside groups, the larger of the distance score and ``1 -`` the text
          similarity to the nearest neighbour;
        - ``is_duplicate_issue`` (bool): a member of a group other than its first (in input
          order), so dropping the flagged rows keeps exactly one copy of each group;
        - ``is_exact_duplicate`` (bool): another row has identical features (or hash);
        - ``nearest_duplicate`` (int): 0-based position of the closest other member of its
          group, ``-1`` outside groups;
        - ``is_label_conflict_issue`` (bool): the group's members carry different labels
          (every member is flagged; always False without ``labels``).

        ``frame.attrs`` holds ``"distance_threshold"`` (the distance cut that was applied)
        and ``"median_nn_distance"`` (its unit, *m* in Notes), and with ``texts``
        ``"text_threshold"``.

    Raises
    ------
    InvalidInputError
        Bad features, fewer than two rows, a negative ``threshold``, a bad ``knn``, or
        ``labels`` / ``row_hashes`` of the wrong length or with missing values.

    Notes
    -----
    Let :math:`d_i` be the distance from example *i* to its nearest neighbour and :math:`m`
    the median of the positive :math:`d_i` (exact copies would pull it to 0). Examples
    *i*, *j* (with *j* among the ``k`` neighbours of *i*) are linked when
    :math:`d(i, j) \le \text{threshold} \cdot m`; exact duplicates are linked too. Groups
    are the connected components of this undirected graph, so membership is symmetric and
    transitive (single linkage: a chain of near copies forms one group).

    Why 0.15 × the median: for points spread with locally uniform density in intrinsic
    dimension :math:`q`, the nearest-neighbour distance satisfies
    :math:`P(d \le r\,m) \approx \ln 2 \cdot r^q` for small *r* (a Poisson process), so
    ordinary neighbours fall under the cut at a rate of 1.6% for :math:`q = 2`, 0.23% for
    :math:`q = 3` and below 0.04% for :math:`q \ge 4`. In scikit-learn's digits the closest
    ordinary pair lies at 0.44 × the median and in 20 standardised Gaussian features at
    0.6 ×, so nothing is flagged; copies with Gaussian jitter of 1% of each feature's standard
    deviation lie near 0.02 × the median and are all found, copies with 5% jitter near
    0.1 × (found, at the edge), with 10% jitter near 0.2 × (no longer duplicates). For data
    with very few informative dimensions (:math:`q \le 3`) pass a smaller
    threshold. The unit assumes that most examples have no near copy: when more than half of
    them do (e.g. consecutive video frames), :math:`m` is itself a copy distance and copies
    are missed; pass ``threshold = eps / m`` for an absolute cut ``eps`` (``m`` is in
    ``frame.attrs``).

    The score is :math:`d_i / (d_i + m)` (0 for exact duplicates): increasing in the
    nearest-neighbour distance, 0.5 for a typical example; members of a group score at most
    :math:`\text{threshold} / (1 + \text{threshold})`.

    An all-zero feature vector (e.g. the TF-IDF vector of an emoji-only comment, whose
    words the vectoriser does not see) carries no information: it never links to another
    row by distance or by equal features, only by an equal ``row_hashes`` value or, with
    ``texts``, an equal text.

    With ``texts`` the vectors only propose candidates; a pair becomes a near-duplicate when
    the texts themselves agree (:func:`text_similarity`, the resemblance of character
    3-gram shingle sets [1]_ after normalisation, the measure MinHash estimates), as in
    near-duplicate removal for training text [2]_, which uses a Jaccard cut of 0.8 too.
    Bag-of-words vectors are equal for texts with the same words in another order or with
    different stop words or emoji, so the vector distance alone overstates similarity.

    References
    ----------
    .. [1] Broder, A. Z. (1997). On the resemblance and containment of documents. Proc.
       Compression and Complexity of Sequences, 21–29. (shingle resemblance; MinHash)
    .. [2] Lee, K., Ippolito, D., Nystrom, A., Zhang, C., Eck, D., Callison-Burch, C. &
       Carlini, N. (2022). Deduplicating training data makes language models better.
       Proc. ACL, 8424–8445.
    .. [3] Tarjan, R. (1972). Depth-first search and linear graph algorithms. SIAM Journal
       on Computing 1(2), 146–160. (connected components)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> X[10] = X[3]                       # an exact copy
    >>> X[20] = X[5] + 1e-4                # a near copy
    >>> labels = np.zeros(100, dtype=int); labels[20] = 1
    >>> result = find_duplicates(X, labels=labels)
    >>> groups = result[result["duplicate_group"] >= 0]
    >>> groups.index.tolist(), groups["duplicate_group"].tolist()
    ([3, 5, 10, 20], [0, 1, 0, 1])
    >>> groups["is_duplicate_issue"].tolist(), groups["nearest_duplicate"].tolist()
    ([False, False, True, True], [10, 20, 3, 5])
    >>> groups["is_label_conflict_issue"].tolist()
    [False, True, False, True]
    """
    matrix = check_features(features)
    n = matrix.shape[0]
    if n < 2:
        raise InvalidInputError(
            f"features has {n} row(s); duplicates need at least 2",
            hint="Give at least two examples.",
        )
    if threshold is None:
        ratio = NEAR_DUPLICATE_RATIO
    elif (
        isinstance(threshold, int | float | np.integer | np.floating)
        and not isinstance(threshold, bool)
        and np.isfinite(threshold)
        and threshold >= 0
    ):
        ratio = float(threshold)
    else:
        raise InvalidInputError(
            f"threshold must be a number >= 0 (a fraction of the median nearest-neighbour "
            f"distance); got {threshold!r}",
            hint=f"The default is {NEAR_DUPLICATE_RATIO}.",
        )
    codes = None if labels is None else encode_labels(labels).codes
    if codes is not None and len(codes) != n:
        raise InvalidInputError(
            f"labels has {len(codes)} values but features has {n} rows",
            hint="Give one label per row of features, in the same order.",
        )
    text_cut = _check_text_threshold(text_threshold)
    prepared = None if texts is None else _PreparedTexts(_text_values(texts, n))
    if knn is None:
        distances, indices = nearest_neighbors(matrix, k=min(DUPLICATE_K, n - 1))
    else:
        distances, indices = check_knn(knn, n_examples=n)

    zero = ~np.any(matrix != 0, axis=1)
    if row_hashes is not None:
        exact = _hash_codes(row_hashes, n)
    else:
        exact = _exact_codes(matrix)
        if prepared is not None:
            # Equal vectors are not equal texts ("a b" and "b a" under bag-of-words).
            exact = _combine_codes(exact, prepared.raw)
            zero &= np.asarray([not key for key in prepared.raw])
        # An all-zero vector says nothing about the row: it is nobody's copy.
        exact = np.where(zero, exact.max() + 1 + np.arange(n), exact)
    copies = np.bincount(exact)[exact]
    is_exact = copies > 1

    nearest = distances[:, 0].astype(np.float64)
    positive = nearest[nearest > 0]
    scale = float(np.median(positive)) if positive.size else 0.0
    cut = ratio * scale

    # Edges: near pairs from the neighbour lists, and each exact copy to its first copy.
    rows, cols = np.nonzero(distances <= cut)
    near_from, near_to = rows, indices[rows, cols]
    keep = ~(zero[near_from] | zero[near_to]) & (near_from != near_to)
    near_from, near_to = near_from[keep], near_to[keep]
    first_of_code = np.full(exact.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_of_code, exact, np.arange(n))
    exact_from = np.flatnonzero(is_exact)
    exact_to = first_of_code[exact[exact_from]]
    similarity = np.zeros(0)
    if prepared is not None:
        key_from, key_to = prepared.same_key_pairs()
        close = np.linalg.norm(
            matrix[key_from].astype(np.float64) - matrix[key_to].astype(np.float64), axis=1
        ) <= max(cut, 0.0)
        # Each row's nearest neighbour is a candidate too: one changed rare word moves a
        # TF-IDF vector far beyond the distance cut, while the text barely changes.
        nn_from = np.flatnonzero(indices[:, 0] != np.arange(n))
        near_from = np.concatenate([near_from, key_from[close], nn_from])
        near_to = np.concatenate([near_to, key_to[close], indices[nn_from, 0]])
        similarity = prepared.similarities(near_from, near_to)
        confirmed = similarity >= text_cut
        near_from, near_to, similarity = (
            near_from[confirmed],
            near_to[confirmed],
            similarity[confirmed],
        )
    graph = coo_matrix(
        (
            np.ones(near_from.size + exact_from.size, dtype=np.int8),
            (np.concatenate([near_from, exact_from]), np.concatenate([near_to, exact_to])),
        ),
        shape=(n, n),
    ).tocsr()
    _, component = connected_components(graph, directed=True, connection="weak")
    size = np.bincount(component)[component]
    in_group = size > 1

    # Number groups 0, 1, ... in order of their first member.
    firsts, first_rows = np.unique(component, return_index=True)
    order = np.argsort(first_rows, kind="stable")
    grouped = np.bincount(component)[firsts[order]] > 1
    group_of_component = np.full(firsts.size, -1, dtype=np.int64)
    group_of_component[firsts[order][grouped]] = np.arange(int(grouped.sum()))
    group = group_of_component[component]
    first_member = np.zeros(firsts.size, dtype=np.int64)
    first_member[firsts] = first_rows
    is_issue = in_group & (np.arange(n) != first_member[component])

    nearest_dup = _nearest_members(component, in_group, indices, exact)

    score_distance = np.where(is_exact, 0.0, nearest)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(score_distance > 0, score_distance / (score_distance + scale), 0.0)
    if prepared is not None:
        score, nearest_dup = _text_scores(
            prepared,
            score,
            nearest_dup,
            is_exact,
            indices[:, 0],
            (near_from, near_to, similarity),
            np.where(is_issue, first_member[component], -1),
        )

    conflict = np.zeros(n, dtype=bool)
    if codes is not None and in_group.any():
        distinct = pd.Series(codes).groupby(component).transform("nunique").to_numpy()
        conflict = in_group & (distinct > 1)

    index = features.index if isinstance(features, pd.DataFrame) else None
    frame = pd.DataFrame(
        {
            "duplicate_group": group,
            "duplicate_score": score,
            "is_duplicate_issue": is_issue,
            "is_exact_duplicate": is_exact,
            "nearest_duplicate": nearest_dup,
            "is_label_conflict_issue": conflict,
        },
        index=index,
    )
    frame.attrs["distance_threshold"] = cut
    frame.attrs["median_nn_distance"] = scale
    if prepared is not None:
        frame.attrs["text_threshold"] = text_cut
    return frame


def _exact_codes(matrix: np.ndarray) -> np.ndarray:
    """Equal codes for rows with identical values (``-0.0`` equals ``0.0``)."""
    rows = np.ascontiguousarray(matrix + np.float32(0))
    as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, inverse = np.unique(as_bytes, return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).reshape(-1)


def _hash_codes(row_hashes: Sequence[Any] | np.ndarray | pd.Series, n: int) -> np.ndarray:
    values = pd.Series(list(row_hashes) if not isinstance(row_hashes, pd.Series) else row_hashes)
    if len(values) != n:
        raise InvalidInputError(
            f"row_hashes has {len(values)} values but features has {n} rows",
            hint="Give one hash per row of features, in the same order.",
        )
    missing = values.isna().to_numpy()
    if missing.any():
        raise InvalidInputError(
            f"row_hashes has {int(missing.sum())} missing value(s)",
            rows=rows_of(missing),
            hint="Hash every row, or leave row_hashes out to compare the features.",
        )
    codes, _ = pd.factorize(values, sort=False)
    return np.asarray(codes, dtype=np.int64)


def _nearest_members(
    component: np.ndarray,
    in_group: np.ndarray,
    indices: np.ndarray,
    exact: np.ndarray,
) -> np.ndarray:
    """Position of the closest other member of each example's group, ``-1`` outside groups."""
    n = component.size
    same = (component[indices] == component[:, None]) & in_group[:, None]
    found = same.any(axis=1)
    column = same.argmax(axis=1)
    out = np.where(found, indices[np.arange(n), column], -1)
    rest = in_group & ~found
    if rest.any():
        # Members linked only by an equal row hash (their features differ) may have no
        # group member among their neighbours: take the first other row with the same hash.
        # (Rows with neither cannot occur with neighbours from nearest_neighbors; for a
        # foreign knn, fall back to the first other member of the group.)
        for codes in (exact, component):
            other = _first_other(codes)
            take = rest & (other >= 0)
            out[take] = other[take]
            rest &= ~take
    return out


def _first_other(codes: np.ndarray) -> np.ndarray:
    """For each row, the first other row with the same code (``-1`` when it has none)."""
    n = codes.size
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    counts = np.diff(np.r_[starts, n])
    first = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    first[sorted_codes[starts]] = order[starts]
    many = counts > 1
    second[sorted_codes[starts[many]]] = order[starts[many] + 1]
    mine_first = first[codes]
    other: np.ndarray = np.where(mine_first == np.arange(n), second[codes], mine_first)
    return other


# Text confirmation ----------------------------------------------------------------------------


def normalise_text(text: str) -> tuple[str, str]:
    """``(raw, normalised)`` keys of a text.

    ``raw``: Unicode NFKC, case-folded, whitespace collapsed; ``normalised``: ``raw`` without
    punctuation and symbols (Unicode categories P* and S*, which include emoji, with their
    variation selectors and joiners).

    >>> normalise_text("  Check   OUT my channel!!! ❤️ ")
    ('check out my channel!!! ❤️', 'check out my channel')
    """
    raw = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    kept = "".join(" " if _is_punctuation_or_symbol(ch) else ch for ch in raw)
    return raw, _SPACES.sub(" ", kept).strip()


def _is_punctuation_or_symbol(ch: str) -> bool:
    """Punctuation, symbols (emoji too), separators, controls and emoji variation selectors."""
    return unicodedata.category(ch)[0] in "PSZC" or "\ufe00" <= ch <= "\ufe0f"


def _shingles(text: str) -> frozenset[str]:
    if len(text) <= _SHINGLE:
        return frozenset((text,))
    return frozenset(text[i : i + _SHINGLE] for i in range(len(text) - _SHINGLE + 1))


def text_similarity(a: str, b: str) -> float:
    """How alike two texts are, in [0, 1]: the score that confirms a near-duplicate pair.

    1.0 when equal after NFKC, case-folding and whitespace collapse; 0.99 when equal once
    punctuation and symbols are also stripped; otherwise the Jaccard resemblance of the
    normalised texts' character 3-gram shingle sets (Broder 1997), at most 0.99. Texts
    shorter than :data:`SHORT_TEXT` (10) characters once normalised, including
    emoji-only ones, score 1.0 when equal as above and 0 otherwise; empty texts score 0.

    >>> text_similarity(":)", ":3"), text_similarity("❤️", "❤️"), text_similarity("LOL", "lol")
    (0.0, 1.0, 1.0)
    >>> text_similarity("Great song, love it!", "great song love it")
    0.99
    """
    (raw_a, norm_a), (raw_b, norm_b) = normalise_text(a), normalise_text(b)
    return _similarity(raw_a, norm_a, raw_b, norm_b, _shingles(norm_a), _shingles(norm_b))


def _similarity(
    raw_a: str, norm_a: str, raw_b: str, norm_b: str, sh_a: frozenset[str], sh_b: frozenset[str]
) -> float:
    if not raw_a or not raw_b:
        return 0.0
    if raw_a == raw_b:
        return 1.0
    if min(len(norm_a), len(norm_b)) < SHORT_TEXT:
        return 0.0
    if norm_a == norm_b:
        return _NORMALISED_MATCH
    union = len(sh_a | sh_b)
    return min(len(sh_a & sh_b) / union, _NORMALISED_MATCH) if union else 0.0


def _text_values(texts: Sequence[Any] | np.ndarray | pd.Series | pd.DataFrame, n: int) -> list[str]:
    if isinstance(texts, pd.DataFrame):
        parts = [texts[c].astype("string").fillna("") for c in texts.columns]
        values: list[Any] = (
            [""] * len(texts)
            if not parts
            else list(pd.concat(parts, axis=1).agg("\n".join, axis=1))
        )
    else:
        values = list(texts) if not isinstance(texts, pd.Series) else texts.tolist()
    if len(values) != n:
        raise InvalidInputError(
            f"texts has {len(values)} values but features has {n} rows",
            hint="Give one text per row of features, in the same order.",
        )
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def _check_text_threshold(value: float | None) -> float:
    if value is None:
        return TEXT_SIMILARITY
    if (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and 0 <= value <= 1
    ):
        return float(value)
    raise InvalidInputError(
        f"text_threshold must be a number in [0, 1]; got {value!r}",
        hint=f"The default is {TEXT_SIMILARITY} (Jaccard resemblance of character 3-grams).",
    )


class _PreparedTexts:
    """Normalised keys of every text, with shingle sets computed on demand."""

    def __init__(self, values: list[str]) -> None:
        keys = [normalise_text(v) for v in values]
        self.raw = [k[0] for k in keys]
        self.norm = [k[1] for k in keys]
        self._shingles: dict[int, frozenset[str]] = {}

    def shingles(self, i: int) -> frozenset[str]:
        found = self._shingles.get(i)
        if found is None:
            found = self._shingles[i] = _shingles(self.norm[i])
        return found

    def similarity(self, i: int, j: int) -> float:
        if self.raw[i] == self.raw[j]:
            return 1.0 if self.raw[i] else 0.0
        if min(len(self.norm[i]), len(self.norm[j])) < SHORT_TEXT or self.norm[i] == self.norm[j]:
            return _similarity(
                self.raw[i], self.norm[i], self.raw[j], self.norm[j], frozenset(), frozenset()
            )
        return _similarity(
            self.raw[i], self.norm[i], self.raw[j], self.norm[j], self.shingles(i), self.shingles(j)
        )

    def similarities(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.fromiter(
            (self.similarity(int(i), int(j)) for i, j in zip(left, right, strict=True)),
            dtype=np.float64,
            count=left.size,
        )

    def same_key_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row whose text equals an earlier one's (normalised; raw when short) -> the first."""
        keys = [
            (norm if len(norm) >= SHORT_TEXT else "\0" + raw) if raw else None
            for raw, norm in zip(self.raw, self.norm, strict=True)
        ]
        codes, _ = pd.factorize(pd.Series(keys, dtype=object), sort=False)
        codes = np.asarray(codes, dtype=np.int64)
        rows = np.flatnonzero(codes >= 0)
        if not rows.size:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        first = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        for row in rows[::-1]:
            first[codes[row]] = row
        to = first[codes[rows]]
        later = to != rows
        return rows[later], to[later]


def _combine_codes(codes: np.ndarray, keys: list[str]) -> np.ndarray:
    combined, _ = pd.factorize(pd.Series(list(zip(codes.tolist(), keys, strict=True))), sort=False)
    return np.asarray(combined, dtype=np.int64)


def _text_scores(
    prepared: _PreparedTexts,
    distance_score: np.ndarray,
    nearest_dup: np.ndarray,
    is_exact: np.ndarray,
    nearest: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    kept: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores from text similarity; the nearest duplicate is the most similar linked row.

    A flagged copy (``kept >= 0``) scores against the copy that is kept, so a high issue
    score means that dropping it loses no text (a chain of near copies can end far from it).
    """
    edge_from, edge_to, similarity = edges
    n = distance_score.size
    best = np.full(n, -1.0)
    partner = np.full(n, -1, dtype=np.int64)
    ends = np.concatenate([edge_from, edge_to])
    others = np.concatenate([edge_to, edge_from])
    sims = np.concatenate([similarity, similarity])
    order = np.lexsort((others, -sims, ends))  # per row: most similar first, then lowest row
    ends, others, sims = ends[order], others[order], sims[order]
    head = np.r_[True, ends[1:] != ends[:-1]] if ends.size else np.zeros(0, dtype=bool)
    best[ends[head]] = sims[head]
    partner[ends[head]] = others[head]
    linked = best >= 0
    nearest_sim = prepared.similarities(np.arange(n), nearest)
    score = np.maximum(distance_score, 1.0 - nearest_sim)
    score[linked] = 1.0 - best[linked]
    score[is_exact] = 0.0
    flagged = np.flatnonzero(kept >= 0)
    score[flagged] = 1.0 - prepared.similarities(flagged, kept[flagged])
    out = nearest_dup.copy()
    out[linked & ~is_exact] = partner[linked & ~is_exact]
    return np.clip(score, 0.0, 1.0), out


# Leakage ----------------------------------------------------------------------------------------


def split_leakage(
    groups: Sequence[int] | np.ndarray | pd.Series | pd.DataFrame,
    split: Sequence[Any] | np.ndarray | pd.Series,
) -> pd.DataFrame:
    """Duplicate groups whose members sit in more than one split (train/dev/test leakage).

    A copy of a training example in the test split is scored on what the model memorised,
    so such groups inflate test metrics; re-split keeping each group in one split
    (``dcai data split REF --group COL``).

    Parameters
    ----------
    groups
        ``duplicate_group`` per example (or the frame :func:`find_duplicates` returns);
        ``-1`` means no group.
    split
        The split of each example (missing values are ignored).

    Returns
    -------
    pandas.DataFrame
        One row per leaking group: ``duplicate_group``, ``examples`` (members with a split)
        and ``splits`` (the split names joined by ``+``, sorted). ``len(result)`` is the number
        of leaking groups and ``result["examples"].sum()`` the examples in them.

    >>> split_leakage([0, 0, 1, 1, -1, -1], ["train", "test", "train", "train", "dev", "test"])
       duplicate_group  examples      splits
    0                0         2  test+train
    """
    if isinstance(groups, pd.DataFrame):
        groups = groups["duplicate_group"]
    group = np.asarray(groups, dtype=np.int64).reshape(-1)
    where = pd.Series(list(split) if not isinstance(split, pd.Series) else split.to_numpy())
    if len(where) != group.size:
        raise InvalidInputError(
            f"split has {len(where)} values but groups has {group.size}",
            hint="Give one split per example, in the same order.",
        )
    member = (group >= 0) & where.notna().to_numpy()
    frame = pd.DataFrame({"duplicate_group": group[member], "split": where[member].astype(str)})
    per_group = frame.groupby("duplicate_group", sort=True)["split"].agg(
        examples="size", splits=lambda s: "+".join(sorted(set(s))), distinct="nunique"
    )
    leaking = per_group[per_group["distinct"] > 1].drop(columns="distinct").reset_index()
    leaking["examples"] = leaking["examples"].astype(np.int64)
    return leaking
