"""Content-addressed object store: each object is named by the sha256 of its bytes.

Objects live at ``<root>/sha256/<first two hex>/<hash><suffix>``. Writing the same bytes
twice stores them once; writes are atomic, so a killed process leaves at most a stray
temporary file and never a half object under a real name.

Reads are verified: every read checks the bytes against the object's name and refuses bytes that
do not match (a flipped bit, or another object's bytes copied over it), so damaged data is never
served as if it were the version asked for. Storing bytes whose object exists but is damaged
repairs the object.

The local store keeps, beside each object, a *check file* (``<name>.check``): the object's sha256
name and the XXH3-128 of its bytes (both computed in the one pass that stores it). Reads compare
against it (≈25 GB/s, against ≈1.8 GB/s for sha256, so verification costs a few percent of a
Parquet decode instead of a quarter of it). A check file counts only when the name it records
is the object's, so a check file copied from another object never vouches for the wrong bytes.
A missing or mismatching check file is never trusted either way: the read falls back to the
full sha256, accepts only bytes that hash to the name, and rewrites the check file. ``dcai verify`` always uses sha256.

The default root is a local folder. Any fsspec URL (``s3://``, ``gs://``, ``memory://``)
selects :class:`FsspecObjectStore` with the same layout, through :func:`open_object_store`.

>>> import tempfile
>>> store = LocalObjectStore(tempfile.mkdtemp())
>>> digest = store.write(lambda p: p.write_bytes(b"hello"))
>>> store.read_bytes(digest)
b'hello'
>>> [entry.digest == digest for entry in store.iter_objects()]
[True]
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from dcai._atomic import atomic_path
from dcai._optional import import_optional
from dcai.errors import CorruptObjectError, StorageError, UnknownRefError, WorkspaceError
from dcai.store._hashing import sha256_and_check_file, sha256_file

__all__ = [
    "FsspecObjectStore",
    "LocalObjectStore",
    "ObjectEntry",
    "ObjectStore",
    "open_object_store",
    "read_parquet_object",
    "storage_error",
]

_CHUNK = 1 << 20

#: errno values that mean "this store cannot take the write", not a bug.
_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
}


def _free_space(path: Path) -> str:
    for candidate in (path, *path.parents):
        try:
            free = shutil.disk_usage(candidate).free
        except OSError:
            continue
        return f"{free / 1e6:,.1f} MB free"
    return "free space unknown"


def storage_error(exc: OSError, path: Path | str, *, what: str = "write") -> StorageError | None:
    """The one-line :class:`StorageError` for a full, read-only or denied store, else None.

    >>> str(storage_error(OSError(errno.EROFS, "Read-only file system"), "/ws/objects"))
    'cannot write /ws/objects: read-only file system. Nothing was committed; make the store writable and retry.'
    """
    code = exc.errno or 0
    if code not in _STORAGE_ERRNOS:
        # Some writers (pyarrow) raise OSError with the reason only in the text.
        text = str(exc).lower()
        if "no space left" in text:
            code = errno.ENOSPC
        elif "read-only file system" in text:
            code = errno.EROFS
    reason = _STORAGE_ERRNOS.get(code)
    if reason is None:
        return None
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason = f"{reason} ({_free_space(Path(path))})"
        hint = "Nothing was committed; free some space and retry."
    else:
        hint = "Nothing was committed; make the store writable and retry."
    return StorageError(f"cannot {what} {path}: {reason}", hint=hint)


@contextmanager
def _storage_errors(path: Path | str) -> Iterator[None]:
    """Turn a full, read-only or denied store into a :class:`StorageError`."""
    try:
        yield
    except OSError as exc:
        error = storage_error(exc, path)
        if error is None:
            raise
        raise error from exc


def _corrupt(digest: str, what: str | None, location: str, actual: str) -> CorruptObjectError:
    subject = f"{what}: " if what else ""
    return CorruptObjectError(
        f"{subject}stored object {digest[:12]} is damaged or was replaced (its bytes hash to "
        f"{actual[:12]}); refusing to use it",
        path=location,
        hint="Run `dcai verify` to check every object, then restore the workspace from a "
        "backup (dcai backup) or add the data again.",
    )


@dataclass(frozen=True)
class ObjectEntry:
    """One stored object as listed by :meth:`LocalObjectStore.iter_objects`."""

    digest: str
    suffix: str
    size: int
    mtime: float
    location: str


class ObjectStore(Protocol):
    """What the workspace needs from an artifact store."""

    url: str

    def put_file(self, path: Path, *, suffix: str = "") -> str:
        """Store a local file's bytes; return their sha256."""

    def write(self, writer: Callable[[Path], None], *, suffix: str = "") -> str:
        """Call ``writer(tmp_path)`` to produce a file, store it, return its sha256."""

    def put_bytes(self, data: bytes, *, suffix: str = "") -> str:
        """Store ``data`` (atomically, content-addressed); return its sha256."""

    def open(self, digest: str, *, suffix: str = "", what: str | None = None) -> BinaryIO:
        """A readable binary file of the object's bytes, verified before it is returned."""

    def exists(self, digest: str, *, suffix: str = "") -> bool:
        """Whether an object is stored."""

    def size(self, digest: str, *, suffix: str = "") -> int:
        """The object's size in bytes."""

    def read_bytes(self, digest: str, *, suffix: str = "", what: str | None = None) -> bytes:
        """The object's bytes, verified against ``digest`` (:class:`CorruptObjectError` if not)."""

    def check(self, digest: str, *, suffix: str = "") -> str | None:
        """The sha256 of the stored bytes when they do not match ``digest``, else None."""

    def iter_objects(self) -> Iterator[ObjectEntry]:
        """Every stored object (not temporaries)."""

    def delete(self, digest: str, *, suffix: str = "") -> None:
        """Remove an object (garbage collection and ``verify --repair`` only)."""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _relative(digest: str, suffix: str) -> str:
    return f"sha256/{digest[:2]}/{digest}{suffix}"


