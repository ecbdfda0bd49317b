"""Batch scoring from the command line: ``fraudops score-inbox``."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fraudops.cli.common import EngineOption, app, out, progress_bar, safe, settings_for

if TYPE_CHECKING:  # for the signatures only: the modules load when a command runs
    from rich.progress import TaskID

    from fraudops.config import Settings
    from fraudops.inbox import InboxProgress, InboxSummary


def run_score_inbox(settings: Settings, *, show_progress: bool = True) -> InboxSummary:
    """Score the inbox, with a progress bar per file."""
    from fraudops.inbox import score_inbox

    if not show_progress:
        return score_inbox(settings)
    with progress_bar() as progress:
        tasks: dict[int, TaskID] = {}

        def on_progress(p: InboxProgress) -> None:
            if p.index not in tasks:
                tasks[p.index] = progress.add_task(safe(p.file), total=p.total_bytes or None)
            task = tasks[p.index]
            if p.status == "reading":
                progress.update(task, completed=p.done_bytes, total=p.total_bytes or None)
            else:
                done = f"{safe(p.file)}: {p.status}"
                progress.update(task, description=done, completed=1, total=1)

        return score_inbox(settings, progress=on_progress)


def print_inbox(summary: InboxSummary) -> None:
    """A table of the files and one line of totals."""
    table = Table(title=f"inbox {safe(summary.inbox)}")
    for name in ("file", "status", "scored", "rejected"):
        table.add_column(name)
    table.add_column("where / why", overflow="fold")  # paths: wrapped, never cut short
    for r in summary.reports:
        places = (safe(loc.removeprefix(f"{summary.inbox}/")) for loc in r.outputs.values())
        # each output on a line of its own (the line breaks are ours, not from outside)
        where = safe(r.reason) if r.status != "scored" else "\n".join(places)
        row = (safe(r.file), r.status, f"{r.rows_scored:,}", f"{r.rows_rejected:,}", where)
        table.add_row(*row)
    if summary.reports:
        out.print(table)
    failed = f", {summary.failed} failed (tried again next run)" if summary.failed else ""
    out.print(
        f"{summary.files} file(s): {summary.rows_scored:,} rows scored, "
        f"{summary.rows_rejected:,} rejected, {summary.files_quarantined} quarantined, "
        f"{summary.duplicates} duplicate(s){failed} in {summary.seconds:.1f} s; "
        f"outbox {safe(summary.outbox)}, lake table fraud.scores"
    )


@app.command("score-inbox")
def score_inbox(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    engine: EngineOption = None,
) -> None:
    """Score each new CSV in the inbox's incoming/ once: outbox, fraud.scores, quarantine."""
    from fraudops.modelimports import scoring_only

    with scoring_only():  # this process trains nothing: its model loads without scikit-learn
        summary = run_score_inbox(settings_for(engine), show_progress=not as_json)
    if as_json:
        out.print_json(json.dumps(summary.as_dict(), default=str))
    else:
        print_inbox(summary)
    if summary.failed:  # a scheduler sees the run failed, and runs it again
        raise typer.Exit(1)


def demo_inbox(settings: Settings, *, day: dt.date) -> InboxSummary:
    """Drop a sample CSV of ``day`` with a few bad rows into the inbox and score it.

    The day after the lake's last: the card histories go on from the lake's (a later day
    would start every card afresh, and monitoring would see that gap as drift).
    """
    from fraudops.demo import SAMPLE_BAD_ROWS, sample_csv
    from fraudops.inbox import drop_file

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    data = sample_csv(rows=2_000, day=day, seed=int(stamp.replace("-", "")) % 2**31)
    where = drop_file(settings, f"sample-{stamp}.csv", data)
    out.print(f"inbox: dropped {where} (2,000 transactions, {SAMPLE_BAD_ROWS} of them bad)")
    summary = run_score_inbox(settings)
    print_inbox(summary)
    return summary
