"""The generate step: days of synthetic transactions, and the label events of those days.

The lake is written as a bank sees it: ``fraud.transactions`` without the truth, and
``fraud.labels`` with the events *reported* during the generated days (about transactions of
those days and of earlier ones). Rerunning the same days overwrites both, never duplicates.

The lake, the generator and Arrow load when days are generated, not with this module: a
command that generates in a process of its own (:func:`generate_apart`) starts that process
without waiting for them, and the process loads them while this one does other work.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from fraudops.config import Settings
from fraudops.engine import Engine
from fraudops.errors import FraudOpsError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class GenerateResult:
    """What a generate step wrote."""

    days: list[str]
    rows: int
    fraud_rows: int  # the truth, which the lake does not hold: for people reading this
    label_events: int
    snapshot_id: int  # of fraud.transactions
    labels_snapshot_id: int


def generate(
    settings: Settings,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    rows_per_day: int | None = None,
    on_day: Callable[[dt.date], None] | None = None,
) -> GenerateResult:
    """Generate days of transactions and their label events; overwrite those days (idempotent)."""
    start = start or settings.start_date
    n_days = days if days is not None else settings.days
    rows = rows_per_day or settings.rows_per_day
    wanted = [start + dt.timedelta(days=i) for i in range(n_days)]
    from fraudops import lake
    from fraudops.schema import label_event_schema

    if settings.engine is Engine.SPARK:
        from fraudops.spark.generate import generate_on_spark  # pyspark: only when asked

        done = generate_on_spark(settings, wanted=wanted, rows=rows)
        n_rows, fraud_rows, events, snapshot_id = (
            done.rows,
            done.fraud_rows,
            done.events,
            done.snapshot_id,
        )
        for day in wanted:
            if on_day:
                on_day(day)
    else:
        n_rows, fraud_rows, events, snapshot_id = _in_process(settings, wanted, rows, on_day)
    catalog = lake.open_catalog(settings)
    labels_snapshot_id = lake.write_days(
        lake.labels_table(catalog),
        events,
        wanted,
        column="reported_at",
        schema=label_event_schema(),
    )
    return GenerateResult(
        days=[d.isoformat() for d in wanted],
        rows=n_rows,
        fraud_rows=fraud_rows,
        label_events=events.num_rows,
        snapshot_id=snapshot_id,
        labels_snapshot_id=labels_snapshot_id,
    )


def generate_apart(
    settings: Settings,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    rows_per_day: int | None = None,
    on_day: Callable[[dt.date], None] | None = None,
    on_started: Callable[[], None] | None = None,
) -> GenerateResult:
    """:func:`generate` in a process of its own, leaving this one free for other work.

    Generating holds the GIL most of the time: ``fraudops demo`` loads its training stack and
    creates MLflow's store meanwhile, and only a second process lets both use the machine's
    cores. ``on_started`` runs once the child runs: the time to start that other work in a
    thread (a process started while another thread adds to the environment, as loading
    MLflow does, may read it mid-change and die before it runs). ``on_day`` runs here, as
    the child reports each day; the child's error is raised here.
    """
    spawn = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    here, there = spawn.Pipe(duplex=False)
    child = spawn.Process(
        target=_generate_and_report,
        args=(there, settings, start, days, rows_per_day),
        name="fraudops-generate",
        daemon=True,
    )
    child.start()
    there.close()
    try:
        if on_started:
            on_started()
        while True:
            try:
                kind, value = here.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"the generating process ended with exit code {child.exitcode}"
                ) from None
            if kind == "day" and on_day:
                on_day(value)
            elif kind == "error":
                raise value
            elif kind == "done":
                return value  # type: ignore[no-any-return]
    finally:
        here.close()
        child.join(timeout=30)
        if child.is_alive():  # interrupted here: the child's work is rerun next time
            child.kill()
            child.join()


def _generate_and_report(
    conn: Connection,
    settings: Settings,
    start: dt.date | None,
    days: int | None,
    rows_per_day: int | None,
) -> None:
    message: tuple[str, Any]
    try:
        result = generate(
            settings,
            start=start,
            days=days,
            rows_per_day=rows_per_day,
            on_day=lambda day: conn.send(("day", day)),
        )
        message = ("done", result)
    except Exception as exc:  # noqa: BLE001  (raised again in the parent)
        message = ("error", _portable(exc))
    try:
        conn.send(message)
    finally:
        conn.close()


def _portable(exc: Exception) -> Exception:
    """The error, with the child's traceback as a note, if it crosses a pipe; else its text."""
    if not isinstance(exc, FraudOpsError):  # a user-fixable error is one line as it is
        exc.add_note("in the generating process:\n" + "".join(traceback.format_exception(exc)))
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301  (our own bytes)
    except Exception:  # noqa: BLE001  (an error that does not unpickle: its text)
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _in_process(
    settings: Settings,
    wanted: list[dt.date],
    rows: int,
    on_day: Callable[[dt.date], None] | None,
) -> tuple[int, int, pa.Table, int]:
    """Generate the days here; write the transactions. (rows, fraud rows, events, snapshot)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from fraudops import datagen, lake
    from fraudops.schema import LABEL

    truth: dict[dt.date, pa.Table] = {}
    for day in wanted:
        truth[day] = datagen.generate_day(
            day,
            rows=rows,
            seed=settings.seed,
            fraud_rate=settings.fraud_rate,
            drift_from=settings.drift_from,
        )
        if on_day:
            on_day(day)
    data = pa.concat_tables(truth.values())
    events = datagen.reported_on(
        wanted,
        rows=rows,
        seed=settings.seed,
        fraud_rate=settings.fraud_rate,
        drift_from=settings.drift_from,
        truth=truth,
    )
    snapshot_id = lake.write_days(
        lake.transactions_table(lake.open_catalog(settings)),
        data.drop_columns([LABEL.name]),
        wanted,
    )
    return data.num_rows, int(pc.sum(data[LABEL.name]).as_py()), events, snapshot_id
