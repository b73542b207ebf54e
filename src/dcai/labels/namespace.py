"""``ws.labels``: annotations, guidelines, agreement, consensus, HLP, conventions, sampling."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from dcai.data.versions import DatasetVersion
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
    from dcai.store import Stores

__all__ = ["LabelsNamespace"]


class LabelsNamespace:
    """Labelers' work on a workspace's versions (``ws.labels``).

    >>> import tempfile, pandas as pd
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> v = ws.data.add("toy", pd.DataFrame({"id": [1, 2, 3], "x": [0.1, 0.2, 0.3], "label": ["a", "b", "a"]}), id="id")
    >>> votes = pd.DataFrame({"example_id": ["1", "1", "2", "2", "3", "3"],
    ...                       "annotator": ["ann", "bob"] * 3, "label": ["a", "a", "b", "a", "a", "a"]})
    >>> labelled = ws.labels.import_annotations(v.ref, votes)
    >>> [r.kind for r in ws.labels.reports(labelled.ref)]
    []
    >>> ws.close()
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.labels of {self._stores.path}>"

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
        :func:`dcai.labels.annotations.import_annotations`).

        >>> first = ws.data.version("digits").to_pandas()["example_id"].iloc[0]
        >>> votes = pd.DataFrame({"example_id": [first], "annotator": ["dee"], "label": [1]})
        >>> ws.labels.import_annotations("digits", votes).operation
        'import_annotations'
        """
        from dcai.labels.annotations import import_annotations

        return import_annotations(
            self._stores,
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

    def add_guideline(
        self, name: str, source: str | Path, *, message: str = "", author: str | None = None
    ) -> Guideline:
        """Store a markdown file as the next version of labeling guideline ``name``.

        >>> import pathlib, tempfile
        >>> source = pathlib.Path(tempfile.mkdtemp()) / "digits.md"
        >>> _ = source.write_text("# Digits")
        >>> ws.labels.add_guideline("digits", source).ref
        'digits@v1'
        """
        from dcai.labels.guidelines import add_guideline

        return add_guideline(self._stores, name, source, message=message, author=author)

    def guidelines(self, name: str | None = None) -> list[Guideline]:
        """Guideline versions, newest first within each name.

        >>> ws.labels.guidelines()
        []
        """
        from dcai.labels.guidelines import list_guidelines

        return list_guidelines(self._stores, name)

    def guideline(self, ref: str) -> Guideline:
        """A guideline version: ``name`` (latest) or ``name@vN``.

        >>> import pathlib, tempfile
        >>> source = pathlib.Path(tempfile.mkdtemp()) / "digits.md"
        >>> _ = source.write_text("# Digits")
        >>> _ = ws.labels.add_guideline("digits", source)
        >>> ws.labels.guideline("digits").text
        '# Digits'
        """
        from dcai.labels.guidelines import resolve_guideline

        return resolve_guideline(self._stores, ref)

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

        >>> ws.labels.agreement("digits", n_boot=20).to_dict()["n_items"]
        60
        """
        from dcai.labels.agreement_workflow import run_agreement

        return run_agreement(
            self._stores,
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
        """Agreement compared across the values of a column (e.g. guideline versions), per class.

        >>> type(ws.labels.agreement_by("digits", "label", n_boot=20)).__name__
        'AgreementComparison'
        """
        from dcai.labels.agreement_workflow import run_agreement

        comparison = run_agreement(
            self._stores,
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
        """Consensus labels from a version's annotations (stored as a label report).

        >>> len(ws.labels.consensus("digits").labels)
        60
        """
        from dcai.labels.consensus_workflow import run_consensus

        return run_consensus(
            self._stores, ref, method=method, include_dataset_labels=include_dataset_labels
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
        """Commit a child version labelled by the annotators' consensus.

        >>> ws.labels.commit_consensus("digits").operation
        'consensus'
        """
        from dcai.labels.consensus_workflow import commit_consensus

        return commit_consensus(
            self._stores,
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
        """Human-level performance (leave one labeler out), stored as error analysis's baseline.

        >>> bool(0 <= ws.labels.hlp("digits", n_boot=20).to_frame()["accuracy"].iloc[0] <= 1)
        True
        """
        from dcai.labels.hlp_workflow import run_hlp

        return run_hlp(
            self._stores,
            ref,
            by=by,
            consensus=consensus,
            n_boot=n_boot,
            include_dataset_labels=include_dataset_labels,
        )

    def conventions(self, ref: str, *, target: ConventionTarget | None = None) -> ConventionReport:
        """Variants of free-text labels that should follow one convention.

        >>> type(ws.labels.conventions("digits")).__name__
        'ConventionReport'
        """
        from dcai.labels.conventions_workflow import find_conventions

        return find_conventions(self._stores, ref, target=target)[1]

    def apply_conventions(
        self,
        ref: str,
        rules: ConventionRules,
        *,
        target: ConventionTarget | None = None,
        message: str = "",
        author: str | None = None,
    ) -> DatasetVersion:
        """Commit a child version with an approved convention rule set applied.

        >>> from dcai.labels import ConventionRules
        >>> said = pd.DataFrame({"clip": ["c1", "c2"], "label": ["Hello...", "hello…"]})
        >>> _ = ws.data.add("speech", said, id="clip")
        >>> rules = ConventionRules(ellipsis="…")
        >>> ws.labels.apply_conventions("speech", rules, target="labels").operation
        'apply_conventions'
        """
        from dcai.labels.conventions_workflow import apply_conventions_version

        return apply_conventions_version(
            self._stores,
            ref,
            rules,
            target=target,
            message=message,
            author=author,
        )

    def sample(
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
        the workspace; over an existing file only with ``force``).

        >>> import tempfile
        >>> len(ws.labels.sample("digits", 10, tempfile.mkdtemp() + "/tasks.csv"))
        10
        """
        from dcai.labels.sampling_workflow import sample_tasks

        return sample_tasks(
            self._stores,
            ref,
            n,
            out,
            strategy=strategy,
            format=format,
            random_state=random_state,
            force=force,
        )[0]

    def reports(self, ref: str, *, kind: str | None = None) -> list[LabelReport]:
        """Stored agreement, consensus and HLP reports of a version or dataset, newest first.

        >>> _ = ws.labels.agreement("digits", n_boot=20)
        >>> [r.kind for r in ws.labels.reports("digits")]
        ['agreement']
        """
        from dcai.labels.reports import list_reports

        return list_reports(self._stores, ref, kind=kind)
