"""``ws.data``: datasets and their immutable versions — add, read, compare, split, tag, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcai._progress import ProgressCallback

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pandas as pd

    from dcai.data._diff import VersionDiff
    from dcai.data.catalog import DatasetSummary
    from dcai.data.operations import ExportFormat
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = ["DataNamespace"]


class DataNamespace:
    """Datasets and versions of one workspace (``ws.data``).

    >>> import tempfile, pandas as pd
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> v1 = ws.data.add("toy", pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]}))
    >>> v2 = ws.data.add("toy", pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "b", "b"]}))
    >>> ws.data.diff(v1.ref, v2.ref).counts["relabeled"]
    1
    >>> ws.data.version("toy").id == v2.id, [s.name for s in ws.data.datasets()]
    (True, ['toy'])
    >>> ws.close()
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.data of {self._stores.path}>"

    def add(
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
        """Add a DataFrame, CSV, Parquet or JSON Lines table as the next version of ``name``.

        Identical content returns the existing version (``created`` is False) and stores
        nothing new. See :mod:`dcai.data._schema` for how undeclared column roles are inferred.

        >>> ws.data.add("toy", pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "a"]})).rows
        3
        """
        from dcai.data.versions import add_dataset

        return add_dataset(
            self._stores,
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

    def version(self, ref: str) -> DatasetVersion:
        """A version by ref: ``name`` (latest), ``name@3f2a9c1``, ``name@v2``.

        >>> ws.data.version("digits").rows
        300
        """
        from dcai.data.versions import resolve_ref

        return resolve_ref(self._stores, ref)

    def datasets(self) -> list[DatasetSummary]:
        """Every dataset with its latest version.

        >>> [d.name for d in ws.data.datasets()]
        ['digits']
        """
        from dcai.data.catalog import list_datasets

        return list_datasets(self._stores)

    def log(self, name: str) -> list[DatasetVersion]:
        """A dataset's versions, newest first, each with its operation, parameters and parents.

        >>> [v.operation for v in ws.data.log("digits")]
        ['import_annotations', 'split', 'add']
        """
        from dcai.data.versions import log

        return log(self._stores, name)

    def diff(self, a: str, b: str) -> VersionDiff:
        """Examples added, removed, relabeled, changed and moved between two versions.

        >>> ws.data.diff("digits@v1", "digits@v2").counts["relabeled"]
        0
        """
        from dcai.data.versions import diff_versions

        return diff_versions(self._stores, a, b)

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
        """Commit a child version with a ``split`` column (see :func:`dcai.data.assign_splits`).

        >>> ws.data.split("digits", dev=0.3, test=0.1, seed=1).operation
        'split'
        """
        from dcai.data.operations import split_version

        return split_version(
            self._stores,
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

        >>> ws.data.tag("digits", "dark", query="px36 > 10").operation
        'tag'
        """
        from dcai.data.tags import tag_examples

        return tag_examples(
            self._stores,
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
        """Commit a child version without tag ``name``.

        >>> tagged = ws.data.tag("digits", "dark", query="px36 > 10")
        >>> ws.data.untag(tagged.ref, "dark").operation
        'untag'
        """
        from dcai.data.tags import remove_tag

        return remove_tag(self._stores, ref, name, message=message, author=author)

    def tags(self, ref: str) -> pd.DataFrame:
        """The tags of a version: ``tag, n, share, how``.

        >>> tagged = ws.data.tag("digits", "dark", query="px36 > 10")
        >>> list(ws.data.tags(tagged.ref)["tag"])
        ['dark']
        """
        from dcai.data.tags import list_tags
        from dcai.data.versions import resolve_ref

        return list_tags(resolve_ref(self._stores, ref))

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
        over an existing file only with ``force=True`` (see :func:`export_version`).

        >>> import tempfile
        >>> ws.data.export("digits", tempfile.mkdtemp() + "/digits.csv").name
        'digits.csv'
        """
        from dcai.data.operations import export_version

        return export_version(
            self._stores, ref, path, format=format, annotations=annotations, force=force
        )
