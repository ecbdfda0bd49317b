"""POST /predict and /predict/csv give the offline answers; GET /model says which version.

The offline answer is the training path's: card histories from the lake (the store was
backfilled from it) plus the batch's own earlier rows, computed by the offline executor.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from fraudops import lake, registry, tracking
from fraudops.cardhistory import enrich, sources
from fraudops.schema import EXAMPLE_TRANSACTION, SUSPICIOUS_TRANSACTION
from fraudops.scoring import score_table
from tests.support.api import AUTH, as_json, transactions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows() -> pa.Table:
    return transactions(200)


@pytest.fixture(scope="module")
def offline_answers(served_settings, rows):
    """The offline executor's features over the lake, scored by the production version."""
    table = lake.transactions_table(lake.open_catalog(served_settings))
    history = sources.from_lake(table, rows, snapshot_id=table.current_snapshot().snapshot_id)
    assert history is not None and history.num_rows > 0  # the cards have a past
    scorer = registry.load_scorer(served_settings, "1")
    proba, flags = score_table(scorer, enrich(rows, history))
    return proba, flags


def test_batch_equals_offline(client, rows, offline_answers):
    resp = client.post("/predict", json=as_json(rows), headers=AUTH)

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model_name"] == "fraud-detector"
    assert body["model_version"] == "1"
    assert resp.headers["X-Model-Version"] == "1"
    preds = body["predictions"]
    assert [p["transaction_id"] for p in preds] == rows["transaction_id"].to_pylist()
    proba, flags = offline_answers
    np.testing.assert_array_equal([p["fraud_probability"] for p in preds], proba)
    np.testing.assert_array_equal([p["is_fraud"] for p in preds], flags)
    assert 0 < flags.sum() < len(flags)  # both decisions are exercised
    assert flags.tolist() == [p >= body["threshold"] for p in proba]


def test_a_retried_transaction_equals_offline(client, rows, offline_answers):
    one = as_json(rows.slice(3, 1))[0]

    resp = client.post("/predict", json=one, headers=AUTH)

    assert resp.status_code == 200, resp.text
    (pred,) = resp.json()["predictions"]
    assert pred["transaction_id"] == one["transaction_id"]
    assert pred["fraud_probability"] == offline_answers[0][3]
    assert pred["is_fraud"] == offline_answers[1][3]


def test_timestamp_offsets_are_converted_to_utc(client):
    utc = {**SUSPICIOUS_TRANSACTION, "event_ts": "2026-01-10T03:12:44Z"}
    shifted = {**utc, "transaction_id": "tx-b", "event_ts": "2026-01-09T22:12:44-05:00"}
    naive = {**utc, "transaction_id": "tx-c", "event_ts": "2026-01-10T03:12:44"}

    preds = client.post("/predict", json=[utc, shifted, naive], headers=AUTH).json()["predictions"]

    assert len({p["fraud_probability"] for p in preds}) == 1


def test_csv_equals_offline_and_streams_csv(client, rows, offline_answers):
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)

    resp = client.post(
        "/predict/csv", content=sink.getvalue(), headers={**AUTH, "Content-Type": "text/csv"}
    )

    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    text_columns = {"transaction_id": pa.string(), "model_version": pa.string()}
    scored = pacsv.read_csv(
        io.BytesIO(resp.content), convert_options=pacsv.ConvertOptions(column_types=text_columns)
    )
    assert scored.column_names == [
        "transaction_id",
        "fraud_probability",
        "is_fraud",
        "model_version",
    ]
    assert scored["transaction_id"].to_pylist() == rows["transaction_id"].to_pylist()
    np.testing.assert_array_equal(scored["fraud_probability"].to_numpy(), offline_answers[0])
    np.testing.assert_array_equal(scored["is_fraud"].to_numpy(), offline_answers[1])
    assert set(scored["model_version"].to_pylist()) == {"1"}


def test_docs_example_scores(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]

    for example in body["examples"].values():
        resp = client.post("/predict", json=example["value"], headers=AUTH)
        assert resp.status_code == 200, resp.text
    assert client.get("/docs").status_code == 200
    for path in ("/predict", "/predict/csv"):  # every parameter says what it does
        for param in spec["paths"][path]["post"]["parameters"]:
            assert param.get("description"), (path, param["name"])
    preds = client.post(
        "/predict", json=[EXAMPLE_TRANSACTION, SUSPICIOUS_TRANSACTION], headers=AUTH
    ).json()["predictions"]
    assert [p["is_fraud"] for p in preds] == [False, True]


def test_model_info_names_the_production_version(client, served_settings):
    production = registry.production_model(tracking.connect(served_settings), served_settings)
    assert production is not None

    info = client.get("/model", headers=AUTH).json()

    assert info["version"] == production.version == "1"
    assert info["alias"] == "production"
    assert info["run_id"] == production.run_id
    assert info["snapshot_id"] == production.snapshot_id
    assert info["metrics"]["average_precision"] == pytest.approx(
        production.metrics["average_precision"]
    )
    assert info["decision"]["promote"] is True
    assert info["source"] == "mlflow"
    assert info["loaded_at"]
    # the operating point: the threshold chosen for the alert budget, and the holdout there
    point = info["operating_point"]
    assert point["threshold"] == info["threshold"]
    assert point["alert_budget"] == served_settings.alert_budget
    assert point["false_alarm_cost"] == served_settings.false_alarm_cost
    for name in ("precision_at_budget", "recall_at_budget", "cost_saved_per_day"):
        assert point[name] == pytest.approx(production.metrics[f"holdout_{name}"]), name
    assert 0 < point["alerts_per_day"] <= 2 * served_settings.alert_budget


def test_model_card_is_the_production_versions(client, served_settings):
    production = registry.production_model(tracking.connect(served_settings), served_settings)
    assert production is not None and production.description

    resp = client.get("/model/card", headers=AUTH)

    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/markdown")
    assert resp.text == production.description
    assert resp.text.startswith(f"# fraud-detector version {production.version}")
    assert client.get("/model/card").status_code == 401


def test_health_and_metrics(client):
    assert client.get("/health/live").json()["status"] == "ok"
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["model_version"] == "1"
    client.post("/predict", json=EXAMPLE_TRANSACTION, headers=AUTH)

    text = client.get("/metrics").text

    assert 'fraudops_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'fraudops_scored_transactions_total{decision="legit"}' in text
    assert 'fraudops_model_loads_total{outcome="success"} 1.0' in text
    assert "fraudops_model_version 1.0" in text
    assert json.loads(client.get("/openapi.json").text)["info"]["title"]
