"""The inference log's rows: what a request's records become in ``fraud.predictions``.

The API keeps a request's columns (taken once on its path), never its model objects, until
the commit; the rows built from them are the records' values, field for field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from fraudops import datagen
from fraudops.api.logrows import rows_of
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PACK_ENTRIES, PredictionLog
from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.config import Settings
from fraudops.features import record_values
from fraudops.lake.catalog import PREDICTIONS_SCHEMA
from fraudops.schema import LOGGED_KEY, SHADOW_ROLE, arrow_schema
from fraudops.validation import parse_transactions


def _records(rows: int, seed: int) -> list[Any]:
    table = datagen.generate_day(dt.date(2026, 2, 1), rows=rows, seed=seed)
    body = table.drop_columns(["is_fraud"]).to_pylist()
    for row in body:
        row["event_ts"] = row["event_ts"].isoformat()
    return parse_transactions(json.dumps(body).encode(), max_batch=1000)


def _history(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.random(n) for name in HISTORY_FEATURES}


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    settings = Settings(_env_file=None, home=tmp_path)
    return PredictionLog(settings, metrics=Metrics())


def test_the_log_keeps_columns_and_builds_the_records_rows(log: PredictionLog) -> None:
    requests = [_records(n, seed) for seed, n in enumerate((1, 7, 40))]
    expected = []
    for i, records in enumerate(requests):
        n = len(records)
        history = _history(n, i)
        proba = np.linspace(0.0, 1.0, n)
        flags = proba >= 0.5
        # the batcher hands over the columns it took; other callers hand records
        inputs = record_values(records) if i % 2 else records
        log.add(inputs, proba, flags, history=history, model_name="m", model_version=str(i),
                source="api")  # fmt: skip
        reference = pa.Table.from_pylist([r.model_dump() for r in records], schema=arrow_schema())
        for name in HISTORY_FEATURES:
            reference = reference.append_column(name, pa.array(history[name], pa.float64()))
        expected.append(
            reference.append_column("fraud_probability", pa.array(proba, pa.float64()))
            .append_column("is_fraud", pa.array(flags, pa.bool_()))
            .append_column("model_name", pa.array(["m"] * n, pa.string()))
            .append_column("model_version", pa.array([str(i)] * n, pa.string()))
        )
    # no model object waits for the commit: only each request's columns
    assert all(isinstance(e.inputs, Mapping) for e in log._pending)
    assert not any(
        hasattr(v, "model_dump") for e in log._pending for col in e.inputs.values() for v in col
    )
    rows = rows_of(log._pending)
    got = rows.drop_columns(["predicted_at", "source", "role"])
    assert got.cast(pa.concat_tables(expected).schema).equals(pa.concat_tables(expected))
    assert all(rows[f.name].null_count == 0 for f in arrow_schema())
    assert sorted(rows.schema.names) == sorted(f.name for f in PREDICTIONS_SCHEMA.fields)
    assert rows["source"].to_pylist() == ["api"] * rows.num_rows
    assert rows["role"].to_pylist() == ["production"] * rows.num_rows


def _read(parts: list[bytes]) -> pa.Table:
    return pa.concat_tables([pa.ipc.open_stream(ipc).read_all() for ipc in parts])


def test_requests_are_packed_as_they_come_in_order_and_a_flush_sends_every_row(
    log: PredictionLog,
) -> None:
    """Packed a few dozen requests at a time (never a flush's worth at once), in order."""
    records = _records(300, seed=3)
    history = _history(300, seed=3)
    for i, record in enumerate(records):  # one request per transaction, no event loop: packed now
        log.add([record], np.array([i / 300]), np.array([False]), model_name="m",
                model_version="1", source="api",
                history={k: v[i : i + 1] for k, v in history.items()})  # fmt: skip
    packs = 300 // PACK_ENTRIES
    assert [p.rows for p in log._parts] == [PACK_ENTRIES] * packs
    assert len(log._pending) == 300 - packs * PACK_ENTRIES
    assert log.pending_rows == 300
    log._pack()  # what a flush does first
    rows = _read([p.ipc for p in log._parts])
    assert rows["transaction_id"].to_pylist() == [r.transaction_id for r in records]
    assert rows["fraud_probability"].to_pylist() == [i / 300 for i in range(300)]


def test_a_full_buffer_drops_its_oldest_rows_packed_or_not(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, home=tmp_path, prediction_log_max_rows=1_000)
    metrics = Metrics()
    log = PredictionLog(settings, metrics=metrics)
    records = _records(1, seed=4)
    for i in range(1_100):
        log.add(records, np.array([float(i)]), np.array([False]), model_name="m",
                model_version="1", source="api", history=_history(1, i))  # fmt: skip
    assert log.pending_rows <= 1_000
    log._pack()
    kept = _read([p.ipc for p in log._parts])["fraud_probability"].to_pylist()
    assert kept == [float(i) for i in range(1_100 - len(kept), 1_100)]  # the newest, in order
    assert metrics.prediction_log_dropped._value.get() == 1_100 - len(kept)


def test_a_shadows_rows_hold_the_key_and_its_answers_production_holds_the_inputs(
    log: PredictionLog,
) -> None:
    records = _records(6, seed=5)
    values = record_values(records)
    proba = np.linspace(0.1, 0.6, 6)
    log.add(values, proba, proba >= 0.5, model_name="m", model_version="1", source="api",
            history=_history(6, 5))  # fmt: skip
    # the shadow scorer hands over the key's columns only, and no history
    key = {name: values[name] for name in LOGGED_KEY}
    log.add(key, proba / 2, proba >= 0.2, model_name="m", model_version="2", source="api",
            role=SHADOW_ROLE)  # fmt: skip
    rows = rows_of(log._pending)
    production, shadow = rows.slice(0, 6), rows.slice(6, 6)
    assert production["role"].to_pylist() == ["production"] * 6
    assert shadow["role"].to_pylist() == [SHADOW_ROLE] * 6
    for name in LOGGED_KEY:
        assert shadow[name].equals(production[name])
    assert shadow["fraud_probability"].to_pylist() == list(proba / 2)
    assert shadow["model_version"].to_pylist() == ["2"] * 6
    others = [f.name for f in arrow_schema() if f.name not in LOGGED_KEY]
    assert others and all(shadow[name].null_count == 6 for name in (*others, *HISTORY_FEATURES))
    assert all(production[name].null_count == 0 for name in (*others, *HISTORY_FEATURES))
    # and the lake takes them: only LOGGED_KEY is required of a row
    required = {f.name for f in PREDICTIONS_SCHEMA.fields if f.required}
    assert required & {f.name for f in arrow_schema()} == set(LOGGED_KEY)
