"""The model's life in the API: readiness, start-up from the local copy, failed loads, hot swap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from fraudops.api import create_app
from fraudops.cardhistory.backfill import backfill
from fraudops.cardhistory.stores import open_store
from fraudops.procs import free_port, wait_until
from fraudops.schema import EXAMPLE_TRANSACTION as TX
from tests.support.api import ADMIN, AUTH, as_json, served, transactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_not_ready_until_a_model_is_loaded(registry_copy, tmp_path):
    registry_copy.remove_alias()
    app = create_app(registry_copy.settings(tmp_path / "cache", model_poll_seconds=3600))

    with TestClient(app) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready"
        assert "alias @production" in ready.json()["detail"]
        assert client.get("/health/live").status_code == 200
        assert client.post("/predict", json=TX, headers=AUTH).status_code == 503
        assert client.get("/model", headers=AUTH).status_code == 503

        registry_copy.set_alias("1")
        reload = client.post("/model/reload", headers=ADMIN)

        assert reload.json() == {"changed": True, "version": "1", "previous_version": None}
        assert client.get("/health/ready").json() == {
            "status": "ready",
            "model_version": "1",
            "detail": None,
        }
        assert client.post("/predict", json=TX, headers=AUTH).status_code == 200


def test_a_model_is_not_served_from_an_unfilled_card_history_store(registry_copy, tmp_path):
    registry_copy.set_alias("1")
    settings = registry_copy.settings(tmp_path / "cache", model_poll_seconds=3600)
    open_store(settings).clear()  # a new store: no version, no history

    with TestClient(create_app(settings)) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "the store holds none: run `fraudops features backfill`" in ready.json()["detail"]
        assert client.post("/predict", json=TX, headers=AUTH).status_code == 503

        backfill(settings)
        assert client.post("/model/reload", headers=ADMIN).json()["version"] == "1"
        assert client.post("/predict", json=TX, headers=AUTH).status_code == 200


def test_starts_from_the_local_copy_when_mlflow_is_down(registry_copy, tmp_path):
    registry_copy.set_alias("1")
    cache = tmp_path / "cache"
    with TestClient(create_app(registry_copy.settings(cache))) as client:
        first = client.post("/predict", json=TX, headers=AUTH).json()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    down = registry_copy.settings(cache, tracking_uri=dead, model_poll_seconds=3600)

    with TestClient(create_app(down)) as client:
        assert client.get("/health/ready").status_code == 200
        info = client.get("/model", headers=AUTH).json()
        assert (info["version"], info["source"]) == ("1", "cache")
        assert info["metrics"]["average_precision"] > 0
        assert client.post("/predict", json=TX, headers=AUTH).json() == first

        reload = client.post("/model/reload", headers=ADMIN)
        assert reload.status_code == 503
        assert "unreachable" in reload.json()["detail"]
        assert client.get("/health/ready").status_code == 200
        assert "fraudops_model_poll_errors_total 2.0" in client.get("/metrics").text


class FailingMlflow(BaseHTTPRequestHandler):
    """A tracking server that is up (``/health``) but answers every API call with 503."""

    calls: list[str] = []

    def do_GET(self) -> None:
        if "alias=production" in self.path:  # not the shadow's poll
            FailingMlflow.calls.append(self.path)
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def failing_mlflow() -> Iterator[str]:
    FailingMlflow.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FailingMlflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_mlflow_holds_neither_start_nor_reload(registry_copy, tmp_path):
    """MLflow's own retries (7, growing back-off) would hold a poll for minutes; the server's
    are bounded, so it starts from its local copy and a reload answers 503 promptly."""
    registry_copy.set_alias("1")
    cache = tmp_path / "cache"
    with TestClient(create_app(registry_copy.settings(cache))) as client:
        assert client.get("/health/ready").status_code == 200  # the local copy is filled
    with failing_mlflow() as url:
        settings = registry_copy.settings(cache, tracking_uri=url, model_poll_seconds=3600)
        with served(settings, log=tmp_path / "serve.log") as api:
            at_start = len(FailingMlflow.calls)
            reload = httpx.post(f"{api}/model/reload", headers=ADMIN, timeout=60)
            by_reload = len(FailingMlflow.calls) - at_start

    assert reload.status_code == 503
    assert "cannot read" in reload.json()["detail"]
    assert 1 <= at_start <= 3 and 1 <= by_reload <= 3  # one request, then at most 2 retries


def test_a_failed_load_keeps_the_model_and_is_counted(registry_copy, tmp_path):
    registry_copy.set_alias("1")
    with TestClient(create_app(registry_copy.settings(tmp_path / "cache"))) as client:
        registry_copy.set_alias("3")  # its artifacts are not a model

        reload = client.post("/model/reload", headers=ADMIN)

        assert reload.status_code == 503
        assert "version 3 failed" in reload.json()["detail"]
        assert client.get("/model", headers=AUTH).json()["version"] == "1"
        resp = client.post("/predict", json=TX, headers=AUTH)
        assert resp.status_code == 200
        assert resp.json()["model_version"] == "1"
        assert 'fraudops_model_loads_total{outcome="failure"} 1.0' in client.get("/metrics").text
    registry_copy.set_alias("1")


@contextmanager
def running(app) -> Iterator[str]:
    """A real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what="the server to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_promotion_is_picked_up_under_load_without_failures(registry_copy, tmp_path):
    registry_copy.set_alias("1")
    app = create_app(registry_copy.settings(tmp_path / "cache", model_poll_seconds=0.5))
    body = as_json(transactions(5))
    answers: list[list[tuple[int, str]]] = [[], []]
    stop = threading.Event()

    def client_loop(out: list[tuple[int, str]]) -> None:
        with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
            while not stop.is_set():
                try:
                    resp = http.post("/predict", json=body)
                    out.append((resp.status_code, resp.json().get("model_version", "")))
                except (httpx.HTTPError, ValueError) as exc:
                    out.append((0, repr(exc)))

    def seen(version: str) -> int:
        return sum(v == version for answers_of_one in answers for _, v in answers_of_one)

    with running(app) as url:
        clients = [threading.Thread(target=client_loop, args=(out,)) for out in answers]
        for thread in clients:
            thread.start()
        try:
            wait_until(lambda: seen("1") >= 20, what="answers from version 1")
            registry_copy.set_alias("2")  # the promotion
            wait_until(lambda: seen("2") >= 1, what="the poller to swap in version 2")
            after = seen("2")
            wait_until(lambda: seen("2") >= after + 20, what="more answers from version 2")
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=30)
        info = httpx.get(f"{url}/model", headers=AUTH).json()
        metrics = httpx.get(f"{url}/metrics").text
    registry_copy.set_alias("1")

    failures = [a for out in answers for a in out if a[0] != 200]
    assert failures == []
    for out in answers:  # per client: version 1, then version 2, never back
        versions = [v for _, v in out]
        assert versions[0] == "1"
        assert versions[-1] == "2"
        assert versions == sorted(versions)
    assert info["version"] == "2"
    assert info["source"] == "mlflow"
    assert 'fraudops_model_loads_total{outcome="success"} 2.0' in metrics
