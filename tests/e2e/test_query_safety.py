"""End to end: ``dcai data tag --query`` never executes the query text.

Each payload that ``DataFrame.eval`` would have run (a shell command, a file write, imports,
attribute walks) goes through the real CLI in a real process: it must exit 2 with one
``error:`` line naming the unsupported part, no traceback, the workspace exactly as before,
and no file created. A valid query still tags the right rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import Template, assert_rejected, base_frame, ok, snapshot

TARGET = "written.csv"  # the file a to_csv payload would write (made absolute per test)

PAYLOADS = [
    (
        "(x1 > 0) & (@frame.__class__.__init__.__globals__.get('sys')"
        ".modules.get('os').system('touch pwned') == 0)",
        "'@' (local variables) is not allowed",
    ),
    ("@frame.to_csv('{target}') is None", "'@' (local variables) is not allowed"),
    ("__import__('os').system('touch pwned') == 0", "function call '__import__(...)'"),
    (
        "x1.__class__.__init__.__globals__.get('os').system('touch pwned') == 0",
        "attribute '__class__'",
    ),
    ("x1.__class__", "attribute '__class__'"),
    ("(lambda: 1)()", "lambda"),
    ("[c for c in x1]", "list comprehension"),
    ("x1[0]", "subscript 'x1[0]'"),
    ("open('pwned')", "function call 'open(...)'"),
    ("@frame", "'@' (local variables) is not allowed"),
    ("x1.to_csv('{target}') is None", "method 'to_csv'"),
    ("x1.str.__class__", "attribute '__class__'"),
    ("getattr(x1, 'a')", "function call 'getattr(...)'"),
]


@pytest.mark.parametrize(("payload", "part"), PAYLOADS, ids=[p[:40] for p, _ in PAYLOADS])
def test_payloads_are_refused_and_change_nothing(
    template: Template, ws: Path, tmp_path: Path, payload: str, part: str
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    target = tmp_path / TARGET
    text = payload.format(target=target)
    result = run_dcai("data", "tag", "ds", "evil", "--query", text, workspace=ws, cwd=cwd)
    assert_rejected(result, "unsupported in the query" if "@" not in text else "'@'", part)
    assert not (cwd / "pwned").exists() and not (ws / "pwned").exists()
    assert not target.exists()
    assert list(cwd.iterdir()) == []
    assert snapshot(ws) == template.snapshot


def test_a_valid_query_tags_the_right_rows(ws: Path) -> None:
    frame = base_frame()
    want = int(((frame["x1"] > 0) & frame["colour"].isin(["red", "blue"])).sum())
    assert want > 0
    text = "x1 > 0 and colour in ['red','blue']"
    out = ok(run_dcai("data", "tag", "ds", "warm", "--query", text, "--json", workspace=ws))
    assert json.loads(out.stdout)["examples"] == want
    listed = json.loads(ok(run_dcai("data", "tags", "ds", "--json", workspace=ws)).stdout)
    assert listed["tags"][0]["tag"] == "warm" and listed["tags"][0]["n"] == want
    assert listed["tags"][0]["how"] == f"query: {text}"
