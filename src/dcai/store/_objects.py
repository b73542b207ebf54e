"""Content-addressed object store: each object is named by the sha256 of its bytes.

Objects live at ``<root>/sha256/<first two hex>/<hash><suffix>``. Writing the same bytes
twice stores them once; writes are atomic, so a killed process leaves at most a stray
temporary file and never a half object under a real name.

The default root is a local folder. Any fsspec URL (``s3://``, ``gs://``, ``memory://``)
selects :class:`FsspecObjectStore` with the same layout, through :func:`open_object_store`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from dcai._atomic import atomic_path
from dcai._optional import import_optional
from dcai.errors import UnknownRefError, WorkspaceError
from dcai.store._hashing import sha256_file

__all__ = ["FsspecObjectStore", "LocalObjectStore", "ObjectStore", "open_object_store"]


class ObjectStore(Protocol):
    """What the workspace needs from an artifact store."""

    url: str

    def put_file(self, path: Path, *, suffix: str = "") -> str:
        """Store a local file's bytes; return their sha256."""

    def write(self, writer: Callable[[Path], None], *, suffix: str = "") -> str:
        """Call ``writer(tmp_path)`` to produce a file, store it, return its sha256."""

    def exists(self, digest: str, *, suffix: str = "") -> bool:
        """Whether an object is stored."""

    def local_path(self, digest: str, *, suffix: str = "") -> str:
        """A path or URL readers (pandas, pyarrow) can open directly."""

    def size(self, digest: str, *, suffix: str = "") -> int:
        """The object's size in bytes."""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _relative(digest: str, suffix: str) -> str:
    return f"sha256/{digest[:2]}/{digest}{suffix}"


class LocalObjectStore:
    """Objects as files under a local folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, digest: str, suffix: str) -> Path:
        return self.root / _relative(digest, suffix)

    def write(self, writer: Callable[[Path], None], *, suffix: str = "") -> str:
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging, suffix=suffix)
        os.close(fd)
        tmp = Path(name)
        try:
            writer(tmp)
            return self.put_file(tmp, suffix=suffix, _move=True)
        finally:
            if tmp.exists():
                tmp.unlink()

    def put_file(self, path: Path, *, suffix: str = "", _move: bool = False) -> str:
        digest = sha256_file(path)
        target = self._path(digest, suffix)
        if target.exists():
            # Refresh the time so garbage collection's grace period covers this new use.
            os.utime(target)
            return digest
        if _move:
            target.parent.mkdir(parents=True, exist_ok=True)
            _fsync(path)  # the bytes reach the disk before the name does
            os.chmod(path, 0o444)
            os.replace(path, target)
        else:
            with atomic_path(target) as tmp:
                shutil.copyfile(path, tmp)
                os.chmod(tmp, 0o444)
        return digest

    def exists(self, digest: str, *, suffix: str = "") -> bool:
        return self._path(digest, suffix).exists()

    def local_path(self, digest: str, *, suffix: str = "") -> str:
        path = self._path(digest, suffix)
        if not path.exists():
            raise UnknownRefError(
                f"object {digest[:12]} is missing from the artifact store",
                path=str(path),
                hint="The workspace may have been copied partially; restore the objects folder.",
            )
        return str(path)

    def size(self, digest: str, *, suffix: str = "") -> int:
        return self._path(digest, suffix).stat().st_size


class FsspecObjectStore:
    """Objects under any fsspec URL (``s3://bucket/prefix``, ``memory://dcai``)."""

    def __init__(self, url: str) -> None:
        fsspec = import_optional("fsspec", extra="s3", purpose="An object-store artifact URL")
        self.url = url.rstrip("/")
        fs, root = fsspec.core.url_to_fs(self.url)
        self.fs: Any = fs
        self.root: str = root

    def _path(self, digest: str, suffix: str) -> str:
        return f"{self.root}/{_relative(digest, suffix)}"

    def write(self, writer: Callable[[Path], None], *, suffix: str = "") -> str:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir) / f"object{suffix}"
            writer(tmp)
            return self.put_file(tmp, suffix=suffix)

    def put_file(self, path: Path, *, suffix: str = "") -> str:
        digest = sha256_file(path)
        target = self._path(digest, suffix)
        if not self.fs.exists(target):
            # Upload under a temporary name, then move: readers never see a partial object.
            staging = f"{self.root}/tmp/{digest}{suffix}.{os.getpid()}"
            self.fs.put_file(str(path), staging)
            self.fs.mv(staging, target)
        return digest

    def exists(self, digest: str, *, suffix: str = "") -> bool:
        return bool(self.fs.exists(self._path(digest, suffix)))

    def local_path(self, digest: str, *, suffix: str = "") -> str:
        path = self._path(digest, suffix)
        if not self.fs.exists(path):
            raise UnknownRefError(f"object {digest[:12]} is missing from {self.url}")
        return str(self.fs.unstrip_protocol(path))

    def size(self, digest: str, *, suffix: str = "") -> int:
        return int(self.fs.size(self._path(digest, suffix)))


def open_object_store(url: str) -> LocalObjectStore | FsspecObjectStore:
    """Choose the artifact store by URL scheme: a plain path is local, anything else fsspec."""
    if "://" not in url or url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create the artifact folder: {exc}", path=str(root)
            ) from exc
        return LocalObjectStore(root)
    return FsspecObjectStore(url)
