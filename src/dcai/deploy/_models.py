"""A pinned model version, loaded, answering in the order of its signature's classes.

Shared by the prediction server and batch prediction, so that a row gets the same answer
online and offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["LoadedModel", "answers"]


@dataclass(frozen=True)
class LoadedModel:
    """A model version (``ref``, e.g. ``digits/3``) with its signature's inputs (name, dtype,
    role of each training feature) and classes."""

    ref: str
    model: Any
    inputs: list[dict[str, Any]]
    classes: list[Any]

    @cached_property
    def features(self) -> list[str]:
        """The training features, in order: the columns the model reads (computed once: every
        prediction checks against it)."""
        return [str(item["name"]) for item in self.inputs]

    @cached_property
    def feature_index(self) -> pd.Index:
        """:attr:`features` as a pandas Index (compared with each request's columns)."""
        return pd.Index(self.features)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities, one row per instance, one column per class of ``classes``."""
        # Requests arrive with exactly the features, in order: no copy then.
        same = frame.columns.equals(self.feature_index)
        X = frame if same else frame[self.features]
        if hasattr(self.model, "predict_proba"):
            raw = np.asarray(self.model.predict_proba(X), dtype=float)
            fitted = list(getattr(self.model, "classes_", self.classes))
            if fitted != self.classes:
                raw = raw[:, [fitted.index(c) for c in self.classes]]
            return raw
        labels = list(self.model.predict(X))
        out = np.zeros((len(labels), len(self.classes)))
        for i, label in enumerate(labels):
            out[i, self.classes.index(label)] = 1.0
        return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def answers(model: LoadedModel, probs: np.ndarray) -> list[dict[str, Any]]:
    """``{"label", "confidence", "probabilities"}`` per row: the most probable class.

    Built from plain lists (one ``tolist`` per array, not one NumPy scalar per value): this
    runs on every request.
    """
    best = probs.argmax(axis=1)
    labels = [_plain(c) for c in model.classes]
    keys = [str(c) for c in model.classes]
    confidence = probs[np.arange(len(probs)), best].tolist()
    return [
        {"label": labels[j], "confidence": c, "probabilities": dict(zip(keys, row, strict=True))}
        for j, c, row in zip(best.tolist(), confidence, probs.tolist(), strict=True)
    ]


def load_pinned(stores: Stores, ref: str, *, trusted: tuple[str, ...] = ()) -> LoadedModel:
    """Load a registered model version (hash and trusted types checked)."""
    from dcai.experiments.registry import load_registered_model

    version, model = load_registered_model(stores, ref, trusted=trusted)
    return LoadedModel(version.ref, model, version.signature.get("inputs", []), version.classes)
