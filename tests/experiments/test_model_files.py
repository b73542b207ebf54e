"""Model artifacts load only exact trusted types: planted files never run code.

New artifacts are dcai's own format (``model.dcai``); old ``model.skops`` files still load
through skops with the same exact-name check, so both paths are tested.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

import dcai
from dcai.errors import InvalidInputError
from dcai.experiments.model_files import (
    LEGACY_MODEL_ARTIFACT,
    MAGIC,
    MODEL_ARTIFACT,
    TRUSTED_TYPES,
    dump_model,
    load_model_bytes,
    model_types,
)
from dcai.experiments.recipes import RECIPES, build_recipe


class HomeMadeClassifier:
    """A user's own estimator type (a ``module:callable`` recipe would return one)."""

    def __init__(self) -> None:
        self.majority_: object = None

    def fit(self, X: object, y: np.ndarray) -> HomeMadeClassifier:
        values, counts = np.unique(y, return_counts=True)
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), self.majority_)


HOME_MADE = f"{HomeMadeClassifier.__module__}.HomeMadeClassifier"


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 5, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "note": [f"word{i % 7} other {i % 3} thing" for i in range(n)],
        }
    )
    frame.loc[3, "x"] = np.nan
    return frame


def _fit(recipe: str, labels: str) -> tuple[Any, pd.DataFrame]:
    frame = _frame(120, seed=1)
    rng = np.random.default_rng(2)
    y = {
        "text3": np.array(["a", "b", "c"])[rng.integers(0, 3, len(frame))],
        "int2": rng.integers(0, 2, len(frame)),
        "bool": rng.integers(0, 2, len(frame)) > 0,
    }[labels]
    X = frame[["note"]] if recipe == "tfidf-logreg" else frame
    return build_recipe(recipe, X).fit(X, y), X


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("labels", ["text3", "int2", "bool"])
def test_every_recipe_stores_only_trusted_types(recipe: str, labels: str) -> None:
    model, _ = _fit(recipe, labels)
    assert set(model_types(dump_model(model))) <= TRUSTED_TYPES
    # The legacy skops path checks against the same exact list.
    untrusted = set(sio.get_untrusted_types(data=sio.dumps(model)))
    assert untrusted <= TRUSTED_TYPES, untrusted - TRUSTED_TYPES
    assert not any(name.startswith("builtins.") for name in TRUSTED_TYPES)


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("labels", ["text3", "int2", "bool"])
def test_every_recipe_round_trips_exactly_and_deterministically(recipe: str, labels: str) -> None:
    model, X = _fit(recipe, labels)
    data = dump_model(model)
    loaded = load_model_bytes(data)
    assert type(loaded) is type(model)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == model.predict(X).dtype
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # The same recipe fitted again with the same seed: the same bytes, stored once.
    again, _ = _fit(recipe, labels)
    assert dump_model(again) == data
    assert dump_model(loaded) == data


def test_common_estimators_round_trip_without_extra_trust() -> None:
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    for model in (
        DecisionTreeClassifier(random_state=0),
        ExtraTreesClassifier(n_estimators=3, random_state=0),
        GaussianNB(),
        DummyClassifier(),
        SVC(),
    ):
        model.fit(X, y)
        loaded = load_model_bytes(dump_model(model))
        assert np.array_equal(loaded.predict(X), model.predict(X)), model
        method = "predict_proba" if hasattr(model, "predict_proba") else "decision_function"
        assert np.array_equal(getattr(loaded, method)(X), getattr(model, method)(X)), model


