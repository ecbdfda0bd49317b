"""The ``fraudops`` command: every lifecycle step by hand, with progress bars."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudops.config import Settings, get_settings
from fraudops.errors import FraudOpsError

app = typer.Typer(
    help="FraudOps: synthetic transactions -> Iceberg lake -> XGBoost in MLflow -> promotion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError: show it as a settings problem
        raise FraudOpsError(f"invalid settings: {exc}") from exc


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


def _run_generate(
    settings: Settings, start: dt.date | None, days: int | None, rows: int | None
) -> Any:
    from fraudops import lifecycle

    n_days = days if days is not None else settings.days
    with _progress() as progress:
        task = progress.add_task("generating transactions", total=n_days + 1)

        def on_day(day: dt.date) -> None:
            progress.update(task, advance=1, description=f"generated {day}")

        result = lifecycle.generate(
            settings, start=start, days=n_days, rows_per_day=rows, on_day=on_day
        )
        progress.update(task, advance=1, description="written to the lake")
    return result


def _run_train(settings: Settings, snapshot_id: int | None) -> Any:
    from fraudops import lifecycle, train

    with _progress() as progress:
        task = progress.add_task("training sweep", total=len(train.SWEEP) + 2)

        def on_step(msg: str) -> None:
            progress.update(task, advance=1, description=msg[:70])

        result = lifecycle.train_and_register(settings, snapshot_id=snapshot_id, progress=on_step)
        progress.update(task, completed=len(train.SWEEP) + 2, description="registered")
    return result


def _run_promote(settings: Settings, version: str | None) -> dict[str, Any]:
    from fraudops import lifecycle

    with console.status("re-scoring candidate and production on the fresh holdout"):
        return lifecycle.promote(settings, version=version)


def _print_decision(decision: dict[str, Any]) -> None:
    colour = "green" if decision["promote"] else "yellow"
    verb = "PROMOTED" if decision["promote"] else "REJECTED"
    out.print(f"[{colour}]{verb}[/] version {decision['candidate_version']}: {decision['reason']}")


@app.command()
def generate(
    start: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First day (default from settings)."),
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Number of days.")] = None,
    rows: Annotated[int | None, typer.Option(min=100, help="Transactions per day.")] = None,
) -> None:
    """Generate synthetic transactions and overwrite those days in the lake."""
    settings = _settings()
    result = _run_generate(settings, start.date() if start else None, days, rows)
    out.print(
        f"wrote {result.rows:,} transactions ({result.fraud_rows:,} fraud) for "
        f"{result.days[0]}..{result.days[-1]}; snapshot {result.snapshot_id}"
    )


@app.command()
def train(
    snapshot_id: Annotated[
        int | None, typer.Option(help="Lake snapshot to train on (default: current).")
    ] = None,
) -> None:
    """Train the XGBoost sweep in MLflow and register the best run as a new version."""
    result = _run_train(_settings(), snapshot_id)
    out.print(
        f"registered version {result.version} from run {result.best_run_id} "
        f"(validation AP {result.metrics['average_precision']:.3f}, "
        f"holdout AP {result.holdout_metrics['average_precision']:.3f})"
    )


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="Version to gate (default: newest).")] = None,
) -> None:
    """Gate a version against production on the fresh holdout; move the alias if it wins."""
    _print_decision(_run_promote(_settings(), version))


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the lake table and the production model with its lineage and last decision."""
    from fraudops import lifecycle

    info = lifecycle.status(_settings())
    if as_json:
        out.print_json(json.dumps(info, default=str))
        return
    lake_info, prod = info["lake"], info["production"]
    table = Table(title="FraudOps status", show_header=False)
    table.add_row("lake table", f"{lake_info['table']} ({lake_info['rows']:,} rows)")
    table.add_row("snapshot", str(lake_info["snapshot_id"]))
    if prod:
        ap = prod["metrics"].get("holdout_average_precision", float("nan"))
        table.add_row("production", f"{prod['name']} v{prod['version']} (@{prod['alias']})")
        table.add_row("holdout AP", f"{ap:.3f}")
        table.add_row("trained on snapshot", str(prod["snapshot_id"]))
    else:
        table.add_row("production", "none yet")
    if info["last_decision"]:
        d = info["last_decision"]
        table.add_row(
            "last decision", f"v{d.get('candidate_version')} {d.get('decision')}: {d.get('reason')}"
        )
    out.print(table)


def _run_score_inbox(settings: Settings, *, show_progress: bool = True) -> Any:
    from fraudops import inbox

    if not show_progress:
        return inbox.score_inbox(settings)
    with _progress() as progress:
        tasks: dict[int, Any] = {}

        def on_progress(p: inbox.InboxProgress) -> None:
            if p.index not in tasks:
                tasks[p.index] = progress.add_task(p.file, total=p.total_bytes or None)
            task = tasks[p.index]
            if p.status == "reading":
                progress.update(task, completed=p.done_bytes, total=p.total_bytes or None)
            else:
                progress.update(task, description=f"{p.file}: {p.status}", completed=1, total=1)

        return inbox.score_inbox(settings, progress=on_progress)


