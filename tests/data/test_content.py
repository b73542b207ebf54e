"""Canonical content: ids, hashes, order independence."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.data import ColumnRoles, canonical_frame, content_hash, derive_example_ids, infer_roles


def _version_hash(frame: pd.DataFrame) -> str:
    roles = infer_roles(frame, label="label")
    return content_hash(canonical_frame(frame, roles), roles)


def test_ids_do_not_depend_on_the_label() -> None:
    a = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "c"]})
    b = a.assign(label=["z", "z", "z"])
    roles = ColumnRoles(label="label", features=("x",))
    assert (
        canonical_frame(a, roles)["example_id"].tolist()
        == canonical_frame(b, roles)["example_id"].tolist()
    )


def test_repeated_rows_get_distinct_stable_ids() -> None:
    frame = pd.DataFrame({"x": [5, 5, 5, 6]})
    ids = derive_example_ids(frame, ["x"])
    assert ids.nunique() == 4
    assert ids.tolist() == derive_example_ids(frame.copy(), ["x"]).tolist()


@settings(max_examples=40, deadline=None)
@given(
    xs=st.lists(st.integers(-1000, 1000), min_size=2, max_size=50, unique=True),
    seed=st.integers(0, 1000),
)
def test_version_hash_ignores_row_order_but_not_values(xs: list[int], seed: int) -> None:
    frame = pd.DataFrame({"x": xs, "label": [i % 3 for i in range(len(xs))]})
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    assert _version_hash(frame) == _version_hash(shuffled)
    changed = frame.copy()
    changed.loc[0, "label"] = 99
    assert _version_hash(changed) != _version_hash(frame)


def test_object_and_str_dtypes_hash_the_same() -> None:
    a = pd.DataFrame({"c": ["u", "v"], "label": ["a", "b"]})
    b = a.astype(object)
    assert _version_hash(a) == _version_hash(b)


def test_hash_depends_on_column_roles() -> None:
    frame = pd.DataFrame({"c": ["u", "v"], "d": [1, 2], "label": ["a", "b"]})
    as_feature = infer_roles(frame, label="label")
    as_meta = infer_roles(frame, label="label", meta=["d"])
    h1 = content_hash(canonical_frame(frame, as_feature), as_feature)
    h2 = content_hash(canonical_frame(frame, as_meta), as_meta)
    assert h1 != h2


def test_canonical_frame_accepts_any_index() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "c"]}, index=[10, 20, 30])
    roles = infer_roles(frame, label="label")
    out = canonical_frame(frame, roles)
    assert out["x"].tolist() == [1, 2, 3] and out["label"].tolist() == ["a", "b", "c"]
