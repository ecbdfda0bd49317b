"""Tables written a day at a time (transactions by ``event_ts``, labels by ``reported_at``).

Writing days that already exist replaces them (overwrite by filter), so reruns never
duplicate rows; every write is a snapshot, and reads can be pinned to one (time travel).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    LessThan,
    Or,
)

# Table.append streams only into unpartitioned tables in pyiceberg 0.12 (iceberg-python#2152):
# append_once writes data files batch by batch with its helper (pinned < 0.13)
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from fraudops.errors import FraudOpsError
from fraudops.lake.catalog import arrow_schema_of, plain_strings
from fraudops.schema import arrow_schema


def _ts_literal(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).isoformat()


def days_filter(days: Iterable[dt.date], column: str = "event_ts") -> BooleanExpression:
    """A filter selecting whole days of ``column`` (contiguous runs become one range)."""
    ordered = sorted(set(days))
    if not ordered:
        return AlwaysTrue()
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in ordered:
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + dt.timedelta(days=1))
        else:
            ranges.append((day, day + dt.timedelta(days=1)))
    exprs: list[BooleanExpression] = [
        And(
            GreaterThanOrEqual(column, _ts_literal(a)),  # type: ignore[call-arg]
            LessThan(column, _ts_literal(b)),  # type: ignore[call-arg]
        )
        for a, b in ranges
    ]
    return reduce(lambda x, y: Or(x, y), exprs)


def write_days(
    table: Table,
    data: pa.Table,
    days: Iterable[dt.date],
    *,
    column: str = "event_ts",
    schema: pa.Schema | None = None,
    properties: dict[str, str] | None = None,
) -> int:
    """Replace ``days`` (of ``column``) with ``data`` in one snapshot; returns its id.

    ``data`` is cast to ``schema`` (default: the transaction contract's Arrow schema).
    """
    days = list(days)
    data = data.cast(schema or arrow_schema())
    summary = {"fraudops.days": ",".join(d.isoformat() for d in sorted(days)), **(properties or {})}
    with warnings.catch_warnings():  # first write of a day: "delete did not match any records"
        warnings.simplefilter("ignore", UserWarning)
        table.overwrite(
            data, overwrite_filter=days_filter(days, column), snapshot_properties=summary
        )
    snap = table.current_snapshot()
    assert snap is not None
    return snap.snapshot_id


def read_transactions(
    table: Table,
    *,
    snapshot_id: int | None = None,
    days: Iterable[dt.date] | None = None,
    columns: tuple[str, ...] = ("*",),
) -> pa.Table:
    """Read transactions, optionally pinned to a snapshot (time travel) and limited to days."""
    row_filter = days_filter(days) if days is not None else AlwaysTrue()
    scan = table.scan(row_filter=row_filter, snapshot_id=snapshot_id, selected_fields=columns)
    return scan.to_arrow()


@dataclass(frozen=True)
class TableStatus:
    """What ``status`` reports about a lake table."""

    table: str
    snapshot_id: int | None
    rows: int
    snapshots: int
    location: str


def table_status(table: Table) -> TableStatus:
    """Current snapshot id, row count and snapshot count of a table."""
    snap = table.current_snapshot()
    rows = int(snap.summary.get("total-records") or 0) if snap and snap.summary else 0
    return TableStatus(
        table=".".join(table.name()),
        snapshot_id=snap.snapshot_id if snap else None,
        rows=rows,
        snapshots=len(table.snapshots()),
        location=table.location(),
    )


def resolve_snapshot(table: Table, snapshot_id: int | None = None) -> Snapshot:
    """A snapshot by id, or the current one when ``snapshot_id`` is None.

    Raises:
        FraudOpsError: the table has no snapshot yet, or none with that id.
    """
    if snapshot_id is None:
        snap = table.current_snapshot()
        if snap is None:
            raise FraudOpsError(
                f"{'.'.join(table.name())} is empty: run `fraudops generate` first."
            )
        return snap
    snap = table.snapshot_by_id(snapshot_id)
    if snap is None:
        raise FraudOpsError(f"{'.'.join(table.name())} has no snapshot {snapshot_id}")
    return snap


def snapshot_days(table: Table, snapshot_id: int | None = None) -> list[dt.date]:
    """The distinct days present in the table at a snapshot (none for an empty table)."""
    if snapshot_id is None and table.current_snapshot() is None:
        return []
    snap = resolve_snapshot(table, snapshot_id)
    # read just the timestamp column: cheap and exact
    ts = read_transactions(table, snapshot_id=snap.snapshot_id, columns=("event_ts",))["event_ts"]
    days = pc.unique(pc.cast(ts, pa.date32()))
    return sorted(days.to_pylist())


def read_labels(table: Table, *, before: dt.datetime, snapshot_id: int | None = None) -> pa.Table:
    """Label events reported before ``before`` (a cut-off: nothing later is ever used)."""
    if snapshot_id is None and table.current_snapshot() is None:
        return arrow_schema_of(table).empty_table()
    cutoff = LessThan("reported_at", before.astimezone(dt.UTC).isoformat())  # type: ignore[call-arg]
    scan = table.scan(row_filter=cutoff, snapshot_id=snapshot_id)
    events = plain_strings(scan.to_arrow())
    # the filter prunes files; rows are checked again, exactly
    keep = pc.less(events["reported_at"], pa.scalar(before, events["reported_at"].type))
    return events.filter(keep)
