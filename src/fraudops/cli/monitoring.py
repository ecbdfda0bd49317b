"""Closing the loop from the command line: replay production days, check the model."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

from fraudops.cli.common import app, console, facts, out, safe, settings

if TYPE_CHECKING:  # for the signatures only: the modules load when a command runs
    from fraudops.monitoring import Check


def print_check(check: Check) -> None:
    """The verdict, its reasons, the figures, and where the report is."""
    o, h = check.observed, check.health
    colour = {"healthy": "green", "unknown": "blue"}.get(h.status.value, "yellow")
    table = facts(
        f"{check.model_name} v{check.model_version} as of {check.as_of}: "
        f"[{colour}]{h.status.value.upper()}[/]"
    )
    table.add_row("reasons", "\n".join(safe(r) for r in h.reasons))
    table.add_row("window", f"{o.window_from}..{o.window_to}: {o.rows:,} predictions")
    table.add_row("score PSI", f"{o.score_psi:.3f}")
    top = sorted(o.feature_psi.items(), key=lambda kv: -kv[1])[:5]
    table.add_row("feature PSI (top)", ", ".join(f"{k} {v:.3f}" for k, v in top))
    if o.matured_ap is not None:
        table.add_row(
            "matured AP",
            f"{o.matured_ap:.3f} on {o.matured_rows:,} matured predictions "
            f"({o.matured_frauds} fraud); holdout {o.holdout_ap or 0:.3f}",
        )
    if o.label_coverage is not None:
        table.add_row("label coverage", f"{o.label_coverage:.1%}")
    table.add_row(
        "retrain", f"{'yes' if check.retrain.due else 'no'}: {safe(check.retrain.reason)}"
    )
    table.add_row("MLflow run", f"{check.run_id} (experiment fraud-monitoring)")
    if check.report:
        table.add_row("report", safe(check.report))
    out.print(table)


@app.command()
def replay(
    start: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First day to score (in the lake).")
    ],
    days: Annotated[int, typer.Option(min=1, help="Number of days.")] = 1,
) -> None:
    """Score days of the lake with the production model, logged as production traffic."""
    from fraudops.replay import replay as run_replay

    with console.status("scoring and logging"):
        result = run_replay(settings(), start=start.date(), days=days)
    out.print(
        f"logged {result.rows:,} predictions of version {result.model_version} for "
        f"{result.days[0]}..{result.days[-1]} in fraud.predictions"
    )


@app.command()
def monitor(
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last day checked (default: the last scored)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    report: Annotated[bool, typer.Option(help="Write the HTML drift report.")] = True,
) -> None:
    """Check the production model for drift and decay: MLflow run, fraud.model_health, report."""
    from fraudops.monitoring import monitor as run_check

    with console.status("checking the production model"):
        check = run_check(settings(), as_of=as_of.date() if as_of else None, report=report)
    if as_json:
        out.print_json(json.dumps(check.as_dict(), default=str))
    else:
        print_check(check)


@app.command()
def compact(
    before: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="Rewrite the days before this one (default: today, UTC)."
        ),
    ] = None,
) -> None:
    """Rewrite each finished day of fraud.predictions as one file (the API logs many small ones)."""
    from fraudops import lake

    day = before.date() if before else dt.datetime.now(dt.UTC).date()
    with console.status("compacting fraud.predictions"):
        done = lake.compact_predictions(settings(), before=day)
    for c in done:
        out.print(f"{c.day}: {c.files_before:,} files -> {c.files_after} ({c.rows:,} rows)")
    out.print(f"fraud.predictions: {len(done)} day(s) before {day} compacted")
