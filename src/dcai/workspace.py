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
>>> ws.diff(v1.ref, v2.ref).counts["relabeled"]
1
>>> [v.operation for v in ws.log("toy")]
['add', 'add']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcai._progress import ProgressCallback
from dcai.config import Settings
from dcai.store import MetadataStore, ObjectStore, Stores
from dcai.store._gc import DEFAULT_GRACE_SECONDS, GcReport, collect_garbage

if TYPE_CHECKING:
    # Only for annotations: the data and label modules load pandas and pyarrow, which a
    # command such as ``dcai data list`` never needs (each method imports what it uses).
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import pandas as pd

    from dcai.analysis.workflow import ErrorAnalysis
    from dcai.data._diff import VersionDiff
    from dcai.data.catalog import DatasetSummary
    from dcai.data.operations import ExportFormat
    from dcai.data.versions import DatasetVersion
    from dcai.experiments.registry import ModelSummary, ModelVersion
    from dcai.experiments.runs import Run
    from dcai.experiments.train import TrainResult
    from dcai.labels._agreement import AgreementReport
    from dcai.labels._agreement_by import AgreementComparison
    from dcai.labels._consensus import ConsensusResult
    from dcai.labels._conventions import ConventionReport, ConventionRules
    from dcai.labels._hlp import HLPReport
    from dcai.labels.guidelines import Guideline
    from dcai.labels.reports import (
        ConsensusMethod,
        ConventionTarget,
        HLPConsensus,
        LabelReport,
        Level,
        SampleStrategy,
    )
    from dcai.quality.audit import Audit
    from dcai.quality.review import Review
    from dcai.store._backup import BackupReport
    from dcai.store._verify import VerifyReport

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
        """Create (or open, if it exists) a workspace at ``path``."""
        return cls(path, create=True)

    def close(self) -> None:
        """Release database connections."""
        self.stores.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.path}>"

    # Datasets ---------------------------------------------------------------------

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
        message: str = "",
        author: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> DatasetVersion:
        """Add a DataFrame, CSV, Parquet or JSON Lines table as the next version of ``name``.

        Identical content returns the existing version (``created`` is False) and stores
        nothing new. See :mod:`dcai.data._schema` for how undeclared column roles are inferred.
        """
        from dcai.data.versions import add_dataset

        return add_dataset(
            self.stores,
            name,
            source,
            label=label,
            id=id,
            text=text,
            meta=meta,
            features=features,
            message=message,
            author=author,
            progress=progress,
        )

    def dataset(self, ref: str) -> DatasetVersion:
        """A version by ref: ``name`` (latest), ``name@3f2a9c1``, ``name@v2``."""
        from dcai.data.versions import resolve_ref

        return resolve_ref(self.stores, ref)

    def datasets(self) -> list[DatasetSummary]:
        """Every dataset with its latest version."""
        from dcai.data.catalog import list_datasets

        return list_datasets(self.stores)

    def log(self, name: str) -> list[DatasetVersion]:
        """A dataset's versions, newest first, each with its operation, parameters and parents."""
        from dcai.data.versions import log

        return log(self.stores, name)

    def diff(self, a: str, b: str) -> VersionDiff:
        """Examples added, removed, relabeled, changed and moved between two versions."""
        from dcai.data.versions import diff_versions

        return diff_versions(self.stores, a, b)

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
        """Commit a child version with a ``split`` column (see :func:`dcai.data.assign_splits`)."""
        from dcai.data.operations import split_version

        return split_version(
            self.stores,
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

    def tag(
        self,
        ref: str,
        name: str,
        *,
        query: str | None = None,
        where: str | Callable[[pd.DataFrame], Any] | None = None,
        example_ids: Iterable[Any] | None = None,
        message: str = "",
        author: str | None = None,
    ) -> DatasetVersion:
        """Commit a child version whose examples chosen by one rule carry tag ``name``.

        ``query`` (or ``where`` given as text) is parsed by :mod:`dcai.data._query` and
        never executed; ``where`` as a function is your own Python code, run as it is.
        """
        from dcai.data.tags import tag_examples

        return tag_examples(
            self.stores,
            ref,
            name,
            query=query,
            where=where,
            example_ids=example_ids,
            message=message,
            author=author,
        )

    def untag(
        self, ref: str, name: str, *, message: str = "", author: str | None = None
    ) -> DatasetVersion:
        """Commit a child version without tag ``name``."""
        from dcai.data.tags import remove_tag

        return remove_tag(self.stores, ref, name, message=message, author=author)

    def tags(self, ref: str) -> pd.DataFrame:
        """The tags of a version: ``tag, n, share, how``."""
        from dcai.data.tags import list_tags
        from dcai.data.versions import resolve_ref

        return list_tags(resolve_ref(self.stores, ref))

    def import_annotations(
        self,
        ref: str,
        source: pd.DataFrame | str | Path,
        *,
        id_column: str = "example_id",
        annotator_column: str = "annotator",
        label_column: str = "label",
        guideline: str | None = None,
        format: str | None = None,
        classes: Sequence[object] | None = None,
        allow_new_classes: bool = False,
        message: str = "",
        author: str | None = None,
    ) -> DatasetVersion:
        """Commit a child version carrying labelers' annotations (long form; see
        :func:`dcai.labels.annotations.import_annotations`)."""
        from dcai.labels.annotations import import_annotations

        return import_annotations(
            self.stores,
            ref,
            source,
            id_column=id_column,
            annotator_column=annotator_column,
            label_column=label_column,
            guideline=guideline,
            format=format,
            classes=classes,
            allow_new_classes=allow_new_classes,
            message=message,
            author=author,
        )

    def export(
        self,
        ref: str,
        path: str | Path,
        *,
        format: ExportFormat | None = None,
        annotations: bool = False,
        force: bool = False,
    ) -> Path:
        """Write a version's rows (or annotations) to a file; never inside the workspace, and
        over an existing file only with ``force=True`` (see :func:`export_version`)."""
        from dcai.data.operations import export_version

        return export_version(self.stores, ref, path, format=format, annotations=annotations, force=force)

    # Error analysis --------------------------------------------------------------------

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
        """Error analysis of a version: metrics, slices, priorities, learning curve, clean vs
        collect (see :func:`dcai.analysis.workflow.analyze` for every option)."""
        from dcai.analysis.workflow import analyze

        return analyze(
            self.stores,
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

    # Runs ------------------------------------------------------------------------------

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
        """Open a run recording code + data + params + results (a context manager)."""
        from dcai.experiments.runs import start_run

        return start_run(
            self.stores,
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
        """Fit a recipe on the train split, evaluate on dev, record a run (see
        :func:`dcai.experiments.train.train`)."""
        from dcai.experiments.train import train

        return train(
            self.stores,
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

    def runs(
        self,
        *,
        experiment: str | None = None,
        where: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Runs as a DataFrame, filtered by ``where`` (``"metrics.f1 > 0.8 and params.C = 1"``)."""
        from dcai.experiments.query import list_runs

        return list_runs(self.stores, experiment=experiment, where=where, order_by=order_by, limit=limit)

    def run(self, key: str) -> dict[str, Any]:
        """One run in full (id or unambiguous prefix), JSON-ready."""
        from dcai.experiments.query import run_detail

        return run_detail(self.stores, key)

    def load_model(self, ref: str, *, trusted: Iterable[str] = ()) -> Any:
        """A fitted model: ``ref`` is a registered model (``NAME``, ``NAME/3``,
        ``NAME@production``) or a run id (or unambiguous prefix).

        Every loader — CLI, serving, export — goes through here: the artifact's bytes are
        checked against their sha256 and only an exact list of types is constructed
        (:data:`dcai.experiments.model_files.TRUSTED_TYPES`); a ``module:callable`` recipe's
        model that holds other types loads only when those exact names are given in
        ``trusted``.
        """
        from dcai.experiments.model_files import load_model
        from dcai.experiments.registry import is_model_ref, load_registered_model

        if is_model_ref(self.stores, ref):
            return load_registered_model(self.stores, ref, trusted=trusted)[1]
        return load_model(self.stores, ref, trusted=trusted)

    # Model registry ----------------------------------------------------------------------

    def register_model(
        self,
        run: str,
        *,
        name: str,
        description: str = "",
        author: str | None = None,
        trusted: Iterable[str] = (),
    ) -> ModelVersion:
        """Register a finished run's model as the next version of ``name``."""
        from dcai.experiments.registry import register_model

        return register_model(
            self.stores, run, name=name, description=description, author=author, trusted=trusted
        )

    def model(self, ref: str) -> ModelVersion:
        """The model version ``NAME``, ``NAME/3`` or ``NAME@alias`` names."""
        from dcai.experiments.registry import resolve_model

        return resolve_model(self.stores, ref)

    def models(self) -> list[ModelSummary]:
        """Every registered model."""
        from dcai.experiments.registry import list_models

        return list_models(self.stores)

    def model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of one model, oldest first."""
        from dcai.experiments.registry import model_versions

        return model_versions(self.stores, name)

    def set_model_alias(
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        author: str | None = None,
        reason: str = "",
    ) -> ModelVersion:
        """Point ``alias`` (e.g. ``production``) at one version of a model; the move is recorded."""
        from dcai.experiments.registry import set_model_alias

        return set_model_alias(self.stores, name, version, alias, author=author, reason=reason)

    # Labels: guidelines ----------------------------------------------------------------

    def add_guideline(
        self, name: str, source: str | Path, *, message: str = "", author: str | None = None
    ) -> Guideline:
        """Store a markdown file as the next version of labeling guideline ``name``."""
        from dcai.labels.guidelines import add_guideline

        return add_guideline(self.stores, name, source, message=message, author=author)

    def guidelines(self, name: str | None = None) -> list[Guideline]:
        """Guideline versions, newest first within each name."""
        from dcai.labels.guidelines import list_guidelines

        return list_guidelines(self.stores, name)

    def guideline(self, ref: str) -> Guideline:
        """A guideline version: ``name`` (latest) or ``name@vN``."""
        from dcai.labels.guidelines import resolve_guideline

        return resolve_guideline(self.stores, ref)

    # Labels: agreement, consensus, HLP, conventions, double labeling -------------------

    def agreement(
        self,
        ref: str,
        *,
        level: Level = "nominal",
        n_boot: int = 1000,
        random_state: int = 0,
        include_dataset_labels: bool | str = False,
    ) -> AgreementReport:
        """Agreement between a version's labelers (stored with the version).

        ``include_dataset_labels`` (True, or the name to give it) lets the data set's own
        label column take part as one more labeler.
        """
        from dcai.labels.reports import run_agreement

        return run_agreement(
            self.stores,
            ref,
            level=level,
            n_boot=n_boot,
            random_state=random_state,
            include_dataset_labels=include_dataset_labels,
        )[0]

    def agreement_by(
        self,
        ref: str,
        column: str = "guideline",
        *,
        level: Level = "nominal",
        n_boot: int = 1000,
        random_state: int = 0,
        include_dataset_labels: bool | str = False,
    ) -> AgreementComparison:
        """Agreement compared across the values of a column (e.g. guideline versions), per class."""
        from dcai.labels.reports import run_agreement

        comparison = run_agreement(
            self.stores,
            ref,
            by=column,
            level=level,
            n_boot=n_boot,
            random_state=random_state,
            include_dataset_labels=include_dataset_labels,
        )[1]
        assert comparison is not None  # invariant: by was given
        return comparison

    def consensus(
        self,
        ref: str,
        *,
        method: ConsensusMethod = "dawid_skene",
        include_dataset_labels: bool | str = False,
    ) -> ConsensusResult:
        """Consensus labels from a version's annotations (stored as a label report)."""
        from dcai.labels.reports import run_consensus

        return run_consensus(
            self.stores, ref, method=method, include_dataset_labels=include_dataset_labels
        )

    def commit_consensus(
        self,
        ref: str,
        *,
        method: ConsensusMethod = "dawid_skene",
        min_confidence: float = 0.0,
        message: str = "",
        author: str | None = None,
        include_dataset_labels: bool | str = False,
    ) -> DatasetVersion:
        """Commit a child version labelled by the annotators' consensus."""
        from dcai.labels.reports import commit_consensus

        return commit_consensus(
            self.stores,
            ref,
            method=method,
            min_confidence=min_confidence,
            message=message,
            author=author,
            include_dataset_labels=include_dataset_labels,
        )[1]

    def hlp(
        self,
        ref: str,
        *,
        by: str | None = None,
        consensus: HLPConsensus = "majority",
        n_boot: int = 1000,
        include_dataset_labels: bool | str = False,
    ) -> HLPReport:
        """Human-level performance (leave one labeler out), stored as error analysis's baseline."""
        from dcai.labels.reports import run_hlp

        return run_hlp(
            self.stores,
            ref,
            by=by,
            consensus=consensus,
            n_boot=n_boot,
            include_dataset_labels=include_dataset_labels,
        )

    def label_conventions(
        self, ref: str, *, target: ConventionTarget | None = None
    ) -> ConventionReport:
        """Variants of free-text labels that should follow one convention."""
        from dcai.labels.reports import find_conventions

        return find_conventions(self.stores, ref, target=target)[1]

    def apply_conventions(
        self,
        ref: str,
        rules: ConventionRules,
        *,
        target: ConventionTarget | None = None,
        message: str = "",
        author: str | None = None,
    ) -> DatasetVersion:
        """Commit a child version with an approved convention rule set applied."""
        from dcai.labels.reports import apply_conventions_version

        return apply_conventions_version(
            self.stores,
            ref,
            rules,
            target=target,
            message=message,
            author=author,
        )

    def sample_for_labeling(
        self,
        ref: str,
        n: int,
        out: str | Path,
        *,
        strategy: SampleStrategy = "stratified",
        format: str | None = None,
        random_state: int = 0,
        force: bool = False,
    ) -> pd.DataFrame:
        """Choose ``n`` examples for independent re-labeling and write a task file (outside
        the workspace; over an existing file only with ``force``)."""
        from dcai.labels.reports import sample_tasks

        return sample_tasks(
            self.stores,
            ref,
            n,
            out,
            strategy=strategy,
            format=format,
            random_state=random_state,
            force=force,
        )[0]

    def label_reports(self, ref: str, *, kind: str | None = None) -> list[LabelReport]:
        """Stored agreement, consensus and HLP reports of a version or dataset, newest first."""
        from dcai.labels.reports import list_reports

        return list_reports(self.stores, ref, kind=kind)

    # Quality: audits and reviews ------------------------------------------------------

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
        """Find label errors, outliers, near-duplicates, missing values and class imbalance in a
        version, and store the result linked to it (see :mod:`dcai.quality.audit`)."""
        from dcai.quality.audit import run_audit

        return run_audit(
            self.stores,
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

    def audits(self, ref: str | None = None) -> list[Audit]:
        """Stored audits, newest first; of one dataset or version when ``ref`` is given."""
        from dcai.quality.audit import list_audits

        return list_audits(self.stores, ref)

    def review(self, audit: str) -> Review:
        """The review queue of an audit: an audit id, or a dataset ref (its newest audit)."""
        from dcai.quality.audit import find_audit
        from dcai.quality.review import Review

        return Review(self.stores, find_audit(self.stores, audit))

    # Maintenance --------------------------------------------------------------------

    def verify(
        self,
        *,
        repair: bool = False,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        progress: ProgressCallback | None = None,
    ) -> VerifyReport:
        """Check every object against its hash, the database's integrity and the references
        both ways (see :mod:`dcai.store._verify`); ``repair`` removes only old orphans."""
        from dcai.store._verify import verify_workspace

        return verify_workspace(
            self.meta, self.objects, repair=repair, grace_seconds=grace_seconds, progress=progress
        )

    def backup(self, dest: str | Path, *, progress: ProgressCallback | None = None) -> BackupReport:
        """Write a consistent copy of this workspace to the new folder ``dest``, which
        ``Workspace(dest)`` (or ``dcai -w DEST``) opens."""
        from dcai.store._backup import backup_workspace

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
        """
        return collect_garbage(
            self.meta, self.objects, grace_seconds=grace_seconds, dry_run=dry_run, force=force
        )
