"""Dynamic batching of /predict changes no answer and keeps each request's failures its own.

The batcher is driven directly (requests submitted in one event-loop turn form one batch,
deterministically) against the unbatched path on a twin store, and over a real ``fraudops
serve`` (real sockets, concurrent clients) where batches form as they do in production.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from fraudops.api.batching import PredictBatcher
from fraudops.api.holder import LoadedModel
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PredictionLog
from fraudops.cardhistory.online import record_and_compute
from fraudops.cardhistory.stores import StoreUnavailable
from fraudops.cardhistory.stores.sqlite import SqliteStore
from fraudops.config import Settings
from fraudops.features import FEATURE_NAMES
from fraudops.scoring import FraudScorer, score_records
from fraudops.validation import parse_transactions
from tests.support.api import AUTH, api_settings, as_json, served, transactions

pytestmark = pytest.mark.slow

CARDS = ("card-a", "card-b", "card-c")  # few cards: each request extends another's history


@pytest.fixture(scope="module")
def model(client: TestClient) -> LoadedModel:
    loaded = client.app.state.holder.current  # type: ignore[attr-defined]
    assert loaded is not None
    return loaded


@pytest.fixture(scope="module")
def requests_json() -> list[list[dict[str, Any]]]:
    """30 requests in event-time order: most of one transaction, some of three."""
    rows = as_json(transactions(48, seed=11).sort_by("event_ts"))
    for i, row in enumerate(rows):
        row["card_id"] = CARDS[i % len(CARDS)]
    sizes = [1, 1, 3, 1, 1, 1, 3, 1] * 4
    out, start = [], 0
    for size in sizes[:30]:
        out.append(rows[start : start + size])
        start += size
    return out


def _records(body: list[dict[str, Any]]) -> Sequence[Any]:
    return parse_transactions(json.dumps(body).encode(), max_batch=1000, max_errors=10)


def _batcher(settings: Settings, store: Any, **options: Any) -> PredictBatcher:
    quiet = settings.model_copy(update={"prediction_log": False})
    metrics = Metrics()
    return PredictBatcher(
        store=store,
        metrics=metrics,
        predictions=PredictionLog(quiet, metrics=metrics),
        **{"max_rows": 1000, "max_wait_us": 50_000.0, **options},
    )


async def _all_at_once(batcher: PredictBatcher, model: LoadedModel, bodies: list[Any]) -> list[Any]:
    return await asyncio.gather(
        *(batcher.score(model, _records(b)) for b in bodies), return_exceptions=True
    )


def _batches(batcher: PredictBatcher) -> tuple[float, float]:
    """(batches, transactions) the batcher scored, from its histogram."""
    (sample_count, sample_sum) = (
        s.value
        for s in next(iter(batcher.metrics.batch_rows.collect())).samples
        if s.name.endswith(("_count", "_sum"))
    )
    return sample_count, sample_sum


def test_a_batch_gives_each_request_the_answers_it_gets_alone(
    model: LoadedModel, requests_json: list[Any], served_settings: Settings, tmp_path: Path
) -> None:
    batcher = _batcher(served_settings, SqliteStore(tmp_path / "batched.db"))
    alone = SqliteStore(tmp_path / "alone.db")

    answers = asyncio.run(_all_at_once(batcher, model, requests_json))
    expected = []
    for body in requests_json:  # today's path: each request its own store step and call
        records = _records(body)
        expected.append(score_records(model.scorer, records, record_and_compute(alone, records)))

    assert _batches(batcher) == (1, sum(map(len, requests_json)))  # one batch holds them all
    for (proba, flags), (want_proba, want_flags), body in zip(
        answers, expected, requests_json, strict=True
    ):
        assert len(proba) == len(body)  # its own rows, in its own order
        np.testing.assert_array_equal(proba, want_proba)
        np.testing.assert_array_equal(flags, want_flags)
    assert len({p for proba, _ in answers for p in proba.tolist()}) > 10  # not all alike


def test_a_full_batch_closes_early_and_the_rest_form_the_next(
    model: LoadedModel, requests_json: list[Any], served_settings: Settings, tmp_path: Path
) -> None:
    batcher = _batcher(served_settings, SqliteStore(tmp_path / "s.db"), max_rows=10)

    answers = asyncio.run(_all_at_once(batcher, model, requests_json))

    batches, rows = _batches(batcher)
    # none grows past 10 rows but by the request that filled it (at most 3)
    assert rows == sum(map(len, requests_json)) and batches >= rows / 12
    assert all(not isinstance(a, BaseException) for a in answers)


class _FailsOnAmount(FraudScorer):
    """The served booster, except that it fails on a batch holding one poisoned amount."""

    POISON = 4321.09

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        if np.any(matrix[:, FEATURE_NAMES.index("transaction_amount")] == self.POISON):
            raise RuntimeError("poisoned row")
        return super().predict_proba(matrix)


def test_a_failing_request_fails_alone(
    model: LoadedModel, requests_json: list[Any], served_settings: Settings, tmp_path: Path
) -> None:
    scorer = _FailsOnAmount(model.scorer.booster, model.scorer.threshold)
    poisoned_model = LoadedModel(**{**vars(model), "scorer": scorer})
    bodies = [list(b) for b in requests_json[:8]]
    bodies[3] = [{**bodies[3][0], "transaction_amount": _FailsOnAmount.POISON}]
    batcher = _batcher(served_settings, SqliteStore(tmp_path / "s.db"))

    answers = asyncio.run(_all_at_once(batcher, poisoned_model, bodies))

    assert isinstance(answers[3], RuntimeError)
    for i, (answer, body) in enumerate(zip(answers, bodies, strict=True)):
        if i != 3:
            assert isinstance(answer, tuple) and len(answer[0]) == len(body)


class _DownStore(SqliteStore):
    def record_and_fetch(self, events: Any) -> Any:
        raise StoreUnavailable("card-history store: connection refused")


def test_a_store_outage_fails_the_whole_batch_with_the_store_error(
    model: LoadedModel, requests_json: list[Any], served_settings: Settings, tmp_path: Path
) -> None:
    batcher = _batcher(served_settings, _DownStore(tmp_path / "s.db"))

    answers = asyncio.run(_all_at_once(batcher, model, requests_json[:5]))

    assert all(isinstance(a, StoreUnavailable) for a in answers)


# -- over real sockets ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(served_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = api_settings(served_settings.home, tmp_path_factory.mktemp("batching-cache"))
    with served(
        settings,
        log=tmp_path_factory.mktemp("batching") / "serve.log",
        FRAUDOPS_PREDICTION_LOG="false",
    ) as url:
        yield url


def test_concurrent_clients_are_batched_and_each_gets_its_own_answer(
    server: str, requests_json: list[Any]
) -> None:
    bad = {**requests_json[0][0], "transaction_amount": "lots"}
    bodies: list[Any] = [*requests_json, [bad]]

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=server, headers=AUTH, limits=limits) as http:
            return await asyncio.gather(*(http.post("/predict", json=b) for b in bodies))

    replies = asyncio.run(send_all())
    metrics = httpx.get(f"{server}/metrics").text

    assert [r.status_code for r in replies] == [200] * len(requests_json) + [422]
    for reply, body in zip(replies, requests_json, strict=False):
        ids = [p["transaction_id"] for p in reply.json()["predictions"]]
        assert ids == [row["transaction_id"] for row in body]
    assert "transaction_amount" in replies[-1].text
    one_row = _sample(metrics, 'fraudops_predict_batch_rows_bucket{le="1.0"}')
    batches = _sample(metrics, "fraudops_predict_batch_rows_count")
    assert batches < len(requests_json)  # some requests shared a batch
    assert one_row < batches or batches == 1


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_a_slow_request_does_not_hold_the_others(server: str, requests_json: list[Any]) -> None:
    body = json.dumps(requests_json[2]).encode()
    host, port = server.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {AUTH['X-API-Key']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    slow.sendall(head + body[: len(body) // 2])  # half the body, then nothing for a while

    for other in requests_json[3:8]:
        reply = httpx.post(f"{server}/predict", json=other, headers=AUTH, timeout=10)
        assert reply.status_code == 200, reply.text

    slow.sendall(body[len(body) // 2 :])
    answer = slow.recv(65536)
    slow.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_explained_requests_are_batched_and_each_gets_the_reasons_it_gets_alone(
    model: LoadedModel,
    requests_json: list[Any],
    served_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraudops.api import explain as api_explain
    from fraudops.explain import explain_matrix
    from fraudops.features import build_features, columns_from_values, record_values

    calls: list[int] = []

    def counted(scorer: FraudScorer, matrix: np.ndarray, **options: Any) -> Any:
        calls.append(len(matrix))
        return explain_matrix(scorer, matrix, **options)

    monkeypatch.setattr(api_explain, "explain_matrix", counted)
    batcher = _batcher(served_settings, SqliteStore(tmp_path / "batched.db"))
    alone = SqliteStore(tmp_path / "alone.db")

    async def mixed() -> list[Any]:  # every other request asks for reasons
        return await asyncio.gather(*(
            (batcher.explain if i % 2 else batcher.score)(model, _records(body))
            for i, body in enumerate(requests_json)
        ))  # fmt: skip

    answers = asyncio.run(mixed())

    asked = sum(len(b) for i, b in enumerate(requests_json) if i % 2)
    assert calls == [asked]  # one TreeSHAP pass for every explained row of the batch
    for i, (body, answer) in enumerate(zip(requests_json, answers, strict=True)):
        records = _records(body)
        history = record_and_compute(alone, records)
        values = record_values(records)
        matrix = build_features(columns_from_values(values, history))
        want_proba, want_flags = score_records(model.scorer, records, history)
        np.testing.assert_array_equal(answer[0], want_proba)
        np.testing.assert_array_equal(answer[1], want_flags)
        if i % 2:
            assert answer[2] == explain_matrix(model.scorer, matrix, times=values["event_ts"])
        else:
            assert len(answer) == 2  # a plain request gets no reasons
