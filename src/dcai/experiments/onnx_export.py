"""Export a registered model to ONNX, verified against the model before anything is written.

``export_onnx(ws, "churn@production", "churn.onnx")`` converts the fitted scikit-learn pipeline
with skl2onnx (extra ``dcai[onnx]``), runs the ONNX graph through onnxruntime on the version's
dev rows (or a sample of at most 2,000 rows of its data version) and compares labels and
probabilities with ``model.predict`` / ``predict_proba``. Any disagreeing label, or a
probability more than 1e-4 away, refuses the export: no file is written that predicts
differently.

The ONNX graph has one input per input column of the model's signature, named after the
column, shape ``[N, 1]``:

- numeric (and datetime, as seconds since the epoch) columns: ``float`` tensors; feed ``NaN``
  for a missing value (it is imputed as in training; infinities count as missing);
- categorical columns: ``string`` tensors holding ``str(value)``; feed ``"__missing__"``
  (:data:`MISSING_CATEGORY`) for a missing value, as dcai's encoder does; an unseen value is
  ignored like in scikit-learn.

Outputs: ``label`` (the predicted class) and ``probabilities`` (``[N, classes]``, in the order
of the signature's classes).

Refused, with one line saying why: models skl2onnx cannot convert (e.g. a ``module:callable``
recipe's own estimator or a FunctionTransformer that is not dcai's), and TF-IDF text
encoders — onnxruntime's tokenizer (re2: ASCII ``\\w``, locale-dependent lowercasing) does not
reproduce scikit-learn's Unicode tokenisation, so such an export could predict differently
on text the check never saw.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._optional import import_optional
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["MISSING_CATEGORY", "OnnxExport", "export_onnx"]

#: What to feed for a missing categorical value (the placeholder dcai's encoder uses).
MISSING_CATEGORY = "__missing__"
#: Largest allowed |probability difference| between ONNX and scikit-learn.
TOLERANCE = 1e-4
#: Rows of the data version checked when it has no dev split.
MAX_SAMPLE_ROWS = 2_000
_OPSET = {"": 17, "ai.onnx.ml": 3}
_lock = threading.Lock()
_registered: dict[str, Any] = {}


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote and how it was checked."""

    ref: str
    path: Path
    inputs: list[dict[str, str]] = field(default_factory=list)
    rows_checked: int = 0
    rows_source: str = "dev"
    max_probability_difference: float = 0.0
    labels_agree: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "path": str(self.path),
            "format": "onnx",
            "inputs": self.inputs,
            "rows_checked": self.rows_checked,
            "rows_source": self.rows_source,
            "max_probability_difference": self.max_probability_difference,
            "labels_agree": self.labels_agree,
        }


def _refuse(ref: str, why: str, hint: str = "") -> InvalidInputError:
    return InvalidInputError(
        f"cannot export {ref} to ONNX: {why}",
        hint=hint
        or "Export a model trained with --recipe logreg, hgb or rf on numbers and "
        "categories, or serve it with dcai itself.",
    )


def _converters() -> dict[str, Any]:
    """Subclasses standing for dcai's FunctionTransformers (and a boosting classifier whose
    stock converter passes booleans that current onnx refuses), with their converters
    registered once."""
    with _lock:
        if _registered:
            return _registered
        skl2onnx = import_optional("skl2onnx", extra="onnx", purpose="Exporting to ONNX")
        from skl2onnx.algebra.onnx_ops import OnnxIdentity, OnnxIsInf, OnnxWhere
        from skl2onnx.operator_converters.random_forest import (
            convert_sklearn_random_forest_classifier,
        )
        from skl2onnx.shape_calculators.ensemble_shapes import (
            calculate_linear_classifier_output_shapes,
        )
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.preprocessing import FunctionTransformer

        class DcaiAsFloat(FunctionTransformer):  # type: ignore[misc]
            pass

        class DcaiAsCategoryStrings(FunctionTransformer):  # type: ignore[misc]
            pass

        class DcaiHistGradientBoosting(HistGradientBoostingClassifier):  # type: ignore[misc]
            pass

        def same_shape(operator: Any) -> None:
            source = operator.inputs[0].type
            operator.outputs[0].type = source.__class__(source.shape)

        def as_float(scope: Any, operator: Any, container: Any) -> None:
            # Inputs are already float tensors: only infinities become missing (NaN).
            x = operator.inputs[0]
            nan = np.array([np.nan], dtype=np.float32)
            node = OnnxWhere(
                OnnxIsInf(x, op_version=container.target_opset),
                nan,
                x,
                op_version=container.target_opset,
                output_names=operator.outputs[:1],
            )
            node.add_to(scope, container)

        def identity(scope: Any, operator: Any, container: Any) -> None:
            node = OnnxIdentity(
                operator.inputs[0],
                op_version=container.target_opset,
                output_names=operator.outputs[:1],
            )
            node.add_to(scope, container)

        class IntFlags:
            """A container whose nodes get 0/1 instead of booleans in integer lists."""

            def __init__(self, inner: Any) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            def add_node(self, *args: Any, **attrs: Any) -> Any:
                fixed = {
                    k: [int(x) if isinstance(x, bool | np.bool_) else x for x in v]
                    if isinstance(v, list)
                    else v
                    for k, v in attrs.items()
                }
                return self._inner.add_node(*args, **fixed)

        def boosting(scope: Any, operator: Any, container: Any) -> None:
            convert_sklearn_random_forest_classifier(scope, operator, IntFlags(container))

        update = skl2onnx.update_registered_converter
        update(DcaiAsFloat, "DcaiAsFloat", same_shape, as_float)
        update(DcaiAsCategoryStrings, "DcaiAsCategoryStrings", same_shape, identity)
        update(
            DcaiHistGradientBoosting,
            "DcaiHistGradientBoosting",
            calculate_linear_classifier_output_shapes,
            boosting,
            options={
                "zipmap": [True, False, "columns"],
                "nocl": [True, False],
                "output_class_labels": [False, True],
                "raw_scores": [True, False],
            },
        )
        _registered.update(
            {
                "_as_float": DcaiAsFloat,
                "_as_category_strings": DcaiAsCategoryStrings,
                "hgb": DcaiHistGradientBoosting,
            }
        )
        return _registered


