"""Content-addressed object stores: local folder and any fsspec URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dcai.store import FsspecObjectStore, LocalObjectStore, open_object_store


def _write(data: bytes):  # type: ignore[no-untyped-def]
    def writer(path: Path) -> None:
        path.write_bytes(data)

    return writer


def test_local_store_names_objects_by_sha256_and_stores_once(tmp_path: Path) -> None:
    store = open_object_store(str(tmp_path / "objects"))
    assert isinstance(store, LocalObjectStore)
    digest = store.write(_write(b"hello"), suffix=".bin")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert store.write(_write(b"hello"), suffix=".bin") == digest
    files = [p for p in (tmp_path / "objects" / "sha256").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == b"hello"
    assert store.size(digest, suffix=".bin") == 5
    assert not list((tmp_path / "objects" / "tmp").iterdir())


def test_a_failing_writer_leaves_nothing(tmp_path: Path) -> None:
    store = open_object_store(str(tmp_path / "objects"))

    def broken(path: Path) -> None:
        path.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.write(broken)
    assert not [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]


def test_fsspec_store_has_the_same_layout() -> None:
    pytest.importorskip("fsspec")
    store = open_object_store("memory://dcai-test/objects")
    assert isinstance(store, FsspecObjectStore)
    digest = store.write(_write(b"abc"), suffix=".parquet")
    assert store.exists(digest, suffix=".parquet")
    assert store.local_path(digest, suffix=".parquet").startswith("memory://")
    assert store.local_path(digest, suffix=".parquet").endswith(
        f"sha256/{digest[:2]}/{digest}.parquet"
    )
