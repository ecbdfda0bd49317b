"""Production by hand: approve or reject a waiting challenger, roll back, read the history."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.padding import Padding

from fraudops.cli.common import app, out, settings

if TYPE_CHECKING:
    from fraudops.history import Event

BY = typer.Option(help="Who acts (recorded in the history; default: the OS user).")


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def print_event(event: Event) -> None:
    """One line: what moved production, from what, by whom."""
    out.print(
        f"[green]{event.kind.upper()}[/] version {event.version} "
        f"(was {event.previous or 'none'}) by {escape(event.by)}: {escape(event.why)}"
    )


def print_history(name: str, alias: str, found: list[Event]) -> None:
    """Each event as a line (when, what, which version, who, the money), its reason below.

    The reason gets the terminal's width (in a table column beside seven others, a long
    one came out a word a line).
    """
    out.print(f"[bold]{escape(name)}: history of @{escape(alias)}[/]")
    for e in found:
        was = f" (was {e.previous})" if e.previous else ""
        saved = e.candidate_saved_per_day
        money = "" if saved is None else f"  saves {_money(saved)} a day"
        if e.champion_saved_per_day is not None:
            money += f" (champion's {_money(e.champion_saved_per_day)})"
        out.print(
            f"{e.at[:19].replace('T', ' ')}  [bold]{e.kind.upper()}[/] version {e.version}{was}"
            f"  by {escape(e.by)}{money}"
        )
        out.print(Padding(escape(e.why), (0, 0, 0, 4), expand=False))
    if not found:
        out.print("no event yet")


@app.command()
def approve(
    version: Annotated[str, typer.Argument(help="The version waiting as @challenger.")],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Approve the version the gate passed (manual promotion): it becomes production."""
    from fraudops.release import approve as approve_version

    print_event(approve_version(settings(), version, by=by))


@app.command()
def reject(
    version: Annotated[str, typer.Argument(help="The version waiting as @challenger.")],
    by: Annotated[str | None, BY] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the history).")] = None,
) -> None:
    """Reject the version the gate passed (manual promotion): production stays as it is."""
    from fraudops.release import reject as reject_version

    print_event(reject_version(settings(), version, by=by, reason=reason))


@app.command()
def rollback(
    by: Annotated[str | None, BY] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded in the history).")] = None,
) -> None:
    """Move production back to the version it held before the current one, in one step."""
    from fraudops.release import rollback as roll_back

    print_event(roll_back(settings(), by=by, reason=reason))


@app.command()
def history(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every promotion, refusal, approval and rollback: scores, reasons, who and when."""
    from fraudops import tracking
    from fraudops.history import events

    s = settings()
    found = events(tracking.connect(s), s)
    if as_json:
        out.print_json(json.dumps([dataclasses.asdict(e) for e in found]))
        return
    print_history(s.model_name, s.model_alias, found)
