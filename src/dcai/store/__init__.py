"""Foundation: the metadata database, the content-addressed artifact store, and ``Stores``."""

from __future__ import annotations

from dcai.store._backup import BackupReport, backup_workspace
from dcai.store._gc import DEFAULT_GRACE_SECONDS, GcReport, collect_garbage
from dcai.store._metadata import SCHEMA_VERSION, MetadataStore, sqlite_file
from dcai.store._objects import (
    FsspecObjectStore,
    LocalObjectStore,
    ObjectStore,
    open_object_store,
    read_parquet_object,
)
from dcai.store._stores import Stores, refuse_missing_database
from dcai.store._verify import VerifyReport, verify_workspace

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "SCHEMA_VERSION",
    "BackupReport",
    "FsspecObjectStore",
    "GcReport",
    "LocalObjectStore",
    "MetadataStore",
    "ObjectStore",
    "Stores",
    "VerifyReport",
    "backup_workspace",
    "collect_garbage",
    "open_object_store",
    "read_parquet_object",
    "refuse_missing_database",
    "sqlite_file",
    "verify_workspace",
]