def _swapped(est: Any, ref: str, classes: dict[str, Any]) -> Any:
    """A copy of ``est`` where dcai's own pieces are replaced by their registered stand-ins;
    anything that cannot be reproduced exactly is refused."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from dcai.quality import _models

    if isinstance(est, Pipeline):
        # The TF-IDF step is the reason to refuse, not the text filler before it.
        for _, step in est.steps:
            if isinstance(step, TfidfVectorizer):
                _swapped(step, ref, classes)
        est.steps = [(n, _swapped(s, ref, classes)) for n, s in est.steps]
        return est
    if isinstance(est, ColumnTransformer):
        est.transformers_ = [
            (n, s if isinstance(s, str) else _swapped(s, ref, classes), c)
            for n, s, c in est.transformers_
        ]
        return est
    if isinstance(est, TfidfVectorizer):
        raise _refuse(
            ref,
            "it encodes text with TF-IDF, and onnxruntime's tokenizer (re2 regular expressions, "
            "ASCII \\w, locale-dependent lowercasing) does not split and weigh words exactly "
            "like scikit-learn",
            hint="Train it without text columns (--recipe logreg/hgb/rf on numbers and "
            "categories) to export it, or serve it with dcai itself.",
        )
    if type(est) is FunctionTransformer:
        func = est.func
        stand_in = None
        if func is _models._as_float:
            stand_in = classes["_as_float"]
        elif func is _models._as_category_strings:
            stand_in = classes["_as_category_strings"]
        elif func is None:
            return est
        if stand_in is None:
            name = getattr(func, "__qualname__", repr(func))
            raise _refuse(ref, f"its FunctionTransformer({name}) has no ONNX equivalent")
        new = stand_in.__new__(stand_in)
        new.__dict__.update(est.__dict__)
        return new
    if type(est) is HistGradientBoostingClassifier:
        new = classes["hgb"].__new__(classes["hgb"])
        new.__dict__.update(est.__dict__)
        return new
    return est


def _input_types(model: Any, signature: dict[str, Any]) -> dict[str, str]:
    """``column → "float" | "string"``: from what the model does to the column, else from
    the signature's dtype."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from dcai.quality import _models

    kinds: dict[str, str] = {}
    for item in signature.get("inputs", []):
        dtype = str(item.get("dtype", "object")).lower()
        numeric = any(dtype.startswith(p) for p in ("int", "uint", "float", "datetime", "timed"))
        kinds[str(item["name"])] = "float" if numeric else "string"
    encode = model.steps[0][1] if isinstance(model, Pipeline) else None
    if isinstance(encode, ColumnTransformer):
        for _, step, columns in encode.transformers_:
            first = step.steps[0][1] if isinstance(step, Pipeline) else step
            func = getattr(first, "func", None)
            if func is None:
                continue
            kind = "float" if func is _models._as_float else "string"
            for column in [columns] if isinstance(columns, str) else list(columns):
                if isinstance(column, str):
                    kinds[column] = kind
    return kinds


def _check_rows(stores: Stores, dataset: str | None, ref: str) -> tuple[pd.DataFrame, str]:
    from dcai.data.versions import resolve_ref

    if dataset is None:
        raise _refuse(ref, "its run has no data version to check the export against")
    version = resolve_ref(stores, dataset)
    frame = version.to_pandas()
    split = version.roles.split
    if split is not None and split in frame.columns:
        dev = frame[frame[split] == "dev"]
        if len(dev):
            return dev, "dev"
    if len(frame) > MAX_SAMPLE_ROWS:
        frame = frame.sample(n=MAX_SAMPLE_ROWS, random_state=0)
    return frame, "sample"


