"""Out-of-sample probabilities: truly held out, columns in class order, fallbacks, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from dcai.errors import FallbackWarning, InvalidInputError
from dcai.quality import cross_val_predict_proba, default_model


def _blobs(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, 4))
    y = rng.integers(0, k, n)
    return centers[y] + rng.normal(scale=0.7, size=(n, 4)), y


def _texts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    sport = ["goal", "match", "striker", "league", "referee", "penalty", "coach"]
    food = ["recipe", "garlic", "oven", "flour", "sauce", "bake", "dinner"]
    y = rng.integers(0, 2, n)
    words = [rng.choice(food if label else sport, size=6) for label in y]
    return [" ".join(w) for w in words], np.where(y == 1, "food", "sport")


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    yield cluster
    cluster.close()


def test_held_out_rows_are_not_memorised() -> None:
    # A 1-nearest-neighbour model scores its own training rows with probability 1 on their
    # label; on random labels, held-out rows can only match by chance (about 1 in 3).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = rng.integers(0, 3, 300)
    in_sample = KNeighborsClassifier(n_neighbors=1).fit(X, y).predict_proba(X)
    assert in_sample[np.arange(300), y].min() == 1.0
    probs = cross_val_predict_proba(X, y, model=KNeighborsClassifier(n_neighbors=1), n_jobs=1)
    own = probs[np.arange(300), y]
    assert 0.2 < float((own > 0.99).mean()) < 0.5
    assert float(own.mean()) < 0.5


def test_shape_rows_and_accuracy_on_separable_data() -> None:
    X, y = _blobs(200, 3, seed=1)
    probs = cross_val_predict_proba(X, y, n_jobs=1)
    assert probs.shape == (200, 3) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert probs.min() > 0
    assert float((probs.argmax(axis=1) == y).mean()) > 0.9


def test_columns_follow_classes_for_string_labels() -> None:
    X, codes = _blobs(150, 3, seed=2)
    names = np.array(["owl", "cat", "emu"])[codes]
    probs = cross_val_predict_proba(X, names, n_jobs=1)
    # Sorted distinct labels: cat, emu, owl.
    sorted_names = np.array(["cat", "emu", "owl"])
    assert float((sorted_names[probs.argmax(axis=1)] == names).mean()) > 0.9
    reordered = cross_val_predict_proba(X, names, n_jobs=1, classes=["owl", "cat", "emu"])
    np.testing.assert_allclose(reordered, probs[:, [2, 0, 1]])


def test_classes_absent_from_labels_get_tiny_probability() -> None:
    X, y = _blobs(90, 2, seed=3)
    probs = cross_val_predict_proba(X, y, n_jobs=1, classes=[0, 1, 2])
    assert probs.shape == (90, 3)
    assert probs[:, 2].max() < 1e-6


def test_reproducible_and_seeded() -> None:
    X, y = _blobs(120, 3, seed=4)
    model = RandomForestClassifier(n_estimators=10, random_state=0)
    a = cross_val_predict_proba(X, y, model=model, n_jobs=1, random_state=5)
    b = cross_val_predict_proba(X, y, model=model, n_jobs=1, random_state=5)
    c = cross_val_predict_proba(X, y, model=model, n_jobs=1, random_state=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dataframe_with_numeric_categorical_and_text(small_frame: pd.DataFrame) -> None:
    X = small_frame.drop(columns="label")
    X.loc[3, "x1"] = np.nan
    X.loc[5, "colour"] = None
    X.loc[7, "review"] = None
    probs = cross_val_predict_proba(X, small_frame["label"], n_jobs=1)
    assert probs.shape == (60, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_processes_give_the_same_result_as_inline(small_frame: pd.DataFrame) -> None:
    # Also checks that the default mixed-column pipeline pickles into worker processes.
    X, y = small_frame.drop(columns="label"), small_frame["label"]
    inline = cross_val_predict_proba(X, y, n_jobs=1)
    processes = cross_val_predict_proba(X, y, n_jobs=2)
    np.testing.assert_allclose(processes, inline, rtol=0, atol=1e-12)


def test_list_of_texts() -> None:
    texts, y = _texts(120, seed=5)
    probs = cross_val_predict_proba(texts, y, n_jobs=1)
    assert float((np.array(["food", "sport"])[probs.argmax(axis=1)] == y).mean()) > 0.95


def test_image_arrays() -> None:
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 80)
    images = rng.integers(0, 50, size=(80, 8, 8)).astype(np.uint8)
    images[y == 1, :4] += 150  # class 1 is bright on top
    probs = cross_val_predict_proba(images, y, n_jobs=1)
    assert float((probs.argmax(axis=1) == y).mean()) > 0.95


def test_progress_reports_folds() -> None:
    X, y = _blobs(60, 2, seed=7)
    calls: list[tuple[str, int, int]] = []
    cross_val_predict_proba(X, y, cv=3, n_jobs=1, progress=lambda *a: calls.append(a))
    assert [(d, i, n) for d, i, n in calls] == [("cross-validation folds", i, 3) for i in range(4)]


def test_rare_class_falls_back_to_fewer_folds() -> None:
    X, y = _blobs(60, 2, seed=8)
    y = y.copy()
    y[:3] = 2  # class 2 has 3 examples, fewer than 5 folds
    with pytest.warns(FallbackWarning, match=r"using 3 folds instead") as record:
        probs = cross_val_predict_proba(X, y, n_jobs=1)
    assert "2: 3" in str(record[0].message)
    assert probs.shape == (60, 3)


def test_single_example_class_still_runs_and_says_so() -> None:
    X, y = _blobs(40, 2, seed=9)
    y = y.astype(object)
    y[0] = "lonely"
    y[1:] = np.where(y[1:] == 1, "b", "a")
    with pytest.warns(FallbackWarning, match="single example") as record:
        probs = cross_val_predict_proba(X, y, n_jobs=1)
    assert "using 2 folds" in str(record[0].message)
    # Column order: a, b, lonely. The lonely example was scored by a model that never saw it.
    assert probs[0, 2] < 1e-6


def test_fold_whose_training_part_has_one_class() -> None:
    X = np.arange(6, dtype=float).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 0, 1])
    with pytest.warns(FallbackWarning):
        probs = cross_val_predict_proba(X, y, n_jobs=1)
    assert probs[5, 0] > 0.999  # its fold trained on class 0 only


def test_single_class_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="single class"):
        cross_val_predict_proba(np.zeros((10, 2)), ["a"] * 10)


def test_model_without_predict_proba_suggests_calibration() -> None:
    X, y = _blobs(40, 2, seed=10)
    with pytest.raises(InvalidInputError, match="LinearSVC") as info:
        cross_val_predict_proba(X, y, model=LinearSVC())
    assert "CalibratedClassifierCV" in str(info.value)
    with pytest.raises(InvalidInputError, match="no fit method"):
        cross_val_predict_proba(X, y, model=object())


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.linspace(0, 1, 40), "regression"),
        (np.zeros((40, 3)), "multi-label"),
        ([[1, 2]] * 40, "multi-label"),
    ],
)
def test_bad_targets(y: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        cross_val_predict_proba(np.zeros((40, 2)), y)


def test_length_mismatch_and_bad_cv() -> None:
    with pytest.raises(InvalidInputError, match="X has 10 rows but y has 9 labels"):
        cross_val_predict_proba(np.zeros((10, 2)), [0, 1] * 4 + [0])
    with pytest.raises(InvalidInputError, match="cv must be"):
        cross_val_predict_proba(np.zeros((10, 2)), [0, 1] * 5, cv=1)
    with pytest.raises(InvalidInputError, match="single string"):
        cross_val_predict_proba("text", ["a"])


def test_dask_backend_gives_the_same_numbers(dask_cluster: Any) -> None:
    X, y = load_iris(return_X_y=True)
    local = cross_val_predict_proba(X, y, n_jobs=1)
    remote = cross_val_predict_proba(
        X, y, backend="dask", scheduler_address=dask_cluster.scheduler_address
    )
    np.testing.assert_array_equal(remote, local)


@pytest.mark.parametrize(
    ("data", "first_step"),
    [
        (np.random.default_rng(0).normal(size=(20, 3)), "encode"),
        (pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), "encode"),
        (["some text", "more text"], "fill"),
        (np.zeros((4, 8, 8)), "flatten"),
        (np.random.default_rng(0).normal(size=(20, 64)), "scale"),
        ("tabular", "encode"),
        ("text", "fill"),
        ("image", "flatten"),
        ("embedding", "scale"),
    ],
)
def test_default_model_per_kind(data: Any, first_step: str) -> None:
    model = default_model(data)
    assert isinstance(model, Pipeline)
    assert model.steps[0][0] == first_step
    assert type(model.steps[-1][1]).__name__ == "LogisticRegression"


def test_default_model_for_a_frame_encodes_each_column_by_role(small_frame: pd.DataFrame) -> None:
    model = default_model(small_frame.drop(columns="label"))
    encode = model.named_steps["encode"]
    assert [(name, cols) for name, _, cols in encode.transformers] == [
        ("numeric", ["x1", "x2"]),
        ("categorical", ["colour"]),
        ("text:review", "review"),
    ]
    onehot = encode.transformers[1][1].named_steps["onehot"]
    assert onehot.handle_unknown == "ignore"


def test_default_model_for_kind_tabular_reads_dtypes() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", None]})
    model = default_model("tabular").fit(frame, [0, 1, 0, 1])
    assert model.predict_proba(frame).shape == (4, 2)


def test_default_model_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="unknown kind of data 'audio'"):
        default_model("audio")
    with pytest.raises(InvalidInputError, match="n_classes"):
        default_model("text", n_classes=1)
