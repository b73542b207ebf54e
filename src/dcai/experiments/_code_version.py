"""Capture the version of the code a run executes: its git state, or its entry script's hash.

A result is reproducible only when the exact code is known, including what was not yet
committed. :func:`capture_code_version` records the commit, the branch, whether tracked files
differ from HEAD (staged or not), the diff itself and its SHA-256, and the untracked files. Outside
git it falls back to the SHA-256 of the entry script. It never raises: whatever could not be
captured is said in :attr:`CodeVersion.note`.

The ``git`` executable is called through :mod:`subprocess` (a handful of calls, each with a
timeout), with ``GIT_OPTIONAL_LOCKS=0`` so that reading the state never takes the index lock
that a concurrent ``git commit`` needs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CodeVersion", "capture_code_version"]

_GIT_TIMEOUT = 10.0
_MAX_UNTRACKED = 1000
_CHUNK = 1 << 20

# Diff options that user configuration could otherwise change (colour, external or textconv
# drivers, prefixes, algorithm, context), pinned so the diff and its hash depend on the code
# only. With git's default configuration the output equals that of `git diff HEAD --binary`.
_DIFF_OPTIONS = (
    "--binary",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--find-renames",
    "--diff-algorithm=myers",
    "--indent-heuristic",
    "--unified=3",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


@dataclass(frozen=True)
class CodeVersion:
    """The code a run executed, as captured by :func:`capture_code_version`.

    Attributes
    ----------
    kind : str
        ``"git"`` (the fields below describe a git work tree), ``"script"`` (git was not
        usable; :attr:`script_sha256` identifies the code) or ``"unknown"``.
    commit : str or None
        Full SHA of HEAD; None outside git and in a repository without any commit.
    branch : str or None
        Checked-out branch; None when HEAD is detached (and outside git).
    dirty : bool
        True when tracked files differ from HEAD, staged or not. Untracked files do not count:
        they are listed in :attr:`untracked`.
    diff_sha256 : str or None
        SHA-256 of :attr:`diff`; None when the tree is clean.
    diff : bytes or None
        ``git diff HEAD --binary`` (staged and unstaged changes; ``git diff --cached --binary``
        in a repository without commits), applicable with ``git apply``. Store it as an
        artifact; :meth:`to_dict` leaves it out.
    untracked : tuple of str
        Untracked, not ignored files, relative to :attr:`root`, in git's order.
    untracked_truncated : bool
        True when more untracked files existed than were kept, or they could not be listed.
    root : str or None
        Root of the git work tree.
    script : str or None
        Absolute path of the entry script, when known.
    script_sha256 : str or None
        SHA-256 of the entry script's bytes, when it could be read (in and outside git).
    note : str or None
        Why something could not be captured (git missing, timed out, not a repository, ...).
    """

    kind: str
    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    diff_sha256: str | None = None
    diff: bytes | None = None
    untracked: tuple[str, ...] = ()
    untracked_truncated: bool = False
    root: str | None = None
    script: str | None = None
    script_sha256: str | None = None
    note: str | None = None

    def __repr__(self) -> str:
        # The diff can be megabytes; show its size instead.
        size = "None" if self.diff is None else f"<{len(self.diff)} bytes>"
        return (
            f"CodeVersion(kind={self.kind!r}, commit={self.commit!r}, branch={self.branch!r}, "
            f"dirty={self.dirty!r}, diff_sha256={self.diff_sha256!r}, diff={size}, "
            f"untracked={len(self.untracked)} files, root={self.root!r}, "
            f"script={self.script!r}, note={self.note!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict, without the diff bytes.

        >>> CodeVersion(kind="unknown", note="no git").to_dict()["note"]
        'no git'
        """
        return {
            "kind": self.kind,
            "commit": self.commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "diff_sha256": self.diff_sha256,
            "untracked": list(self.untracked),
            "untracked_truncated": self.untracked_truncated,
            "root": self.root,
            "script": self.script,
            "script_sha256": self.script_sha256,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, diff: bytes | None = None) -> CodeVersion:
        """Rebuild a code version from :meth:`to_dict` output (and the stored diff, if any).

        >>> cv = CodeVersion(kind="git", commit="ab" * 20, branch="main", untracked=("x.py",))
        >>> CodeVersion.from_dict(cv.to_dict()) == cv
        True
        """
        return cls(
            kind=str(data["kind"]),
            commit=data.get("commit"),
            branch=data.get("branch"),
            dirty=bool(data.get("dirty", False)),
            diff_sha256=data.get("diff_sha256"),
            diff=diff,
            untracked=tuple(data.get("untracked") or ()),
            untracked_truncated=bool(data.get("untracked_truncated", False)),
            root=data.get("root"),
            script=data.get("script"),
            script_sha256=data.get("script_sha256"),
            note=data.get("note"),
        )


