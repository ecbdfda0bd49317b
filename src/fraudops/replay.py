"""Production traffic from the lake: days of transactions scored and logged as predictions.

The demo and the benchmarks have no real card traffic; replaying a day of
``fraud.transactions`` through the scoring path logs what production would have scored
(``source = "replay"``). Replaying a day again replaces that day's replayed predictions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.expressions import And, EqualTo

from fraudops import lake, registry
from fraudops.cardhistory import EVENT_COLUMNS, enrich
from fraudops.cardhistory.definition import HISTORY_DAYS
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.schema import PRODUCTION_ROLE
from fraudops.scoring import scored_table

SOURCE = "replay"


@dataclass(frozen=True)
class ReplayResult:
    """What a replay scored and logged."""

    days: list[str]
    rows: int
    model_version: str
    snapshot_id: int | None


def replay(settings: Settings, *, start: dt.date, days: int = 1) -> ReplayResult:
    """Score ``days`` of transactions from ``start`` with production; log them (idempotent).

    Raises:
        FraudOpsError: the lake holds none of those days.
    """
    scorer, version = registry.load_production_scorer(settings)
    catalog = lake.open_catalog(settings)
    wanted = [start + dt.timedelta(days=i) for i in range(days)]
    transactions = lake.transactions_table(catalog)
    data = lake.read_transactions(transactions, days=wanted)
    if data.num_rows == 0:  # nothing to score: said, and no replayed day replaced by nothing
        held = lake.snapshot_days(transactions)
        span = f"{held[0]}..{held[-1]}" if held else "no day"
        raise FraudOpsError(
            f"fraud.transactions holds no transaction on {wanted[0]}..{wanted[-1]} "
            f"(it holds {span}): generate those days first, or replay days it holds"
        )
    # the cards' history: the days before, as far back as the longest window
    before = [start - dt.timedelta(days=i) for i in range(1, HISTORY_DAYS + 1)]
    history = lake.read_transactions(transactions, days=before, columns=EVENT_COLUMNS)
    data = enrich(data, history)
    scored = scored_table(scorer, data)
    now = pa.scalar(dt.datetime.now(dt.UTC), pa.timestamp("us", tz="UTC"))
    n = data.num_rows
    rows = (
        data.append_column("fraud_probability", scored["fraud_probability"])
        .append_column("is_fraud", scored["is_fraud"])
        .append_column("model_name", pa.repeat(pa.scalar(settings.model_name), n))
        .append_column("model_version", pa.repeat(pa.scalar(version), n))
        .append_column("predicted_at", pa.repeat(now, n))
        .append_column("source", pa.repeat(pa.scalar(SOURCE), n))
        .append_column("role", pa.repeat(pa.scalar(PRODUCTION_ROLE), n))
    )
    table = lake.predictions_table(catalog)
    replaced = And(lake.days_filter(wanted), EqualTo("source", SOURCE))  # type: ignore[call-arg]
    snapshot_id = lake.overwrite(table, rows, where=replaced)
    return ReplayResult(
        days=[d.isoformat() for d in wanted], rows=n, model_version=version, snapshot_id=snapshot_id
    )
