"""Bad input never gets a 500: each case gets its status and an error naming the field."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow.csv as pacsv
import pytest

from fraudops.schema import EXAMPLE_TRANSACTION as TX
from fraudops.schema import FEATURE_INPUT_NAMES
from tests.support.api import AUTH, transactions

pytestmark = pytest.mark.slow

JSON = {**AUTH, "Content-Type": "application/json"}
CSV = {**AUTH, "Content-Type": "text/csv"}


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in TX.items() if k != field}


def _raw(field: str, literal: str) -> bytes:
    """TX as JSON with one value replaced by a raw literal (NaN, Infinity ...)."""
    return json.dumps({**TX, field: "__RAW__"}).replace('"__RAW__"', literal).encode()


def _many(n: int) -> list[dict[str, Any]]:
    return [{**TX, "transaction_id": f"tx-{i}"} for i in range(n)]


CASES = [
    # (id, body: JSON-able or raw bytes, field named, words in the message)
    ("unknown field", {**TX, "colour": "red"}, "colour", "unknown field"),
    ("label not accepted", {**TX, "is_fraud": 0}, "is_fraud", "unknown field"),
    ("missing field", _without("age"), "age", "missing value"),
    ("number as text", {**TX, "transaction_amount": "12.5"}, "transaction_amount", "not a number"),
    ("bool as text", {**TX, "card_present": "yes"}, "card_present", "not a boolean"),
    ("float age", {**TX, "age": 41.5}, "age", "not an integer"),
    ("null value", {**TX, "latitude": None}, "latitude", "missing value"),
    ("NaN", _raw("transaction_amount", "NaN"), "transaction_amount", "finite"),
    ("infinity", _raw("total_est_nworth", "-Infinity"), "total_est_nworth", "finite"),
    ("overflow to inf", _raw("mortgage_balance", "1e999"), "mortgage_balance", "finite"),
    ("amount zero", {**TX, "transaction_amount": 0}, "transaction_amount", "must be > 0"),
    ("amount too big", {**TX, "transaction_amount": 100_001}, "transaction_amount", "<= 100000"),
    ("latitude range", {**TX, "latitude": 91}, "latitude", "must be <= 90"),
    ("longitude range", {**TX, "home_longitude": -181}, "home_longitude", "-180"),
    ("age range", {**TX, "age": 17}, "age", "must be >= 18"),
    ("negative balance", {**TX, "savings_account_balance": -1}, "savings_account_balance", "0"),
    ("unknown category", {**TX, "merchant_category": "casino"}, "merchant_category", "grocery"),
    ("unknown channel", {**TX, "channel": "fax"}, "channel", "contactless"),
    ("bad timestamp", {**TX, "event_ts": "yesterday"}, "event_ts", "iso-8601"),
    ("impossible date", {**TX, "event_ts": "2026-02-30T10:00:00Z"}, "event_ts", "iso-8601"),
    ("empty id", {**TX, "transaction_id": ""}, "transaction_id", "missing value"),
    ("long id", {**TX, "card_id": "c" * 65}, "card_id", "longer than 64"),
    (
        "bad item in list",
        [TX, {**_without("channel"), "transaction_id": "b"}],
        "channel",
        "missing value",
    ),
    ("duplicate ids", [TX, TX], "transaction_id", "duplicate"),
    ("empty list", [], "body", "at least 1"),
    ("more than max_batch", _many(1001), "body", "at most 1000"),
    ("malformed JSON", b'{"transaction_id": "tx-1",', "body", "invalid json"),
    ("empty body", b"", "body", "invalid json"),
    ("not an object", b'"tx-1"', "body", "object"),
    ("list of scalars", b"[1, 2]", "body", "object"),
    ("not UTF-8", b"\xff\xfe{}", "body", "invalid json"),
    ("deep nesting", b"[" * 5000, "body", "invalid json"),
]


@pytest.mark.parametrize(
    ("body", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_json_is_422_naming_the_field(client, body, field, words):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    resp = client.post("/predict", content=content, headers=JSON)

    assert resp.status_code == 422, resp.text
    errors = resp.json()["detail"]
    assert any(e["field"] == field and words in e["msg"].lower() for e in errors), errors
    assert all(e["loc"][0] == "body" for e in errors)


def test_every_problem_is_reported_with_its_place(client):
    bad = [TX, {**TX, "transaction_id": "b", "age": 200, "channel": "fax"}]

    errors = client.post("/predict", json=bad, headers=AUTH).json()["detail"]

    assert {(tuple(e["loc"]), e["field"]) for e in errors} == {
        (("body", 1, "age"), "age"),
        (("body", 1, "channel"), "channel"),
    }
    assert next(e for e in errors if e["field"] == "age")["input"] == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, content_type):
    headers = dict(AUTH) if content_type is None else {**AUTH, "Content-Type": content_type}

    resp = client.post("/predict", content=json.dumps(TX).encode(), headers=headers)

    assert resp.status_code == 415, resp.text
    assert "application/json" in resp.json()["detail"]


def test_oversize_body_is_413_before_parsing(client, served_settings):
    too_big = b"[" + b" " * served_settings.max_body_bytes + b"]"

    resp = client.post("/predict", content=too_big, headers=JSON)

    assert resp.status_code == 413, resp.text
    assert str(served_settings.max_body_bytes) in resp.json()["detail"]


def test_oversize_chunked_body_is_413(client, served_settings):
    chunk = b" " * 65536
    count = served_settings.max_body_bytes // len(chunk) + 2

    resp = client.post("/predict", content=iter([chunk] * count), headers=JSON)

    assert resp.status_code == 413, resp.text


def _csv(table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def test_csv_with_bad_rows_is_422_naming_row_and_column(client):
    table = transactions(20)
    text = _csv(table).decode().splitlines()
    header = text[0].replace('"', "").split(",")
    cells = text[3].split(",")
    cells[header.index("channel")] = '"fax"'
    text[3] = ",".join(cells)  # data row 3

    resp = client.post("/predict/csv", content="\n".join(text).encode(), headers=CSV)

    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["detail"]
    assert error["loc"] == ["body", 3, "channel"]
    assert error["field"] == "channel"
    assert "unknown category" in error["msg"]


@pytest.mark.parametrize(
    ("content", "loc", "words"),
    [
        (b"transaction_id,event_ts\nx,2026-01-01T00:00:00Z\n", ["body"], "missing required"),
        (b"", ["body"], "empty file"),
        (b"caf\xe9,b\n", ["body"], "not utf-8"),
        # rows with the wrong number of fields are rejected as in the inbox: row and "*"
        (",".join(FEATURE_INPUT_NAMES).encode() + b'\n"tx-1,2026', ["body", 1, "*"], "fields"),
        (",".join(FEATURE_INPUT_NAMES).encode() + b"\n1,2,3\n", ["body", 1, "*"], "found 3"),
    ],
    ids=["missing columns", "empty", "not utf-8", "unterminated quote", "short row"],
)
def test_unreadable_csv_is_422(client, content, loc, words):
    resp = client.post("/predict/csv", content=content, headers=CSV)

    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["detail"]
    assert error["loc"] == loc
    assert words in error["msg"].lower()


def test_csv_needs_csv_content_type(client):
    resp = client.post("/predict/csv", content=_csv(transactions(5)), headers=JSON)

    assert resp.status_code == 415


@pytest.mark.parametrize("path", ["/predict", "/predict/csv"])
def test_a_bad_query_parameter_is_422_placed_in_the_query(client, path):
    headers = JSON if path == "/predict" else CSV
    resp = client.post(f"{path}?explain=maybe", content=b"", headers=headers)

    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["detail"]
    assert error["loc"] == ["query", "explain"]
    assert error["field"] == "explain"
    assert error["input"] == "maybe"
