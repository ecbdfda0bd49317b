"""Everything the API scores lands in fraud.predictions, in few snapshots, none lost on SIGTERM."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from fraudops import lake
from fraudops.api import create_app
from fraudops.config import Settings
from fraudops.procs import free_port, start_group, stop_groups, wait_http
from fraudops.schema import EXAMPLE_TRANSACTION as TX
from tests.support.api import AUTH, KEY, as_json, transactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def own_lake(served: Settings, tmp_path: Path, **overrides: object) -> Settings:
    """The served registry, with a lake of its own for the log (and the test's overrides)."""
    return served.model_copy(
        update={
            "catalog_uri": f"sqlite:///{tmp_path / 'catalog.db'}",
            "warehouse": (tmp_path / "warehouse").as_uri(),
            **overrides,
        }
    )


def logged(settings: Settings) -> tuple[pa.Table, int]:
    table = lake.predictions_table(lake.open_catalog(settings))
    return table.scan().to_arrow(), len(table.snapshots())


def test_json_and_csv_predictions_are_logged_with_their_inputs(
    served_settings: Settings, tmp_path: Path
) -> None:
    settings = own_lake(served_settings, tmp_path, prediction_log_seconds=3600)
    batch = as_json(transactions(30, seed=11))
    sink = io.BytesIO()
    pacsv.write_csv(transactions(20, seed=12), sink)
    with TestClient(create_app(settings)) as client:
        one = client.post("/predict", json=TX, headers=AUTH)
        many = client.post("/predict", json=batch, headers=AUTH)
        csv = client.post(
            "/predict/csv", content=sink.getvalue(), headers={**AUTH, "Content-Type": "text/csv"}
        )
        assert one.status_code == many.status_code == csv.status_code == 200
        assert logged(settings)[1] == 0  # nothing committed while serving: buffered
    # leaving the client runs the lifespan's shutdown: the buffer is committed, once
    rows, snapshots = logged(settings)
    assert rows.num_rows == 1 + 30 + 20
    assert snapshots == 1
    by_source = rows.group_by("source").aggregate([("source", "count")]).to_pylist()
    assert {r["source"]: r["source_count"] for r in by_source} == {"api": 31, "api-csv": 20}
    mine = rows.filter(pc.equal(rows["transaction_id"], TX["transaction_id"]))
    assert mine["transaction_amount"].to_pylist() == [TX["transaction_amount"]]
    assert mine["fraud_probability"].to_pylist() == [
        one.json()["predictions"][0]["fraud_probability"]
    ]
    assert set(rows["model_version"].to_pylist()) == {"1"}


def test_a_lake_away_never_fails_a_request_and_bounds_the_buffer(
    served_settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # a catalog below a file cannot be created
    settings = served_settings.model_copy(
        update={
            "catalog_uri": f"sqlite:///{blocker / 'catalog.db'}",
            "prediction_log_seconds": 3600,
            "prediction_log_max_rows": 1_000,
        }
    )
    app = create_app(settings)
    with TestClient(app) as client:
        for seed in range(3):
            resp = client.post("/predict", json=as_json(transactions(600, seed=seed)), headers=AUTH)
            assert resp.status_code == 200
        pending = app.state.predictions.pending_rows
        metrics = client.get("/metrics").text
    dropped = float(re.search(r"^fraudops_prediction_log_dropped_total (\S+)", metrics, re.M)[1])
    assert pending <= 1_000  # bounded: the oldest requests' rows are dropped, and counted
    assert pending + dropped == 1_800


def test_sigterm_commits_every_buffered_prediction(
    served_settings: Settings, tmp_path: Path
) -> None:
    settings = own_lake(served_settings, tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
    env.update(
        FRAUDOPS_HOME=str(settings.home_dir),
        FRAUDOPS_CATALOG_URI=settings.catalog_url,
        FRAUDOPS_WAREHOUSE=settings.warehouse_url,
        FRAUDOPS_SERVING_CACHE=str(tmp_path / "cache"),
        FRAUDOPS_FEATURE_STORE=settings.feature_store_url,
        FRAUDOPS_API_KEYS=KEY,
        FRAUDOPS_PREDICTION_LOG_SECONDS="3600",  # only the shutdown commits
    )
    exe = str(Path(sys.executable).with_name("fraudops"))
    proc = start_group([exe, "serve", "--port", str(port)], env=env, log=tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health/ready", proc=proc, timeout=120, ready=lambda s: s == 200)
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}) as http:
            for i in range(200):
                resp = http.post("/predict", json={**TX, "transaction_id": f"sigterm-{i}"})
                assert resp.status_code == 200
        os.kill(proc.pid, signal.SIGTERM)
        # uvicorn shuts down gracefully, then ends by the signal it was sent
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        stop_groups([proc], grace=5)
    rows, _ = logged(settings)
    ids = rows["transaction_id"].to_pylist()
    assert sorted(ids) == sorted(f"sigterm-{i}" for i in range(200))
