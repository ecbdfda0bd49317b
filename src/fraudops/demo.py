"""The demo's data: a sample CSV of transactions with a few bad rows, dropped in the inbox."""

from __future__ import annotations

import csv
import datetime as dt

from fraudops import datagen
from fraudops.csvio import to_csv_bytes
from fraudops.schema import LABEL

SAMPLE_BAD_ROWS = 7


def sample_csv(
    *, rows: int = 1_000, day: dt.date = dt.date(2026, 3, 1), seed: int = 7, bad_rows: bool = True
) -> bytes:
    """A CSV of generated transactions, by default with a few bad rows to show validation.

    Rows 3..9 then carry one problem each: NaN, a negative amount, an unknown category, a bad
    timestamp, a missing field, an extra field, an infinite balance.
    """
    table = datagen.generate_day(day, rows=rows, seed=seed).drop_columns([LABEL.name])
    lines = to_csv_bytes(table).decode().splitlines()
    col = {name: i for i, name in enumerate(next(csv.reader([lines[0]])))}

    def edit(row: int, column: str, value: str) -> None:
        fields = next(csv.reader([lines[row]]))
        fields[col[column]] = value
        lines[row] = ",".join(fields)

    if bad_rows and rows >= 10:
        edit(3, "transaction_amount", "NaN")
        edit(4, "transaction_amount", "-12.50")
        edit(5, "merchant_category", "casino")
        edit(6, "event_ts", "yesterday")
        lines[7] = lines[7].rsplit(",", 1)[0]  # a missing field
        lines[8] = lines[8] + ",surplus"  # an extra field
        edit(9, "credit_card_balance", "inf")
    return ("\n".join(lines) + "\n").encode()
