"""Content hashes: sha256 of bytes and files, streamed so large files use little memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``.

    >>> sha256_bytes(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_and_check_file(path: Path) -> tuple[str, str]:
    """A file's hex sha256 and its store check value, in one pass over the bytes.

    The check value is XXH3-128 of the sha256 name followed by the bytes (see
    :mod:`dcai.store._objects`): it cannot be computed before the name is known, so the bytes
    are kept in the page cache, not in memory, between the two hashes.
    """
    import xxhash

    digest = sha256_file(path)
    check = xxhash.xxh3_128(digest.encode("ascii"))
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            check.update(chunk)
    return digest, str(check.hexdigest())
