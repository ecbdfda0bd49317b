"""The lifecycle by hand: generate, train, promote, status, and the whole demo."""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated

import typer

from fraudops.cli.common import (
    EngineOption,
    app,
    console,
    facts,
    out,
    progress_bar,
    settings,
    settings_for,
)
from fraudops.engine import Engine

if TYPE_CHECKING:  # for the signatures only: the modules load when a command runs
    from collections.abc import Callable
    from concurrent.futures import Future

    from fraudops.config import Settings
    from fraudops.gate import Decision
    from fraudops.generate import GenerateResult
    from fraudops.train import TrainResult


def run_generate(
    settings: Settings,
    start: dt.date | None,
    days: int | None,
    rows: int | None,
    *,
    apart: bool = False,
    on_started: Callable[[], None] | None = None,
) -> GenerateResult:
    """Generate days into the lake with a progress bar (``apart``: in a process of its own).

    ``on_started`` runs once generating has started (``apart``: its process runs).
    """
    from fraudops.generate import generate, generate_apart

    n_days = days if days is not None else settings.days
    with progress_bar() as progress:
        task = progress.add_task("generating transactions", total=n_days + 1)

        def on_day(day: dt.date) -> None:
            progress.update(task, advance=1, description=f"generated {day}")

        step = functools.partial(generate_apart, on_started=on_started) if apart else generate
        if on_started and not apart:
            on_started()
        result = step(settings, start=start, days=n_days, rows_per_day=rows, on_day=on_day)
        progress.update(task, advance=1, description="written to the lake")
    return result


def run_train(settings: Settings, snapshot_id: int | None) -> TrainResult:
    """The sweep and registration with a progress bar."""
    from fraudops import train

    steps = len(train.SWEEP) + 3
    with progress_bar() as progress:
        task = progress.add_task("training sweep", total=steps)

        def on_step(msg: str) -> None:
            progress.update(task, advance=1, description=msg[:70])

        result = train.train_and_register(settings, snapshot_id=snapshot_id, progress=on_step)
        progress.update(task, completed=steps, description="registered")
    return result


def prepare_training(settings: Settings) -> None:
    """Import the training stack, create the MLflow store and experiment, map the packages."""
    import matplotlib.backends.backend_agg  # noqa: F401  (renders the runs' plots)
    import matplotlib.figure  # noqa: F401  (builds them)

    from fraudops import model, tracking, train  # noqa: F401

    tracking.ensure_experiment(tracking.connect(settings), settings)
    model.prepare_logging()


def run_promote(settings: Settings, version: str | None, by: str | None = None) -> Decision:
    """The gate, with a spinner while both versions are re-scored."""
    from fraudops import registry

    with console.status("re-scoring candidate and production on the fresh holdout"):
        return registry.promote(settings, version=version, by=by)


def print_decision(decision: Decision) -> None:
    """One line: promoted or rejected, and why."""
    colour = "green" if decision.promote else "yellow"
    out.print(
        f"[{colour}]{decision.verdict.upper()}[/] version {decision.candidate_version}: "
        f"{decision.reason}"
    )


@app.command()
def generate(
    start: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First day (default from settings)."),
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Number of days.")] = None,
    rows: Annotated[int | None, typer.Option(min=100, help="Transactions per day.")] = None,
    engine: EngineOption = None,
) -> None:
    """Generate synthetic transactions and overwrite those days in the lake."""
    result = run_generate(settings_for(engine), start.date() if start else None, days, rows)
    out.print(
        f"wrote {result.rows:,} transactions ({result.fraud_rows:,} of them fraud, which the "
        f"bank learns later) and {result.label_events:,} label events reported in "
        f"{result.days[0]}..{result.days[-1]}; snapshot {result.snapshot_id}"
    )


