"""``fraudops features``: the card-history store, filled from the lake and looked at."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer

from fraudops.cli.common import app, console, facts, out, safe, settings

if TYPE_CHECKING:  # for the signatures only: the modules load when a command runs
    from fraudops.cardhistory.backfill import Backfill
    from fraudops.config import Settings

features_app = typer.Typer(
    help="The card-history store the API reads and updates: fill it from the lake, inspect it.",
    no_args_is_help=True,
)
app.add_typer(features_app, name="features")


def run_backfill(s: Settings, *, days: int | None = None, keep: bool = False) -> Backfill:
    """Fill the store from the lake, with a spinner."""
    from fraudops.cardhistory.backfill import backfill
    from fraudops.cardhistory.definition import HISTORY_DAYS

    with console.status("loading card histories from the lake"):
        return backfill(s, days=days or HISTORY_DAYS, keep=keep)


def print_backfill(result: Backfill) -> None:
    """One line: what was loaded where."""
    span = "..".join(result.days) or "no day"
    out.print(
        f"card histories: {result.loaded:,} of {result.transactions:,} transactions ({span}) "
        f"loaded into {safe(result.store)}; it holds {result.events:,} transactions of "
        f"{result.cards:,} cards ({result.version}) after {result.seconds:.1f} s"
    )


@features_app.command()
def backfill(
    days: Annotated[
        int | None, typer.Option(min=1, help="Days of the lake to load (default: 31, the horizon).")
    ] = None,
    keep: Annotated[
        bool, typer.Option(help="Keep what the store holds (default: empty it first).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rebuild the store from the lake's last days: after a restart, a new store or new features."""
    result = run_backfill(settings(), days=days, keep=keep)
    if as_json:
        out.print_json(json.dumps(dataclasses.asdict(result)))
    else:
        print_backfill(result)


@features_app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Where the store is, the feature definition it holds, how many cards and transactions."""
    from fraudops.cardhistory import HISTORY_FEATURES, VERSION
    from fraudops.cardhistory.stores import open_store
    from fraudops.errors import redact

    store = open_store(settings())
    try:
        found = {
            "store": redact(store.url),
            "holds": store.version(),
            "code": VERSION,
            **store.stats(),
            "features": list(HISTORY_FEATURES),
        }
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps(found))
        return
    table = facts(title="card-history store")
    table.add_row("store", safe(found["store"]))
    ready = found["holds"] == VERSION
    table.add_row(
        "definition",
        f"{found['holds'] or 'never filled'}"
        + (
            "" if ready else f" [yellow](this code: {VERSION}: run `fraudops features backfill`)[/]"
        ),
    )
    table.add_row("cards, transactions", f"{found['cards']:,}, {found['events']:,}")
    table.add_row("features", ", ".join(HISTORY_FEATURES))
    out.print(table)
