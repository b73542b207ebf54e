"""Foundation: the metadata database, the content-addressed artifact store, and ``Stores``."""

from __future__ import annotations

from dcai.store._metadata import SCHEMA_VERSION, MetadataStore, sqlite_file
from dcai.store._objects import (
    FsspecObjectStore,
    LocalObjectStore,
    ObjectStore,
    open_object_store,
    read_parquet_object,
)
from dcai.store._stores import Stores, refuse_missing_database

__all__ = [
    "SCHEMA_VERSION",
    "FsspecObjectStore",
    "LocalObjectStore",
    "MetadataStore",
    "ObjectStore",
    "Stores",
    "open_object_store",
    "read_parquet_object",
    "refuse_missing_database",
    "sqlite_file",
]
