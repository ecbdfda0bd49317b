"""The logged model accepts what the API accepts, through MLflow's own tools.

``mlflow models serve -m models:/fraud-detector@production`` used to answer 400 to a
transaction whose ``event_ts`` carries ``Z`` or an offset, which the API accepts.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow.pyfunc
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from fraudops import tracking
from fraudops.config import Settings
from fraudops.procs import free_port, start_group, stop_groups, wait_http
from fraudops.schema import EXAMPLE_TRANSACTION, SUSPICIOUS_TRANSACTION
from tests.support.api import AUTH

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ZONED = [
    EXAMPLE_TRANSACTION,  # ...Z
    {**SUSPICIOUS_TRANSACTION, "event_ts": "2026-01-10T04:12:44+01:00"},
    {**EXAMPLE_TRANSACTION, "transaction_id": "tx-3", "event_ts": "2026-01-10 14:32:05"},
]


def api_answer(client: TestClient) -> list[float]:
    resp = client.post("/predict", json=ZONED, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return [p["fraud_probability"] for p in resp.json()["predictions"]]


def test_the_pyfunc_takes_zoned_timestamps_like_the_api(
    served_settings: Settings, client: TestClient
) -> None:
    tracking.connect(served_settings)
    model = mlflow.pyfunc.load_model(f"models:/{served_settings.model_name}@production")

    out = model.predict(pd.DataFrame(ZONED))

    assert out["fraud_probability"].tolist() == pytest.approx(api_answer(client), abs=1e-6)


def test_the_pyfunc_refuses_what_the_api_refuses(served_settings: Settings) -> None:
    tracking.connect(served_settings)
    model = mlflow.pyfunc.load_model(f"models:/{served_settings.model_name}@production")
    bad = {**EXAMPLE_TRANSACTION, "channel": "fax", "event_ts": "9999-12-31T23:59:59-14:00"}

    with pytest.raises(Exception, match=r"channel: unknown category") as err:
        model.predict(pd.DataFrame([bad]))

    assert "event_ts: must be from 2000-01-01" in str(err.value)


@pytest.fixture(scope="module")
def mlflow_serve(
    served_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRAUDOPS_", "MLFLOW_"))}
    bin_dir = Path(sys.executable).parent  # mlflow starts `uvicorn` from PATH
    env.update(
        MLFLOW_TRACKING_URI=served_settings.tracking_url,
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
    )
    exe = str(bin_dir / "mlflow")
    uri = f"models:/{served_settings.model_name}@production"
    argv = [exe, "models", "serve", "-m", uri, "--env-manager", "local", "--port", str(port)]
    log = tmp_path_factory.mktemp("mlflow-serve") / "serve.log"
    proc = start_group(argv, env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/ping", proc=proc, timeout=180, ready=lambda s: s == 200)
        yield url
    finally:
        stop_groups([proc], grace=10)


def test_mlflow_models_serve_answers_a_zoned_transaction(
    mlflow_serve: str, client: TestClient
) -> None:
    resp = httpx.post(
        f"{mlflow_serve}/invocations",
        content=json.dumps({"dataframe_records": ZONED}),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )

    assert resp.status_code == 200, resp.text
    got = [row["fraud_probability"] for row in resp.json()["predictions"]]
    assert got == pytest.approx(api_answer(client), abs=1e-6)
