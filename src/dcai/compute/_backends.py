"""The two backends behind :func:`dcai.compute.parallel_map`: joblib and Dask."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from dcai._optional import import_optional
from dcai._progress import ProgressCallback
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.config import Settings

__all__ = ["BACKENDS", "ComputeBackend", "parallel_map", "resolve_backend"]

#: Names accepted for ``backend`` (and ``[compute] backend`` in ``dcai.toml``).
BACKENDS = ("joblib", "dask")

_DEFAULT_BACKEND = "joblib"
#: How long to wait for a Dask scheduler before giving up.
_CONNECT_TIMEOUT = "10s"
_SCHEDULER_HINT = (
    'Set [compute] scheduler_address in dcai.toml (e.g. "tcp://scheduler:8786") or the '
    "DCAI_SCHEDULER_ADDRESS environment variable, pass scheduler_address=, or open a "
    "dask.distributed Client in this process first."
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ComputeBackend:
    """Where parallel work runs: a backend name and, for Dask, the scheduler's address.

    >>> ComputeBackend("dask", "tcp://scheduler:8786").scheduler_address
    'tcp://scheduler:8786'
    """

    name: str = _DEFAULT_BACKEND
    scheduler_address: str | None = None


def _check_name(backend: str) -> str:
    name = str(backend).strip().lower()
    if name not in BACKENDS:
        raise InvalidInputError(
            f"unknown compute backend {backend!r}",
            hint=f"Use one of: {', '.join(repr(b) for b in BACKENDS)} "
            "(argument backend=, [compute] backend in dcai.toml, or DCAI_COMPUTE_BACKEND).",
        )
    return name


def resolve_backend(
    settings: Settings | None = None,
    backend: str | None = None,
    *,
    scheduler_address: str | None = None,
) -> ComputeBackend:
    """Decide where parallel work runs: explicit argument > settings > environment > joblib.

    Parameters
    ----------
    settings
        A workspace's :class:`~dcai.config.Settings` (``compute_backend``,
        ``scheduler_address``), which already fold in ``dcai.toml`` and ``DCAI_*`` variables.
        When ``None``, ``DCAI_COMPUTE_BACKEND`` and ``DCAI_SCHEDULER_ADDRESS`` are read directly.
    backend
        ``"joblib"`` or ``"dask"``; overrides the settings when given.
    scheduler_address
        A Dask scheduler address; overrides the settings when given.

    Returns
    -------
    ComputeBackend
        The backend name (validated) and the scheduler address (``None`` for joblib).

    Raises
    ------
    InvalidInputError
        An unknown backend name; the message lists the valid ones.

    Examples
    --------
    >>> resolve_backend(None, "dask", scheduler_address="tcp://10.0.0.5:8786")
    ComputeBackend(name='dask', scheduler_address='tcp://10.0.0.5:8786')
    >>> resolve_backend(None, "JOBLIB")
    ComputeBackend(name='joblib', scheduler_address=None)
    """
    if settings is not None:
        configured_name: str | None = settings.compute_backend
        configured_address = settings.scheduler_address
    else:
        configured_name = os.environ.get("DCAI_COMPUTE_BACKEND")
        configured_address = os.environ.get("DCAI_SCHEDULER_ADDRESS")
    name = _check_name(backend or configured_name or _DEFAULT_BACKEND)
    if name != "dask":
        return ComputeBackend(name)
    return ComputeBackend(name, scheduler_address or configured_address or None)


def parallel_map(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    backend: str | None = None,
    n_jobs: int | None = None,
    scheduler_address: str | None = None,
    progress: ProgressCallback | None = None,
    description: str = "tasks",
) -> list[R]:
    """Run ``func(item)`` for every item, in parallel, and return the results in input order.

    Use it for independent, CPU-bound tasks of similar size (cross-validation folds,
    per-column statistics). ``func`` and the items must be picklable (closures and lambdas
    are fine: both backends use cloudpickle); an exception raised by a task is raised here.

    Parameters
    ----------
    func
        The task, called once per item.
    items
        The inputs; consumed into a list first.
    backend
        ``"joblib"`` (default: local processes) or ``"dask"`` (a ``dask.distributed``
        cluster). ``None`` reads ``DCAI_COMPUTE_BACKEND``, else joblib; see
        :func:`resolve_backend` to use a workspace's settings.
    n_jobs
        joblib only: worker processes, ``-1`` (default) for all cores, capped at the number
        of items; ``1`` runs inline in this process (no pickling, easiest to debug). A Dask
        cluster decides its own parallelism.
    scheduler_address
        dask only: the scheduler to connect to (``"tcp://host:8786"``). ``None`` uses
        ``DCAI_SCHEDULER_ADDRESS``, else the client already open in this process.
    progress
        Called as ``progress(description, done, total)`` once before the first task and
        again each time a task finishes.
    description
        The text passed to ``progress``.

    Returns
    -------
    list
        ``[func(item) for item in items]``, in the same order.

    Raises
    ------
    InvalidInputError
        An unknown backend, ``n_jobs=0``, or the Dask backend with no scheduler to use.
    MissingDependencyError
        The Dask backend without the ``scale`` extra installed.

    Examples
    --------
    >>> parallel_map(len, ["a", "bb", "ccc"], n_jobs=1)
    [1, 2, 3]
    >>> seen = []
    >>> parallel_map(str.upper, ["x", "y"], n_jobs=1,
    ...              progress=lambda d, i, n: seen.append((i, n)))
    ['X', 'Y']
    >>> seen
    [(0, 2), (1, 2), (2, 2)]
    """
    work = list(items)
    if n_jobs is not None and (
        not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0
    ):
        raise InvalidInputError(
            f"n_jobs must be a non-zero integer; got {n_jobs!r}",
            hint="Use -1 for all cores, 1 to run inline, or a positive number of processes.",
        )
    chosen = resolve_backend(None, backend, scheduler_address=scheduler_address)
    if progress is not None:
        progress(description, 0, len(work))
    if not work:
        return []
    if chosen.name == "dask":
        return _dask_map(func, work, chosen.scheduler_address, progress, description)
    return _joblib_map(func, work, n_jobs, progress, description)


def _call_indexed(func: Callable[[T], R], index: int, item: T) -> tuple[int, R]:
    return index, func(item)


def _joblib_map(
    func: Callable[[T], R],
    work: list[T],
    n_jobs: int | None,
    progress: ProgressCallback | None,
    description: str,
) -> list[R]:
    import joblib  # a scikit-learn dependency, imported here to keep `import dcai.compute` light

    workers = min(joblib.effective_n_jobs(-1 if n_jobs is None else n_jobs), len(work))
    results: list[Any] = [None] * len(work)
    if workers <= 1:
        for done, item in enumerate(work, start=1):
            results[done - 1] = func(item)
            if progress is not None:
                progress(description, done, len(work))
        return results
    try:
        parallel = joblib.Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    except (TypeError, ValueError):  # joblib < 1.4: results arrive at the end, in order
        parallel = joblib.Parallel(n_jobs=workers, backend="loky")
    outputs = parallel(joblib.delayed(_call_indexed)(func, i, item) for i, item in enumerate(work))
    for done, (index, value) in enumerate(outputs, start=1):
        results[index] = value
        if progress is not None:
            progress(description, done, len(work))
    return results


def _dask_map(
    func: Callable[[T], R],
    work: list[T],
    scheduler_address: str | None,
    progress: ProgressCallback | None,
    description: str,
) -> list[R]:
    distributed = import_optional(
        "distributed", extra="scale", purpose="Running work on a Dask cluster (backend='dask')"
    )
    own_client = scheduler_address is not None
    if own_client:
        try:
            client = distributed.Client(
                scheduler_address, timeout=_CONNECT_TIMEOUT, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise InvalidInputError(
                f"cannot connect to the Dask scheduler at {scheduler_address!r} ({exc})",
                hint="Check that the scheduler is running and the address is right "
                "([compute] scheduler_address in dcai.toml or DCAI_SCHEDULER_ADDRESS).",
            ) from exc
    else:
        try:
            client = distributed.get_client()
        except ValueError as exc:
            raise InvalidInputError(
                "backend 'dask' needs a scheduler address, and no Dask client is open",
                hint=_SCHEDULER_HINT,
            ) from exc
    try:
        futures = client.map(func, work, pure=False)
        try:
            if progress is not None:
                for done, _ in enumerate(
                    distributed.as_completed(futures, loop=client.loop), start=1
                ):
                    progress(description, done, len(work))
            results: list[R] = client.gather(futures)
        except BaseException:
            client.cancel(futures)
            raise
        return results
    finally:
        if own_client:
            client.close()
