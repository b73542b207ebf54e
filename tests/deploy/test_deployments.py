"""Deployments: revisions, canary, shadow, promote, rollback, modes, refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dcai
from dcai.demo import digits_frame
from dcai.errors import InvalidInputError, UnknownRefError


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deploy") / "ws"
    with dcai.Workspace(root) as ws:
        frame = digits_frame().head(300)
        ws.data.add("digits", frame, label="label")
        ws.data.split("digits", dev=0.2, test=0.0, seed=0)
        for C in (1.0, 0.1, 0.01):
            run = ws.runs.train("digits", params={"C": C}, n_boot=0, capture_code=False).run
            ws.models.register(run, name="digits")
        # A model that needs a column the digits models do not take.
        wider = frame.assign(extra=1.0)
        ws.data.add("wider", wider, label="label")
        ws.data.split("wider", dev=0.2, test=0.0, seed=0)
        run = ws.runs.train("wider", n_boot=0, capture_code=False).run
        ws.models.register(run, name="wider")
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> dcai.Workspace:
    shutil.copytree(template, tmp_path / "ws")
    workspace = dcai.Workspace(tmp_path / "ws", create=False)
    yield workspace
    workspace.close()


def test_every_change_is_a_revision_with_the_whole_routing(ws: dcai.Workspace) -> None:
    d = ws.deployments.create("web", model="digits/1", reason="first")
    assert (d.revision, d.primary, d.canary, d.shadow, d.mode) == (
        1,
        "digits/1",
        None,
        None,
        "full",
    )
    d = ws.deployments.canary("web", model="digits/2", percent=10)
    assert (d.revision, d.canary, d.canary_percent) == (2, "digits/2", 10.0)
    d = ws.deployments.canary("web", percent=25)  # ramp the live canary
    assert (d.revision, d.canary, d.canary_percent) == (3, "digits/2", 25.0)
    d = ws.deployments.shadow("web", model="digits/3")
    assert (d.revision, d.shadow, d.canary) == (4, "digits/3", "digits/2")
    d = ws.deployments.promote("web")
    assert (d.revision, d.primary, d.canary, d.shadow) == (5, "digits/2", None, "digits/3")
    d = ws.deployments.set_mode("web", mode="partial", review_below=0.8)
    assert (d.mode, d.review_below) == ("partial", 0.8)
    assert [r.action for r in d.history] == [
        "create",
        "canary",
        "canary",
        "shadow",
        "promote",
        "set",
    ]
    assert d.history[0].reason == "first"
    shown = d.to_dict()
    assert shown["canary"] is None and shown["shadow"] == {"model": "digits/3"}
    assert [h["revision"] for h in shown["history"]] == [1, 2, 3, 4, 5, 6]


def test_rollback_walks_back_one_routing_at_a_time(ws: dcai.Workspace) -> None:
    ws.deployments.create("web", model="digits/1")
    ws.deployments.canary("web", model="digits/2", percent=10)
    ws.deployments.promote("web")
    d = ws.deployments.rollback("web")  # undo the promote: back to revision 2's routing
    assert (d.revision, d.primary, d.canary, d.canary_percent) == (4, "digits/1", "digits/2", 10.0)
    assert d.live.parent_revision == 1
    d = ws.deployments.rollback("web")
    assert (d.revision, d.primary, d.canary) == (5, "digits/1", None)
    with pytest.raises(InvalidInputError, match="first routing"):
        ws.deployments.rollback("web")
    assert ws.deployments.get("web").revision == 5  # a refused change writes nothing


def test_models_are_pinned_not_followed_through_aliases(ws: dcai.Workspace) -> None:
    ws.models.set_alias("digits", 1, "production")
    d = ws.deployments.create("web", model="digits@production")
    ws.models.set_alias("digits", 3, "production")
    assert d.primary == "digits/1" and ws.deployments.get("web").primary == "digits/1"


def test_refusals_name_the_problem_and_change_nothing(ws: dcai.Workspace) -> None:
    ws.deployments.create("web", model="digits/1")
    cases = [
        (
            lambda: ws.deployments.create("web", model="digits/2"),
            InvalidInputError,
            "already exists",
        ),
        (lambda: ws.deployments.create("a/b", model="digits/2"), InvalidInputError, "not allowed"),
        (lambda: ws.deployments.create("x", model="nope/1"), UnknownRefError, "no model 'nope'"),
        (lambda: ws.deployments.create("x", model="digits/9"), UnknownRefError, "no version 9"),
        (
            lambda: ws.deployments.canary("web", model="digits/2", percent=0),
            InvalidInputError,
            r"\(0, 100\]",
        ),
        (
            lambda: ws.deployments.canary("web", model="digits/2", percent=101),
            InvalidInputError,
            "percent",
        ),
        (lambda: ws.deployments.canary("web", percent=5), InvalidInputError, "no canary to change"),
        (
            lambda: ws.deployments.canary("web", model="digits/1", percent=5),
            InvalidInputError,
            "already the primary",
        ),
        (
            lambda: ws.deployments.canary("web", model="wider/1", percent=5),
            InvalidInputError,
            "extra",
        ),
        (lambda: ws.deployments.shadow("web", model=None), InvalidInputError, "no shadow"),
        (lambda: ws.deployments.promote("web"), InvalidInputError, "no canary or shadow"),
        (lambda: ws.deployments.set_mode("web", mode="partial"), InvalidInputError, "review-below"),
        (lambda: ws.deployments.set_mode("web", mode="auto"), InvalidInputError, "unknown mode"),
        (
            lambda: ws.deployments.set_mode("web", mode="partial", review_below=1.5),
            InvalidInputError,
            r"\(0, 1\)",
        ),
        (lambda: ws.deployments.get("nope"), UnknownRefError, "deployments: web"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    d = ws.deployments.get("web")
    assert d.revision == 1 and [x.name for x in ws.deployments.list()] == ["web"]


def test_a_model_that_does_not_load_is_refused_and_the_live_revision_stays(
    ws: dcai.Workspace,
) -> None:
    from dcai.errors import CorruptObjectError

    ws.deployments.create("web", model="digits/1")
    digest = ws.models.get("digits/2").model_sha256
    path = next(
        p
        for p in (ws.path / "objects" / "sha256").rglob(f"{digest}*")
        if not p.name.endswith(".check")
    )
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CorruptObjectError):
        ws.deployments.canary("web", model="digits/2", percent=10)
    assert ws.deployments.get("web").revision == 1


def test_a_server_notices_any_change_from_one_integer(ws: dcai.Workspace) -> None:
    from dcai.deploy.deployments import live_revision_id

    assert live_revision_id(ws.stores) == 0
    ws.deployments.create("web", model="digits/1")
    first = live_revision_id(ws.stores)
    ws.deployments.create("app", model="digits/2")
    ws.deployments.canary("web", model="digits/3", percent=5)
    assert live_revision_id(ws.stores) == first + 2
