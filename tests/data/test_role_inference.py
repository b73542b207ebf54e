"""Role inference on a table like real user comments: ids, dates and names are metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dcai.data import infer_roles
from dcai.data._schema import NOTE_DATETIME, NOTE_ID, NOTE_NAMES, inference_notes

_FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas"]
_LAST = ["Meyer", "Smith", "Garcia", "Kowalski", "Rossi", "Dubois", "Nakamura", "Silva"]
_GOOD = [
    "i love this song so much",
    "best video on youtube",
    "this song never gets old",
    "who is still listening in 2015",
    "the beat at 2:10 is amazing",
    "great voice and great lyrics",
]
_SPAM = [
    "check out my channel for more music videos",
    "subscribe to me and i will subscribe back",
    "please visit my website for free gift cards",
]
#: Emoji-only and very short comments: empty for a word vectoriser.
SHORT = [":)", ":3", "❤️", "<3", "!!!", "😂😂", "lol", "wow"]


def comment_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Deterministic YouTube-comment-like rows: id, author, ISO date, content, label.

    About 5% of the comments are emoji-only or very short; spam reuses templates with a
    varying suffix, and ordinary comments add emoji, case and punctuation, so the content
    has exact copies, variants a word vectoriser cannot tell apart, and distinct rows.
    """
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    ids = ["z" + "".join(rng.choice(alphabet, size=42)) for _ in range(n)]
    authors = [
        f"{rng.choice(_FIRST)} {rng.choice(_LAST)}{int(rng.integers(0, 1000))}" for _ in range(n)
    ]
    start = pd.Timestamp("2014-01-01T00:00:00")
    seconds = np.sort(rng.integers(0, 3600 * 24 * 365, size=n))
    dates = [(start + pd.Timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S") for s in seconds]
    content: list[str] = []
    label: list[int] = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.05:
            content.append(str(rng.choice(SHORT)))
            label.append(0)
        elif kind < 0.5:
            spam = str(rng.choice(_SPAM))
            suffix = int(rng.integers(0, 400))
            content.append(f"{spam} http://example.com/u/{suffix} thanks")
            label.append(1)
        else:
            good = str(rng.choice(_GOOD))
            good = f"{good} number {i}" if rng.random() < 0.5 else good
            if rng.random() < 0.5:  # what a word vectoriser does not see: emoji, 1-letter words
                good += str(rng.choice([" ❤️", " 😂", " :)", " x", " <3", " 👍👍"]))
            if rng.random() < 0.2:  # case and punctuation variants
                good = good.capitalize() + "!!"
            content.append(good)
            label.append(0)
    return pd.DataFrame(
        {"COMMENT_ID": ids, "AUTHOR": authors, "DATE": dates, "CONTENT": content, "CLASS": label}
    )


def test_comment_table_roles_keep_ids_dates_and_names_out_of_the_inputs() -> None:
    frame = comment_frame()
    roles = infer_roles(frame)
    assert roles.label == "CLASS"
    assert roles.id is None  # an id is never taken silently: it is part of the version id
    assert roles.text == ("CONTENT",)
    assert roles.features == ()
    assert roles.meta == ("COMMENT_ID", "AUTHOR", "DATE")
    assert inference_notes(frame, roles.meta) == {
        "COMMENT_ID": NOTE_ID,
        "AUTHOR": NOTE_NAMES,
        "DATE": NOTE_DATETIME,
    }


def test_declared_roles_still_win_over_the_new_rules() -> None:
    frame = comment_frame(200)
    roles = infer_roles(frame, id="COMMENT_ID", features=["AUTHOR"], text=["CONTENT"])
    assert roles.id == "COMMENT_ID"
    assert roles.features == ("AUTHOR",)
    assert roles.meta == ("DATE",)


def test_numeric_and_low_cardinality_columns_stay_features() -> None:
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame(
        {
            "price": rng.normal(size=n),
            "count": rng.integers(0, 10_000, size=n),  # unique-ish numbers are not ids
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "city": [f"city{i % 40}" for i in range(n)],  # 40 of 300 distinct
            "year": [str(2000 + i % 20) for i in range(n)],  # not a date: no month
            "label": rng.integers(0, 2, size=n),
        }
    )
    roles = infer_roles(frame)
    assert roles.features == ("price", "count", "colour", "city", "year")
    assert roles.meta == ()


def test_short_tables_keep_unique_strings_as_features() -> None:
    frame = pd.DataFrame({"colour": ["red", "blue", "green"], "y": [0, 1, 0]})
    assert infer_roles(frame).features == ("colour",)


def test_iso_dates_with_a_few_bad_values_are_still_dates() -> None:
    dates = [f"2020-03-{1 + i % 28:02d}" for i in range(100)]
    dates[7] = "unknown"
    mixed = [f"2021-06-01T10:{i % 60:02d}:00+02:00" for i in range(100)]
    frame = pd.DataFrame({"day": dates, "at": mixed, "y": [0, 1] * 50})
    roles = infer_roles(frame)
    assert roles.meta == ("day", "at")
    many_bad = dates[:90] + ["n/a"] * 10
    assert infer_roles(pd.DataFrame({"day": many_bad, "y": [0, 1] * 50})).meta == ()


def test_unique_prose_is_still_text_and_ids_with_gaps_are_not_ids() -> None:
    n = 60
    frame = pd.DataFrame(
        {
            "review": [f"a long review number {i} about the product" for i in range(n)],
            "ref": [f"r{i}" if i % 10 else None for i in range(n)],  # missing values
            "y": [0, 1] * (n // 2),
        }
    )
    roles = infer_roles(frame)
    assert roles.text == ("review",)
    assert inference_notes(frame, ["ref"]) == {"ref": NOTE_NAMES}


def _date_frame(n: int = 40) -> pd.DataFrame:
    """Naive datetimes, dates, offset times, one bad date, naive mixed with offsets."""
    naive: list[str | None] = [f"2014-01-{1 + i % 28:02d}T04:{i % 60:02d}:18" for i in range(n)]
    naive[3] = None
    bad = [f"2020-03-{1 + i % 28:02d}" for i in range(n)]
    bad[7] = "unknown"
    mixed = [f"2021-06-01T10:{i % 60:02d}:00" + ("Z" if i % 2 else "") for i in range(n)]
    return pd.DataFrame(
        {
            "when": naive,
            "day": [f"2020-03-{1 + i % 28:02d}" for i in range(n)],
            "at": [
                f"2021-06-01T10:{i % 60:02d}:00" + ("Z" if i % 2 else "+02:00") for i in range(n)
            ],
            "bad": bad,
            "mixed": mixed,
            "y": [0, 1] * (n // 2),
        }
    )


def test_iso_dates_convert_only_when_every_value_parses() -> None:
    from dcai.data._schema import NOTE_DATETIME_KEPT, convert_iso_datetimes, iso_datetime_columns

    frame = _date_frame()
    roles = infer_roles(frame)
    assert roles.meta == ("when", "day", "at", "bad", "mixed")
    assert iso_datetime_columns(frame, roles.meta) == ["when", "day", "at"]
    out = convert_iso_datetimes(frame, roles.meta)
    assert str(out["when"].dtype) == "datetime64[ns]"  # naive values stay naive
    assert str(out["day"].dtype) == "datetime64[ns]"
    assert str(out["at"].dtype) == "datetime64[ns, UTC]"  # offsets are converted to UTC
    assert out["when"].isna().tolist() == frame["when"].isna().tolist()  # missing -> NaT
    assert out["at"][0] == pd.Timestamp("2021-06-01T08:00:00Z")  # 10:00+02:00
    assert out["when"][0] == pd.Timestamp("2014-01-01T04:00:18")
    assert out["bad"].tolist() == frame["bad"].tolist()  # kept as strings
    assert out["mixed"].tolist() == frame["mixed"].tolist()
    assert frame["when"].dtype != out["when"].dtype  # the input is not modified
    notes = inference_notes(frame, roles.meta)
    assert {c: notes[c] for c in ("when", "day", "at")} == dict.fromkeys(
        ("when", "day", "at"), NOTE_DATETIME
    )
    assert notes["bad"] == f"{NOTE_DATETIME_KEPT}: 1 value(s) do not parse"
    assert notes["mixed"].startswith(NOTE_DATETIME_KEPT) and "offset" in notes["mixed"]
    # Stored datetimes keep the plain note; only ISO-date columns convert.
    assert inference_notes(out, ["when", "at"]) == {"when": NOTE_DATETIME, "at": NOTE_DATETIME}
    assert iso_datetime_columns(frame, ["y", "nope"]) == []


def test_add_dataset_stores_iso_dates_as_datetimes(tmp_path: Path) -> None:
    import dcai

    ws = dcai.Workspace.init(tmp_path / "ws")
    source = tmp_path / "dates.csv"
    frame = _date_frame()
    frame["note"] = [f"2019-05-{1 + i % 28:02d}" for i in range(len(frame))]
    frame.to_csv(source, index=False)

    version = ws.add_dataset("d", source, text=["note"])
    dtypes = version.roles.dtypes
    assert dtypes["when"] == "datetime64[ns]" and dtypes["at"] == "datetime64[ns, UTC]"
    assert dtypes["bad"] == "str" and dtypes["mixed"] == "str"
    assert dtypes["note"] == "str"  # declared text follows the declaration
    stored = version.to_pandas()
    assert str(stored["day"].dtype) == "datetime64[ns]"
    assert stored["when"].isna().sum() == 1

    again = ws.add_dataset("d", source)  # roles carried over: same typed content
    assert (again.id, again.created) == (version.id, False)

    declared = ws.add_dataset("m", source, meta=["when", "bad"], text=["note"])
    assert declared.roles.dtypes["when"] == "datetime64[ns]"  # declared --meta converts too
    assert declared.roles.dtypes["bad"] == "str"

    csv = ws.data.export("d", tmp_path / "out.csv")
    parquet = ws.data.export("d", tmp_path / "out.parquet")
    assert pd.read_csv(csv)["day"][0] == "2020-03-01"  # ISO strings in CSV
    back = pd.read_parquet(parquet)
    assert str(back["when"].dtype) == "datetime64[ns]"
    assert str(back["at"].dtype) == "datetime64[ns, UTC]"
    assert back["at"].equals(stored["at"])
    # The exported CSV, added back, gives the same typed columns and the same rows.
    round_trip = ws.add_dataset("d", csv)
    assert (round_trip.id, round_trip.created) == (version.id, False)

    edited = frame.copy()
    edited.loc[0, "y"] = 1
    changed = ws.add_dataset("d", edited)
    diff = ws.data.diff(version.ref, changed.ref)
    assert diff.counts["relabeled"] == 1
