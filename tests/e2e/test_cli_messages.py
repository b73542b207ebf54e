"""End to end: messages that state the rule broken, through the real ``dcai`` CLI.

Dataset names over the 200-character limit, tables that do not parse as given (a TSV saved as
``.csv``, a ragged row, an unclosed quote, a repeated Parquet column), ``--min-score`` outside
0..1 and ``--where`` clauses mixing numbers and text. Each is exit 2, one ``error:`` line with
the key words, no traceback, and the workspace unchanged (see ``test_cli_bad_input``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dcai
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import (
    Template,
    assert_rejected,
    ok_json,
    snapshot,
)


def _dup_parquet() -> bytes:
    table = pa.table(
        [pa.array([1.5, 2.5]), pa.array(["cat", "dog"]), pa.array([3, 4])],
        names=["x1", "label", "x1"],
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    argv: tuple[str, ...]
    fragments: tuple[str, ...]


LONG_NAME = "a" * 300

CASES = [
    Case(
        "name-over-200-characters",
        {"small.csv": "x1,label\n1.5,cat\n2.5,dog\n"},
        ("data", "add", LONG_NAME, "small.csv"),
        ("invalid dataset name", "(300 characters)", "at most 200 characters"),
    ),
    Case(
        "tsv-saved-as-csv",
        {"tabs.csv": "x1\tcolour\tlabel\n1.5\tred\tcat\n2.5\tblue\tdog\n"},
        ("data", "add", "fresh", "tabs.csv"),
        ("tabs.csv", "looks tab-separated", "--sep '\\t'"),
    ),
    Case(
        "tsv-saved-as-csv-with-commas-in-text",
        {"tabs.csv": "text\tlabel\nhello, world\tcat\nfine\tdog\n"},
        ("data", "add", "fresh", "tabs.csv"),
        ("tabs.csv", "looks tab-separated", "--sep '\\t'"),
    ),
    Case(
        "ragged-row",
        {"ragged.csv": "x1,colour,label\n1.5,red,cat\n2.5,blue,dog,extra\n3.5,red,cat\n"},
        ("data", "add", "fresh", "ragged.csv"),
        ("ragged.csv", "line 3 has 4 fields", "the header has 3", "Quote fields"),
    ),
    Case(
        "unclosed-quote",
        {
            "quote.csv": 'x1,text,label\n1.5,"fine, really",cat\n2.5,"multi\nline",dog\n'
            '3.5,"broken,cat\n4.5,ok,dog\n5.5,ok,cat\n'
        },
        ("data", "add", "fresh", "quote.csv"),
        ("quote.csv", "quote opened on line 5", "never closed", "Check the quotes"),
    ),
    Case(
        "duplicate-parquet-column",
        {"dup.parquet": _dup_parquet()},
        ("data", "add", "fresh", "dup.parquet"),
        ("dup.parquet", 'column "x1"', "the column name appears twice", "Rename one of them"),
    ),
    Case(
        "sep-on-parquet",
        {"dup.parquet": _dup_parquet()},
        ("data", "add", "fresh", "dup.parquet", "--sep", ";"),
        ("dup.parquet", "separator applies to CSV and TSV files only", "--sep"),
    ),
    Case(
        "review-list-min-score-above-1",
        {},
        ("review", "list", "ds", "--min-score", "5"),
        ("--min-score must be between 0 and 1", "scores are between 0 and 1", "got 5"),
    ),
    Case(
        "review-decide-min-score-negative",
        {},
        ("review", "decide", "ds", "--accept-suggested", "--min-score=-0.5"),
        ("--min-score must be between 0 and 1", "got -0.5"),
    ),
    Case(
        "where-metric-vs-quoted-number",
        {},
        ("runs", "list", "--where", "metrics.accuracy > '0.9'"),
        ("metrics are numbers; compare metrics.accuracy with a number, not the text '0.9'",),
    ),
    Case(
        "where-metric-vs-word",
        {},
        ("runs", "list", "--where", "params.C = 1 and metrics.f1 >= high"),
        ("metrics are numbers; compare metrics.f1 with a number, not the text 'high'",),
    ),
    Case(
        "where-param-ordered-against-quoted-number",
        {},
        ("runs", "list", "--where", "params.C > '10'"),
        ("params.C > '10' compares text", "write the number unquoted: params.C > 10"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_message_states_the_rule(case: Case, template: Template, ws: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for name, content in case.files.items():
        if isinstance(content, bytes):
            (work / name).write_bytes(content)
        else:
            (work / name).write_text(content)
    before = sorted(p.relative_to(work) for p in work.rglob("*"))

    result = run_dcai(*case.argv, workspace=ws, cwd=work)

    assert_rejected(result, *case.fragments)
    assert snapshot(ws) == template.snapshot
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before


def test_duplicate_columns_get_one_message_in_csv_and_parquet(ws: Path, tmp_path: Path) -> None:
    (tmp_path / "dup.csv").write_text("x1,label,x1\n1.5,cat,3\n2.5,dog,4\n")
    (tmp_path / "dup.parquet").write_bytes(_dup_parquet())
    lines = [
        assert_rejected(run_dcai("data", "add", "fresh", name, workspace=ws, cwd=tmp_path))
        for name in ("dup.csv", "dup.parquet")
    ]
    assert lines[0].replace("dup.csv", "FILE") == lines[1].replace("dup.parquet", "FILE")


def test_sep_reads_a_tab_separated_csv_and_names_the_file(ws: Path, tmp_path: Path) -> None:
    (tmp_path / "tabs.csv").write_text("x1\tcolour\tlabel\n1.5\tred\tcat\n2.5\tblue\tdog\n")
    (tmp_path / "semi.csv").write_text("x1;colour;label\n1.5;red;cat\n2.5;blue;dog\n")
    added = ok_json(
        run_dcai(
            "data", "add", "fresh", "tabs.csv", "--sep", "\\t", "--json", workspace=ws, cwd=tmp_path
        )
    )
    assert added["rows"] == 2 and added["new"]
    semi = ok_json(
        run_dcai(
            "data", "add", "semi", "semi.csv", "--sep", ";", "--json", workspace=ws, cwd=tmp_path
        )
    )
    assert semi["rows"] == 2
    log = ok_json(run_dcai("data", "log", "fresh", "--json", workspace=ws))
    assert "tabs.csv" in json.dumps(log)


def test_where_reads_an_unquoted_number_as_a_run_name(ws: Path) -> None:
    workspace = dcai.Workspace(ws)
    try:
        workspace.start_run(experiment="e", name="42", capture_code=False).end()
    finally:
        workspace.close()
    listed = ok_json(run_dcai("runs", "list", "--where", "name = 42", "--json", workspace=ws))
    assert [r["name"] for r in listed["runs"]] == ["42"]
