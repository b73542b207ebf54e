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
    files = sorted(p for p in (tmp_path / "objects" / "sha256").rglob("*") if p.is_file())
    assert [p.name for p in files] == [f"{digest}.bin", f"{digest}.bin.check"]
    assert files[0].read_bytes() == b"hello"
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
    assert store._location(digest, suffix=".parquet").startswith("memory://")
    assert store._location(digest, suffix=".parquet").endswith(
        f"sha256/{digest[:2]}/{digest}.parquet"
    )


def _pair(store: LocalObjectStore, digest: str, suffix: str = ".bin") -> tuple[Path, Path]:
    obj = Path(store._location(digest, suffix=suffix))
    return obj, obj.with_name(obj.name + ".check")


def test_reads_check_the_recorded_value_and_bind_it_to_the_name(tmp_path: Path) -> None:
    """The fast check file vouches only for its own object's bytes: a byte flip, or another
    object's bytes and check file copied over this one, are both refused."""
    from dcai.errors import CorruptObjectError

    store = LocalObjectStore(tmp_path)
    a = store.put_bytes(b"version A " * 1000, suffix=".bin")
    b = store.put_bytes(b"version B " * 1000, suffix=".bin")
    assert store.read_bytes(a, suffix=".bin") == b"version A " * 1000
    a_obj, a_check = _pair(store, a)
    b_obj, b_check = _pair(store, b)
    assert a_check.read_text().startswith("xxh3_128:")
    # Another object's bytes *and* its check file copied over B: still refused.
    for path in (b_obj, b_check):
        path.chmod(0o644)
    b_obj.write_bytes(a_obj.read_bytes())
    b_check.write_text(a_check.read_text())
    with pytest.raises(CorruptObjectError, match=b[:12]):
        store.read_bytes(b, suffix=".bin")
    # A flipped byte under an intact check file: refused.
    a_obj.chmod(0o644)
    data = bytearray(a_obj.read_bytes())
    data[5] ^= 0x01
    a_obj.write_bytes(bytes(data))
    with pytest.raises(CorruptObjectError, match=a[:12]):
        store.read_bytes(a, suffix=".bin")


def test_a_missing_or_wrong_check_file_falls_back_to_sha256_and_is_rewritten(
    tmp_path: Path,
) -> None:
    store = LocalObjectStore(tmp_path)
    digest = store.put_bytes(b"payload", suffix=".bin")
    _, check = _pair(store, digest)
    good = check.read_text()
    check.unlink()
    assert store.read_bytes(digest, suffix=".bin") == b"payload"
    assert check.read_text() == good
    check.write_text("xxh3_128:" + "0" * 32 + "\n")  # a wrong value never refuses good bytes
    assert store.read_bytes(digest, suffix=".bin") == b"payload"
    assert check.read_text() == good
    check.write_bytes(b"\xff\xfe garbage")
    assert store.read_bytes(digest, suffix=".bin") == b"payload"
    assert check.read_text() == good


def test_check_files_are_not_objects(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    digest = store.put_bytes(b"payload", suffix=".bin")
    assert [(e.digest, e.suffix) for e in store.iter_objects()] == [(digest, ".bin")]
    store.delete(digest, suffix=".bin")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_parquet_reads_are_verified_through_the_check_file(tmp_path: Path) -> None:
    import pandas as pd

    from dcai.errors import CorruptObjectError
    from dcai.store import read_parquet_object

    store = LocalObjectStore(tmp_path)
    frame = pd.DataFrame({"x": range(1000), "y": [f"t{i}" for i in range(1000)]})
    digest = store.write(lambda p: frame.to_parquet(p), suffix=".parquet")
    pd.testing.assert_frame_equal(read_parquet_object(store, digest, suffix=".parquet"), frame)
    obj, _ = _pair(store, digest, ".parquet")
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x40
    obj.write_bytes(bytes(data))
    with pytest.raises(CorruptObjectError, match="toy@1"):
        read_parquet_object(store, digest, suffix=".parquet", what="toy@1")
