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
    """A file's hex sha256 and hex XXH3-128 (the store's check value), in one pass.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a"
    >>> _ = path.write_bytes(b"")
    >>> [h[:8] for h in sha256_and_check_file(path)]
    ['e3b0c442', '99aa06d3']
    """
    import xxhash

    digest, check = hashlib.sha256(), xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            check.update(chunk)
    return digest.hexdigest(), str(check.hexdigest())
