"""Guarded writes of user-named files: each refusal, atomicity, file mode, OSError mapping."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import dcai
from dcai._user_files import (
    check_output_path,
    current_umask,
    protected_paths,
    write_user_bytes,
    write_user_file,
)
from dcai.errors import InvalidInputError


def _write_hello(tmp: Path) -> None:
    tmp.write_text("hello")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A folder standing for a workspace, with a database file and an objects folder."""
    root = tmp_path / "ws"
    (root / "objects" / "sha256").mkdir(parents=True)
    (root / "metadata.db").write_bytes(b"SQLite format 3\x00")
    (root / "dcai.toml").write_text("[store]\n")
    return root


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _refused(
    path: Path | str,
    *fragments: str,
    writer: Callable[[Path], None] = _write_hello,
    **kwargs: object,
) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        write_user_file(path, writer, **kwargs)  # type: ignore[arg-type]
    text = str(info.value)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert info.value.path == str(path)
    assert info.value.hint
    return info.value


# Refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relative", ["metadata.db", "dcai.toml", "objects/x.csv", "objects/sha256/new.csv", "new.csv"]
)
def test_refuses_any_path_inside_the_workspace(ws: Path, relative: str) -> None:
    before = (ws / "metadata.db").read_bytes()
    _refused(ws / relative, "inside the workspace", str(ws), workspace=ws, force=True)
    assert (ws / "metadata.db").read_bytes() == before
    assert not (ws / "new.csv").exists()


def test_refuses_the_workspace_folder_itself(ws: Path) -> None:
    _refused(ws, "inside the workspace", workspace=ws, force=True)


def test_refuses_dotdot_and_symlinks_into_the_workspace(ws: Path, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    _refused(tmp_path / "other" / ".." / "ws" / "dcai.toml", "inside the workspace", workspace=ws)
    link = tmp_path / "innocent.csv"
    link.symlink_to(ws / "metadata.db")
    _refused(link, "inside the workspace", workspace=ws, force=True)
    folder_link = tmp_path / "exports"
    folder_link.symlink_to(ws / "objects")
    _refused(folder_link / "out.csv", "inside the workspace", workspace=ws)
    # The workspace given through a symlink is resolved too.
    ws_link = tmp_path / "ws-link"
    ws_link.symlink_to(ws)
    _refused(ws / "new.csv", "inside the workspace", workspace=ws_link)


def test_a_workspace_protects_its_objects_and_database_kept_elsewhere(tmp_path: Path) -> None:
    objects, database = tmp_path / "store", tmp_path / "db" / "meta.db"
    database.parent.mkdir()
    workspace = dcai.Workspace(
        tmp_path / "ws", metadata_url=f"sqlite:///{database}", objects_url=str(objects)
    )
    try:
        kinds = {what for _, what in protected_paths(workspace)}
        assert kinds == {
            "the workspace",
            "the workspace's object store",
            "the workspace's metadata database",
        }
        _refused(objects / "x.csv", "object store", workspace=workspace)
        _refused(database, "metadata database", workspace=workspace, force=True)
        _refused(Path(f"{database}-wal"), "metadata database", workspace=workspace, force=True)
        # Beside the database is fine.
        assert write_user_file(database.parent / "out.csv", _write_hello, workspace=workspace)
    finally:
        workspace.close()


@pytest.mark.parametrize(
    ("device", "kind"), [("/dev/null", "character device"), ("/dev/full", "character device")]
)
def test_refuses_devices(device: str, kind: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    before = os.stat(device)
    _refused(device, kind, "not a regular file", workspace=None, force=True)
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    _refused(fifo, "named pipe", workspace=None, force=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_refuses_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        _refused(path, "socket", workspace=None, force=True)


def test_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    _refused(tmp_path / "out.csv", "it is a folder", workspace=None, force=True)


@pytest.mark.parametrize("path", ["/proc/self/comm", "/proc/sys/vm/drop_caches", "/sys/x.csv"])
def test_refuses_proc_and_sys(path: str) -> None:
    _refused(path, "system folder", workspace=None, force=True)


def test_refuses_an_existing_file_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old")
    error = _refused(out, "exists; add --force to overwrite it", workspace=None)
    assert str(error).startswith(f"{out}: exists")
    assert out.read_text() == "old"
    assert write_user_file(out, _write_hello, workspace=None, force=True) == out
    assert out.read_text() == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_symlink_to_a_file_outside_writes_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    _refused(link, "exists", workspace=None)
    write_user_file(link, _write_hello, workspace=None, force=True)
    assert link.is_symlink() and real.read_text() == "hello"


def test_refuses_a_missing_folder(tmp_path: Path) -> None:
    _refused(
        tmp_path / "nope" / "out.csv", "the folder", "does not exist", "mkdir -p", workspace=None
    )
    assert not (tmp_path / "nope").exists()


def test_refuses_a_file_on_the_path(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    _refused(tmp_path / "plain.txt" / "out.csv", "a folder on its path is a file", workspace=None)


def test_check_output_path_returns_the_real_target(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    got = check_output_path(tmp_path / "a" / ".." / "out.csv", workspace=None)
    assert got == tmp_path.resolve() / "out.csv"


# Atomicity ------------------------------------------------------------------------------


def test_a_failing_writer_leaves_no_temporary_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_user_file(out, broken, workspace=None, force=True)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_file_that_appears_meanwhile_is_not_clobbered(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"

    def racing(tmp: Path) -> None:
        out.write_text("someone else")
        tmp.write_text("mine")

    with pytest.raises(InvalidInputError, match="exists"):
        write_user_file(out, racing, workspace=None)
    assert out.read_text() == "someone else"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# Mode -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_mode_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        out = write_user_bytes(tmp_path / "out.csv", b"x", workspace=None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == mode


def test_current_umask_falls_back_without_proc(
    monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    real_open = open

    def no_proc(file: object, *args: object, **kwargs: object) -> object:
        if str(file).startswith("/proc/"):
            raise FileNotFoundError(file)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", no_proc)
    assert current_umask() == 0o022
    monkeypatch.undo()
    assert current_umask() == 0o022  # unchanged by the read


# OSError mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        (errno.EROFS, "cannot write the file: read-only file system"),
        (errno.ENOSPC, "cannot write the file: no space left on device ("),
        (errno.EDQUOT, "no space left on device ("),
        (errno.EACCES, "cannot write the file: permission denied"),
        (errno.EPERM, "cannot write the file: permission denied"),
        (errno.EIO, "cannot write the file: Input/output error"),
    ],
)
@pytest.mark.parametrize("where", ["writer", "replace"])
def test_os_errors_become_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, fragment: str, where: str
) -> None:
    out = tmp_path / "out.csv"

    def failing(tmp: Path) -> None:
        tmp.write_text("partial")
        if where == "writer":
            raise OSError(code, os.strerror(code))

    if where == "replace":

        def replace(src: object, dst: object) -> None:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(os, "replace", replace)
    error = _refused(out, fragment, writer=failing, workspace=None)
    assert error.__cause__ is not None and error.__cause__.errno == code  # type: ignore[attr-defined]
    if code in (errno.ENOSPC, errno.EDQUOT):
        assert " MB free)" in str(error)
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_file_that_cannot_be_created_is_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mkstemp(**kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("tempfile.mkstemp", mkstemp)
    _refused(tmp_path / "out.csv", "read-only file system", workspace=None)


def test_write_user_bytes_writes_the_bytes(tmp_path: Path, umask_022: None) -> None:
    out = write_user_bytes(tmp_path / "r.json", b"{}", workspace=tmp_path / "ws")
    assert out.read_bytes() == b"{}"
