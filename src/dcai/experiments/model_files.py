"""Model artifacts in dcai's own format: fast, byte-for-byte deterministic, and loaded back
without running code from the file.

Why not pickle: loading a pickle runs whatever the file says. Why not skops (the format of
older runs, ``model.skops``, still readable): ``import skops.io`` imports torch through
scikit-learn's array-API shim (seconds), a TF-IDF pipeline took seconds and tens of MB to save
because each numpy integer of its vocabulary is a separate node, and the zip timestamps made
identical models differ, so the same model was never stored once.

Format (``model.dcai``)
-----------------------
``DCAIMODEL1\\n`` (11 magic bytes), the header's length as an 8-byte little-endian unsigned
integer, the header (ASCII JSON: sorted keys, no spaces, no NaN), then the data section: the
numeric numpy arrays, one after another, each as ``.npy`` bytes written by
``numpy.lib.format.write_array(..., allow_pickle=False)``. The header is
``{"format": "dcai-model", "version": 1, "root": NODE}``. A node is a JSON ``null``, boolean,
integer, finite float, string or list (a Python list), or an object tagged by its ``"$"`` key:

========== ===================================================================================
``"$"``    meaning
========== ===================================================================================
float      a non-finite float: ``"v"`` is ``"nan"``, ``"inf"`` or ``"-inf"``
tuple      ``"v"``: the items
set        ``"v"``: the items, sorted by their JSON text (so the bytes are deterministic)
frozenset  as ``set``
dict       ``"k"``, ``"v"``: keys and values in insertion order (keys may be any hashable node)
slice      ``"v"``: start, stop, step
bytes      ``"v"``: base64
pytype     ``"v"``: one of the builtin types int, float, complex, str, bytes, bool, object
npscalar   ``"dtype"``: a dtype node's value, ``"v"``: the scalar's bytes in hex
dtype      ``"v"``: ``numpy.lib.format.dtype_to_descr`` of it (structured dtypes included)
npy        ``"o"``, ``"n"``: offset and length of the array's ``.npy`` bytes in the data section
objarray   ``"shape"``, ``"v"``: an object array's items (C order), each a node
func       ``"name"``: a function, by its exact ``module.qualname``
type       ``"name"``: a class, by its exact ``module.qualname`` (referenced, not constructed)
obj        ``"type"``, ``"state"``: ``cls.__new__(cls)``, then ``__setstate__(state)`` (or
           ``__dict__.update``) — how pickle rebuilds ordinary objects, minus running code
reduce     ``"type"``, ``"args"``, ``"state"``: ``cls(*args)`` then ``__setstate__`` — for
           extension types that pickle through ``__reduce__`` returning their own class
           (``sklearn.tree._tree.Tree``, the Cython losses); ``args`` may hold only plain
           values (no func, type, obj, reduce or rng node)
rng        ``"type"``, ``"bit_generator"``, ``"state"``: a numpy ``Generator`` or
           ``RandomState`` and its bit generator's state (the seed sequence is not kept)
========== ===================================================================================

The ``vocabulary_`` of scikit-learn's ``CountVectorizer``/``TfidfVectorizer`` is stored with
plain ``int`` values (scikit-learn accepts them) so that the header stays compact.

Loading
-------
The header is parsed and walked once to collect every name a ``func``, ``type``, ``obj``,
``reduce`` or ``rng`` node holds; any name outside :data:`TRUSTED_TYPES` and the caller's exact
``trusted=[...]`` refuses the file, naming the types, **before anything is constructed**. Only
then are the names imported (each must resolve to an object whose ``module.qualname`` is that
exact name) and the tree built. A malformed file is one :class:`~dcai.errors.InvalidInputError`.
Loading imports neither skops nor torch; old ``model.skops`` artifacts load through skops
(imported only then) with the same exact-name check.

Models from ``module:callable`` recipes that hold other types load only when the caller names
those types explicitly (``trusted=["mypackage.models.MyClassifier"]``); dcai never widens the
list on its own.

>>> import tempfile, pandas as pd, dcai
>>> ws = dcai.Workspace(tempfile.mkdtemp())
>>> from sklearn.linear_model import LogisticRegression
>>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
>>> dump_model(model) == dump_model(model)
True
>>> with ws.runs.start(experiment="doc") as run:
...     _ = run.log_artifact(dump_model(model), MODEL_ARTIFACT)
>>> type(load_model(ws, run.id)).__name__
'LogisticRegression'
>>> model_types(dump_model(model))
['sklearn.linear_model._logistic.LogisticRegression']
"""

