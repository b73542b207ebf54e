"""Run CPU-parallel work on this machine's cores (joblib) or on a Dask cluster, unchanged.

Everything in dcai that fans out independent tasks (cross-validation folds, per-feature
statistics) calls :func:`parallel_map`. The backend is a setting, not a code change:

``joblib`` (default)
    Local worker processes (loky). ``n_jobs=1`` runs inline in this process.
``dask``
    A ``dask.distributed`` cluster: the one at ``scheduler_address``, else the client already
    open in this process. Needs the ``scale`` extra (``pip install 'dcai[scale]'``); Dask is
    imported only when this backend is used, so ``import dcai.compute`` stays light.

A workspace picks the backend in ``dcai.toml``::

    [compute]
    backend = "dask"
    scheduler_address = "tcp://scheduler:8786"

or with ``DCAI_COMPUTE_BACKEND`` / ``DCAI_SCHEDULER_ADDRESS``; :func:`resolve_backend` applies
the precedence (explicit argument > settings > environment > default).

Examples
--------
>>> parallel_map(abs, [-2, 3, -5], n_jobs=1)
[2, 3, 5]
>>> resolve_backend(None).name
'joblib'
"""

from __future__ import annotations

from dcai.compute._backends import BACKENDS, ComputeBackend, parallel_map, resolve_backend

__all__ = ["BACKENDS", "ComputeBackend", "parallel_map", "resolve_backend"]
