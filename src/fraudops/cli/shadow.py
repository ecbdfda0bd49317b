"""``fraudops shadow``: put a challenger in shadow, stop it, compare it with production."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fraudops.cli.common import app, out, safe, settings
from fraudops.cli.release import BY, print_event

if TYPE_CHECKING:
    from fraudops.shadowreport import ShadowReport, Side

shadow_app = typer.Typer(
    help="Shadow challengers: the API scores live traffic with a version the gate passed, "
    "beside production, without answering with it; compare them once labels mature.",
    no_args_is_help=True,
)
app.add_typer(shadow_app, name="shadow")


@shadow_app.command()
def start(
    version: Annotated[str, typer.Argument(help="A version that passed the gate.")],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Put a version in shadow (@shadow): the API follows within its poll interval."""
    from fraudops.shadow import start as start_shadow

    print_event(start_shadow(settings(), version, by=by))


@shadow_app.command()
def stop(
    by: Annotated[str | None, BY] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the history).")] = None,
) -> None:
    """Stop shadow scoring (no version carries @shadow any more)."""
    from fraudops.shadow import stop as stop_shadow

    print_event(stop_shadow(settings(), by=by, reason=reason))


def _figures(side: Side | None) -> list[str]:
    if side is None:
        return ["", "", "", "", "", ""]
    return [
        safe(side.model_versions),
        f"{side.average_precision:.4f}",
        f"{side.precision_at_budget:.3f}",
        f"{side.recall_at_budget:.3f}",
        f"{side.cost_saved_per_day:,.2f}",
        f"{side.alerts_per_day:,.1f}",
    ]


def print_report(report: ShadowReport) -> None:
    """The two models side by side, what was compared, and the verdict."""
    if report.compared == 0 and not report.shadow_unpaired:  # nothing to set side by side
        out.print(safe(report.verdict))
        return
    table = Table(title=f"shadow version {report.shadow_version} against production")
    for column in ("", "versions", "AP", "precision@budget", "recall@budget", "saved/day"):
        table.add_column(column)
    table.add_column("alerts/day")
    table.add_row("production", *_figures(report.production))
    table.add_row("shadow", *_figures(report.shadow))
    out.print(table)
    agreement = "n/a" if report.agreement is None else f"{report.agreement:.2%}"
    out.print(
        f"compared {report.compared:,} identical transactions ({report.shadow_unpaired:,} "
        f"shadow rows and {report.production_unpaired:,} answers without a pair); decisions "
        f"agree on {agreement} (shadow alone alerts {report.shadow_only_alerts:,}, "
        f"production alone {report.production_only_alerts:,}); {report.matured:,} matured "
        f"({report.matured_frauds} fraud) as of {report.as_of or 'n/a'}"
    )
    out.print(safe(report.verdict))


@shadow_app.command()
def report(
    version: Annotated[
        str | None, typer.Argument(help="The shadow version (default: @shadow now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Compare the shadow model with production on the same live transactions."""
    from fraudops.shadow import current
    from fraudops.shadowreport import compare

    s = settings()
    found = compare(s, version or current(s))
    if as_json:
        out.print_json(json.dumps(found.as_dict()))
        return
    print_report(found)
