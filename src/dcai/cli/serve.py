"""``dcai serve``: the prediction server for every deployment of the workspace."""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from dcai.cli._context import open_workspace
from dcai.cli._output import err_console


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    default_deployment: Annotated[
        str | None,
        typer.Option("--default-deployment", help="The deployment that answers /invocations."),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between checks for deployment changes.")
    ] = 0.25,
    usage_every: Annotated[
        float,
        typer.Option(
            "--usage-every",
            help="Seconds between samples of the server's memory and CPU use (dcai monitor "
            "shows them per window).",
            min=0.1,
        ),
    ] = 10.0,
    trusted: Annotated[
        list[str] | None,
        typer.Option(
            "--trust",
            help="An exact type name a deployed model holds beyond dcai's list (repeatable), "
            "as given to dcai deploy --trust.",
        ),
    ] = None,
) -> None:
    """Serve every deployment: POST /v1/deployments/NAME/predict, /invocations (MLflow),
    /healthz, /readyz, /metrics (Prometheus), /docs. Changes made with `dcai deploy` are
    picked up within a second, without a restart. Needs: pip install 'dcai\\[serve]'."""
    from dcai._optional import import_optional

    import_optional("fastapi", extra="serve", purpose="Serving models")
    uvicorn = import_optional("uvicorn", extra="serve", purpose="Serving models")
    from dcai.serve.app import create_app

    ws = open_workspace(ctx)
    app = create_app(
        ws.stores,
        poll_interval=poll,
        default_deployment=default_deployment,
        trusted=tuple(trusted or ()),
        usage_interval=usage_every,
    )
    # A 100-row request allocates about a thousand containers (instances, answers, log
    # columns): at the default threshold of 700 the cycle collector ran more than once per
    # request, and its full collections re-walked every object made at start-up (the models,
    # the imported libraries). Those are frozen out of its walks (gc.freeze), and collections
    # run every 20,000 allocations: about +10 % requests/s at 100 rows (serving.py's load
    # generator against one dcai server, runs with and without; not a BENCHMARKS.md figure).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    served = ", ".join(sorted(app.state.source.snapshot.deployments)) or "none yet"
    err_console.print(f"serving {served} on http://{host}:{port} (docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
