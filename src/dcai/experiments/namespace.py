"""``ws.runs`` and ``ws.models``: tracked runs (code + data + params + results) and the model registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    import pandas as pd

    from dcai.experiments.onnx_export import OnnxExport
    from dcai.experiments.registry import AliasMove, ModelSummary, ModelVersion
    from dcai.experiments.runs import Run
    from dcai.experiments.train import TrainResult
    from dcai.store import Stores

__all__ = ["ModelsNamespace", "RunsNamespace"]


class RunsNamespace:
    """Tracked runs (``ws.runs``); calling it lists them: ``ws.runs(where="metrics.f1 > 0.8")``.

    Params are stored as text, as MLflow does.

    >>> import tempfile
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> with ws.runs.start(experiment="demo", params={"C": 1.0}, capture_code=False) as run:
    ...     run.log_metric("f1", 0.9)
    >>> list(ws.runs(where="metrics.f1 > 0.8")["run"]) == [run.id]
    True
    >>> ws.runs.get(run.id)["params"]
    {'C': '1.0'}
    >>> ws.close()
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.runs of {self._stores.path}>"

    def start(
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
        """Open a run recording code + data + params + results (a context manager).

        >>> with ws.runs.start(experiment="notes", capture_code=False) as run:
        ...     run.log_metric("f1", 0.5)
        >>> run.id in set(ws.runs()["run"])
        True
        """
        from dcai.experiments.runs import start_run

        return start_run(
            self._stores,
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
        :func:`dcai.experiments.train.train`).

        >>> ws.runs.train("digits", n_boot=0, capture_code=False).metrics["accuracy"] > 0.8
        True
        """
        from dcai.experiments.train import train

        return train(
            self._stores,
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

    def __call__(
        self,
        *,
        experiment: str | None = None,
        where: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Runs as a DataFrame, filtered by ``where`` (``"metrics.f1 > 0.8 and params.C = 1"``).

        >>> len(ws.runs(where="params.C = 1.0"))
        1
        """
        from dcai.experiments.query import list_runs

        return list_runs(
            self._stores, experiment=experiment, where=where, order_by=order_by, limit=limit
        )

    def get(self, key: str) -> dict[str, Any]:
        """One run in full (id or unambiguous prefix), JSON-ready.

        >>> ws.runs.get(ws.models.get("digits/1").run)["status"]
        'FINISHED'
        """
        from dcai.experiments.query import run_detail

        return run_detail(self._stores, key)

    def compare(
        self, keys: list[str], *, seed: int = 0, eval_ref: str | None = None
    ) -> dict[str, Any]:
        """Compare two or more runs, the first as reference: differing params, metrics side by
        side with a paired bootstrap interval on shared dev examples (one set of labels), and
        the code and data differences (``dcai runs compare``). JSON-ready.

        >>> runs = [v.run for v in ws.models.versions("digits")]
        >>> len(ws.runs.compare(runs)["pairs"])
        1
        """
        from dcai.experiments.compare import compare_runs

        return compare_runs(self._stores, keys, seed=seed, eval_ref=eval_ref)

    def data_view(
        self,
        *,
        recipe: str,
        dataset: str | None = None,
        metric: str = "accuracy",
        eval_ref: str | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """The same recipe on each dataset version, in lineage order, scored on one evaluation
        set: which data change bought which gain (``dcai runs data-view``). JSON-ready.

        >>> ws.runs.data_view(recipe="logreg")["recipe"]
        'logreg'
        """
        from dcai.experiments.data_view import data_view

        return data_view(
            self._stores,
            recipe=recipe,
            dataset=dataset,
            metric=metric,
            eval_ref=eval_ref,
            seed=seed,
        )

    def export_mlflow(
        self, uri: str, *, runs: list[str] | None = None, experiment: str | None = None
    ) -> list[dict[str, Any]]:
        """Copy runs (all, or the ids in ``runs``) into the MLflow tracking store at ``uri``
        (``dcai runs export --mlflow``; needs the ``mlflow`` extra). One entry per run.

        >>> import tempfile
        >>> [e["status"] for e in ws.runs.export_mlflow("sqlite:///" + tempfile.mkdtemp() + "/m.db")]
        ['exported', 'exported']
        """
        from dcai.experiments.mlflow_export import export_to_mlflow

        return export_to_mlflow(self._stores, uri, runs=runs, experiment=experiment)


class ModelsNamespace:
    """The model registry (``ws.models``): versions made from runs, aliases, loading.

    >>> import tempfile
    >>> from dcai import Workspace
    >>> ws = Workspace(tempfile.mkdtemp() + "/ws")
    >>> ws.models.registered()
    []
    >>> ws.close()
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def __repr__(self) -> str:
        return f"<ws.models of {self._stores.path}>"

    def register(
        self,
        run: str,
        *,
        name: str,
        description: str = "",
        author: str | None = None,
        trusted: Iterable[str] = (),
    ) -> ModelVersion:
        """Register a finished run's model as the next version of ``name``.

        >>> run = ws.runs.train("digits", n_boot=0, capture_code=False).run
        >>> ws.models.register(run, name="digits").ref
        'digits/3'
        """
        from dcai.experiments.registry import register_model

        return register_model(
            self._stores, run, name=name, description=description, author=author, trusted=trusted
        )

    def get(self, ref: str) -> ModelVersion:
        """The model version ``NAME``, ``NAME/3`` or ``NAME@alias`` names.

        >>> ws.models.get("digits@production").ref
        'digits/1'
        """
        from dcai.experiments.registry import resolve_model

        return resolve_model(self._stores, ref)

    def registered(self) -> list[ModelSummary]:
        """Every registered model.

        >>> [m.name for m in ws.models.registered()]
        ['digits']
        """
        from dcai.experiments.registry import list_models

        return list_models(self._stores)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of one model, oldest first.

        >>> [v.ref for v in ws.models.versions("digits")]
        ['digits/1', 'digits/2']
        """
        from dcai.experiments.registry import model_versions

        return model_versions(self._stores, name)

    def set_alias(
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        author: str | None = None,
        reason: str = "",
    ) -> ModelVersion:
        """Point ``alias`` (e.g. ``production``) at one version of a model; the move is recorded.

        >>> ws.models.set_alias("digits", 2, "production").ref
        'digits/2'
        """
        from dcai.experiments.registry import set_model_alias

        return set_model_alias(self._stores, name, version, alias, author=author, reason=reason)

    def load(self, ref: str, *, trusted: Iterable[str] = ()) -> Any:
        """A fitted model: ``ref`` is a registered model (``NAME``, ``NAME/3``,
        ``NAME@production``) or a run id (or unambiguous prefix).

        Every loader — CLI, serving, export — goes through here: the artifact's bytes are
        checked against their sha256 and only an exact list of types is constructed
        (:data:`dcai.experiments.model_files.TRUSTED_TYPES`); a ``module:callable`` recipe's
        model that holds other types loads only when those exact names are given in
        ``trusted``.

        >>> hasattr(ws.models.load("digits@production"), "predict_proba")
        True
        """
        from dcai.experiments.model_files import load_model
        from dcai.experiments.registry import is_model_ref, load_registered_model

        if is_model_ref(self._stores, ref):
            return load_registered_model(self._stores, ref, trusted=trusted)[1]
        return load_model(self._stores, ref, trusted=trusted)

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every move of every alias of a model, oldest first (who, when, why).

        >>> [(m.alias, m.to_version) for m in ws.models.alias_history("digits")]
        [('production', 1)]
        """
        from dcai.experiments.registry import alias_history

        return alias_history(self._stores, name)

    def remove_alias(
        self, name: str, alias: str, *, author: str | None = None, reason: str = ""
    ) -> AliasMove:
        """Unset an alias; the move is recorded like any other.

        >>> ws.models.remove_alias("digits", "production").from_version
        1
        """
        from dcai.experiments.registry import remove_model_alias

        return remove_model_alias(self._stores, name, alias, author=author, reason=reason)

    def card(self, ref: str, *, fmt: Literal["markdown", "html"] = "markdown") -> str:
        """The model card of a registered version: data, metrics, slices, label quality.

        >>> "digits/1" in ws.models.card("digits/1")
        True
        """
        from dcai.experiments.model_card import model_card

        return model_card(self._stores, ref, fmt=fmt)

    def export_onnx(self, ref: str, out: str | Path, *, force: bool = False) -> OnnxExport:
        """Convert a registered model to ONNX, check it against the model, write ``out``
        (needs the ``onnx`` extra; refused, nothing written, when it cannot be exact).

        >>> import tempfile
        >>> ws.models.export_onnx("digits/1", tempfile.mkdtemp() + "/m.onnx").ref
        'digits/1'
        """
        from dcai.experiments.onnx_export import export_onnx

        return export_onnx(self._stores, ref, out, force=force)
