"""A real local Airflow, driven through its REST API the way the UI drives it.

``airflow_local.run_airflow`` (what ``fraudops airflow`` runs) starts the api-server, scheduler
and dag-processor on loopback with a fresh SQLite metadata database; the test logs in with the
simple auth manager's generated password, unpauses and triggers ``fraud_bootstrap`` with a
``days`` parameter as the trigger form would, waits for the run and checks what it left.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from fraudops import airflow_local, lake, registry, tracking
from fraudops.procs import wait_until
from tests.support import services
from tests.support.airflow_env import ROWS_PER_DAY, clean_environ, dag_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "fraud_bootstrap"
HISTORY_DAYS = 8


def diagnostics(http: httpx.Client, run_id: str, logs: Path) -> str:
    tis = http.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()
    states = {ti["task_id"]: ti["state"] for ti in tis.get("task_instances", [])}
    tail = (logs / "scheduler.log").read_text(errors="replace").splitlines()[-30:]
    return f"task states: {states}\nscheduler log:\n" + "\n".join(tail)


def test_bootstrap_triggered_through_the_rest_api(tmp_path: Path) -> None:
    settings = dag_settings(tmp_path / "home")
    env = airflow_local.airflow_env(settings, port=services.free_port(), base=clean_environ())
    with (
        airflow_local.run_airflow(settings, env=env, ready_timeout=180) as airflow,
        httpx.Client(base_url=airflow.url, timeout=30) as http,
    ):
        login = {"username": airflow.username, "password": airflow.password}
        token = http.post("/auth/token", json=login)
        assert token.status_code == 201, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        assert http.get(f"/api/v2/dags/{DAG_ID}").status_code in (200, 404)  # auth accepted

        wait_until(
            lambda: http.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
            timeout=120,
            interval=1.0,
            what="the dag-processor to register the DAG",
        )
        http.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
        trigger = http.post(
            f"/api/v2/dags/{DAG_ID}/dagRuns",
            json={"logical_date": None, "conf": {"days": HISTORY_DAYS}},
        )
        trigger.raise_for_status()
        run = trigger.json()
        run_id = run["dag_run_id"]

        def finished() -> str | None:
            state = http.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        state = wait_until(finished, timeout=300, interval=1.0, what=f"run {run_id} to finish")
        assert state == "success", diagnostics(http, run_id, airflow.logs)

    # the tasks ran with the settings `fraudops airflow` passed on: the same home
    run_day = dt.datetime.fromisoformat(run["run_after"]).date()
    table = lake.transactions_table(lake.open_catalog(settings))
    status = lake.table_status(table)
    assert status.rows == HISTORY_DAYS * ROWS_PER_DAY
    assert lake.snapshot_days(table) == [
        run_day - dt.timedelta(days=HISTORY_DAYS - i) for i in range(HISTORY_DAYS)
    ]
    client = tracking.connect(settings)
    production = registry.alias_version(client, settings.model_name, settings.model_alias)
    assert production is not None
    assert production.tags["fraudops.gate.decision"] == "promoted"
