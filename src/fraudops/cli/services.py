"""Long-running services from the command line: the scoring API and a local Airflow."""

from __future__ import annotations

import gc
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from fraudops.cli.common import CPYTHON_COLLECTION, app, console, facts, out, settings

if TYPE_CHECKING:
    from fraudops.config import Settings


def serve_demo(settings: Settings, *, port: int, ui_port: int) -> None:
    """The end of ``fraudops demo``: the MLflow UI, a curl line, then the API until Ctrl-C."""
    from fraudops.api import server

    curl = server.curl_example(settings, port=port, key=server.demo_key(settings))
    with server.mlflow_ui(settings, port=ui_port) as ui_url:
        out.print(f"MLflow UI: {ui_url}   API docs: http://127.0.0.1:{port}/docs")
        out.print("score a transaction:")
        out.print(curl, soft_wrap=True, highlight=False, markup=False)
        console.print("Ctrl-C stops the API and the MLflow UI.")
        gc.set_threshold(*CPYTHON_COLLECTION)
        server.serve(settings, host="127.0.0.1", port=port, workers=1)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface (default FRAUDOPS_API_HOST: 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default FRAUDOPS_API_PORT: 8000).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="uvicorn workers (default FRAUDOPS_API_WORKERS: 1).")
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the scoring API on the production model (docs at /docs); Ctrl-C stops it."""
    from fraudops.api import server

    gc.set_threshold(*CPYTHON_COLLECTION)
    server.serve(settings(), host=host, port=port, workers=workers, access_log=access_log)


@app.command("airflow")
def airflow_(
    port: Annotated[int, typer.Option(help="Port of the Airflow UI and REST API.")] = 8080,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 opens it to the network).")
    ] = "127.0.0.1",
    triggerer: Annotated[
        bool, typer.Option(help="Also run the triggerer (only deferrable tasks need it).")
    ] = False,
) -> None:
    """Run Airflow locally on the embedded defaults, with the FraudOps DAGs; Ctrl-C stops it."""
    from fraudops import airflow_local

    s = settings()
    with ExitStack() as stack:
        with console.status("starting Airflow: database, api-server, scheduler, dag-processor"):
            af = stack.enter_context(
                airflow_local.run_airflow(s, host=host, port=port, triggerer=triggerer)
            )
        info = facts(title="Airflow is ready")
        info.add_row("UI", af.url)
        info.add_row("login", f"{af.username} / {af.password}")
        info.add_row("first DAG", "fraud_bootstrap: press Trigger")
        info.add_row("FRAUDOPS_HOME", str(s.home_dir))
        info.add_row("DAGs", str(af.dags_folder))
        info.add_row("logs", str(af.logs))
        out.print(info)
        console.print("Ctrl-C stops Airflow.")
        airflow_local.serve_forever(af)
        console.print("stopping Airflow ...")