@app.command()
def train(
    snapshot_id: Annotated[
        int | None, typer.Option(help="Lake snapshot to train on (default: current).")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Train the XGBoost sweep in MLflow and register the best run as a new version."""
    result = run_train(settings_for(engine), snapshot_id)
    out.print(
        f"registered version {result.version} from run {result.best_run_id} "
        f"(validation AP {result.metrics['average_precision']:.3f}, "
        f"holdout AP {result.holdout_metrics['average_precision']:.3f})"
    )


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="Version to gate (default: newest).")] = None,
    by: Annotated[
        str | None, typer.Option(help="Who runs the gate (history; default: the OS user).")
    ] = None,
) -> None:
    """Gate a version against production on the fresh holdout; move the alias if it wins."""
    print_decision(run_promote(settings(), version, by))


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the lake table, the production model, the version in shadow, the last decision."""
    from fraudops.status import status as read_status

    info = read_status(settings())
    if as_json:
        out.print_json(json.dumps(info.as_dict(), default=str))
        return
    lake_info, prod = info.lake, info.production
    table = facts(title="FraudOps status")
    table.add_row("lake table", f"{lake_info.table} ({lake_info.rows:,} rows)")
    table.add_row("snapshot", str(lake_info.snapshot_id or "none yet"))
    if prod:
        ap = prod.metrics.get("holdout_average_precision", float("nan"))
        table.add_row("production", f"{prod.name} v{prod.version} (@{prod.alias})")
        table.add_row("holdout AP", f"{ap:.3f}")
        table.add_row("trained on snapshot", str(prod.snapshot_id))
    else:
        table.add_row("production", "none yet")
    if info.shadow_version:
        table.add_row("in shadow", f"v{info.shadow_version} (`fraudops shadow report`)")
    if info.last_decision:
        d = info.last_decision
        table.add_row("last decision", f"v{d.candidate_version} {d.verdict}: {d.reason}")
    out.print(table)


@app.command()
def demo(
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Then serve the API and the MLflow UI.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the scoring API.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
    drift: Annotated[
        bool,
        typer.Option(
            help="Then simulate days of production with a drift switch: drift detected, "
            "retraining, the gate, matured AP before and after (minutes)."
        ),
    ] = False,
    drift_days: Annotated[
        int, typer.Option(min=10, help="Days of production to simulate with --drift.")
    ] = 46,
) -> None:
    """Generate the default history, train, promote; then serve the API and the MLflow UI."""
    from fraudops.cli.batch import demo_inbox
    from fraudops.cli.drift import first_production_day, run_drift_demo
    from fraudops.cli.features import print_backfill
    from fraudops.cli.services import serve_demo

    s = settings()
    t0 = time.perf_counter()
    # every step runs, each as soon as what it needs is there: the lake fills in a second
    # process (started before this one loads the lake's modules) while this one loads the
    # training stack and creates MLflow's store (in a thread started once that process
    # runs), and the API's card histories load while the model trains
    with ThreadPoolExecutor(1, thread_name_prefix="fraudops-demo") as side:
        preparing: list[Future[None]] = []
        gen = run_generate(
            s,
            None,
            None,
            None,
            apart=s.engine is Engine.IN_PROCESS,
            on_started=lambda: preparing.append(side.submit(prepare_training, s)),
        )
        out.print(
            f"lake: {gen.rows:,} transactions ({gen.fraud_rows:,} fraud), {gen.label_events:,} "
            f"label events reported so far; snapshot {gen.snapshot_id}"
        )
        from fraudops.cardhistory.backfill import backfill  # the lake: loaded meanwhile

        histories = side.submit(backfill, s)  # the API reads and updates card histories there
        preparing[0].result()
        trained = run_train(s, gen.snapshot_id)
        out.print(
            f"MLflow: registered version {trained.version} "
            f"(holdout AP {trained.holdout_metrics['average_precision']:.3f})"
        )
        decision = run_promote(s, trained.version)
        print_decision(decision)
        print_backfill(histories.result())
    scores = bool(decision.promote or decision.champion_version)  # a production model
    # the sample file is the day after the lake's last, once the lake has all its days: with
    # --drift, after the simulated days (on their first, its unlabelled rows would count as
    # legitimate in the simulation's matured AP)
    after = first_production_day(s)
    batch = demo_inbox(s, day=after) if scores and not drift else None
    elapsed = time.perf_counter() - t0
    summary = facts(title=f"FraudOps demo finished in {elapsed:.1f} s")
    summary.add_row("home", str(s.home_dir))
    summary.add_row("lake", f"{gen.rows:,} rows in fraud.transactions @ {gen.snapshot_id}")
    summary.add_row("tracking", s.tracking_url)
    summary.add_row("model", f"{s.model_name} v{trained.version}")
    summary.add_row("gate", f"{decision.verdict} (AP {decision.candidate_ap:.3f})")
    if batch is not None:
        summary.add_row(
            "batch scoring",
            f"{batch.rows_scored:,} rows scored, {batch.rows_rejected:,} rejected: {batch.outbox}",
        )
    if scores:
        summary.add_row(
            "your own CSV", f"drop it in {s.inbox_url}/incoming, run `fraudops score-inbox`"
        )
    summary.add_row("MLflow UI", f"mlflow ui --backend-store-uri {s.tracking_url}")
    summary.add_row("status", "fraudops status --json")
    out.print(summary)
    if drift:
        run_drift_demo(s, days=drift_days)
        if scores:
            demo_inbox(s, day=after + dt.timedelta(days=drift_days))
    if serve_api:
        serve_demo(s, port=port, ui_port=ui_port)
