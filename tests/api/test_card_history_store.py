"""/predict on a real Valkey/Redis store: a store that does not answer is a 503, never a guess."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from fraudops.api import create_app
from fraudops.cardhistory.stores import open_store
from fraudops.procs import wait_until
from fraudops.schema import EXAMPLE_TRANSACTION as TX
from tests.support.api import AUTH
from tests.support.services import redis_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "store-secret-0123456789"


def _tx(n: int) -> dict[str, object]:
    return {**TX, "transaction_id": f"store-{n}"}


def _errors(client: TestClient) -> float:
    """fraudops_card_history_errors_total, from /metrics."""
    found = re.search(
        r"^fraudops_card_history_errors_total (\S+)$", client.get("/metrics").text, re.M
    )
    assert found, "no fraudops_card_history_errors_total in /metrics"
    return float(found[1])


def test_predict_answers_503_while_the_store_does_not_answer(registry_copy, tmp_path: Path):
    registry_copy.set_alias("1")
    with ExitStack() as running:
        url = running.enter_context(redis_server(tmp_path / "redis", password=SECRET))
        settings = registry_copy.settings(tmp_path / "cache", feature_store=url)
        client = TestClient(create_app(settings))
        with client:
            assert client.post("/predict", json=_tx(1), headers=AUTH).status_code == 200
            with redis.Redis.from_url(url) as admin:
                admin.client_pause(2_500)  # the store stops answering (its clients wait)

            paused = client.post("/predict", json=_tx(2), headers=AUTH)

            assert paused.status_code == 503, paused.text
            assert paused.headers["Retry-After"] == "5"
            assert "card-history store is unavailable" in paused.json()["detail"]
            # the pause ends: the same transaction is scored, and was not half-recorded
            wait_until(
                lambda: client.post("/predict", json=_tx(2), headers=AUTH).status_code == 200,
                what="the store answering again",
                timeout=10,
            )
            errors = _errors(client)
            assert errors >= 1
            running.close()  # the server stops: connections are refused

            stopped = client.post("/predict", json=_tx(3), headers=AUTH)

            assert stopped.status_code == 503
            assert SECRET not in stopped.text
            assert _errors(client) == errors + 1
            assert client.get("/health/live").status_code == 200


def test_each_transaction_is_recorded_once_in_the_store(registry_copy, tmp_path: Path):
    registry_copy.set_alias("1")
    with redis_server(tmp_path / "redis") as url:
        settings = registry_copy.settings(tmp_path / "cache", feature_store=url)
        with TestClient(create_app(settings)) as client:
            for _ in range(3):  # a client retrying the same transaction
                assert client.post("/predict", json=_tx(1), headers=AUTH).status_code == 200
            assert client.post("/predict", json=[_tx(2), _tx(3)], headers=AUTH).status_code == 200
        store = open_store(settings)
        try:
            assert store.stats() == {"cards": 1, "events": 3}
        finally:
            store.close()
