"""End to end: files the user names are never written into the workspace or over a device.

``dcai data export REF PATH`` over ``WS/metadata.db`` used to destroy the workspace with
exit 0, and as root an export to ``/dev/full`` replaced the device node. Each refusal here
runs the real CLI in a subprocess and must give exit 2, exactly one ``error:`` line, no
traceback, and leave the workspace exactly as it was (same list/log output, metadata rows
and objects). ``--force`` overwrites an ordinary existing file, nothing else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import Template, assert_rejected, ok, snapshot

# A few seconds is plenty: a command that opened the FIFO would block until killed.
TIMEOUT = 60


def _fifo(work: Path, ws: Path) -> str:
    os.mkfifo(work / "pipe.csv")
    return str(work / "pipe.csv")


def _symlink(work: Path, ws: Path) -> str:
    (work / "innocent.csv").symlink_to(ws / "metadata.db")
    return str(work / "innocent.csv")


def _folder_symlink(work: Path, ws: Path) -> str:
    (work / "exports").symlink_to(ws / "objects")
    return str(work / "exports" / "x.csv")


@dataclass(frozen=True)
class Case:
    id: str
    target: Callable[[Path, Path], str]  # (work folder, workspace) -> the PATH argument
    fragments: tuple[str, ...]


CASES = [
    Case("metadata-db", lambda work, ws: str(ws / "metadata.db"), ("inside the workspace",)),
    Case("objects", lambda work, ws: str(ws / "objects" / "x.csv"), ("inside the workspace",)),
    Case(
        "dotdot",
        lambda work, ws: f"{ws}/../{ws.name}/dcai.toml",
        ("inside the workspace", "dcai keeps its own files there"),
    ),
    Case("relative-dotdot", lambda work, ws: "../ws/metadata.db", ("inside the workspace",)),
    Case("symlink-to-db", _symlink, ("innocent.csv", "inside the workspace")),
    Case("symlink-folder", _folder_symlink, ("inside the workspace",)),
    Case("dev-null", lambda work, ws: "/dev/null", ("/dev/null", "character device")),
    Case("dev-full", lambda work, ws: "/dev/full", ("/dev/full", "character device")),
    Case("fifo", _fifo, ("pipe.csv", "named pipe")),
    Case("proc", lambda work, ws: "/proc/sys/vm/x.csv", ("/proc", "system folder")),
    Case(
        "missing-folder",
        lambda work, ws: str(work / "nope" / "out.csv"),
        ("nope", "does not exist", "mkdir -p"),
    ),
    Case("workspace-itself", lambda work, ws: str(ws), ("inside the workspace",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_export_destinations_are_refused(
    case: Case, template: Template, ws: Path, tmp_path: Path
) -> None:
    if case.id.startswith("dev-") and not os.path.exists(f"/dev/{case.id[4:]}"):
        pytest.skip("no such device here")
    work = tmp_path / "work"
    work.mkdir()
    target = case.target(work, ws)
    devices = {d: os.stat(d) for d in ("/dev/null", "/dev/full") if os.path.exists(d)}
    before = sorted(p.relative_to(work) for p in work.rglob("*"))

    # --force too: it allows replacing an ordinary file, never any of these.
    argv = ["data", "export", "ds", target, "--format", "csv", "--force"]
    result = run_dcai(*argv, workspace=ws, cwd=work, timeout=TIMEOUT)

    assert_rejected(result, *case.fragments)
    assert snapshot(ws) == template.snapshot
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before  # no stray temp file
    for device, was in devices.items():
        now = os.stat(device)
        assert stat.S_ISCHR(now.st_mode) and now.st_rdev == was.st_rdev, device
    if case.id == "fifo":
        assert stat.S_ISFIFO(os.stat(target).st_mode)


def test_an_existing_file_is_kept_without_force_and_replaced_with_it(
    template: Template, ws: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("precious\n")

    refused = run_dcai("data", "export", "ds", str(out), workspace=ws, cwd=tmp_path)

    assert_rejected(refused, str(out), "exists; add --force to overwrite it")
    assert out.read_text() == "precious\n"
    assert snapshot(ws) == template.snapshot

    ok(run_dcai("data", "export", "ds", str(out), "--force", workspace=ws, cwd=tmp_path))
    exported = pd.read_csv(out)
    assert len(exported) == 60 and "split" in exported.columns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "ws"]


def test_the_exported_file_gets_the_umask_mode(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    old = os.umask(0o022)  # inherited by the subprocess
    try:
        ok(run_dcai("data", "export", "ds", str(out), workspace=ws))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert len(pd.read_json(out, lines=True)) == 60


@pytest.mark.parametrize(
    "argv",
    [
        ("analyze", "ds", "--html", "{out}"),
        ("labels", "sample", "ds", "--n", "5", "--out", "{out}"),
        ("labels", "export", "ds", "{out}"),
        ("labels", "conventions", "ds", "--save-rules", "{out}"),
    ],
    ids=["analyze-html", "labels-sample", "labels-export", "conventions-save-rules"],
)
def test_other_outputs_refuse_an_existing_file_before_working(
    argv: tuple[str, ...], template: Template, ws: Path, tmp_path: Path
) -> None:
    suffix = {"analyze": ".html", "conventions": ".json"}.get(argv[1], ".csv")
    out = tmp_path / f"existing{suffix}"
    out.write_text("keep me\n")

    # No audit exists: `analyze` would run one first, so a refusal this fast (and an
    # unchanged workspace) shows the path was checked before the long work.
    result = run_dcai(*(a.format(out=out) for a in argv), workspace=ws, timeout=TIMEOUT)

    assert_rejected(result, str(out), "exists; add --force to overwrite it")
    assert out.read_text() == "keep me\n"
    assert snapshot(ws) == template.snapshot


def test_labels_sample_refuses_the_workspace_and_overwrites_with_force(
    ws: Path, tmp_path: Path
) -> None:
    inside = ws / "tasks.csv"
    assert_rejected(
        run_dcai(
            "labels", "sample", "ds", "--n", "5", "--out", str(inside), "--force", workspace=ws
        ),
        "inside the workspace",
    )
    assert not inside.exists()
    out = tmp_path / "tasks.csv"
    out.write_text("old\n")
    ok(run_dcai("labels", "sample", "ds", "--n", "5", "--out", str(out), "--force", workspace=ws))
    assert len(pd.read_csv(out)) == 5
