"""Foundation: the metadata database and the content-addressed artifact store."""

from __future__ import annotations

from dcai.store._metadata import SCHEMA_VERSION, MetadataStore, sqlite_file
from dcai.store._objects import (
    FsspecObjectStore,
    LocalObjectStore,
    ObjectStore,
    open_object_store,
    read_parquet_object,
)

__all__ = [
    "SCHEMA_VERSION",
    "FsspecObjectStore",
    "LocalObjectStore",
    "MetadataStore",
    "ObjectStore",
    "open_object_store",
    "read_parquet_object",
    "sqlite_file",
]
