"""Model recipes for ``dcai train``: named ones for the common cases, or ``module:callable``.

| recipe | model |
| --- | --- |
| ``logreg`` | dcai's default encoding (numbers standardised, categories one-hot, prose TF-IDF) + logistic regression |
| ``hgb`` | the same encoding + histogram gradient boosting |
| ``rf`` | the same encoding + a random forest (200 trees) |
| ``tfidf-logreg`` | TF-IDF of word 1–2-grams of the text column(s) + logistic regression |
| ``module:callable`` | whatever the callable returns: any scikit-learn-compatible classifier |

Parameters (``--param k=v``) go to the classifier (named recipes) or to the returned estimator
(``set_params``); an unknown one is refused with the list of valid ones.

>>> model = build_recipe("logreg", _example_frame(), {"C": 0.5})
>>> model.get_params()["classify__C"]
0.5
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pandas as pd

from dcai.errors import InvalidInputError

__all__ = ["RECIPES", "build_recipe", "parse_param"]

RECIPES = ("logreg", "hgb", "rf", "tfidf-logreg")


def _example_frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [0.0, 1.0, 2.0], "colour": ["red", "blue", "red"]})


def parse_param(text: str) -> tuple[str, Any]:
    """``"C=0.5"`` → ``("C", 0.5)``: numbers, true/false/null as JSON, anything else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInputError(
            f"cannot read the parameter {text!r}", hint="Write --param key=value."
        )
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = {"True": True, "False": False, "None": None}.get(raw, raw)
    return key.strip(), value


def _classifier(recipe: str, random_state: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    if recipe == "hgb":
        return HistGradientBoostingClassifier(random_state=random_state)
    return RandomForestClassifier(n_estimators=200, random_state=random_state, n_jobs=1)


def _text_columns(X: pd.DataFrame) -> list[str]:
    """Columns holding strings, whatever pandas calls their dtype (object, string, str)."""
    return [
        str(c)
        for c in X.columns
        if pd.api.types.is_object_dtype(X[c].dtype) or pd.api.types.is_string_dtype(X[c].dtype)
    ]


def build_recipe(
    recipe: str,
    X: pd.DataFrame,
    params: dict[str, Any] | None = None,
    *,
    random_state: int = 0,
    text_columns: list[str] | None = None,
) -> Any:
    """An unfitted estimator for ``recipe`` on inputs like ``X``, with ``params`` set.

    ``text_columns`` names the columns with the ``text`` role (``dcai train`` passes the
    version's roles); without it, string-valued columns are taken as text.
    """
    from dcai.quality import default_model

    params = dict(params or {})
    if recipe in ("logreg", "hgb", "rf"):
        model = default_model(X, random_state=random_state)
        if recipe != "logreg":
            model.set_params(classify=_classifier(recipe, random_state))
        return _set(model, params, prefix="classify__")
    if recipe == "tfidf-logreg":
        text = list(text_columns) if text_columns is not None else _text_columns(X)
        if not text:
            raise InvalidInputError(
                "tfidf-logreg needs a text column; this data has none (declare one with "
                "dcai data add ... --text COLUMN)",
                hint="Use --recipe logreg (or hgb, rf) for numbers and categories.",
            )
        model = default_model(X[text], random_state=random_state)
        return _set(model, params, prefix="classify__")
    if ":" in recipe:
        module_name, _, attr = recipe.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InvalidInputError(
                f"cannot load the recipe {recipe!r}: {exc}",
                hint="Give module:callable for a callable that returns a scikit-learn classifier, "
                "importable from the current directory or the environment.",
            ) from exc
        model = factory()
        if not (hasattr(model, "fit") and hasattr(model, "predict")):
            raise InvalidInputError(
                f"recipe {recipe!r} returned a {type(model).__name__}, not an estimator",
                hint="The callable must return an object with fit and predict.",
            )
        return _set(model, params, prefix="")
    raise InvalidInputError(
        f"unknown recipe {recipe!r}",
        hint=f"Use one of {', '.join(RECIPES)}, or module:callable returning a classifier.",
    )


def _set(model: Any, params: dict[str, Any], *, prefix: str) -> Any:
    if not params:
        return model
    valid = model.get_params(deep=True)
    names = {
        k.removeprefix(prefix)
        for k in valid
        if k.startswith(prefix) and "__" not in k.removeprefix(prefix)
    }
    unknown = sorted(k for k in params if k not in names)
    if unknown:
        raise InvalidInputError(
            f"the model does not accept {', '.join(repr(k) for k in unknown)}",
            hint=f"Valid parameters: {', '.join(sorted(names))}.",
        )
    model.set_params(**{prefix + k: v for k, v in params.items()})
    return model
