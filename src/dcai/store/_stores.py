"""``Stores``: what every workflow is given — settings, metadata database, objects, compute.

Workflows (``dcai.data.versions``, ``dcai.quality.audit``, ``dcai.experiments.runs``, ...) take a
:class:`Stores`, never the :class:`~dcai.workspace.Workspace`: the root object and the
interfaces (CLI, server, web app) know the workspace; everything below them knows only these
four handles. A FastAPI app builds one ``Stores`` at start-up and hands it to each request
through ``Depends``; a test can build one over ``memory://`` objects.

>>> import tempfile
>>> stores = Stores.open(tempfile.mkdtemp() + "/ws")
>>> stores.settings.compute_backend, stores.compute.name
('joblib', 'joblib')
>>> stores.meta.url.startswith("sqlite:///")
True
>>> stores.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dcai._atomic import atomic_write_bytes
from dcai.compute import ComputeBackend, resolve_backend
from dcai.config import CONFIG_FILE, DEFAULT_CONFIG, Settings, default_workspace_path
from dcai.errors import WorkspaceError
from dcai.store._metadata import MetadataStore, sqlite_file
from dcai.store._objects import ObjectStore, open_object_store

__all__ = ["Stores"]


@dataclass(frozen=True)
class Stores:
    """The workspace's settings, metadata store, object store and compute backend.

    ``path`` is the workspace folder (where ``dcai.toml`` lives); the stores themselves may be
    elsewhere (``metadata_url``, ``objects_url``).
    """

    path: Path
    settings: Settings
    meta: MetadataStore
    objects: ObjectStore
    compute: ComputeBackend

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        create: bool = True,
        metadata_url: str | None = None,
        objects_url: str | None = None,
    ) -> Stores:
        """Open the stores of the workspace at ``path`` (``$DCAI_HOME`` or ``./.dcai``).

        ``create`` makes the folder and its ``dcai.toml`` when missing; otherwise a missing
        workspace is a :class:`~dcai.errors.WorkspaceError`. A folder that holds objects but
        lost its metadata database is refused, never given a fresh empty one.
        """
        root = Path(path) if path is not None else default_workspace_path()
        config = root / CONFIG_FILE
        if not config.exists():
            if not create:
                raise WorkspaceError(
                    "no dcai workspace here",
                    path=str(root),
                    hint="Create one with `dcai init`, or point at one with --workspace or "
                    "DCAI_HOME.",
                )
            _create_files(root)
        settings = Settings.load(root, metadata_url=metadata_url, objects_url=objects_url)
        refuse_missing_database(settings)
        meta = MetadataStore(settings.metadata_url)
        objects = open_object_store(settings.objects_url, settings.storage_options)
        compute = resolve_backend(settings)
        return cls(path=root, settings=settings, meta=meta, objects=objects, compute=compute)

    def close(self) -> None:
        """Release database connections."""
        self.meta.dispose()


def _create_files(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise WorkspaceError("exists and is not a folder", path=str(root))
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(root / CONFIG_FILE, DEFAULT_CONFIG.encode())


def refuse_missing_database(settings: Settings) -> None:
    """Never answer a lost metadata database with a fresh, empty one beside existing data."""
    database = sqlite_file(settings.metadata_url)
    if database is None or Path(database).exists():
        return
    objects = Path(settings.objects_url) / "sha256"
    if "://" in settings.objects_url or not objects.is_dir():
        return
    if any(True for _ in objects.glob("*/*")):
        raise WorkspaceError(
            "the metadata database is missing but the workspace holds stored objects",
            path=database,
            hint="Restore the database from a backup (made with `dcai backup DEST`); dcai "
            "will not start an empty database over existing data.",
        )