#: Suffix of the check file kept beside each local object.
CHECK_SUFFIX = ".check"
_CHECK_PREFIX = "xxh3_128:"


def _check_value(data: Any) -> str:
    """XXH3-128 of an object's bytes (``data``: bytes or a buffer)."""
    import xxhash

    return str(xxhash.xxh3_128(data).hexdigest())


class _Convenience:
    """``put_bytes`` and ``open`` in terms of ``write`` and ``read_bytes`` (both stores)."""

    def write(self, writer: Callable[[Path], None], *, suffix: str = "") -> str:
        raise NotImplementedError

    def read_bytes(self, digest: str, *, suffix: str = "", what: str | None = None) -> bytes:
        raise NotImplementedError

    def put_bytes(self, data: bytes, *, suffix: str = "") -> str:
        def writer(path: Path) -> None:
            path.write_bytes(data)

        return self.write(writer, suffix=suffix)

    def open(self, digest: str, *, suffix: str = "", what: str | None = None) -> BinaryIO:
        return io.BytesIO(self.read_bytes(digest, suffix=suffix, what=what))


class LocalObjectStore(_Convenience):
    """Objects as files under a local folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, digest: str, suffix: str) -> Path:
        return self.root / _relative(digest, suffix)

    def write(self, writer: Callable[[Path], None], *, suffix: str = "") -> str:
        staging = self.root / "tmp"
        with _storage_errors(self.root):
            staging.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=staging, suffix=suffix)
            os.close(fd)
        tmp = Path(name)
        try:
            with _storage_errors(self.root):
                writer(tmp)
                return self.put_file(tmp, suffix=suffix, _move=True)
        finally:
            if tmp.exists():
                tmp.unlink()

    def put_file(self, path: Path, *, suffix: str = "", _move: bool = False) -> str:
        digest, check = sha256_and_check_file(path)
        target = self._path(digest, suffix)
        with _storage_errors(self.root):
            if target.exists():
                if self.check(digest, suffix=suffix) is None:
                    # Refresh the time so garbage collection's grace period covers this use.
                    os.utime(target)
                    self._write_check(digest, suffix, check)
                    return digest
                # The stored object is damaged: these bytes repair it.
                target.unlink()
            # The check file first: an object never exists without its check for long, and
            # a check without its object is harmless (never read, removed with the object).
            self._write_check(digest, suffix, check)
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

    def _check_path(self, digest: str, suffix: str) -> Path:
        return self.root / (_relative(digest, suffix) + CHECK_SUFFIX)

    def _write_check(self, digest: str, suffix: str, value: str) -> None:
        """Record the check value; best effort (a read-only store still reads, via sha256)."""
        path = self._check_path(digest, suffix)
        line = f"{_CHECK_PREFIX}{digest}:{value}\n".encode("ascii")
        try:
            if path.exists() and path.read_bytes() == line:
                return
            with atomic_path(path) as tmp:
                tmp.write_bytes(line)
        except OSError:
            pass

    def _recorded_check(self, digest: str, suffix: str) -> str | None:
        """The check value recorded for *this* object: a check file that names another
        object (copied over with its bytes) vouches for nothing."""
        try:
            text = self._check_path(digest, suffix).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        named, _, value = text.removeprefix(_CHECK_PREFIX).partition(":")
        return value if text.startswith(_CHECK_PREFIX) and named == digest and value else None

    def verify_buffer(
        self, digest: str, data: Any, *, suffix: str = "", what: str | None = None
    ) -> None:
        """Raise :class:`CorruptObjectError` unless ``data`` are the object's bytes.

        The fast path compares the recorded check value; anything else (no check file, or one
        that disagrees) is settled by the full sha256, which also rewrites the check file.
        """
        recorded = self._recorded_check(digest, suffix)
        if recorded is not None and recorded == _check_value(data):
            return
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise _corrupt(digest, what, str(self._path(digest, suffix)), actual)
        self._write_check(digest, suffix, _check_value(data))

    def read_bytes(self, digest: str, *, suffix: str = "", what: str | None = None) -> bytes:
        path = Path(self._location(digest, suffix=suffix))
        data = path.read_bytes()  # one read, one copy: the caller holds all of it anyway
        self.verify_buffer(digest, data, suffix=suffix, what=what)
        return data

    def check(self, digest: str, *, suffix: str = "") -> str | None:
        actual, _ = sha256_and_check_file(self._path(digest, suffix))
        return None if actual == digest else actual

    def iter_objects(self) -> Iterator[ObjectEntry]:
        for path in sorted((self.root / "sha256").glob("*/*")):
            if path.name.endswith(CHECK_SUFFIX) or not path.is_file():
                continue
            digest, dot, rest = path.name.partition(".")
            stat = path.stat()
            yield ObjectEntry(digest, dot + rest, stat.st_size, stat.st_mtime, str(path))

    def delete(self, digest: str, *, suffix: str = "") -> None:
        self._path(digest, suffix).unlink(missing_ok=True)
        self._check_path(digest, suffix).unlink(missing_ok=True)

    def exists(self, digest: str, *, suffix: str = "") -> bool:
        return self._path(digest, suffix).exists()

    def _location(self, digest: str, *, suffix: str = "") -> str:
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


class FsspecObjectStore(_Convenience):
    """Objects under any fsspec URL (``s3://bucket/prefix``, ``memory://dcai``)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        fsspec = import_optional("fsspec", extra="s3", purpose="An object-store artifact URL")
        self.url = url.rstrip("/")
        fs, root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
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
        if self.fs.exists(target) and self.check(digest, suffix=suffix) is not None:
            self.fs.rm(target)  # damaged: these bytes repair it
        if not self.fs.exists(target):
            # Upload under a temporary name, then move: readers never see a partial object.
            staging = f"{self.root}/tmp/{digest}{suffix}.{os.getpid()}"
            self.fs.put_file(str(path), staging)
            self.fs.mv(staging, target)
        return digest

    def exists(self, digest: str, *, suffix: str = "") -> bool:
        return bool(self.fs.exists(self._path(digest, suffix)))

    def _location(self, digest: str, *, suffix: str = "") -> str:
        path = self._path(digest, suffix)
        if not self.fs.exists(path):
            raise UnknownRefError(f"object {digest[:12]} is missing from {self.url}")
        return str(self.fs.unstrip_protocol(path))

    def size(self, digest: str, *, suffix: str = "") -> int:
        return int(self.fs.size(self._path(digest, suffix)))

    def read_bytes(self, digest: str, *, suffix: str = "", what: str | None = None) -> bytes:
        path = self._path(digest, suffix)
        if not self.fs.exists(path):
            raise UnknownRefError(f"object {digest[:12]} is missing from {self.url}")
        hasher = hashlib.sha256()
        buffer = bytearray()
        with self.fs.open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
                buffer += chunk
        actual = hasher.hexdigest()
        if actual != digest:
            raise _corrupt(digest, what, str(self.fs.unstrip_protocol(path)), actual)
        return bytes(buffer)

    def check(self, digest: str, *, suffix: str = "") -> str | None:
        hasher = hashlib.sha256()
        with self.fs.open(self._path(digest, suffix), "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
        actual = hasher.hexdigest()
        return None if actual == digest else actual

    def iter_objects(self) -> Iterator[ObjectEntry]:
        base = f"{self.root}/sha256"
        if not self.fs.exists(base):
            return
        for path, info in sorted(self.fs.find(base, detail=True).items()):
            name = path.rsplit("/", 1)[-1]
            digest, dot, rest = name.partition(".")
            mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0.0
            stamp = mtime.timestamp() if hasattr(mtime, "timestamp") else float(mtime)
            yield ObjectEntry(digest, dot + rest, int(info.get("size", 0)), stamp, path)

    def delete(self, digest: str, *, suffix: str = "") -> None:
        path = self._path(digest, suffix)
        if self.fs.exists(path):
            self.fs.rm(path)


def open_object_store(
    url: str, storage_options: dict[str, Any] | None = None
) -> LocalObjectStore | FsspecObjectStore:
    """Choose the artifact store by URL scheme: a plain path is local, anything else fsspec
    (with ``storage_options``: endpoint, credentials, ...)."""
    if "://" not in url or url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create the artifact folder: {exc}", path=str(root)
            ) from exc
        return LocalObjectStore(root)
    return FsspecObjectStore(url, storage_options)


def read_parquet_object(
    store: ObjectStore,
    digest: str,
    *,
    suffix: str = "",
    columns: list[str] | None = None,
    what: str | None = None,
) -> Any:
    """A Parquet object as a DataFrame, after its bytes are checked against ``digest``.

    ``what`` names the object for the error (``"dataset version toy@3f2a9c1"``).
    """
    import pandas as pd
    import pyarrow as pa

    if isinstance(store, LocalObjectStore):
        # Map the file once and check the mapped bytes before pyarrow decodes the very same
        # bytes: no copy, and nothing unverified is ever decoded or served.
        path = store._location(digest, suffix=suffix)
        with pa.memory_map(path) as source:
            buffer = source.read_buffer()
            store.verify_buffer(digest, memoryview(buffer), suffix=suffix, what=what)
            frame = pd.read_parquet(pa.BufferReader(buffer), columns=columns)
            del buffer
        return frame
    data = store.read_bytes(digest, suffix=suffix, what=what)
    return pd.read_parquet(pa.BufferReader(data), columns=columns)
