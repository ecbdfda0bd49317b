"""THE schemas: a transaction and a label event (names, Arrow types, ranges, categories).

The generator, the lake, the features, validation and the API all read this module.

A transaction carries no label: a bank learns whether it was fraud later, from a *label
event* (a chargeback, an analyst's verdict) reported days or weeks after it. ``LABEL`` is
the column a training table gets once the events are joined to the transactions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurant",
    "gas_station",
    "online_retail",
    "electronics",
    "travel",
    "jewelry",
    "entertainment",
    "health",
    "atm_withdrawal",
)
CHANNELS: tuple[str, ...] = ("chip", "swipe", "contactless", "online", "atm")

Kind = Literal["string", "timestamp", "category", "bool", "float", "int"]
TIMESTAMP = pa.timestamp("us", tz="UTC")
# the window a transaction's time must fall in (UTC): wide enough for any real card data,
# narrow enough that converting an offset never overflows a timestamp type
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # exclusive


@dataclass(frozen=True)
class Column:
    """One column of the transaction contract."""

    name: str
    kind: Kind
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    categories: tuple[str, ...] = ()
    max_length: int = 64
    earliest: dt.datetime | None = None  # timestamps: inclusive lower bound
    latest: dt.datetime | None = None  # timestamps: exclusive upper bound

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type this column is stored and validated as."""
        return {
            "string": pa.string(),
            "category": pa.string(),
            "timestamp": TIMESTAMP,
            "bool": pa.bool_(),
            "float": pa.float64(),
            "int": pa.int32(),
        }[self.kind]


TRANSACTION_COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", "string", "Unique id of the transaction (1-64 chars, not blank)."),
    Column(
        "event_ts",
        "timestamp",
        "When it happened, UTC (ISO-8601 in JSON/CSV, from 2000 to 2099).",
        earliest=EARLIEST,
        latest=LATEST,
    ),
    Column("card_id", "string", "The card (1-64 chars)."),
    Column("merchant_id", "string", "The merchant (1-64 chars)."),
    Column("merchant_category", "category", "Merchant category.", categories=MERCHANT_CATEGORIES),
    Column("channel", "category", "How the card was used.", categories=CHANNELS),
    Column("card_present", "bool", "Whether the card was physically present."),
    Column(
        "transaction_amount",
        "float",
        "Amount in account currency.",
        minimum=0.0,
        maximum=100_000.0,
        exclusive_minimum=True,
    ),
    Column("latitude", "float", "Where the transaction happened.", -90.0, 90.0),
    Column("longitude", "float", "Where the transaction happened.", -180.0, 180.0),
    Column("home_latitude", "float", "The card holder's home.", -90.0, 90.0),
    Column("home_longitude", "float", "The card holder's home.", -180.0, 180.0),
    Column("age", "int", "Age of the card holder.", 18, 100),
    Column("credit_card_balance", "float", "Outstanding credit card balance.", minimum=0.0),
    Column("bank_account_balance", "float", "Bank account balance.", minimum=0.0),
    Column("savings_account_balance", "float", "Savings account balance.", minimum=0.0),
    Column("mortgage_balance", "float", "Outstanding mortgage.", minimum=0.0),
    Column("total_est_nworth", "float", "Estimated net worth (any finite number)."),
)
# what every row of ``fraud.predictions`` holds of its transaction: a shadow model's rows hold
# nothing more (their other inputs are production's row of the same transaction_id)
LOGGED_KEY = ("transaction_id", "event_ts", "transaction_amount")
# ``role`` of a row of ``fraud.predictions``: the answer given, or a shadow model's (not answered)
PRODUCTION_ROLE = "production"
SHADOW_ROLE = "shadow"

LABEL = Column(
    "is_fraud", "int", "1 if the transaction is fraud (the generator's truth; training).", 0, 1
)
LABEL_SOURCES: tuple[str, ...] = ("chargeback", "analyst")
LABEL_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", "string", "The transaction the event is about."),
    Column("event_ts", "timestamp", "When that transaction happened, UTC."),
    Column("label", "int", "1: fraud, 0: legitimate.", 0, 1),
    Column("reported_at", "timestamp", "When the bank learned it, UTC."),
    Column("source", "category", "Who reported it.", categories=LABEL_SOURCES),
)

EXAMPLE_TRANSACTION: dict[str, Any] = {
    "transaction_id": "tx-0001",
    "event_ts": "2026-01-10T14:32:05Z",
    "card_id": "card-4821",
    "merchant_id": "m-0193",
    "merchant_category": "grocery",
    "channel": "chip",
    "card_present": True,
    "transaction_amount": 54.20,
    "latitude": 40.7128,
    "longitude": -74.0060,
    "home_latitude": 40.7306,
    "home_longitude": -73.9352,
    "age": 42,
    "credit_card_balance": 1250.0,
    "bank_account_balance": 8300.0,
    "savings_account_balance": 15000.0,
    "mortgage_balance": 210000.0,
    "total_est_nworth": 95000.0,
}
SUSPICIOUS_TRANSACTION: dict[str, Any] = {
    **EXAMPLE_TRANSACTION,
    "transaction_id": "tx-0002",
    "event_ts": "2026-01-10T03:12:44Z",
    "merchant_category": "jewelry",
    "channel": "online",
    "card_present": False,
    "transaction_amount": 4890.0,
    "latitude": 51.5074,
    "longitude": -0.1278,
    "bank_account_balance": 900.0,
}

COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in (*TRANSACTION_COLUMNS, LABEL)}
FEATURE_INPUT_NAMES: tuple[str, ...] = tuple(c.name for c in TRANSACTION_COLUMNS)


def _schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=False) for c in columns])


def arrow_schema(*, with_label: bool = False) -> pa.Schema:
    """The Arrow schema of transactions (with the truth ``is_fraud``: the generator's output)."""
    return _schema((*TRANSACTION_COLUMNS, LABEL) if with_label else TRANSACTION_COLUMNS)


def label_event_schema() -> pa.Schema:
    """The Arrow schema of label events."""
    return _schema(LABEL_EVENT_COLUMNS)