from __future__ import annotations

import base64
import copyreg
import importlib
import io
import json
import math
import struct
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from dcai.errors import InvalidInputError, UnknownRefError

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = [
    "LEGACY_MODEL_ARTIFACT",
    "MODEL_ARTIFACT",
    "TRUSTED_TYPES",
    "dump_model",
    "load_model",
    "load_model_bytes",
    "model_types",
]

#: The artifact name under which a run stores its fitted model.
MODEL_ARTIFACT = "model.dcai"
#: What runs stored before dcai had its own format (skops); still loadable.
LEGACY_MODEL_ARTIFACT = "model.skops"

MAGIC = b"DCAIMODEL1\n"
_FORMAT = "dcai-model"
_VERSION = 1
_LENGTH = struct.Struct("<Q")

#: Exact names of what a stored model may construct or reference (never a module prefix): what
#: every dcai recipe (logreg, hgb, rf, tfidf-logreg; binary and multiclass; string, integer and
#: boolean labels; missing values, categories and text) produces, plus the scikit-learn
#: estimators a ``module:callable`` recipe commonly returns that round-trip exactly (a test
#: fits each and compares predictions). The legacy skops path checks against the same set.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # dcai's own feature functions, used through FunctionTransformer.
        "dcai.quality._models._as_category_strings",
        "dcai.quality._models._as_float",
        "dcai.quality._models._as_texts",
        "dcai.quality._models._flatten",
        # NumPy: dtypes (skops), scalar types referenced as a ``dtype=`` parameter, and the
        # random generators that some estimators keep.
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937",
        # Pipelines and encoders.
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.feature_extraction.text.CountVectorizer",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        # Classifiers.
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.linear_model._sgd_fast.Hinge",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.naive_bayes.MultinomialNB",
        "sklearn.dummy.DummyClassifier",
        "sklearn.svm._classes.SVC",
        "sklearn.svm._classes.LinearSVC",
        # Fitted internals of those models.
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
    }
)

#: (class, attribute) whose dict values are numpy integers that scikit-learn accepts as ints.
_PLAIN_INT_VALUES = frozenset(
    {
        ("sklearn.feature_extraction.text.CountVectorizer", "vocabulary_"),
        ("sklearn.feature_extraction.text.TfidfVectorizer", "vocabulary_"),
    }
)
_PYTYPES: dict[str, type] = {t.__name__: t for t in (int, float, complex, str, bytes, bool, object)}
_NEWOBJ: Any = getattr(copyreg, "__newobj__")  # noqa: B009 — not in typeshed's copyreg
_NAMED = ("func", "type", "obj", "reduce", "rng")


def _name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', '?')}"


def _cannot_store(what: str) -> InvalidInputError:
    return InvalidInputError(
        f"cannot store the model: it holds {what}, which dcai's model format cannot represent",
        hint="Use module-level functions and classes that pickle through __getstate__, "
        "or open an issue with the model's type.",
    )


# Saving ---------------------------------------------------------------------------------