def _feeds(frame: pd.DataFrame, kinds: dict[str, str], columns: list[str]) -> dict[str, Any]:
    from dcai.quality._models import _as_category_strings, _as_float

    feeds: dict[str, Any] = {}
    for column in columns:
        if kinds[column] == "float":
            feeds[column] = _as_float(frame[[column]]).astype(np.float32).reshape(-1, 1)
        else:
            feeds[column] = np.asarray(_as_category_strings(frame[[column]]), dtype=object)
    return feeds


def export_onnx(stores: Stores, ref: str, out: str | Path, *, force: bool = False) -> OnnxExport:
    """Convert the registered model ``ref`` to ONNX, verify it, and write it to ``out``.

    Raises :class:`~dcai.errors.InvalidInputError` (nothing written) when the model cannot be
    represented exactly, or when the ONNX graph disagrees with the model on a checked row;
    :class:`~dcai.errors.MissingDependencyError` without the ``onnx`` extra.
    """
    from dcai._user_files import check_output_path, write_user_bytes
    from dcai.experiments.registry import load_registered_model

    check_output_path(out, workspace=stores, force=force)
    import_optional("skl2onnx", extra="onnx", purpose="Exporting to ONNX")
    ort = import_optional("onnxruntime", extra="onnx", purpose="Checking an ONNX export")
    version, model = load_registered_model(stores, ref)
    label = version.ref
    columns = version.features
    if not columns:
        raise _refuse(label, "its signature lists no input columns")
    if not hasattr(model, "predict_proba"):
        raise _refuse(label, f"{type(model).__name__} gives no probabilities")
    kinds = _input_types(model, version.signature)
    converted = _swapped(copy.deepcopy(model), label, _converters())
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    initial = [
        (c, FloatTensorType([None, 1]) if kinds[c] == "float" else StringTensorType([None, 1]))
        for c in columns
    ]
    final = converted.steps[-1][1] if hasattr(converted, "steps") else converted
    try:
        onx = convert_sklearn(
            converted,
            initial_types=initial,
            options={id(final): {"zipmap": False}},
            target_opset=_OPSET,
        )
    except Exception as exc:  # skl2onnx's own reason, in one line
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise _refuse(
            label, f"skl2onnx cannot convert {type(model).__name__}: {type(exc).__name__}: {reason}"
        ) from exc
    onx.doc_string = f"dcai model {label}"
    for key, value in (
        ("dcai.model", label),
        ("dcai.classes", ", ".join(str(c) for c in version.classes)),
        ("dcai.missing_category", MISSING_CATEGORY),
    ):
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    data = onx.SerializeToString()
    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise _refuse(label, f"onnxruntime cannot load the converted graph: {exc}") from exc
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if sorted(names) != sorted(columns) or outputs[:2] != ["label", "probabilities"]:
        raise _refuse(
            label,
            f"the converted graph has inputs {names} and outputs {outputs}, not one input per "
            "column and label, probabilities",
        )
    frame, source = _check_rows(stores, version.dataset, label)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _refuse(label, f"its data version lacks the columns {', '.join(missing)}")
    X = frame[columns]
    onnx_label, onnx_probs = session.run(["label", "probabilities"], _feeds(X, kinds, columns))
    expected_label = np.asarray(model.predict(X), dtype=object)
    expected_probs = np.asarray(model.predict_proba(X), dtype=np.float64)
    got_label = np.asarray(onnx_label, dtype=object).ravel()
    disagree = int(sum(str(a) != str(b) for a, b in zip(got_label, expected_label, strict=True)))
    got_probs = np.asarray(onnx_probs, dtype=np.float64)
    if got_probs.shape != expected_probs.shape:
        raise _refuse(
            label, f"ONNX probabilities have shape {got_probs.shape}, not {expected_probs.shape}"
        )
    diff = float(np.max(np.abs(got_probs - expected_probs))) if len(X) else 0.0
    if disagree or not diff <= TOLERANCE:
        raise _refuse(
            label,
            f"the ONNX graph disagrees with the model on {len(X):,} {source} rows "
            f"({disagree:,} different labels, largest probability difference {diff:.2g} > "
            f"{TOLERANCE:g}); no file written",
            hint="Serve this model with dcai itself; float32 arithmetic in ONNX can flip "
            "decisions near tree thresholds or for very large numbers.",
        )
    written = write_user_bytes(out, data, workspace=stores, force=force)
    return OnnxExport(
        ref=label,
        path=written,
        inputs=[
            {
                "name": c,
                "type": kinds[c],
                "missing": "NaN" if kinds[c] == "float" else MISSING_CATEGORY,
            }
            for c in columns
        ],
        rows_checked=len(X),
        rows_source=source,
        max_probability_difference=diff,
        labels_agree=True,
    )