def capture_code_version(
    path: str | Path | None = None,
    *,
    script: str | Path | None = None,
    timeout: float = _GIT_TIMEOUT,
    max_untracked: int = _MAX_UNTRACKED,
) -> CodeVersion:
    """Capture the git state of ``path`` (or the entry script's hash) without ever raising.

    Call it when a run starts, so the record says exactly which code produced the result,
    including uncommitted changes. Five short git calls are made (no file is hashed by dcai
    except the entry script), so it stays fast on large repositories.

    Parameters
    ----------
    path : str or Path, optional
        A directory (or file) inside the work tree. Defaults to the current directory.
    script : str or Path, optional
        The entry script. Defaults to ``__main__.__file__``, else ``sys.argv[0]`` when it names
        a file (not inside a Jupyter kernel, whose launcher is not the user's code).
    timeout : float, default 10
        Seconds allowed for each git call.
    max_untracked : int, default 1000
        Untracked files kept; past it, :attr:`CodeVersion.untracked_truncated` is set.

    Returns
    -------
    CodeVersion
        ``kind="git"`` in a git work tree; otherwise ``"script"`` when the entry script could be
        hashed, else ``"unknown"``; :attr:`CodeVersion.note` says why git was not used.

    Notes
    -----
    In a repository without commits, ``commit`` is None, ``dirty`` is True when anything is
    staged and ``diff`` holds the staged changes (against the empty tree). If git is missing,
    times out, or ``path`` is not in a work tree, the script fallback is taken. If only listing
    the untracked files fails (a huge untracked tree can exceed the timeout), the git state is
    kept and ``untracked_truncated`` is set.

    Examples
    --------
    >>> import hashlib, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> entry = folder / "train.py"
    >>> _ = entry.write_bytes(b"print('hi')\\n")
    >>> cv = capture_code_version(folder, script=entry)
    >>> cv.kind in {"git", "script"}
    True
    >>> cv.script_sha256 == hashlib.sha256(b"print('hi')\\n").hexdigest()
    True
    >>> sorted(cv.to_dict())[:4]
    ['branch', 'commit', 'diff_sha256', 'dirty']
    """
    notes: list[str] = []
    script_path = _entry_script() if script is None else Path(script).expanduser().absolute()
    script_sha256: str | None = None
    if script_path is not None:
        try:
            script_sha256 = _sha256_file(script_path)
        except OSError as exc:
            notes.append(f"entry script {script_path} could not be read ({exc.strerror or exc})")
    script_text = None if script_path is None else str(script_path)

    try:
        state = _git_state(path, timeout=timeout, max_untracked=max(0, int(max_untracked)))
    except _GitUnavailable as exc:
        notes.insert(0, str(exc))
        if script_sha256 is not None:
            kind = "script"
        else:
            kind = "unknown"
            if script_path is None:
                notes.append("no entry script to hash")
        return CodeVersion(
            kind=kind, script=script_text, script_sha256=script_sha256, note="; ".join(notes)
        )
    notes.extend(state.notes)
    return CodeVersion(
        kind="git",
        commit=state.commit,
        branch=state.branch,
        dirty=state.diff is not None,
        diff_sha256=None if state.diff is None else hashlib.sha256(state.diff).hexdigest(),
        diff=state.diff,
        untracked=state.untracked,
        untracked_truncated=state.untracked_truncated,
        root=state.root,
        script=script_text,
        script_sha256=script_sha256,
        note="; ".join(notes) or None,
    )


class _GitUnavailable(Exception):
    """Git could not describe the code; ``str()`` says why, in words fit for a note."""