def test_plain_values_round_trip() -> None:
    value: dict[Any, Any] = {
        "nan": math.nan,
        "inf": [math.inf, -math.inf, -0.0],
        (1, "a"): {3, 1, 2},
        "frozen": frozenset({"x"}),
        "slice": slice(0, 5, None),
        "bytes": b"\x00\xff",
        "scalars": (np.int64(7), np.float32(0.5), np.bool_(True), np.str_("s")),
        "dtypes": [np.dtype("<U3"), np.dtype([("a", "<i8"), ("b", "u1")], align=True)],
        "arrays": [
            np.arange(6, dtype=np.int32).reshape(2, 3),
            np.asfortranarray(np.ones((2, 3))),
            np.array(["ab", "c"]),
            np.array(["x", 1, 2.5, True, None], dtype=object),
            np.zeros(2, dtype=[("a", "<i8"), ("b", "u1")]),
        ],
        "types": [float, np.float32],
        "rng": np.random.default_rng(3),
        "legacy_rng": np.random.RandomState(4),
    }
    loaded = load_model_bytes(dump_model(value))
    assert math.isnan(loaded["nan"]) and loaded["inf"] == [math.inf, -math.inf, -0.0]
    assert math.copysign(1.0, loaded["inf"][2]) == -1.0
    assert loaded[(1, "a")] == {1, 2, 3} and loaded["frozen"] == frozenset({"x"})
    assert loaded["slice"] == slice(0, 5, None) and loaded["bytes"] == b"\x00\xff"
    for got, want in zip(loaded["scalars"], value["scalars"], strict=True):
        assert type(got) is type(want) and got == want
    assert loaded["dtypes"] == value["dtypes"]
    for got, want in zip(loaded["arrays"], value["arrays"], strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tolist() == want.tolist()
    assert loaded["arrays"][1].flags.f_contiguous
    assert loaded["types"] == [float, np.float32]
    assert dump_model(loaded) == dump_model(value)
    assert loaded["rng"].random() == np.random.default_rng(3).random()
    assert loaded["legacy_rng"].rand() == np.random.RandomState(4).rand()


def test_vocabulary_is_stored_as_plain_ints() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["a good film", "a bad film", "good and bad"]
    model = TfidfVectorizer().fit(texts)
    loaded = load_model_bytes(dump_model(model))
    assert {type(v) for v in loaded.vocabulary_.values()} == {int}
    assert (loaded.transform(texts) != model.transform(texts)).nnz == 0
    assert b"npscalar" not in dump_model(model)


def _ws_with_run(
    tmp_path: Path, payload: bytes, name: str = LEGACY_MODEL_ARTIFACT
) -> tuple[dcai.Workspace, str]:
    ws = dcai.Workspace(tmp_path / "ws")
    with ws.start_run(experiment="planted", capture_code=False) as run:
        run.log_artifact(payload, name)
    return ws, run.id


# The legacy skops path ----------------------------------------------------------------


def test_a_planted_eval_is_refused_even_with_a_matching_hash(tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    payload = sio.dumps(FunctionTransformer(func=eval))
    ws, run = _ws_with_run(tmp_path, payload)
    with pytest.raises(InvalidInputError, match=r"does not trust: builtins\.eval"):
        ws.load_model(run)
    # Only an explicit, exact list widens it.
    with pytest.raises(InvalidInputError, match=r"builtins\.eval"):
        ws.load_model(run, trusted=["builtins.exec"])
    assert ws.load_model(run, trusted=["builtins.eval"]).func is eval


@pytest.mark.parametrize("fmt", ["skops", "dcai"])
def test_a_users_own_type_needs_to_be_named(tmp_path: Path, fmt: str) -> None:
    model = HomeMadeClassifier().fit(None, np.array(["a", "b", "b"]))
    payload, name = (
        (sio.dumps(model), LEGACY_MODEL_ARTIFACT)
        if fmt == "skops"
        else (dump_model(model), MODEL_ARTIFACT)
    )
    ws, run = _ws_with_run(tmp_path, payload, name)
    with pytest.raises(InvalidInputError, match=HOME_MADE.replace(".", r"\.")):
        ws.load_model(run)
    with pytest.raises(InvalidInputError, match=HOME_MADE.replace(".", r"\.")):
        ws.load_model(run, trusted=[HOME_MADE.rsplit(".", 1)[0]])  # a module prefix is not enough
    loaded = ws.load_model(run, trusted=[HOME_MADE])
    assert type(loaded) is HomeMadeClassifier
    assert loaded.predict(pd.DataFrame({"x": [1]})).tolist() == ["b"]


def test_garbage_in_place_of_a_model_is_one_clear_error(tmp_path: Path) -> None:
    ws, run = _ws_with_run(tmp_path, b"not a zip file at all")
    with pytest.raises(InvalidInputError, match="not a readable skops model file"):
        ws.load_model(run)


def _run_loader(
    tmp_path: Path, run: str, *, expect_marker: Path
) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        f"""
        import sys, dcai
        from dcai.errors import InvalidInputError
        ws = dcai.Workspace({str(tmp_path / "ws")!r}, create=False)
        try:
            model = ws.load_model({run!r})
        except InvalidInputError as error:
            print(error)
            sys.exit(2)
        model.transform(["touch {expect_marker}"])
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )


def test_planted_model_in_a_real_process_runs_nothing(tmp_path: Path) -> None:
    """A skops schema that would call os.system: loading it in a fresh process creates no file."""
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "pwned"
    payload = sio.dumps(FunctionTransformer(func=__import__("os").system, kw_args={}))
    ws, run = _ws_with_run(tmp_path, payload)
    ws.close()
    proc = _run_loader(tmp_path, run, expect_marker=marker)
    assert proc.returncode == 2, proc.stderr
    assert "does not trust: posix.system" in proc.stdout or "os.system" in proc.stdout
    assert not marker.exists()


# dcai's format: hand-crafted files ----------------------------------------------------


def _craft(root: Any, data: bytes = b"") -> bytes:
    header = json.dumps({"format": "dcai-model", "root": root, "version": 1}).encode()
    return MAGIC + struct.pack("<Q", len(header)) + header + data


def _transformer(func: dict[str, Any]) -> dict[str, Any]:
    """A FunctionTransformer node (an allow-listed class) whose ``func`` is ``func``."""
    return {
        "$": "obj",
        "type": "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "state": {"$": "dict", "k": ["func", "kw_args"], "v": [func, None]},
    }


PLANTED = {
    "builtins.eval": _transformer({"$": "func", "name": "builtins.eval"}),
    "os.system": _transformer({"$": "func", "name": "os.system"}),
    "posix.system": _transformer({"$": "func", "name": "posix.system"}),
    "subprocess.Popen": [
        _transformer({"$": "func", "name": "dcai.quality._models._as_float"}),
        {"$": "reduce", "type": "subprocess.Popen", "args": [["touch", "x"]], "state": None},
    ],
    # A dcai function that is not one of the four feature functions.
    "dcai.quality._models.default_model": _transformer(
        {"$": "func", "name": "dcai.quality._models.default_model"}
    ),
    "subprocess.check_call": {
        "$": "obj",
        "type": "subprocess.check_call",
        "state": None,
    },
    "builtins.exec": {"$": "type", "name": "builtins.exec"},
    "numpy.random._philox.Philox": {
        "$": "rng",
        "type": "numpy.random._generator.Generator",
        "bit_generator": "numpy.random._philox.Philox",
        "state": None,
    },
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_dcai_file_is_refused_before_anything_is_built(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.preprocessing import FunctionTransformer

    built: list[object] = []
    monkeypatch.setattr(FunctionTransformer, "__setstate__", lambda self, s: built.append(s))
    ws, run = _ws_with_run(tmp_path, _craft(PLANTED[name]), MODEL_ARTIFACT)
    escaped = name.replace(".", r"\.")
    with pytest.raises(InvalidInputError, match=rf"does not trust: {escaped}"):
        ws.load_model(run)
    assert built == []
    with pytest.raises(InvalidInputError, match=name.replace(".", r"\.")):
        ws.load_model(run, trusted=["builtins.exec" if name != "builtins.exec" else "os.system"])
    assert built == []


def test_a_reduce_with_code_in_its_arguments_is_refused() -> None:
    """An allow-listed class rebuilt from arguments that are not plain values."""
    node = {
        "$": "reduce",
        "type": "sklearn.tree._tree.Tree",
        "args": [{"$": "func", "name": "dcai.quality._models._as_float"}],
        "state": None,
    }
    with pytest.raises(InvalidInputError, match="not plain values"):
        load_model_bytes(_craft(node))


def test_an_alias_does_not_pass_for_the_allowed_name() -> None:
    """Trusting a name loads only the object that is importable as exactly that name."""
    node = {"$": "func", "name": "os.system"}
    with pytest.raises(InvalidInputError, match="cannot be imported under exactly that name"):
        load_model_bytes(_craft(node), trusted=["os.system"])


def test_planted_dcai_file_in_a_real_process_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    root = [
        _transformer({"$": "func", "name": "posix.system"}),
        {
            "$": "reduce",
            "type": "subprocess.Popen",
            "args": [["touch", str(marker)]],
            "state": None,
        },
    ]
    ws, run = _ws_with_run(tmp_path, _craft(root), MODEL_ARTIFACT)
    ws.close()
    proc = _run_loader(tmp_path, run, expect_marker=marker)
    assert proc.returncode == 2, proc.stderr
    assert "does not trust: posix.system, subprocess.Popen" in proc.stdout
    assert not marker.exists()


def _malformed() -> dict[str, bytes]:
    from sklearn.linear_model import LogisticRegression

    good = dump_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
    header_end = len(MAGIC) + 8 + struct.unpack_from("<Q", good, len(MAGIC))[0]
    return {
        "empty": b"",
        "magic only": MAGIC,
        "cut in the header": good[: header_end - 10],
        "cut in the arrays": good[:-5],
        "cut after the header": good[:header_end],
        "garbage header": MAGIC + struct.pack("<Q", 7) + b"garbage",
        "huge header length": MAGIC + struct.pack("<Q", 2**60) + b"{}",
        "not a dcai header": _craft(None)[: len(MAGIC) + 8] + b'{"format":"x"}',
        "unknown node": _craft({"$": "pickle", "v": "gASV"}),
        "wrong node shape": _craft({"$": "dict", "k": [1], "v": []}),
        "unhashable key": _craft({"$": "dict", "k": [[1]], "v": [2]}),
        "array out of range": _craft({"$": "npy", "o": 0, "n": 1000}, b"\x93NUMPY"),
        "object dtype scalar": _craft({"$": "npscalar", "dtype": "|O", "v": "00"}),
        "deep nesting": MAGIC + struct.pack("<Q", 200_001) + b"[" * 100_000 + b"1" + b"]" * 100_000,
        "bad float": _craft({"$": "float", "v": "huge"}),
        "objarray shape": _craft({"$": "objarray", "shape": [3], "v": [1]}),
    }


@pytest.mark.parametrize("case", sorted(_malformed()))
def test_a_malformed_dcai_file_is_one_line_error(tmp_path: Path, case: str) -> None:
    data = _malformed()[case]
    ws, run = _ws_with_run(tmp_path, data, MODEL_ARTIFACT)
    with pytest.raises(InvalidInputError, match="not a readable dcai model file") as info:
        ws.load_model(run)
    assert "\n" not in str(info.value)


def test_an_array_whose_header_lies_about_its_size_is_refused() -> None:
    import io

    from numpy.lib.format import write_array

    buffer = io.BytesIO()
    write_array(buffer, np.zeros(4), allow_pickle=False)
    npy = buffer.getvalue().replace(b"(4,)", b"(9,)", 1)
    with pytest.raises(InvalidInputError, match="size does not match"):
        load_model_bytes(_craft({"$": "npy", "o": 0, "n": len(npy)}, npy))


def test_dcai_artifact_is_preferred_and_legacy_still_loads(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    new = DummyClassifier(strategy="most_frequent").fit([[0], [1], [1]], ["a", "b", "b"])
    old = DummyClassifier(strategy="constant", constant="a").fit([[0], [1]], ["a", "b"])
    ws = dcai.Workspace(tmp_path / "ws")
    with ws.start_run(experiment="both", capture_code=False) as run:
        run.log_artifact(sio.dumps(old), LEGACY_MODEL_ARTIFACT)
        run.log_artifact(dump_model(new), MODEL_ARTIFACT)
    with ws.start_run(experiment="old", capture_code=False) as old_run:
        old_run.log_artifact(sio.dumps(old), LEGACY_MODEL_ARTIFACT)
    assert ws.load_model(run.id).strategy == "most_frequent"
    assert ws.load_model(old_run.id).strategy == "constant"


def test_loading_imports_neither_skops_nor_torch(tmp_path: Path) -> None:
    model, _ = _fit("hgb", "text3")
    path = tmp_path / "model.dcai"
    path.write_bytes(dump_model(model))
    script = textwrap.dedent(
        f"""
        import sys, pathlib
        from dcai.experiments.model_files import load_model_bytes
        model = load_model_bytes(pathlib.Path({str(path)!r}).read_bytes())
        print(type(model).__name__, "torch" in sys.modules, "skops" in sys.modules)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.split() == ["Pipeline", "False", "False"]
