"""scripts/smoke.py waits for a DAG run through the REST API: a poll Airflow does not answer in
time (its API server busy with the very run) is asked again, not the end of the smoke test.

A small HTTP server on loopback plays Airflow's two endpoints; its first answer comes late.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from tests.support.compose import load_script

RUN = "/api/v2/dags/fraud_bootstrap/dagRuns/manual_1"


class FakeAirflow(ThreadingHTTPServer):
    """Answers the run's state (running, then success); the first request waits ``stall``."""

    def __init__(self, stall: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stall = stall
        self.polls = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the stalled answer's client is gone: writing to it fails, as it should


class Handler(BaseHTTPRequestHandler):
    server: FakeAirflow

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        if self.path == RUN:
            self.server.polls += 1
            if self.server.polls == 1:  # not time.sleep: the test takes the smoke's pauses out
                threading.Event().wait(self.server.stall)
            body: dict[str, Any] = {"state": "running" if self.server.polls < 3 else "success"}
        elif self.path == f"{RUN}/taskInstances":
            body = {"task_instances": [{"task_id": "train", "state": "running"}]}
        else:
            self.send_error(404)
            return
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def airflow() -> Iterator[FakeAirflow]:
    server = FakeAirflow(stall=1.5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def smoke() -> ModuleType:
    return load_script("smoke")


def test_a_poll_without_an_answer_is_tried_again(
    smoke: ModuleType, airflow: FakeAirflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smoke.time, "sleep", lambda _s: None)  # no pause between polls
    config = smoke.Config.load(
        {
            "SMOKE_AIRFLOW_URL": f"http://127.0.0.1:{airflow.server_address[1]}",
            "AIRFLOW_ADMIN_USERNAME": "admin",
            "AIRFLOW_ADMIN_PASSWORD": "x",
            "API_KEYS": "k",
            "SMOKE_S3_ENDPOINT": "http://minio:9000",
            "INBOX_UPLOAD_ACCESS_KEY": "u",
            "INBOX_UPLOAD_SECRET_KEY": "u",
            "AIRFLOW_S3_ACCESS_KEY": "b",
            "AIRFLOW_S3_SECRET_KEY": "b",
        }
    )
    client = smoke.Airflow(config, smoke.Clock(60), request_timeout=0.5)

    client.wait_for_run("fraud_bootstrap", "manual_1", timeout=30)

    assert airflow.polls == 3  # the unanswered one, running, success
