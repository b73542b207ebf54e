"""Descriptive tables of the agreement report: confusion, labelers vs consensus, disputed examples.

All take the per-example class counts of the pairable examples (≥ 2 labels) and are
vectorised: O(labels × distinct classes per example).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dcai.labels._agreement_kernels import ItemCounts, within_item_pairs

__all__ = ["annotator_frame", "confusion_frame", "disagreement_frame"]

#: Below this, 1 − chance agreement is taken as 0 (kappa undefined).
_CHANCE_ONE = 1e-12


def confusion_frame(counts: ItemCounts, classes: list[Any]) -> pd.DataFrame:
    """Class × class counts of ordered pairs of labels by different labelers on the same example.

    ``C[c, k] = Σ_u n_uc (n_uk − [c = k])``: symmetric, the diagonal counts agreeing pairs.
    """
    k = counts.n_classes
    cls, cnt = counts.cls, counts.cnt
    table = np.bincount(cls * k + cls, weights=cnt * (cnt - 1), minlength=k * k)
    left, right = within_item_pairs(counts.item)
    split = cnt[left] * cnt[right]
    table += np.bincount(cls[left] * k + cls[right], weights=split, minlength=k * k)
    table += np.bincount(cls[right] * k + cls[left], weights=split, minlength=k * k)
    index = pd.Index(classes, dtype=object, name="class")
    return pd.DataFrame(
        np.rint(table).astype(np.int64).reshape(k, k), index=index, columns=index.copy()
    )


def annotator_frame(
    annotators: pd.Index,
    all_annotator_codes: np.ndarray,
    counts: ItemCounts,
    r_item: np.ndarray,
    r_annotator: np.ndarray,
    r_cls: np.ndarray,
) -> pd.DataFrame:
    """Each labeler against the majority label of the *other* labelers of the same examples.

    When the others' top classes tie, the example counts equally towards each of them (the
    expected result of breaking the tie at random), so ``consensus_accuracy`` is a weighted
    share and ``consensus_kappa`` Cohen's kappa of the weighted labeler × consensus table.
    """
    n_annotators, k = len(annotators), counts.n_classes
    n_labels = np.bincount(all_annotator_codes, minlength=n_annotators)
    # entries (class counts) of each label's example; entries are sorted by example
    per_item = np.bincount(counts.item, minlength=counts.n_items)
    starts = np.cumsum(per_item) - per_item
    size = per_item[r_item]
    row = np.repeat(np.arange(len(r_item)), size)
    offset = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    entry = np.repeat(starts[r_item], size) + offset
    own = counts.cls[entry] == r_cls[row]
    others = counts.cnt[entry] - own  # the other labelers' count of each class
    top = np.maximum.reduceat(others, np.cumsum(size) - size) if len(others) else others
    is_top = others == top[row]
    share = is_top / np.bincount(row, weights=is_top, minlength=len(r_item))[row]
    correct = np.bincount(row, weights=share * own, minlength=len(r_item))
    compared = np.bincount(r_annotator, minlength=n_annotators).astype(np.float64)
    safe = np.maximum(compared, 1)
    accuracy = np.bincount(r_annotator, weights=correct, minlength=n_annotators) / safe
    given = np.bincount(r_annotator * k + r_cls, minlength=n_annotators * k).reshape(-1, k)
    consensus = np.bincount(
        r_annotator[row] * k + counts.cls[entry], weights=share, minlength=n_annotators * k
    ).reshape(-1, k)
    chance = (given * consensus).sum(axis=1) / (safe * safe)
    defined = (compared > 0) & (1 - chance > _CHANCE_ONE)
    kappa = np.full(n_annotators, np.nan)
    np.divide(accuracy - chance, 1 - chance, out=kappa, where=defined)
    notes = [
        "no example also labelled by others"
        if c == 0
        else ("kappa undefined: one class only, in labels and consensus" if not d else None)
        for c, d in zip(compared, defined, strict=True)
    ]
    return pd.DataFrame(
        {
            "annotator": pd.Series(list(annotators), dtype=object),
            "n_labels": n_labels.astype(np.int64),
            "n_compared": compared.astype(np.int64),
            "consensus_accuracy": np.where(compared > 0, accuracy, np.nan),
            "consensus_kappa": kappa,
            "note": pd.Series(notes, dtype=object),
        }
    )


def disagreement_frame(
    counts: ItemCounts, item_ids: np.ndarray, classes: list[Any], top: int
) -> pd.DataFrame:
    """The ``top`` most disputed examples, most disputed first.

    ``score`` is the entropy of the example's labels divided by its largest possible value,
    ``log2(min(n_labels, n_classes))``: 1 when labels spread as evenly as they can, 0 when
    unanimous. Ties go to the example with more labels (stronger evidence), then to the
    earlier example.
    """
    n = counts.n_items
    m = counts.m
    share = counts.cnt / m[counts.item]
    entropy = -np.bincount(counts.item, weights=share * np.log2(share), minlength=n)
    distinct = np.bincount(counts.item, minlength=n)
    most = np.log2(np.minimum(m, max(counts.n_classes, 2)))
    score = np.where(distinct >= 2, entropy / most, 0.0)
    candidates = np.flatnonzero(distinct >= 2)
    order = candidates[np.lexsort((candidates, -m[candidates], -score[candidates]))][:top]
    starts = np.cumsum(distinct) - distinct
    texts = []
    for u in order:
        cls = counts.cls[starts[u] : starts[u] + distinct[u]]
        cnt = counts.cnt[starts[u] : starts[u] + distinct[u]]
        ranked = np.lexsort((cls, -cnt))
        texts.append(", ".join(f"{classes[cls[i]]}×{int(cnt[i])}" for i in ranked))
    return pd.DataFrame(
        {
            "example_id": pd.Series(item_ids[counts.kept[order]], dtype=object),
            "n_labels": m[order].astype(np.int64),
            "n_distinct": distinct[order].astype(np.int64),
            "label_counts": pd.Series(texts, dtype=object),
            "score": np.clip(score[order], 0.0, 1.0),
        }
    )
