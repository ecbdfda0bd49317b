"""The one validator: CSV text and JSON records held to the same rules, in the same words."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from fraudops.demo import sample_csv
from fraudops.schema import COLUMNS_BY_NAME, EXAMPLE_TRANSACTION, TRANSACTION_COLUMNS
from fraudops.validation import (
    REQUIRED,
    RecordsRejected,
    SchemaError,
    Transaction,
    check_columns,
    parse_transactions,
    validate_table,
)


def test_timestamp_verdict_does_not_depend_on_other_rows() -> None:
    """A form the fast cast accepts but the contract does not is refused either way."""
    col = COLUMNS_BY_NAME["event_ts"]
    base = sample_csv(rows=3, bad_rows=False).decode().splitlines()
    table = pacsv.read_csv(
        io.BytesIO(("\n".join(base) + "\n").encode()),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(REQUIRED, pa.string())),
    )
    ts = table[col.name].to_pylist()
    for odd in ("2026-03-01T10:00:00+0100", "2026-03-01 10:00Z"):
        alone = table.set_column(1, col.name, pa.array([ts[0], odd, ts[2]]))
        with_bad = table.set_column(1, col.name, pa.array(["garbage", odd, ts[2]]))
        assert validate_table(alone).valid_rows.tolist() == [1, 3]
        assert validate_table(with_bad).valid_rows.tolist() == [3]
    flags = table.set_column(6, "card_present", pa.array(["TRUE", "0", "yes"]))
    assert validate_table(flags).valid["card_present"].to_pylist() == [True, False, True]


def test_request_model_follows_the_contract():
    props = Transaction.model_json_schema()["properties"]

    assert list(props) == [c.name for c in TRANSACTION_COLUMNS]
    for column in TRANSACTION_COLUMNS:
        prop = props[column.name]
        if column.categories:
            assert prop["enum"] == list(column.categories)
        if column.kind == "string":
            assert prop["maxLength"] == column.max_length
        if column.minimum is not None:
            key = "exclusiveMinimum" if column.exclusive_minimum else "minimum"
            assert prop[key] == column.minimum
        if column.maximum is not None:
            assert prop["maximum"] == column.maximum


@pytest.mark.parametrize(
    ("text", "hour"),
    [("2026-01-10T03:12:44Z", 3), ("2026-01-10T03:12:44", 3), ("2026-01-10T05:12:44+02:00", 3)],
)
def test_timestamps_are_utc(text, hour):
    (record,) = parse_transactions(
        json.dumps({**EXAMPLE_TRANSACTION, "event_ts": text}).encode(), max_batch=10
    )

    assert record.event_ts.tzinfo == dt.UTC
    assert record.event_ts.hour == hour


def test_a_timestamp_out_of_range_in_utc_is_a_422_not_a_crash():
    body = json.dumps({**EXAMPLE_TRANSACTION, "event_ts": "9999-12-31T23:59:59-05:00"}).encode()

    with pytest.raises(RecordsRejected) as err:
        parse_transactions(body, max_batch=10)

    assert [r.column for r in err.value.rejections] == ["event_ts"]
    assert err.value.rejections[0].problem == "out_of_range"


def _csv_verdict(column: str, text: str) -> tuple[str, str] | None:
    """(problem, reason) of one CSV cell, None when the row is valid."""
    row = {
        name: str(value).lower() if name == "card_present" else str(value)
        for name, value in EXAMPLE_TRANSACTION.items()
    }
    row[column] = text
    table = pa.table({name: pa.array([row[name]], pa.string()) for name in REQUIRED})
    result = validate_table(table)
    if result.valid.num_rows:
        return None
    (rejection,) = result.rejected.to_pylist()
    assert rejection["column"] == column
    return rejection["problem"], rejection["reason"]


def _json_verdict(column: str, value: object) -> tuple[str, str] | None:
    body = json.dumps({**EXAMPLE_TRANSACTION, column: value}).encode()
    try:
        parse_transactions(body, max_batch=10)
    except RecordsRejected as exc:
        (rejection,) = exc.rejections
        assert rejection.column == column
        return rejection.problem, rejection.reason
    return None


# (column, the value as a JSON client sends it, the same value as a CSV cell)
SAME_VALUE = [
    ("transaction_id", "   ", "   "),
    ("transaction_id", "", ""),
    ("transaction_id", " tx-9 ", " tx-9 "),
    ("card_id", "c" * 64, "c" * 64),
    ("card_id", "c" * 65, "c" * 65),
    ("event_ts", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-14:00"),
    ("event_ts", "2099-12-31T23:59:59Z", "2099-12-31T23:59:59Z"),
    ("event_ts", "2100-01-01T00:00:00Z", "2100-01-01T00:00:00Z"),
    ("event_ts", "1999-12-31T23:59:59Z", "1999-12-31T23:59:59Z"),
    ("event_ts", "2000-01-01T01:00:00+02:00", "2000-01-01T01:00:00+02:00"),
    ("event_ts", "2026-03-01T10:00:00+0100", "2026-03-01T10:00:00+0100"),
    ("event_ts", "2026-03-01 10:00Z", "2026-03-01 10:00Z"),
    ("event_ts", "2026-03-01 10:00:00", "2026-03-01 10:00:00"),
    ("event_ts", "2026-03-01T10:00:00.5Z", "2026-03-01T10:00:00.5Z"),
    ("event_ts", "2026-02-30T10:00:00Z", "2026-02-30T10:00:00Z"),
    ("event_ts", "20260301T100000Z", "20260301T100000Z"),
    ("merchant_category", "Grocery", "Grocery"),
    ("channel", "fax", "fax"),
    ("transaction_amount", 0, "0"),
    ("transaction_amount", 100_000.01, "100000.01"),
    ("latitude", -90.5, "-90.5"),
    ("age", 17, "17"),
    ("age", 101, "101"),
    ("savings_account_balance", -0.01, "-0.01"),
]


@pytest.mark.parametrize(("column", "json_value", "csv_text"), SAME_VALUE)
def test_json_and_csv_agree_on_every_value(column: str, json_value: object, csv_text: str):
    assert _json_verdict(column, json_value) == _csv_verdict(column, csv_text)


def _json_raw_verdict(column: str, literal: str) -> tuple[str, str] | None:
    """Like :func:`_json_verdict` with a raw JSON literal (NaN, Infinity, null)."""
    body = json.dumps({**EXAMPLE_TRANSACTION, column: "__RAW__"}).replace('"__RAW__"', literal)
    try:
        parse_transactions(body.encode(), max_batch=10)
    except RecordsRejected as exc:
        (rejection,) = exc.rejections
        return rejection.problem, rejection.reason
    return None


@pytest.mark.parametrize(
    ("column", "literal", "csv_text"),
    [
        ("transaction_amount", "null", ""),
        ("age", "null", " "),
        ("card_id", "null", ""),
        ("transaction_amount", "NaN", "NaN"),
        ("total_est_nworth", "-Infinity", "-inf"),
        ("mortgage_balance", "1e999", "inf"),
    ],
)
def test_missing_and_non_finite_read_the_same(column: str, literal: str, csv_text: str):
    got = _json_raw_verdict(column, literal)
    assert got is not None
    assert got == _csv_verdict(column, csv_text)


def test_a_repeated_field_is_refused_in_json_as_in_a_csv_header():
    fields = ",".join(f'"{k}": {json.dumps(v)}' for k, v in EXAMPLE_TRANSACTION.items())
    body = ("{" + fields + ', "transaction_id": "other"}').encode()
    escaped = ("{" + fields + ', "transaction\\u005fid": "other"}').encode()

    for raw in (body, escaped):
        with pytest.raises(RecordsRejected) as err:
            parse_transactions(raw, max_batch=10)
        assert [(r.column, r.problem) for r in err.value.rejections] == [
            ("transaction_id", "repeated_field")
        ]
    with pytest.raises(SchemaError, match="duplicate column"):
        check_columns([*REQUIRED, "transaction_id"])


def test_duplicate_ids_in_a_list_name_the_first_item():
    body = json.dumps([EXAMPLE_TRANSACTION, EXAMPLE_TRANSACTION]).encode()

    with pytest.raises(RecordsRejected) as err:
        parse_transactions(body, max_batch=10)

    (rejection,) = err.value.rejections
    assert (rejection.row, rejection.problem) == (1, "duplicate_id")
    assert rejection.reason == "duplicate transaction_id (same as item 0)"


def test_the_error_list_is_bounded():
    body = json.dumps([{}] * 1_000).encode()

    with pytest.raises(RecordsRejected) as err:
        parse_transactions(body, max_batch=1_000, max_errors=100)

    assert len(err.value.rejections) == 101
    assert err.value.rejections[-1].reason == "17900 more problem(s) not listed"