class _Writer:
    """Turns objects into header nodes, appending numeric arrays to the data section."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def array(self, array: np.ndarray) -> dict[str, Any]:
        from numpy.lib.format import write_array

        buffer = io.BytesIO()
        write_array(buffer, array, allow_pickle=False)
        data = buffer.getvalue()
        node = {"$": "npy", "o": self.size, "n": len(data)}
        self.chunks.append(data)
        self.size += len(data)
        return node

    def encode(self, obj: Any) -> Any:
        kind = type(obj)
        if obj is None or kind in (bool, int, str):
            return obj
        if kind is float:
            if math.isfinite(obj):
                return obj
            return {"$": "float", "v": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if kind is list:
            return [self.encode(x) for x in obj]
        if kind is tuple:
            return {"$": "tuple", "v": [self.encode(x) for x in obj]}
        if kind is dict:
            return {
                "$": "dict",
                "k": [self.encode(k) for k in obj],
                "v": [self.encode(v) for v in obj.values()],
            }
        if kind in (set, frozenset):
            items = sorted((self.encode(x) for x in obj), key=_json_text)
            return {"$": kind.__name__, "v": items}
        if kind is slice:
            return {"$": "slice", "v": [self.encode(x) for x in (obj.start, obj.stop, obj.step)]}
        if kind is bytes:
            return {"$": "bytes", "v": base64.b64encode(obj).decode("ascii")}
        if kind is np.ndarray:
            if obj.dtype.hasobject:
                if obj.dtype != np.dtype(object):
                    raise _cannot_store(f"a structured array with object fields ({obj.dtype})")
                return {
                    "$": "objarray",
                    "shape": list(obj.shape),
                    "v": [self.encode(x) for x in obj.ravel(order="C").tolist()],
                }
            if obj.dtype.names is not None:
                obj = _zero_padding(obj)
            return self.array(obj)
        if isinstance(obj, np.generic):
            if obj.dtype.hasobject:
                raise _cannot_store(f"a numpy scalar of dtype {obj.dtype}")
            return {"$": "npscalar", "dtype": _descr(obj.dtype), "v": obj.tobytes().hex()}
        if isinstance(obj, np.dtype):
            return {"$": "dtype", "v": _descr(obj)}
        if isinstance(obj, type):
            if obj in _PYTYPES.values():
                return {"$": "pytype", "v": obj.__name__}
            return {"$": "type", "name": _reference(obj)}
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
            return {"$": "func", "name": _reference(obj)}
        if isinstance(obj, np.random.Generator | np.random.RandomState):
            return self.rng(obj)
        return self.instance(obj)

    def rng(self, obj: np.random.Generator | np.random.RandomState) -> dict[str, Any]:
        if isinstance(obj, np.random.Generator):
            bit_generator = obj.bit_generator
            state: Any = bit_generator.state
        else:
            bit_generator = obj._bit_generator
            state = obj.get_state(legacy=False)
        return {
            "$": "rng",
            "type": _name(type(obj)),
            "bit_generator": _name(type(bit_generator)),
            "state": self.encode(state),
        }

    def instance(self, obj: Any) -> dict[str, Any]:
        cls = type(obj)
        name = _name(cls)
        try:
            reduced = obj.__reduce_ex__(4)
        except Exception as exc:  # an extension type without pickling support
            raise _cannot_store(f"a {name} ({exc})") from exc
        if isinstance(reduced, str) or len(reduced) < 2:
            raise _cannot_store(f"a {name} (pickled by reference)")
        build, args = reduced[0], reduced[1]
        state = reduced[2] if len(reduced) > 2 else None
        if any(x is not None for x in reduced[3:5]):
            raise _cannot_store(f"a {name} (a list or dict subclass)")
        if build is _NEWOBJ and tuple(args) == (cls,):
            if isinstance(state, dict):
                state = {
                    k: (
                        {w: int(i) for w, i in v.items()}
                        if (name, k) in _PLAIN_INT_VALUES and isinstance(v, dict)
                        else v
                    )
                    for k, v in state.items()
                }
            return {"$": "obj", "type": name, "state": self.encode(state)}
        if build is cls:
            node_args = [self.encode(x) for x in args]
            if any(_named_nodes(a) for a in node_args):
                raise _cannot_store(f"a {name} whose constructor arguments are not plain values")
            return {"$": "reduce", "type": name, "args": node_args, "state": self.encode(state)}
        # Cython's automatic pickling of a class without fields: rebuilt as ``cls()``.
        if (
            getattr(build, "__name__", "") == f"__pyx_unpickle_{cls.__name__}"
            and len(args) == 3
            and args[0] is cls
            and args[2] in ((), None)
            and state is None
        ):
            return {"$": "reduce", "type": name, "args": [], "state": None}
        raise _cannot_store(f"a {name} (rebuilt by {_name(build)})")


def _zero_padding(array: np.ndarray) -> np.ndarray:
    """A structured array copied field by field into zeros, so that the padding between
    fields (uninitialised memory in, e.g., a decision tree's nodes) does not change the bytes."""
    out = np.zeros(array.shape, dtype=array.dtype)
    for field in array.dtype.names or ():
        out[field] = array[field]
    return out


def _descr(dtype: np.dtype[Any]) -> Any:
    from numpy.lib.format import dtype_to_descr

    return _plain_json(dtype_to_descr(dtype))


def _plain_json(value: Any) -> Any:
    """A dtype description (strings, tuples, lists, ints) as JSON lists, tuples tagged."""
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [_plain_json(x) for x in value]}
    if isinstance(value, list):
        return [_plain_json(x) for x in value]
    return value


def _reference(obj: Any) -> str:
    """``module.qualname`` of a function or class that can be imported back by that name."""
    name = _name(obj)
    module = getattr(obj, "__module__", None)
    if not module or "<" in name or module == "__main__":
        raise _cannot_store(f"{name}, which cannot be imported by name")
    return name


