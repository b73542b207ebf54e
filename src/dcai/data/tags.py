"""Tags: named sets of examples (``car_noise``, ``night``, ``blurry``), stored with lineage.

A tag is a boolean column with the role ``tag``: it travels with the rows through every later
operation, it is never a model input, and error analysis turns each tag into a slice. Tagging
commits a child version (operation ``tag``) whose parameters record how the tag was made — the
query, that a Python predicate was used, or the hand-picked ids — so ``dcai data log`` shows
where every tag came from, and re-tagging with a new rule is a new version, never an overwrite.

A query is text over the columns (``snr_db < 5 and device == 'car'``) that is parsed and
checked against a small grammar (:func:`dcai.data._query.compile_query`), never executed: a
query typed at the CLI or sent to the API can compute a mask and nothing else.

>>> import pandas as pd, tempfile, dcai
>>> ws = dcai.Workspace.init(tempfile.mkdtemp())
>>> v = ws.data.add("calls", pd.DataFrame(
...     {"snr_db": [3.0, 25.0, 4.5, 30.0], "label": ["stop", "go", "go", "stop"]}))
>>> tagged = tag_examples(ws, "calls", "car_noise", query="snr_db < 5")
>>> tagged.operation, int(tagged.to_pandas()["car_noise"].sum())
('tag', 2)
>>> list_tags(tagged)[["tag", "n", "how"]].values.tolist()
[['car_noise', 2, 'query: snr_db < 5']]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._query import compile_query
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import DatasetVersion, commit_version, resolve_ref
from dcai.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["list_tags", "remove_tag", "tag_examples", "tags_frame"]

_TAG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _TAG_NAME.match(name):
        raise InvalidInputError(
            f"invalid tag name {name!r}",
            hint="Use letters, digits and underscores, starting with a letter, e.g. car_noise.",
        )
    return name


def _mask_from_query(frame: pd.DataFrame, query: str, ref: str) -> np.ndarray:
    """The rows matching ``query``: parsed and checked by :func:`compile_query`, never run.

    >>> _mask_from_query(pd.DataFrame({"snr_db": [3.0, 9.0]}), "snr_db < 5", "calls@v1").tolist()
    [True, False]
    """
    if not isinstance(query, str):
        raise InvalidInputError(
            f"a query must be text, not {type(query).__name__}", hint='e.g. "snr_db < 5"'
        )
    return compile_query(query).mask(frame, ref=ref)


def _as_mask(result: Any, n: int, what: str) -> np.ndarray:
    values = np.asarray(result)
    if values.shape != (n,):
        raise InvalidInputError(
            f"{what} gave {values.shape or 'a single value'}, not one true/false value per row",
            hint="A rule must return one boolean per example (a mask), e.g. frame['snr_db'] < 5.",
        )
    if values.dtype != bool:
        series = pd.Series(values)
        if series.isna().any() or not series.isin([True, False, 0, 1]).all():
            raise InvalidInputError(
                f"{what} did not give true/false values (got {values.dtype})",
                hint="Compare a column with a value, e.g. frame['snr_db'] < 5.",
            )
        values = series.astype(bool).to_numpy()
    return values


def _mask_from_ids(frame: pd.DataFrame, example_ids: Iterable[Any], ref: str) -> np.ndarray:
    wanted = pd.Index(pd.unique(pd.Series([str(i) for i in example_ids], dtype=object)))
    if len(wanted) == 0:
        raise InvalidInputError("no example ids given", hint="Give at least one example id.")
    present = frame[EXAMPLE_ID].astype(str)
    unknown = wanted[~wanted.isin(present)]
    if len(unknown):
        shown = ", ".join(repr(v) for v in unknown[:3])
        raise SchemaError(
            f"{len(unknown)} example id(s) not in {ref} ({shown})",
            column=EXAMPLE_ID,
            hint=f"Check the ids against: dcai data export {ref} FILE",
        )
    mask: np.ndarray = present.isin(wanted).to_numpy()
    return mask


def tag_examples(
    stores: Stores,
    ref: str,
    name: str,
    *,
    query: str | None = None,
    where: Callable[[pd.DataFrame], Any] | str | None = None,
    example_ids: Iterable[Any] | None = None,
    message: str = "",
    author: str | None = None,
) -> DatasetVersion:
    """Commit a child of ``ref`` in which the examples chosen by one rule carry tag ``name``.

    Give exactly one rule: ``query``, a query over the version's columns
    (``"snr_db < 5 and device == 'car'"``), parsed and checked against the grammar of
    :func:`dcai.data._query.compile_query` and never executed, so it is safe to take from
    users; ``where``, a Python function of the whole DataFrame that returns one boolean per
    row (the caller's own code, run as is) or, given as text, a query like ``query``; or
    ``example_ids``, tagging by hand. Tagging again with the same name replaces the tag's
    members (the old ones stay in the parent).

    Raises
    ------
    InvalidInputError, SchemaError
        No rule or several, a bad name, a name already used by a data column, a rule that does
        not give one boolean per row, unknown example ids, or a rule that matches nothing.
    """
    _check_name(name)
    rules = [r for r in (query, where, example_ids) if r is not None]
    if len(rules) != 1:
        raise InvalidInputError(
            "give exactly one rule: a query, a predicate (where=) or example ids",
            hint='e.g. dcai data tag REF car_noise --query "snr_db < 5"',
        )
    parent = resolve_ref(stores, ref)
    frame = parent.to_pandas()
    roles = parent.roles
    if name in frame.columns and name not in roles.tags:
        raise InvalidInputError(
            f"{name!r} is already a {roles.role_of(name)} column of {parent.ref}",
            hint="Pick another tag name.",
        )
    if isinstance(where, str):
        query, where = where, None
    if query is not None:
        mask, how = _mask_from_query(frame, query, parent.ref), {"query": query}
    elif where is not None:
        mask = _as_mask(where(frame.copy()), len(frame), f"the predicate {_callable_name(where)}")
        how = {"predicate": _callable_name(where)}
    else:
        assert example_ids is not None  # exactly one rule was given
        mask, how = _mask_from_ids(frame, example_ids, parent.ref), {"example_ids": "by hand"}
    count = int(mask.sum())
    if count == 0:
        raise InvalidInputError(
            f"the rule matched no example of {parent.ref}, so tag {name!r} would be empty",
            hint="Check the rule against the data (dcai data show REF) and try again.",
        )
    replaced = name in roles.tags
    frame[name] = mask
    if not replaced:
        roles = replace(roles, tags=(*roles.tags, name))
    params: dict[str, Any] = {"tag": name, "examples": count, "replaced": replaced, **how}
    return commit_version(
        stores,
        parent.dataset,
        frame,
        roles,
        operation="tag",
        params=params,
        message=message or f"tag {count} examples {name}",
        author=author,
        parents=[parent],
        annotations=parent.annotations() if parent.n_annotations else None,
        data_object=None,
    )


def remove_tag(
    stores: Stores, ref: str, name: str, *, message: str = "", author: str | None = None
) -> DatasetVersion:
    """Commit a child of ``ref`` without tag ``name`` (the parent keeps it)."""
    parent = resolve_ref(stores, ref)
    if name not in parent.roles.tags:
        known = ", ".join(parent.roles.tags) or "none"
        raise InvalidInputError(
            f"{parent.ref} has no tag {name!r} (tags: {known})",
            hint="List them with: dcai data tags REF",
        )
    frame = parent.to_pandas().drop(columns=[name])
    roles = replace(parent.roles, tags=tuple(t for t in parent.roles.tags if t != name))
    return commit_version(
        stores,
        parent.dataset,
        frame,
        roles,
        operation="untag",
        params={"tag": name},
        message=message or f"remove tag {name}",
        author=author,
        parents=[parent],
        annotations=parent.annotations() if parent.n_annotations else None,
    )


def tags_frame(version: DatasetVersion) -> pd.DataFrame:
    """``example_id`` and one boolean column per tag of ``version``."""
    return version.to_pandas(columns=[EXAMPLE_ID, *version.roles.tags])


def list_tags(version: DatasetVersion) -> pd.DataFrame:
    """One row per tag: ``tag, n, share, how`` (the rule of the version that set it last)."""
    frame = tags_frame(version)
    origin = _tag_origins(version)
    rows = [
        {
            "tag": tag,
            "n": int(frame[tag].sum()),
            "share": float(frame[tag].mean()) if len(frame) else 0.0,
            "how": origin.get(tag, "carried from an earlier version"),
        }
        for tag in version.roles.tags
    ]
    return pd.DataFrame(rows, columns=["tag", "n", "share", "how"])


def _tag_origins(version: DatasetVersion) -> dict[str, str]:
    """Each tag's rule, from the nearest ``tag`` operation in the version's lineage."""
    found: dict[str, str] = {}
    wanted = set(version.roles.tags)
    node: DatasetVersion | None = version
    seen = 0
    while node is not None and wanted - set(found) and seen < 1000:
        params = node.params
        if node.operation == "tag" and params.get("tag") in wanted and params["tag"] not in found:
            if "query" in params:
                found[params["tag"]] = f"query: {params['query']}"
            elif "predicate" in params:
                found[params["tag"]] = f"predicate: {params['predicate']}"
            else:
                found[params["tag"]] = "by hand"
        parents = node.parents
        node = parents[0] if parents else None
        seen += 1
    return found


def _callable_name(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or func)
