"""Guarded writes of the files a user names: exports, reports, task files, rule files.

What: :func:`check_output_path` decides whether dcai may write a path the user typed, and
:func:`write_user_file` writes it atomically (a temporary file in the target folder, fsync,
then :func:`os.replace`) with the permissions the umask gives.

Why: an export named ``WS/metadata.db`` used to replace the workspace database, and as root
an export to ``/dev/full`` replaced the device node. Every command that writes a file the user
named goes through here, so the rules hold everywhere:

* never inside the workspace folder, its object store or its SQLite database (resolved real
  paths, symlinks and ``..`` followed);
* never over something that is not a regular file (devices, FIFOs, sockets, folders), nor
  anywhere under ``/proc`` or ``/sys``;
* never over an existing file unless ``force=True`` (``--force`` on the command line);
* never into a folder that does not exist (no silent ``mkdir -p`` of a mistyped path).

Every refusal and every :class:`OSError` becomes one :class:`~dcai.errors.InvalidInputError`
line with ``path`` and ``hint`` set, which the CLI prints as ``error: ...`` with exit code 2.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> out = write_user_file(folder / "out.txt", lambda tmp: tmp.write_text("hi"), workspace=None)
>>> out.read_text()
'hi'
>>> try:
...     write_user_file(out, lambda tmp: tmp.write_text("again"), workspace=None)
... except InvalidInputError as error:
...     print(error.message)
exists; add --force to overwrite it
>>> _ = write_user_file(out, lambda tmp: tmp.write_text("again"), workspace=None, force=True)
>>> out.read_text()
'again'
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from dcai._atomic import _fsync
from dcai.errors import InvalidInputError

__all__ = [
    "WorkspaceLike",
    "check_output_path",
    "current_umask",
    "protected_paths",
    "write_user_bytes",
    "write_user_file",
]

#: Folders whose files are kernel interfaces, never data: refused whatever the file type.
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"))

_UMASK_LOCK = threading.Lock()
_SQLITE_PREFIX = "sqlite:///"
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class _SettingsLike(Protocol):
    @property
    def metadata_url(self) -> str: ...

    @property
    def objects_url(self) -> str: ...


class WorkspaceLike(Protocol):
    """What the guard reads from a :class:`dcai.Workspace`: its folder and store URLs."""

    @property
    def path(self) -> Path: ...

    @property
    def settings(self) -> _SettingsLike: ...


Protected = tuple[tuple[Path, str], ...]


def protected_paths(workspace: str | Path | WorkspaceLike | None) -> Protected:
    """The resolved paths dcai never writes a user's file into, each with what it is.

    A folder protects everything under it; the SQLite database protects itself and its
    ``-wal``/``-shm``/``-journal`` companions. A plain path protects that folder only; a
    workspace also protects its object store and database when they live elsewhere.

    >>> [what for _, what in protected_paths("/tmp/ws")]
    ['the workspace']
    >>> protected_paths(None)
    ()
    """
    if workspace is None:
        return ()
    if isinstance(workspace, str | Path):
        return ((_real(Path(workspace)), "the workspace"),)
    found: list[tuple[Path, str]] = [(_real(Path(workspace.path)), "the workspace")]
    objects = workspace.settings.objects_url
    if "://" not in objects or objects.startswith("file://"):
        found.append((_real(Path(objects.removeprefix("file://"))), "the workspace's object store"))
    metadata = workspace.settings.metadata_url
    file = metadata[len(_SQLITE_PREFIX) :] if metadata.startswith(_SQLITE_PREFIX) else ""
    if file and Path(file).is_absolute():  # the settings make a local database absolute
        database = _real(Path(file))
        found += [
            (database.with_name(database.name + c), "the workspace's metadata database")
            for c in _SQLITE_COMPANIONS
        ]
    return tuple(found)


def check_output_path(
    path: str | Path,
    *,
    workspace: str | Path | WorkspaceLike | None,
    force: bool = False,
) -> Path:
    """Refuse ``path`` unless dcai may write a user's file there; return the real target.

    Call it before long work (an audit, an analysis) so a bad ``--out`` fails at once;
    :func:`write_user_file` checks again just before it writes.

    Parameters
    ----------
    path
        The file the user named (relative to the working folder, ``..`` and symlinks allowed).
    workspace
        The open workspace (or its folder) whose files must never be overwritten; ``None``
        when there is none.
    force
        Allow replacing an existing regular file.

    Returns
    -------
    Path
        The resolved path the file will be written to (a symlink's target, not the link).

    Raises
    ------
    InvalidInputError
        Inside the workspace, under ``/proc`` or ``/sys``, over something that is not a
        regular file, over an existing file without ``force``, or in a missing folder.

    >>> import tempfile, pathlib
    >>> ws = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     check_output_path(ws / "sub" / ".." / "metadata.db", workspace=ws)
    ... except InvalidInputError as error:
    ...     print(error.message.split(" (")[0])
    cannot write the file: it is inside the workspace
    """
    given = Path(path)
    target = _real(given)
    shown = str(given)
    for protected, what in protected_paths(workspace):
        if target == protected or protected in target.parents:
            raise InvalidInputError(
                f"cannot write the file: it is inside {what} ({protected}); "
                "dcai keeps its own files there",
                path=shown,
                hint=f"Write it outside the workspace folder, e.g. ./{given.name or 'out'}.",
            )
    for system in SYSTEM_FOLDERS:
        if target == system or system in target.parents:
            raise InvalidInputError(
                f"cannot write the file: it is under {system}, a system folder",
                path=shown,
                hint="Give the name of a regular file in one of your folders, e.g. ./out.csv.",
            )
    _check_existing(target, shown, force=force)
    parent = target.parent
    try:
        parent_mode: int | None = os.stat(parent).st_mode
    except FileNotFoundError:
        parent_mode = None
    except NotADirectoryError:
        parent_mode = stat.S_IFREG
    except OSError as exc:
        raise _os_error(exc, shown, parent) from exc
    if parent_mode is None:
        raise InvalidInputError(
            f"cannot write the file: the folder {parent} does not exist",
            path=shown,
            hint=f"Create it first (mkdir -p {parent}), or choose another folder.",
        )
    if not stat.S_ISDIR(parent_mode):
        raise InvalidInputError(
            "cannot write the file: a folder on its path is a file",
            path=shown,
            hint="Give a file name in a folder you can write to, e.g. ./out.csv.",
        )
    return target


def write_user_file(
    path: str | Path,
    writer: Callable[[Path], None],
    *,
    workspace: str | Path | WorkspaceLike | None,
    force: bool = False,
) -> Path:
    """Write a file the user named: checked, atomic, with the umask's permissions.

    ``writer(tmp)`` produces the content in a temporary file in the target folder; it is
    fsynced, given mode ``0o666 & ~umask`` and renamed over the target. On any failure the
    temporary file is removed and an existing target is left as it was.

    Parameters
    ----------
    path, workspace, force
        As for :func:`check_output_path`.
    writer
        Writes the whole content to the path it is given.

    Returns
    -------
    Path
        ``path`` as given.

    Raises
    ------
    InvalidInputError
        Any refusal of :func:`check_output_path`, or an :class:`OSError` as one line:
        ``cannot write the file: read-only file system``, ``no space left on device (N MB
        free)``, ``permission denied`` or the system's message.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> write_user_file(out, lambda tmp: tmp.write_text("x\\n1\\n"), workspace=None).read_text()
    'x\\n1\\n'
    """
    given = Path(path)
    shown = str(given)
    target = check_output_path(given, workspace=workspace, force=force)
    parent = target.parent
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise _os_error(exc, shown, parent) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        _fsync(tmp)
        # Checked again: the target may have appeared (or become a device) meanwhile.
        _check_existing(target, shown, force=force)
        os.replace(tmp, target)
        _fsync_folder(parent)
    except OSError as exc:
        raise _os_error(exc, shown, parent) from exc
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        except OSError:  # pragma: no cover - best effort on a failing file system
            pass
    return given


def write_user_bytes(
    path: str | Path,
    data: bytes,
    *,
    workspace: str | Path | WorkspaceLike | None,
    force: bool = False,
) -> Path:
    """:func:`write_user_file` for content already in memory.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "rules.json"
    >>> write_user_bytes(out, b"{}", workspace=None).read_bytes()
    b'{}'
    """

    def writer(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write_user_file(path, writer, workspace=workspace, force=force)


def current_umask() -> int:
    """The process umask, read without changing it when the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is set and restored under a
    lock (``os.umask`` can only be read by writing it).

    >>> old = os.umask(0o027)
    >>> current_umask() == 0o027
    True
    >>> _ = os.umask(old)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        old = os.umask(0o077)
        os.umask(old)
    return old


def _real(path: Path) -> Path:
    """Absolute, ``..`` and symlinks resolved as far as the path exists."""
    return Path(os.path.realpath(os.path.abspath(path)))


_KINDS = (
    (stat.S_ISDIR, "it is a folder"),
    (stat.S_ISCHR, "it is a character device, not a regular file"),
    (stat.S_ISBLK, "it is a block device, not a regular file"),
    (stat.S_ISFIFO, "it is a named pipe (FIFO), not a regular file"),
    (stat.S_ISSOCK, "it is a socket, not a regular file"),
)


def _check_existing(target: Path, shown: str, *, force: bool) -> None:
    try:
        mode = os.stat(target).st_mode  # never opens it: a FIFO does not block
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise _os_error(exc, shown, target.parent) from exc
    if not stat.S_ISREG(mode):
        reason = next((text for test, text in _KINDS if test(mode)), "it is not a regular file")
        raise InvalidInputError(
            f"cannot write the file: {reason}",
            path=shown,
            hint="Give the name of a regular file, e.g. ./out.csv.",
        )
    if not force:
        raise InvalidInputError(
            "exists; add --force to overwrite it",
            path=shown,
            hint="Or choose another file name.",
        )


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; some file systems cannot fsync a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _os_error(exc: OSError, shown: str, parent: Path) -> InvalidInputError:
    """One line for an OS failure while writing ``shown`` into ``parent``."""
    code = exc.errno
    hint = "Choose a folder you can write to, e.g. your home folder."
    if code == errno.EROFS:
        reason = "read-only file system"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = f"{shutil.disk_usage(parent).free // (1024 * 1024):,} MB free"
        except OSError:
            free = "free space unknown"
        reason = f"no space left on device ({free})"
        hint = "Free some space, or write to another disk."
    elif code in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif code == errno.EISDIR:
        reason = "it is a folder"
        hint = "Give a file name, e.g. ./out.csv."
    elif code in (errno.ENOTDIR, errno.EEXIST):
        reason = "a folder on its path is a file"
        hint = "Give a file name in a folder you can write to, e.g. ./out.csv."
    else:
        reason = exc.strerror or str(exc)
    return InvalidInputError(f"cannot write the file: {reason}", path=shown, hint=hint)
