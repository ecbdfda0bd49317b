"""The ``fraudops`` command: every lifecycle step by hand, with progress bars."""

from __future__ import annotations

import datetime as dt
import json
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


@app.command()
def demo() -> None:
    """Generate the default history, train, promote, and print a summary."""
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
    summary.add_row("MLflow UI", f"mlflow ui --backend-store-uri {settings.tracking_url}")
    summary.add_row("status", "fraudops status --json")
    out.print(summary)


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
    _guarded(lambda: app(standalone_mode=True))
    sys.exit(0)


if __name__ == "__main__":
    main()
