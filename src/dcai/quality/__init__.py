"""Find bad data: label errors, outliers, near-duplicates, class imbalance, missing values.

The functions here are pure: they take arrays or DataFrames and return DataFrames with one row
per example (in input order) and fixed columns, ``is_<kind>_issue`` and a score in [0, 1] where
low means suspicious. They never touch a workspace; :mod:`dcai.quality.audit` runs them on a
dataset version and stores the result, and :mod:`dcai.quality.review` turns decisions on the
issues into a clean child version.

Names are loaded lazily, so ``import dcai.quality`` stays light (no scikit-learn until used).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    # out-of-sample probabilities
    "cross_val_predict_proba": "dcai.quality._cross_val",
    "default_model": "dcai.quality._models",
    "feature_matrix": "dcai.quality._features",
    "embed_text": "dcai.quality._embeddings",
    # label issues
    "LabelNoiseEstimate": "dcai.quality._confident_learning",
    "compute_confident_joint": "dcai.quality._confident_learning",
    "estimate_label_noise": "dcai.quality._label_issues",
    "label_quality_scores": "dcai.quality._ranking",
    "neighbor_label_probs": "dcai.quality._ranking",
    "find_label_issues": "dcai.quality._label_issues",
    # other issues
    "nearest_neighbors": "dcai.quality._neighbors",
    "find_outliers": "dcai.quality._outliers",
    "find_duplicates": "dcai.quality._duplicates",
    "find_class_imbalance": "dcai.quality._dataset_issues",
    "find_missing_values": "dcai.quality._dataset_issues",
    "missing_value_summary": "dcai.quality._dataset_issues",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dcai.quality' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
