"""The workspace: the root object that holds datasets, versions and (later) audits, runs, models.

A workspace is a folder with ``dcai.toml`` (settings), a metadata database and a
content-addressed object store. The defaults are SQLite and local files; ``dcai.toml``
(or ``DCAI_METADATA_URL`` / ``DCAI_OBJECTS_URL``) can point them at PostgreSQL and object
storage with no other change.

Examples
--------
>>> import tempfile, pandas as pd
>>> ws = Workspace(tempfile.mkdtemp() + "/ws")
>>> v1 = ws.add_dataset("toy", pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]}))
>>> v1.rows, v1.created
(4, True)
>>> ws.add_dataset("toy", pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]})).created
False
>>> v2 = ws.add_dataset("toy", pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "b", "b"]}))
>>> ws.data.diff(v1.ref, v2.ref).counts["relabeled"]
1
>>> [v.operation for v in ws.data.log("toy")]
['add', 'add']
>>> ws.close()

The workspace is a thin root: its :class:`~dcai.store.Stores` and one namespace per area —
``ws.data``, ``ws.labels``, ``ws.quality``, ``ws.analysis``, ``ws.runs``, ``ws.models`` — each
defined in its own package, over the workflows that the CLI calls too. The flat names that
earlier releases documented (``ws.add_dataset``, ``ws.split``, ``ws.audit``, ``ws.review``,
``ws.analyze``, ``ws.start_run``, ``ws.runs(where=...)``, ``ws.train``, ``ws.load_model``) are
shortcuts, listed together below.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcai._progress import ProgressCallback
from dcai.config import Settings
from dcai.store import (
    DEFAULT_GRACE_SECONDS,
    GcReport,
    MetadataStore,
    ObjectStore,
    Stores,
    collect_garbage,
)

if TYPE_CHECKING:
    # Only for annotations: the data and label modules load pandas and pyarrow, which a
    # command such as ``dcai data list`` never needs (each method imports what it uses).
    from collections.abc import Iterable, Mapping, Sequence

    import pandas as pd

    from dcai.analysis.namespace import AnalysisNamespace
    from dcai.analysis.workflow import ErrorAnalysis
    from dcai.data.namespace import DataNamespace
    from dcai.data.versions import DatasetVersion
    from dcai.deploy.namespace import DeploymentsNamespace
    from dcai.experiments.namespace import ModelsNamespace, RunsNamespace
    from dcai.experiments.runs import Run
    from dcai.experiments.train import TrainResult
    from dcai.labels.namespace import LabelsNamespace
    from dcai.monitor.namespace import MonitorNamespace
    from dcai.project.namespace import ProjectNamespace
    from dcai.quality.audit import Audit
    from dcai.quality.namespace import QualityNamespace
    from dcai.quality.review import Review
    from dcai.rules.namespace import RulesNamespace
    from dcai.store import BackupReport, VerifyReport

__all__ = ["Workspace"]


class Workspace:
    """A dcai workspace: datasets and their versions, with lineage.

    Parameters
    ----------
    path
        The workspace folder; ``$DCAI_HOME`` or ``./.dcai`` when omitted.
    create
        Create the workspace when it does not exist (the CLI passes ``False`` outside
        ``dcai init``, so a mistyped path is an error rather than a new workspace).
    metadata_url, objects_url
        Override the stores named in ``dcai.toml``.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        create: bool = True,
        metadata_url: str | None = None,
        objects_url: str | None = None,
    ) -> None:
        self.stores = Stores.open(
            path, create=create, metadata_url=metadata_url, objects_url=objects_url
        )

    @property
    def path(self) -> Path:
        """The workspace folder."""
        return self.stores.path

    @property
    def settings(self) -> Settings:
        """Settings from ``dcai.toml`` and ``DCAI_*`` variables."""
        return self.stores.settings

    @property
    def meta(self) -> MetadataStore:
        """The metadata database."""
        return self.stores.meta

    @property
    def objects(self) -> ObjectStore:
        """The content-addressed object store."""
        return self.stores.objects

    @classmethod
    def init(cls, path: str | Path | None = None) -> Workspace:
        """Create (or open, if it exists) a workspace at ``path``.

        >>> import tempfile
        >>> Workspace.init(tempfile.mkdtemp() + "/new").data.datasets()
        []
        """
        return cls(path, create=True)

    def close(self) -> None:
        """Release database connections.

        >>> ws.close()  # the workspace can be opened again at any time
        """
        self.stores.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.path}>"

    # Namespaces: one per area, each defined in its own package (loaded on first use) ------

    @cached_property
    def data(self) -> DataNamespace:
        """Datasets and versions: add, version, log, diff, split, tag, export.

        >>> ws.data.version("digits").rows
        300
        """
        from dcai.data.namespace import DataNamespace

        return DataNamespace(self.stores)

    @cached_property
    def labels(self) -> LabelsNamespace:
        """Annotations, guidelines, agreement, consensus, HLP, conventions, sampling.

        >>> ws.labels.guidelines()
        []
        """
        from dcai.labels.namespace import LabelsNamespace

        return LabelsNamespace(self.stores)

    @cached_property
    def quality(self) -> QualityNamespace:
        """Audits and their reviews.

        >>> len(ws.quality.audits("digits"))
        1
        """
        from dcai.quality.namespace import QualityNamespace

        return QualityNamespace(self.stores)

    @cached_property
    def analysis(self) -> AnalysisNamespace:
        """Error analysis.

        >>> ws.analysis
        <ws.analysis of ...>
        """
        from dcai.analysis.namespace import AnalysisNamespace

        return AnalysisNamespace(self.stores)

    @cached_property
    def runs(self) -> RunsNamespace:
        """Tracked runs; ``ws.runs(where=...)`` lists them.

        >>> len(ws.runs())
        2
        """
        from dcai.experiments.namespace import RunsNamespace

        return RunsNamespace(self.stores)

    @cached_property
    def models(self) -> ModelsNamespace:
        """The model registry.

        >>> ws.models.get("digits@production").ref
        'digits/1'
        """
        from dcai.experiments.namespace import ModelsNamespace

        return ModelsNamespace(self.stores)

    @cached_property
    def deployments(self) -> DeploymentsNamespace:
        """Deployments: canary, shadow, promote, rollback, degree of automation.

        >>> ws.deployments.get("web").primary
        'digits/1'
        """
        from dcai.deploy.namespace import DeploymentsNamespace

        return DeploymentsNamespace(self.stores)

    @cached_property
    def monitor(self) -> MonitorNamespace:
        """Monitoring: ``ws.monitor(NAME)`` measures a deployment's log per window.

        >>> ws.monitor("web").windows.empty  # nothing served yet
        True
        """
        from dcai.monitor.namespace import MonitorNamespace

        return MonitorNamespace(self.stores)

    @cached_property
    def rules(self) -> RulesNamespace:
        """Labeling rules measured on dataset versions (``dcai rules``).

        >>> ws.rules
        <ws.rules of ...>
        """
        from dcai.rules.namespace import RulesNamespace

        return RulesNamespace(self.stores)

    @cached_property
    def project(self) -> ProjectNamespace:
        """The project's targets and baselines (``dcai.toml``) and its status (``dcai status``).

        >>> ws.project
        <ws.project of ...>
        """
        from dcai.project.namespace import ProjectNamespace

        return ProjectNamespace(self.stores)

    # Shortcuts: the flat names earlier issues fixed, each one line over a namespace. -------
    # This is the only place they are listed; ``ws.runs(where=...)`` is the runs namespace
    # called.

    def add_dataset(
        self,
        name: str,
        source: pd.DataFrame | str | Path,
        *,
        label: str | None = None,
        id: str | None = None,
        text: tuple[str, ...] | list[str] = (),
        meta: tuple[str, ...] | list[str] = (),
        features: tuple[str, ...] | list[str] | None = None,
        sensitive: tuple[str, ...] | list[str] = (),
        message: str = "",
        author: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> DatasetVersion:
        """Shortcut: ``ws.data.add(...)``.

        >>> ws.add_dataset("toy", pd.DataFrame({"x": [1, 2], "label": ["a", "b"]})).rows
        2
        """
        return self.data.add(
            name,
            source,
            label=label,
            id=id,
            text=text,
            meta=meta,
            features=features,
            sensitive=sensitive,
            message=message,
            author=author,
            progress=progress,
        )

    def split(
        self,
        ref: str,
        *,
        dev: float = 0.1,
        test: float = 0.2,
        stratify: str | None = None,
        no_stratify: bool = False,
        group: str | None = None,
        seed: int = 0,
        message: str = "",
        author: str | None = None,
    ) -> DatasetVersion:
        """Shortcut: ``ws.data.split(...)``.

        >>> ws.split("digits", dev=0.3, test=0.1, seed=1).operation
        'split'
        """
        return self.data.split(
            ref,
            dev=dev,
            test=test,
            stratify=stratify,
            no_stratify=no_stratify,
            group=group,
            seed=seed,
            message=message,
            author=author,
        )

    def audit(
        self,
        ref: str,
        *,
        model: Any = None,
        pred_probs: Any = None,
        cv: int = 5,
        embeddings: bool = False,
        backend: str | None = None,
        n_jobs: int | None = None,
        random_state: int = 0,
        author: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Audit:
        """Shortcut: ``ws.quality.audit(...)``.

        >>> ws.audit("digits", cv=3).version_ref == ws.data.version("digits").ref
        True
        """
        return self.quality.audit(
            ref,
            model=model,
            pred_probs=pred_probs,
            cv=cv,
            embeddings=embeddings,
            backend=backend,
            n_jobs=n_jobs,
            random_state=random_state,
            author=author,
            progress=progress,
        )

    def review(self, audit: str) -> Review:
        """Shortcut: ``ws.quality.review(...)``.

        >>> ws.review("digits").audit.version_ref == ws.data.version("digits").ref
        True
        """
        return self.quality.review(audit)

    def analyze(
        self,
        ref: str,
        *,
        audit: str | None = None,
        split: str | None = None,
        by: Sequence[str] = (),
        slices: Sequence[str] = (),
        baselines: Mapping[str, float] | str | Path | None = None,
        metric: str = "accuracy",
        discover: bool = True,
        curves: bool = True,
        requirements: str | Path | None = None,
        baseline_version: str | None = None,
        run: str | None = None,
        hlp: str | int | None = None,
        n_boot: int = 1000,
        repeats: int = 3,
        random_state: int = 0,
        store: bool = True,
        progress: ProgressCallback | None = None,
    ) -> ErrorAnalysis:
        """Shortcut: ``ws.analysis.analyze(...)``.

        >>> ws.analyze("digits", curves=False, discover=False, n_boot=50).ref == ws.data.version("digits").ref
        True
        """
        return self.analysis.analyze(
            ref,
            audit=audit,
            split=split,
            by=by,
            slices=slices,
            baselines=baselines,
            metric=metric,
            discover=discover,
            curves=curves,
            requirements=requirements,
            baseline_version=baseline_version,
            run=run,
            hlp=hlp,
            n_boot=n_boot,
            repeats=repeats,
            random_state=random_state,
            store=store,
            progress=progress,
        )

    def start_run(
        self,
        *,
        experiment: str = "default",
        dataset: str | None = None,
        params: dict[str, Any] | None = None,
        name: str | None = None,
        tags: dict[str, Any] | None = None,
        author: str | None = None,
        capture_code: bool = True,
    ) -> Run:
        """Shortcut: ``ws.runs.start(...)``.

        >>> with ws.start_run(experiment="notes", capture_code=False) as run:
        ...     run.log_metric("f1", 0.5)
        >>> run.id in set(ws.runs()["run"])
        True
        """
        return self.runs.start(
            experiment=experiment,
            dataset=dataset,
            params=params,
            name=name,
            tags=tags,
            author=author,
            capture_code=capture_code,
        )

    def train(
        self,
        ref: str,
        *,
        recipe: str = "logreg",
        params: dict[str, Any] | None = None,
        experiment: str | None = None,
        test: bool = False,
        overfit_check: bool = False,
        n_boot: int = 500,
        random_state: int = 0,
        capture_code: bool = True,
    ) -> TrainResult:
        """Shortcut: ``ws.runs.train(...)``.

        >>> ws.train("digits", n_boot=0, capture_code=False).metrics["accuracy"] > 0.8
        True
        """
        return self.runs.train(
            ref,
            recipe=recipe,
            params=params,
            experiment=experiment,
            test=test,
            overfit_check=overfit_check,
            n_boot=n_boot,
            random_state=random_state,
            capture_code=capture_code,
        )

    def load_model(self, ref: str, *, trusted: Iterable[str] = ()) -> Any:
        """Shortcut: ``ws.models.load(...)``.

        >>> hasattr(ws.load_model("digits@production"), "predict_proba")
        True
        """
        return self.models.load(ref, trusted=trusted)

    # Maintenance --------------------------------------------------------------------

    def verify(
        self,
        *,
        repair: bool = False,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        progress: ProgressCallback | None = None,
    ) -> VerifyReport:
        """Check every object against its hash, the database's integrity and the references
        both ways (see :func:`dcai.store.verify_workspace`); ``repair`` removes only old orphans.

        >>> ws.verify().clean
        True
        """
        from dcai.store import verify_workspace

        return verify_workspace(
            self.meta, self.objects, repair=repair, grace_seconds=grace_seconds, progress=progress
        )

    def backup(self, dest: str | Path, *, progress: ProgressCallback | None = None) -> BackupReport:
        """Write a consistent copy of this workspace to the new folder ``dest``, which
        ``Workspace(dest)`` (or ``dcai -w DEST``) opens.

        >>> import tempfile
        >>> copy = tempfile.mkdtemp() + "/copy"
        >>> _ = ws.backup(copy)
        >>> [d.name for d in Workspace(copy).data.datasets()]
        ['digits']
        """
        from dcai.store import backup_workspace

        return backup_workspace(
            self.meta, self.objects, Path(dest), workspace_root=self.path, progress=progress
        )

    def gc(
        self,
        *,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        dry_run: bool = False,
        force: bool = False,
    ) -> GcReport:
        """Remove stored objects that no version references (left by killed or failed commits).

        Objects younger than ``grace_seconds`` are kept: they may belong to a commit that
        another process has not finished yet. Works on any object store (local or fsspec).

        >>> ws.gc(dry_run=True).removed
        0
        """
        return collect_garbage(
            self.meta, self.objects, grace_seconds=grace_seconds, dry_run=dry_run, force=force
        )
