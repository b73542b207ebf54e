"""``dcai deploy`` through the real CLI: a release from create to rollback, and bad input."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, ok, ok_json


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.e2e.conftest import build_deploy_workspace

    return build_deploy_workspace(tmp_path_factory.mktemp("deploy_cli") / "ws")


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(template, target)
    return target


def _revisions(ws: Path) -> int:
    with closing(sqlite3.connect(ws / "metadata.db")) as conn:
        return int(conn.execute("SELECT count(*) FROM deployment_revisions").fetchone()[0])


def test_a_release_from_create_to_rollback(ws: Path) -> None:
    created = ok_json(
        run_dcai("deploy", "create", "site", "--model", "digits/1", "--json", workspace=ws)
    )
    assert created["revision"] == 1 and created["primary"] == {"model": "digits/1"}
    text = ok(
        run_dcai("deploy", "canary", "site", "--model", "digits/2", "--percent", "10", workspace=ws)
    )
    assert "canary digits/2 at 10 %" in text.stdout
    promoted = ok_json(
        run_dcai("deploy", "promote", "site", "--reason", "canary held", "--json", workspace=ws)
    )
    assert promoted["primary"] == {"model": "digits/2"} and promoted["canary"] is None
    ok(run_dcai("deploy", "rollback", "site", workspace=ws))
    shown = ok_json(run_dcai("deploy", "show", "site", "--json", workspace=ws))
    assert shown["revision"] == 4
    assert shown["primary"] == {"model": "digits/1"}
    assert shown["canary"] == {"model": "digits/2", "percent": 10.0}
    assert [h["action"] for h in shown["history"]] == ["create", "canary", "promote", "rollback"]
    assert shown["history"][2]["reason"] == "canary held"
    table = ok(run_dcai("deploy", "show", "site", workspace=ws)).stdout
    assert "History" in table and "rollback" in table
    listed = ok_json(run_dcai("deploy", "list", "--json", workspace=ws))
    assert [d["name"] for d in listed["deployments"]] == ["site", "web"]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["deploy", "create", "web", "--model", "digits/2"], ["already exists"]),
        (["deploy", "create", "x", "--model", "nope"], ["no model 'nope'"]),
        (["deploy", "create", "x", "--model", "digits/7"], ["no version 7"]),
        (["deploy", "create", "we b", "--model", "digits/1"], ["not allowed"]),
        (["deploy", "create", "x", "--model", "digits/1", "--mode", "partial"], ["--review-below"]),
        (["deploy", "canary", "web", "--model", "digits/2", "--percent", "150"], ["(0, 100]"]),
        (["deploy", "canary", "web", "--percent", "5"], ["no canary to change"]),
        (
            ["deploy", "canary", "nope", "--model", "digits/2", "--percent", "5"],
            ["no deployment 'nope'"],
        ),
        (["deploy", "shadow", "web"], ["--model REF or --off"]),
        (["deploy", "promote", "web"], ["no canary or shadow"]),
        (["deploy", "rollback", "web"], ["nothing to roll back to"]),
        (["deploy", "set", "web", "--mode", "robot"], ["unknown mode", "full, partial"]),
        (["deploy", "set", "web", "--mode", "partial", "--review-below", "2"], ["(0, 1)"]),
        (["deploy", "show", "nope"], ["no deployment 'nope'", "web"]),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    ws: Path, argv: list[str], fragments: list[str]
) -> None:
    before = _revisions(ws)
    assert_rejected(run_dcai(*argv, workspace=ws), *fragments)
    assert _revisions(ws) == before