def _print_inbox(summary: Any) -> None:
    table = Table(title=f"inbox {summary.inbox}")
    for name in ("file", "status", "scored", "rejected", "where / why"):
        table.add_column(name)
    for r in summary.reports:
        places = (loc.removeprefix(f"{summary.inbox}/") for loc in r.outputs.values())
        where = r.reason if r.status != "scored" else "\n".join(places)
        table.add_row(r.file, r.status, f"{r.rows_scored:,}", f"{r.rows_rejected:,}", where)
    if summary.reports:
        out.print(table)
    out.print(
        f"{summary.files} file(s): {summary.rows_scored:,} rows scored, "
        f"{summary.rows_rejected:,} rejected, {summary.files_quarantined} quarantined, "
        f"{summary.duplicates} duplicate(s) in {summary.seconds:.1f} s; "
        f"outbox {summary.outbox}, lake table fraud.scores"
    )


@app.command("score-inbox")
def score_inbox(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Score each new CSV in the inbox's incoming/ once: outbox, fraud.scores, quarantine."""
    summary = _run_score_inbox(_settings(), show_progress=not as_json)
    if as_json:
        out.print_json(json.dumps(summary.as_dict(), default=str))
    else:
        _print_inbox(summary)


def _demo_inbox(settings: Settings) -> Any:
    """Drop a sample CSV with a few bad rows into the inbox and score it."""
    from fraudops import inbox

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    data = inbox.sample_csv(rows=2_000, seed=int(stamp.replace("-", "")) % 2**31)
    where = inbox.drop_file(settings, f"sample-{stamp}.csv", data)
    out.print(f"inbox: dropped {where} (2,000 transactions, 7 of them bad)")
    summary = _run_score_inbox(settings)
    _print_inbox(summary)
    return summary


@app.command()
def demo(
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Then serve the API and the MLflow UI.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the scoring API.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
) -> None:
    """Generate the default history, train, promote; then serve the API and the MLflow UI."""
    settings = _settings()
    t0 = time.perf_counter()
    gen = _run_generate(settings, None, None, None)
    out.print(
        f"lake: {gen.rows:,} transactions ({gen.fraud_rows:,} fraud), snapshot {gen.snapshot_id}"
    )
    trained = _run_train(settings, gen.snapshot_id)
    out.print(
        f"MLflow: registered version {trained.version} "
        f"(holdout AP {trained.holdout_metrics['average_precision']:.3f})"
    )
    decision = _run_promote(settings, trained.version)
    _print_decision(decision)
    batch = _demo_inbox(settings) if decision["promote"] or decision["champion_version"] else None
    elapsed = time.perf_counter() - t0
    summary = Table(title=f"FraudOps demo finished in {elapsed:.1f} s", show_header=False)
    summary.add_row("home", str(settings.home_dir))
    summary.add_row("lake", f"{gen.rows:,} rows in fraud.transactions @ {gen.snapshot_id}")
    summary.add_row("tracking", settings.tracking_url)
    summary.add_row("model", f"{settings.model_name} v{trained.version}")
    summary.add_row(
        "gate",
        f"{'promoted' if decision['promote'] else 'rejected'} (AP {decision['candidate_ap']:.3f})",
    )
    if batch is not None:
        summary.add_row(
            "batch scoring",
            f"{batch.rows_scored:,} rows scored, {batch.rows_rejected:,} rejected: {batch.outbox}",
        )
        summary.add_row(
            "your own CSV", f"drop it in {settings.inbox_url}/incoming, run `fraudops score-inbox`"
        )
    summary.add_row("MLflow UI", f"mlflow ui --backend-store-uri {settings.tracking_url}")
    summary.add_row("status", "fraudops status --json")
    out.print(summary)
    if serve_api:
        _serve_demo(settings, port=port, ui_port=ui_port)


def _serve_demo(settings: Settings, *, port: int, ui_port: int) -> None:
    from fraudops.api import server

    curl = server.curl_example(settings, port=port, key=server.demo_key(settings))
    with server.mlflow_ui(settings, port=ui_port) as ui_url:
        out.print(f"MLflow UI: {ui_url}   API docs: http://127.0.0.1:{port}/docs")
        out.print("score a transaction:")
        out.print(curl, soft_wrap=True, highlight=False, markup=False)
        console.print("Ctrl-C stops the API and the MLflow UI.")
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

    server.serve(_settings(), host=host, port=port, workers=workers, access_log=access_log)


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
    from contextlib import ExitStack

    from fraudops import orchestration

    settings = _settings()
    with ExitStack() as stack:
        with console.status("starting Airflow: database, api-server, scheduler, dag-processor"):
            af = stack.enter_context(
                orchestration.run_airflow(settings, host=host, port=port, triggerer=triggerer)
            )
        info = Table(title="Airflow is ready", show_header=False)
        info.add_row("UI", af.url)
        info.add_row("login", f"{af.username} / {af.password}")
        info.add_row("first DAG", "fraud_bootstrap: press Trigger")
        info.add_row("FRAUDOPS_HOME", str(settings.home_dir))
        info.add_row("DAGs", str(af.dags_folder))
        info.add_row("logs", str(af.logs))
        out.print(info)
        console.print("Ctrl-C stops Airflow.")
        orchestration.serve_forever(af)
        console.print("stopping Airflow ...")


def _guarded(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except FraudOpsError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None


def main() -> None:
    """Console-script entry point: one clear line for user-fixable errors, no traceback."""
    # MLflow's INFO lines (table migrations, "registered model exists") drown the progress bars
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    _guarded(lambda: app(standalone_mode=True))
    sys.exit(0)


if __name__ == "__main__":
    main()