@dataclass(frozen=True)
class _GitState:
    root: str
    commit: str | None
    branch: str | None
    diff: bytes | None
    untracked: tuple[str, ...]
    untracked_truncated: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Git:
    executable: str
    cwd: Path
    timeout: float
    env: Mapping[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = [self.executable, "-c", "core.quotepath=off", *args]
        try:
            return subprocess.run(
                command,
                cwd=self.cwd,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise _GitUnavailable(f"git {args[0]} timed out after {self.timeout:g} s") from exc
        except OSError as exc:
            raise _GitUnavailable(f"git could not be run ({exc.strerror or exc})") from exc

    def failed(self, args: str, proc: subprocess.CompletedProcess[bytes]) -> _GitUnavailable:
        message = _text(proc.stderr).strip().splitlines()
        detail = message[0] if message else f"exit status {proc.returncode}"
        return _GitUnavailable(f"git {args} failed: {detail}")


def _git_state(path: str | Path | None, *, timeout: float, max_untracked: int) -> _GitState:
    start = Path.cwd() if path is None else Path(path).expanduser()
    if start.is_file():
        start = start.parent
    if not start.is_dir():
        raise _GitUnavailable(f"{start} is not an existing directory")
    env = dict(os.environ)
    # Never take the index lock (a concurrent `git commit` must not fail because of us),
    # never prompt, and keep git's messages in English for the note.
    env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    executable = shutil.which("git", path=env.get("PATH"))
    if executable is None:
        raise _GitUnavailable("git executable not found on PATH")
    git = _Git(executable, start, timeout, env)

    proc = git.run("rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        if b"not a git repository" in proc.stderr:
            raise _GitUnavailable(f"{start} is not inside a git work tree")
        raise git.failed("rev-parse --show-toplevel", proc)
    root = Path(_text(proc.stdout).strip())
    git = _Git(executable, root, timeout, env)

    proc = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if proc.returncode not in (0, 1):
        raise git.failed("rev-parse HEAD", proc)
    commit = _text(proc.stdout).strip() if proc.returncode == 0 else None

    proc = git.run("symbolic-ref", "--quiet", "--short", "HEAD")
    if proc.returncode not in (0, 1):
        raise git.failed("symbolic-ref HEAD", proc)
    branch = _text(proc.stdout).strip() if proc.returncode == 0 else None

    # Without a commit there is no HEAD to diff against: the staged changes are the diff.
    against = ("HEAD",) if commit is not None else ("--cached",)
    proc = git.run("diff", *_DIFF_OPTIONS, *against, "--")
    if proc.returncode != 0:
        raise git.failed("diff", proc)
    diff = proc.stdout or None

    untracked, truncated, note = _untracked(git, max_untracked)
    return _GitState(
        root=str(root),
        commit=commit,
        branch=branch,
        diff=diff,
        untracked=untracked,
        untracked_truncated=truncated,
        notes=() if note is None else (note,),
    )


def _untracked(git: _Git, max_untracked: int) -> tuple[tuple[str, ...], bool, str | None]:
    """Untracked, not ignored files, whether the list is incomplete, and why if it is."""
    try:
        proc = git.run("ls-files", "--others", "--exclude-standard", "-z")
    except _GitUnavailable as exc:
        return (), True, f"untracked files not listed: {exc}"
    if proc.returncode != 0:
        return (), True, f"untracked files not listed: {git.failed('ls-files', proc)}"
    names = [_text(name) for name in proc.stdout.split(b"\0") if name]
    return tuple(names[:max_untracked]), len(names) > max_untracked, None


def _entry_script() -> Path | None:
    """The file the interpreter was started with, if it is a file."""
    main = sys.modules.get("__main__")
    candidate = getattr(main, "__file__", None)
    if not candidate and "ipykernel" not in sys.modules and sys.argv:
        candidate = sys.argv[0]
    if not candidate or candidate in ("-c", "-m"):
        return None
    script = Path(candidate).absolute()
    return script if script.is_file() else None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _text(raw: bytes) -> str:
    # Paths are bytes to git; keep undecodable ones visible instead of failing.
    return raw.decode("utf-8", errors="backslashreplace")