def _json_text(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"), allow_nan=False)


def dump_model(model: Any) -> bytes:
    """The fitted model in dcai's model format (see the module docstring).

    Deterministic: the same model gives the same bytes, so a retrained identical model is
    stored once.

    >>> from sklearn.dummy import DummyClassifier
    >>> data = dump_model(DummyClassifier().fit([[0], [1]], ["a", "b"]))
    >>> data[:11], type(load_model_bytes(data)).__name__
    (b'DCAIMODEL1\\n', 'DummyClassifier')
    """
    writer = _Writer()
    root = writer.encode(model)
    header = json.dumps(
        {"format": _FORMAT, "version": _VERSION, "root": root},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
        ensure_ascii=True,
    ).encode("ascii")
    return b"".join([MAGIC, _LENGTH.pack(len(header)), header, *writer.chunks])


# Loading --------------------------------------------------------------------------------


class _Malformed(Exception):
    """The file does not follow the format; the message says where."""


def _named_nodes(node: Any) -> list[tuple[str, str]]:
    """Every (kind, name) a node's tree would import, depth first."""
    found: list[tuple[str, str]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            kind = item.get("$")
            if kind in _NAMED:
                key = "name" if kind in ("func", "type") else "type"
                name = item.get(key)
                if not isinstance(name, str):
                    raise _Malformed(f"a {kind} node without a {key}")
                found.append((str(kind), name))
                if kind == "rng":
                    bit_generator = item.get("bit_generator")
                    if not isinstance(bit_generator, str):
                        raise _Malformed("an rng node without a bit_generator")
                    found.append(("type", bit_generator))
                if kind == "reduce":
                    args = item.get("args")
                    if not isinstance(args, list):
                        raise _Malformed("a reduce node without args")
                    plain = _named_nodes(args)
                    if plain:
                        raise _Malformed(
                            f"{name} is rebuilt from arguments that are not plain values "
                            f"({plain[0][1]})"
                        )
            stack.extend(v for k, v in item.items() if k != "$")
    return found


def _parse(data: bytes) -> tuple[Any, memoryview]:
    """The header's root node and the data section."""
    if not data.startswith(MAGIC):
        raise _Malformed("it does not start with DCAIMODEL1")
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start:
        raise _Malformed("it is truncated")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    if start + length > len(data):
        raise _Malformed("it is truncated (the header runs past the end)")
    try:
        header = json.loads(data[start : start + length].decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Malformed(f"its header is not JSON ({type(exc).__name__})") from exc
    if (
        not isinstance(header, dict)
        or header.get("format") != _FORMAT
        or header.get("version") != _VERSION
        or "root" not in header
    ):
        raise _Malformed(f"its header is not a {_FORMAT} version {_VERSION} header")
    return header["root"], memoryview(data)[start + length :]


def model_types(data: bytes) -> list[str]:
    """The exact names (classes and functions) a dcai model file would construct or reference.

    Reads only the header; constructs nothing. Use it to see what to pass as ``trusted``.

    >>> from sklearn.dummy import DummyClassifier
    >>> model_types(dump_model(DummyClassifier()))
    ['sklearn.dummy.DummyClassifier']
    """
    try:
        root, _ = _parse(data)
        return sorted({name for _, name in _named_nodes(root)})
    except (_Malformed, RecursionError) as exc:
        raise InvalidInputError(
            f"the model is not a readable dcai model file: {_one_line(exc)}",
            hint="Train the model again.",
        ) from exc


def _resolve(name: str) -> Any:
    """The object importable as exactly ``name`` (an allow-listed, trusted name)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        if _name(obj) == name:
            return obj
    raise _Malformed(f"{name} cannot be imported under exactly that name")


class _Reader:
    """Builds objects from checked header nodes."""

    def __init__(self, section: memoryview, names: dict[str, Any]) -> None:
        self.section = section
        self.names = names

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(x) for x in node]
        if not isinstance(node, dict):
            raise _Malformed(f"a node of JSON type {type(node).__name__}")
        kind = node.get("$")
        if kind == "float":
            value = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(node["v"])
            if value is None:
                raise _Malformed(f"a float node {node['v']!r}")
            return value
        if kind in ("tuple", "set", "frozenset"):
            items = [self.decode(x) for x in _list(node["v"])]
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind == "dict":
            keys, values = _list(node["k"]), _list(node["v"])
            if len(keys) != len(values):
                raise _Malformed("a dict node with more keys than values or fewer")
            return dict(
                zip((self.decode(k) for k in keys), (self.decode(v) for v in values), strict=True)
            )
        if kind == "slice":
            start, stop, step = (self.decode(x) for x in _list(node["v"]))
            return slice(start, stop, step)
        if kind == "bytes":
            return base64.b64decode(node["v"], validate=True)
        if kind == "pytype":
            return _PYTYPES[node["v"]]
        if kind == "dtype":
            return _dtype(self.decode(node["v"]))
        if kind == "npscalar":
            dtype = _dtype(self.decode(node["dtype"]))
            if dtype.hasobject:
                raise _Malformed("a numpy scalar of object dtype")
            raw = bytes.fromhex(node["v"])
            if len(raw) != dtype.itemsize:
                raise _Malformed("a numpy scalar whose bytes do not match its dtype")
            return np.frombuffer(raw, dtype=dtype)[0]
        if kind == "npy":
            return self.array(node["o"], node["n"])
        if kind == "objarray":
            shape = tuple(int(n) for n in _list(node["shape"]))
            items = [self.decode(x) for x in _list(node["v"])]
            if math.prod(shape) != len(items):
                raise _Malformed("an object array whose items do not fill its shape")
            out = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                out[i] = item
            return out.reshape(shape)
        if kind == "func":
            return self.names[node["name"]]
        if kind == "type":
            return self.names[node["name"]]
        if kind == "obj":
            cls = self.names[node["type"]]
            obj = cls.__new__(cls)
            return self.build(obj, node["state"])
        if kind == "reduce":
            cls = self.names[node["type"]]
            obj = cls(*(self.decode(x) for x in _list(node["args"])))
            return self.build(obj, node["state"])
        if kind == "rng":
            return self.rng(node)
        raise _Malformed(f"an unknown node kind {kind!r}")

    def build(self, obj: Any, state_node: Any) -> Any:
        """Apply a state the way pickle's BUILD does: ``__setstate__`` or the instance dict."""
        if state_node is None:
            return obj
        state = self.decode(state_node)
        setstate = getattr(obj, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return obj
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        if state:
            if not isinstance(state, dict):
                raise _Malformed(f"the state of a {_name(type(obj))} is not a dict")
            obj.__dict__.update(state)
        if slots:
            if not isinstance(slots, dict):
                raise _Malformed(f"the slots of a {_name(type(obj))} are not a dict")
            for key, value in slots.items():
                setattr(obj, key, value)
        return obj

    def rng(self, node: dict[str, Any]) -> Any:
        cls, bit_generator = self.names[node["type"]], self.names[node["bit_generator"]]
        state = self.decode(node["state"])
        generator = bit_generator()
        if cls is np.random.Generator:
            generator.state = state
            return np.random.Generator(generator)
        if cls is np.random.RandomState:
            legacy = np.random.RandomState(generator)
            legacy.set_state(state)
            return legacy
        raise _Malformed(f"{_name(cls)} is not a numpy random generator")

    def array(self, offset: Any, length: Any) -> np.ndarray:
        from numpy.lib.format import (
            read_array,
            read_array_header_1_0,
            read_array_header_2_0,
            read_magic,
        )

        if not (
            isinstance(offset, int)
            and isinstance(length, int)
            and offset >= 0
            and length > 0
            and offset + length <= len(self.section)
        ):
            raise _Malformed("an array outside the data section (truncated?)")
        buffer = io.BytesIO(self.section[offset : offset + length])
        version = read_magic(buffer)
        if version == (1, 0):
            shape, _, dtype = read_array_header_1_0(buffer)
        elif version == (2, 0):
            shape, _, dtype = read_array_header_2_0(buffer)
        else:
            raise _Malformed(f"an array in .npy version {version}")
        if dtype.hasobject:
            raise _Malformed("an array of object dtype in the data section")
        if buffer.tell() + math.prod(shape) * dtype.itemsize != length:
            raise _Malformed("an array whose size does not match its bytes")
        buffer.seek(0)
        array: np.ndarray = read_array(buffer, allow_pickle=False)
        return array


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Malformed(f"a list was expected, not {type(value).__name__}")
    return value


def _dtype(descr: Any) -> np.dtype[Any]:
    from numpy.lib.format import descr_to_dtype

    dtype: np.dtype[Any] = descr_to_dtype(descr)
    return dtype


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0][:200] if text else ""
    if isinstance(exc, _Malformed):
        return detail
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _refuse(what: str, foreign: list[str]) -> InvalidInputError:
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    return InvalidInputError(
        f"{what} holds types dcai does not trust: {shown}; refusing to load it",
        hint="If you made this model and trust these exact types, pass them: "
        "ws.models.load(REF, trusted=[...]).",
    )


def _load_dcai(data: bytes, *, what: str, allowed: frozenset[str]) -> Any:
    def unreadable(exc: BaseException) -> InvalidInputError:
        return InvalidInputError(
            f"{what} is not a readable dcai model file: {_one_line(exc)}",
            hint="Train the model again.",
        )

    try:
        root, section = _parse(data)
        named = _named_nodes(root)
    except (_Malformed, RecursionError) as exc:
        raise unreadable(exc) from exc
    foreign = sorted({name for _, name in named if name not in allowed})
    if foreign:
        raise _refuse(what, foreign)
    try:
        names: dict[str, Any] = {}
        for kind, name in named:
            if name in names:
                continue
            obj = _resolve(name)
            is_class = isinstance(obj, type)
            if kind in ("obj", "reduce", "rng", "type") and not is_class:
                raise _Malformed(f"{name} is not a class")
            if kind == "func" and not isinstance(
                obj, types.FunctionType | types.BuiltinFunctionType
            ):
                raise _Malformed(f"{name} is not a function")
            names[name] = obj
        return _Reader(section, names).decode(root)
    except InvalidInputError:
        raise
    except Exception as exc:  # malformed nodes: KeyError, TypeError, ValueError, ...
        raise unreadable(exc) from exc


def _load_skops(data: bytes, *, what: str, allowed: frozenset[str]) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a malformed file: zip, JSON or schema errors of many types
        raise InvalidInputError(
            f"{what} is not a readable skops model file ({type(exc).__name__})",
            hint="Train the model again.",
        ) from exc
    foreign = sorted(name for name in untrusted if name not in allowed)
    if foreign:
        raise _refuse(what, foreign)
    return sio.loads(data, trusted=sorted(untrusted))


def _allowed(trusted: Iterable[str]) -> frozenset[str]:
    extra = list(trusted)
    if isinstance(trusted, str) or not all(isinstance(name, str) for name in extra):
        raise InvalidInputError(
            "trusted must be a list of exact type names",
            hint='For example trusted=["mypackage.models.MyClassifier"].',
        )
    return TRUSTED_TYPES | frozenset(extra)


def load_model_bytes(data: bytes, *, what: str = "the model", trusted: Iterable[str] = ()) -> Any:
    """Construct a model from dcai model bytes (or, for old runs, skops bytes), refusing any
    type outside :data:`TRUSTED_TYPES` and ``trusted`` (exact type names, e.g.
    ``"mypackage.models.MyClassifier"``) before constructing anything.

    >>> load_model_bytes(MAGIC + b"garbage")
    Traceback (most recent call last):
    ...
    dcai.errors.InvalidInputError: the model is not a readable dcai model file: it is truncated. Train the model again.
    """
    allowed = _allowed(trusted)
    if data.startswith(MAGIC):
        return _load_dcai(data, what=what, allowed=allowed)
    return _load_skops(data, what=what, allowed=allowed)


def load_model(stores: Stores, run: str, *, trusted: Iterable[str] = ()) -> Any:
    """The fitted model of a run: its bytes checked against the stored sha256, its types
    against :data:`TRUSTED_TYPES` (plus the exact names in ``trusted``).

    Looks for ``model.dcai`` first, then an older run's ``model.skops``.
    """
    from dcai.experiments.query import run_detail

    detail = run_detail(stores, run)
    by_name = {a["name"]: a for a in detail["artifacts"]}
    what = f"the model of run {detail['id'][:8]}"
    if MODEL_ARTIFACT in by_name:
        data = stores.objects.read_bytes(by_name[MODEL_ARTIFACT]["sha256"], what=what)
        return _load_dcai(data, what=what, allowed=_allowed(trusted))
    if LEGACY_MODEL_ARTIFACT in by_name:
        data = stores.objects.read_bytes(by_name[LEGACY_MODEL_ARTIFACT]["sha256"], what=what)
        return load_model_bytes(data, what=what, trusted=trusted)
    raise UnknownRefError(
        f"run {detail['id'][:8]} stored no model", hint="Train one: dcai train REF"
    )
