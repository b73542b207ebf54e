"""The safe query grammar: same masks as pandas for what it accepts, a clear refusal otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.data._query import compile_query, query_mask
from dcai.errors import InvalidInputError

Frame: TypeAlias = pd.DataFrame


@pytest.fixture
def frame() -> Frame:
    return pd.DataFrame(
        {
            "x1": [1.5, -2.0, np.nan, 4.0, 0.0, -0.5],
            "x2": [1, 2, 3, 4, 5, 6],
            "colour": ["red", "blue", None, "green", "Red", "blue"],
            "my col": [10, 20, 30, 40, 50, 60],
            "flag": [True, False, True, False, True, False],
            "when": pd.to_datetime(
                ["2024-01-01", "2024-02-01", None, "2024-04-01"] * 1
                + [
                    "2024-05-01",
                    "2024-06-01",
                ]
            ),
        }
    )


ALLOWED: list[tuple[str, Callable[[Frame], pd.Series]]] = [
    ("x1 > 0", lambda f: f["x1"] > 0),
    ("x1 >= 0", lambda f: f["x1"] >= 0),
    ("x1 < 0", lambda f: f["x1"] < 0),
    ("x1 <= 0", lambda f: f["x1"] <= 0),
    ("x2 == 3", lambda f: f["x2"] == 3),
    ("x2 != 3", lambda f: f["x2"] != 3),
    ("x1 != 4", lambda f: f["x1"] != 4),  # missing != value is true, as in pandas
    ("0 < x2 <= 4", lambda f: (f["x2"] > 0) & (f["x2"] <= 4)),
    ("x1 ≥ 0 & x2 ≠ 5", lambda f: (f["x1"] >= 0) & (f["x2"] != 5)),
    ("3 < x2", lambda f: f["x2"] > 3),
    ("x1 < x2", lambda f: f["x1"] < f["x2"]),
    ("colour == 'red'", lambda f: f["colour"] == "red"),
    ('colour != "red"', lambda f: f["colour"] != "red"),
    ("colour < 'c'", lambda f: (f["colour"] < "c").fillna(False)),
    (
        "x1 > 0 and colour in ['red', 'blue']",
        lambda f: (f["x1"] > 0) & f["colour"].isin(["red", "blue"]),
    ),
    ("colour not in ('red', 'blue')", lambda f: ~f["colour"].isin(["red", "blue"])),
    ("colour == ['red', 'green']", lambda f: f["colour"].isin(["red", "green"])),
    ("x2 in [1, -2, 3.0]", lambda f: f["x2"].isin([1, -2, 3.0])),
    ("x1 > 1 or x2 == 2", lambda f: (f["x1"] > 1) | (f["x2"] == 2)),
    ("x1 > 1 | x2 == 2", lambda f: (f["x1"] > 1) | (f["x2"] == 2)),
    ("not x1 > 0", lambda f: ~(f["x1"] > 0)),
    ("~(x1 > 0)", lambda f: ~(f["x1"] > 0)),
    ("flag", lambda f: f["flag"]),
    ("not flag and x2 > 1", lambda f: ~f["flag"] & (f["x2"] > 1)),
    ("flag == True", lambda f: f["flag"]),
    ("x1 + x2 > 3", lambda f: f["x1"] + f["x2"] > 3),
    ("x2 - 1 == 2", lambda f: f["x2"] - 1 == 2),
    ("x2 * 2 >= 8", lambda f: f["x2"] * 2 >= 8),
    ("x2 / 4 < 1", lambda f: f["x2"] / 4 < 1),
    ("x2 // 2 == 1", lambda f: f["x2"] // 2 == 1),
    ("x2 % 2 == 0", lambda f: f["x2"] % 2 == 0),
    ("x2 ** 2 > 10", lambda f: f["x2"] ** 2 > 10),
    ("-x1 > 1", lambda f: -f["x1"] > 1),
    ("`my col` >= 30", lambda f: f["my col"] >= 30),
    ("`my col` / x2 == 10", lambda f: f["my col"] / f["x2"] == 10),
    ("colour.str.contains('re')", lambda f: f["colour"].str.contains("re").fillna(False)),
    (
        "colour.str.contains('RE', case=False, regex=False)",
        lambda f: f["colour"].str.contains("re", case=False, regex=False).fillna(False),
    ),
    ("colour.str.contains('^b.*e$')", lambda f: f["colour"].str.contains("^b.*e$").fillna(False)),
    ("colour.str.startswith('r')", lambda f: f["colour"].str.startswith("r").fillna(False)),
    ("colour.str.endswith('en')", lambda f: f["colour"].str.endswith("en").fillna(False)),
    ("colour.str.len() > 3", lambda f: f["colour"].str.len() > 3),
    ("colour.str.lower() == 'red'", lambda f: f["colour"].str.lower() == "red"),
    ("colour.str.upper() == 'BLUE'", lambda f: f["colour"].str.upper() == "BLUE"),
    ("x1.isna()", lambda f: f["x1"].isna()),
    ("x1.notna()", lambda f: f["x1"].notna()),
    ("colour is missing", lambda f: f["colour"].isna()),
    ("colour is not missing", lambda f: f["colour"].notna()),
    ("x2.between(2, 4)", lambda f: f["x2"].between(2, 4)),
    ("x1.between(-1, 1.5)", lambda f: f["x1"].between(-1, 1.5)),
    ("x1.abs() < 1", lambda f: f["x1"].abs() < 1),
    ("(x1 - x2).abs() >= 3", lambda f: (f["x1"] - f["x2"]).abs() >= 3),
    ("when >= '2024-03-01'", lambda f: f["when"] >= "2024-03-01"),
    ("x1 > 0 or True", lambda f: pd.Series(True, index=f.index)),
]


@pytest.mark.parametrize(("text", "expected"), ALLOWED, ids=[t for t, _ in ALLOWED])
def test_allowed_constructs_match_pandas(
    frame: Frame, text: str, expected: Callable[[Frame], pd.Series]
) -> None:
    got = compile_query(text).mask(frame)
    want = expected(frame).astype(object).where(expected(frame).notna(), False).astype(bool)
    assert got.dtype == bool and got.shape == (len(frame),)
    assert got.tolist() == want.tolist()


PAYLOAD_SHELL = (
    "(x1 > 0) & (@frame.__class__.__init__.__globals__.get('sys')"
    ".modules.get('os').system('touch pwned') == 0)"
)
PAYLOAD_WRITE = "@frame.to_csv('/any/path') is None"

FORBIDDEN = [
    (PAYLOAD_SHELL, "'@' (local variables)"),
    (PAYLOAD_WRITE, "'@' (local variables)"),
    ("@frame", "'@' (local variables)"),
    ("x1 > @limit", "'@' (local variables)"),
    ("x1 @ x2", "'@' (local variables)"),
    (
        "x1.__class__.__init__.__globals__.get('sys').modules.get('os').system('id')",
        "attribute '__class__'",
    ),
    ("__import__('os')", "function call '__import__(...)'"),
    ("x1.__class__", "attribute '__class__'"),
    ("(lambda: 1)()", "lambda"),
    ("[c for c in x1]", "list comprehension"),
    ("{c for c in x1}", "set comprehension"),
    ("any(c for c in x1)", "function call 'any(...)'"),
    ("x1[0]", "subscript 'x1[0]'"),
    ("colour.str[0] == 'r'", "subscript"),
    ("open('f')", "function call 'open(...)'"),
    ("x1.to_csv('p')", "method 'to_csv'"),
    ("x1.str.__class__", "attribute '__class__'"),
    ("getattr(x1, 'a')", "function call 'getattr(...)'"),
    ("x1.values", "attribute 'values'"),
    ("x1.apply(print)", "method 'apply'"),
    ("colour.str.contains(x1)", "'x1' where a value is expected"),
    ("colour.str.contains('a', flags=2)", "argument 'flags'"),
    ("colour.str.contains(**{'pat': 'a'})", "argument '**'"),
    ("(y := 3) > x1", "':=' (assignment)"),
    ("f'{x1}' == 'a'", "f-string"),
    ("x1 if flag else x2", "conditional expression"),
    ("{'a': 1}", "dict"),
    ("x1 in x2", "'in' without a list"),
    ("x1 is None", "comparison 'x1 is None'"),
    ("__builtins__", "name '__builtins__'"),
    ("x1 << 2 > 0", "operator"),
    ("b'x' == colour", "value \"b'x'\""),
]


@pytest.mark.parametrize(("text", "part"), FORBIDDEN, ids=[t[:40] for t, _ in FORBIDDEN])
def test_forbidden_constructs_are_refused_naming_the_part(
    frame: Frame, text: str, part: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError) as caught:
        compile_query(text).mask(frame)
    message = str(caught.value)
    assert part in message, message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("colour > 3", ("cannot compare", "text 'colour'", "number 3")),
        ("colour == 3", ("cannot compare", "text 'colour'")),
        ("x1 > 'a'", ("cannot compare", "numeric 'x1'", "text 'a'")),
        ("colour in ['red', 1]", ("text 'colour'", "number 1")),
        ("x1 == None", ("None", "is missing")),
        ("volume > 3", ("no column 'volume'", "columns: x1, x2, colour, my col")),
        ("x1 + 1", ("gives number values", "not true/false")),
        ("colour.str.lower()", ("gives text values",)),
        ("True", ("does not depend on any column",)),
        ("x1 and x2 > 1", ("needs true/false", "numeric 'x1'")),
        ("not colour", ("needs true/false",)),
        ("colour + 1 > 2", ("arithmetic needs numbers", "text 'colour'")),
        ("x1.str.len() > 1", ("needs a text column", "numeric 'x1'")),
        ("colour.abs() > 1", ("abs() needs numbers",)),
        ("colour.str.contains('(')", ("not a valid regular expression", "regex=False")),
        ("colour.str.contains(1)", ("needs a text value",)),
        ("x2.between(1)", ("takes 2 value(s), got 1",)),
        ("10 ** 10 ** 10 > x1", ("too large",)),
        ("1 // 0 < x1", ("cannot compute",)),
        ("x1 <", ("not valid syntax",)),
        ("", ("empty",)),
        ("x1 > 0 and " * 3000 + "x1 > 0", ("too long",)),
        ("(" * 500 + "x1" + ")" * 500 + " > 0", ("nested",)),
        ("[1, 2]", ("list of values",)),
        ("x1 is missing > 0", ()),  # a grammar mix-up: refused, not a traceback
        ("missing", ("'missing' outside 'is missing'",)),
    ],
)
def test_bad_queries_give_clear_errors(frame: Frame, text: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        compile_query(text).mask(frame, ref="ds@v1")
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_unknown_column_lists_at_most_twelve() -> None:
    wide = pd.DataFrame({f"c{i}": [1] for i in range(20)})
    with pytest.raises(InvalidInputError, match=r"no column 'zz' of t@v1 .*c11, … \(20 in all\)"):
        query_mask(wide, "zz > 1", ref="t@v1")


def test_columns_and_reuse(frame: Frame) -> None:
    query = compile_query("x1 > 0 and `my col`.between(0, 30) or x1 < -1")
    assert query.columns == ("x1", "my col")
    assert query.mask(frame).tolist() == query.mask(frame.copy()).tolist()
    assert query.mask(frame.iloc[:0]).tolist() == []


def test_missing_values_in_nullable_and_object_columns() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "o": pd.Series(["a", None, "c"], dtype=object),
            "b": pd.Series([True, None, False], dtype=object),
        }
    )
    assert query_mask(frame, "n > 1").tolist() == [False, False, True]
    assert query_mask(frame, "n != 1").tolist() == [False, True, True]
    assert query_mask(frame, "o < 'b'").tolist() == [True, False, False]
    assert query_mask(frame, "b").tolist() == [True, False, False]
    assert query_mask(frame, "n is missing").tolist() == [False, True, False]


# Property: on random numeric frames, random safe comparisons agree with pandas' own eval. ----

_COLUMNS = ("a", "b", "c")
_OPS = ("<", "<=", ">", ">=", "==", "!=")


def _operand() -> st.SearchStrategy[str]:
    column = st.sampled_from(_COLUMNS)
    number = st.integers(-5, 5).map(str) | st.sampled_from(["0.5", "-1.5", "2.0"])
    arith = st.tuples(column, st.sampled_from(["+", "-", "*"]), column | number).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    return column | number | arith


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    left, right = draw(_operand()), draw(_operand())
    text = f"{left} {draw(st.sampled_from(_OPS))} {right}"
    if all(c not in text for c in _COLUMNS):  # keep at least one column in each comparison
        text = f"a {draw(st.sampled_from(_OPS))} {right}"
    return text


@st.composite
def _query(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_comparison(), min_size=1, max_size=3))
    text = f"({parts[0]})"
    for part in parts[1:]:
        joiner = draw(st.sampled_from([" and ", " or ", " & ", " | "]))
        negate = draw(st.booleans())
        text += f"{joiner}{'not ' if negate and joiner.strip() in ('and', 'or') else ''}({part})"
    return text


_values = st.one_of(st.integers(-5, 5).map(float), st.just(np.nan), st.sampled_from([0.5, -1.5]))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(_values, _values, st.integers(-5, 5)), min_size=1, max_size=12),
    text=_query(),
)
def test_random_comparisons_match_pandas_eval(
    rows: list[tuple[float, float, int]], text: str
) -> None:
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    expected = np.asarray(frame.eval(text, engine="python"), dtype=bool)  # trusted test text
    assert compile_query(text).mask(frame).tolist() == expected.tolist(), text
