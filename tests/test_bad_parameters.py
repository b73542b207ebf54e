"""Every public function that takes ``pred_probs``, ``n_boot``, ``confidence`` or a
probability-like parameter refuses a bad value with a :class:`~dcai.errors.DcaiError` naming it.

The functions are discovered from the ``__all__`` of :mod:`dcai.quality`, :mod:`dcai.analysis`
and :mod:`dcai.labels` with :func:`inspect.signature`; ``VALID`` gives each one minimal valid
other arguments (or, in ``SKIPPED``, the reason it cannot be called standalone). A new public
function with one of these parameters fails :func:`test_every_function_is_covered` until it
is added to one of the two tables.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dcai.analysis
import dcai.labels
import dcai.quality
from dcai.errors import DcaiError

MODULES = (dcai.quality, dcai.analysis, dcai.labels)

#: Parameters whose value must be a probability or fraction in [0, 1] (besides ``confidence``).
PROBABILITY_PARAMETERS = ("alpha", "error_weight", "contamination")
CHECKED = ("pred_probs", "n_boot", "confidence", *PROBABILITY_PARAMETERS)

_LABELS = ["a", "b", "a", "b", "a", "b"]
_PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.6, 0.4], [0.1, 0.9]])
_ANNOTATIONS = pd.DataFrame(
    {
        "example_id": [1, 1, 2, 2, 3, 3, 4, 4],
        "annotator": ["x", "y"] * 4,
        "label": ["a", "a", "b", "a", "b", "b", "a", "b"],
        "guideline": ["v1"] * 4 + ["v2"] * 4,
    }
)
_FRAME = pd.DataFrame({"colour": ["red", "blue"] * 3})


def _features() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(40, 3))


#: Minimal valid arguments per function (the checked parameter is added to these).
VALID: dict[str, Callable[[], dict[str, Any]]] = {
    "compute_confident_joint": lambda: {"labels": _LABELS, "pred_probs": _PROBS},
    "estimate_label_noise": lambda: {"labels": _LABELS, "pred_probs": _PROBS},
    "find_label_issues": lambda: {"labels": _LABELS, "pred_probs": _PROBS},
    "label_quality_scores": lambda: {"labels": _LABELS, "pred_probs": _PROBS},
    "find_outliers": lambda: {"features": _features()},
    "classification_metrics": lambda: {"y_true": _LABELS, "y_pred": _LABELS[::-1]},
    "metric_by_group": lambda: {
        "y_true": _LABELS,
        "y_pred": _LABELS[::-1],
        "groups": ["g", "h"] * 3,
    },
    "priority_table": lambda: {
        "y_true": _LABELS,
        "y_pred": _LABELS[::-1],
        "slices": {"first half": np.array([True] * 3 + [False] * 3)},
    },
    "check_requirements": lambda: {
        # on="low": with on="value" only, n_boot is never looked at (see the xfail below)
        "requirements": [
            dcai.analysis.Requirement(metric="accuracy", slice="all", min=0.5, on="low")
        ],
        "y_true": _LABELS,
        "y_pred": _LABELS[::-1],
        "frame": _FRAME,
    },
    "find_slices": lambda: {
        "frame": _FRAME,
        "errors": [True, False, True, False, True, False],
        "min_size": 2,
    },
    "agreement_report": lambda: {"annotations": _ANNOTATIONS},
    "agreement_by": lambda: {"annotations": _ANNOTATIONS, "column": "guideline", "min_common": 1},
    "human_level_performance": lambda: {"annotations": _ANNOTATIONS},
    "aggregate": lambda: {
        "annotations": _ANNOTATIONS,
        "method": "model_assisted",
        "pred_probs": np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4]]),
    },
}


def _curve_data() -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    x = _features()
    y = np.array(["a", "b"] * 20)
    return {"model": LogisticRegression(), "X_train": x[:30], "X_dev": x[30:], "y_dev": y[30:]}


VALID["learning_curve"] = lambda: {
    **_curve_data(),
    "y_train": np.array(["a", "b"] * 15),
}
VALID["clean_vs_collect"] = lambda: {
    **_curve_data(),
    "y_noisy": np.array(["a", "b"] * 15),
    "y_clean": np.array(["b", "b"] + ["a", "b"] * 14),
}
#: Functions whose valid call trains models many times: only their bad calls run here (the
#: options are checked before any training).
EXPENSIVE = ("learning_curve", "clean_vs_collect")

#: Functions with a checked parameter that cannot be called standalone here, and why.
SKIPPED: dict[str, str] = {}

BAD: dict[str, list[Any]] = {
    "pred_probs": [
        np.full((6, 2), np.nan),
        -_PROBS,
        _PROBS * 2,
        _PROBS[:, :1].ravel()[:3],  # wrong shape: 1-D, wrong length
        np.ones((6, 2, 2)) / 2,  # wrong shape: 3-D
    ],
    "n_boot": [-1, True, 1.5, "100"],
    "confidence": [float("nan"), 0.0, 1.0, 1.5, -0.1, True],
    **{name: [float("nan"), -0.1, 1.5] for name in PROBABILITY_PARAMETERS},
}


def _public_functions() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found[name] = obj
    return found


def _checked(function: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p in CHECKED]


def _cases() -> list[Any]:
    cases = []
    for name, function in sorted(_public_functions().items()):
        for parameter in _checked(function):
            for i, value in enumerate(BAD[parameter]):
                marks = [pytest.mark.skip(reason=SKIPPED[name])] if name in SKIPPED else []
                cases.append(
                    pytest.param(name, parameter, value, id=f"{name}-{parameter}-{i}", marks=marks)
                )
    return cases


def test_every_function_is_covered() -> None:
    uncovered = [
        name
        for name, function in _public_functions().items()
        if _checked(function) and name not in VALID and name not in SKIPPED
    ]
    assert not uncovered, f"add valid arguments (VALID) or a reason (SKIPPED) for {uncovered}"


def test_the_valid_arguments_are_valid() -> None:
    functions = _public_functions()
    for name, arguments in VALID.items():
        if name not in EXPENSIVE:
            functions[name](**arguments())


@pytest.mark.parametrize(("name", "parameter", "value"), _cases())
def test_a_bad_value_is_refused_naming_the_parameter(name: str, parameter: str, value: Any) -> None:
    function = _public_functions()[name]
    arguments = VALID[name]()
    arguments[parameter] = value
    with pytest.raises(DcaiError) as info:
        function(**arguments)
    assert parameter in str(info.value)


def test_check_requirements_refuses_a_bad_n_boot_without_interval_requirements() -> None:
    arguments = VALID["check_requirements"]()
    arguments["requirements"] = [dcai.analysis.Requirement(metric="accuracy", slice="all", min=0.5)]
    with pytest.raises(DcaiError, match="n_boot"):
        dcai.analysis.check_requirements(**arguments, n_boot=-1)
