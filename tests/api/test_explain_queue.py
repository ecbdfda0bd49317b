"""The explaining thread: calls one after another without the event loop, errors kept apart.

Driven directly on a small real booster; the TreeSHAP function is wrapped to record each
call (and to hold the first one where a test needs two calls apart), never replaced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fraudops import datagen
from fraudops.api import explain as api_explain
from fraudops.api.explain import Asked, ExplainQueue
from fraudops.cardhistory import enrich
from fraudops.explain import explain_matrix
from fraudops.features import features_from_table
from fraudops.scoring import FraudScorer, score_matrix
from tests.support.api import KEY
from tests.support.models import small_scorer
from tests.support.settings import make_settings

WAIT = 30.0  # seconds: only a broken queue gets anywhere near
_PARAMS = {"max_depth": 3, "objective": "binary:logistic"}


@pytest.fixture(scope="module")
def scorer() -> FraudScorer:
    data = enrich(datagen.generate_day(dt.date(2026, 1, 1), rows=2_000, fraud_rate=0.05))
    return small_scorer(data, params=_PARAMS, rounds=10, threshold=0.3)


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, list[dt.datetime]]:
    day = enrich(
        datagen.generate_day(dt.date(2026, 2, 1), rows=50, seed=5).drop_columns(["is_fraud"])
    )
    return features_from_table(day), day["event_ts"].to_pylist()


class Recorder:
    """Wraps the TreeSHAP function: each call's (scorer, rows); the first may be held."""

    def __init__(self, *, hold_first: bool = False, fail_first: bool = False) -> None:
        self.calls: list[tuple[FraudScorer, int]] = []
        self.started = [threading.Event() for _ in range(4)]
        self.release = threading.Event()
        self.hold_first = hold_first
        self.fail_first = fail_first

    def __call__(self, scorer: FraudScorer, matrix: np.ndarray, **options: Any) -> Any:
        self.calls.append((scorer, len(matrix)))
        n = len(self.calls)
        if n <= len(self.started):
            self.started[n - 1].set()
        if n == 1 and self.hold_first:
            assert self.release.wait(WAIT)
        if n == 1 and self.fail_first:
            raise RuntimeError("the first call fails")
        return explain_matrix(scorer, matrix, **options)


def _asked(scorer: FraudScorer, matrix: np.ndarray, times: list[Any]) -> Asked:
    proba, flags = score_matrix(scorer, matrix)
    future = asyncio.get_running_loop().create_future()
    return Asked(scorer, matrix, times, proba, flags, answer=future)


def _run(monkeypatch: pytest.MonkeyPatch, recorder: Recorder, scenario: Callable[..., Any]) -> Any:
    monkeypatch.setattr(api_explain, "explain_matrix", recorder)
    return asyncio.run(scenario())


def test_the_thread_goes_on_to_the_next_call_while_the_event_loop_is_busy(
    scorer: FraudScorer, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, times = rows
    recorder = Recorder(hold_first=True)

    async def scenario() -> tuple[bool, list[Any]]:
        queue = ExplainQueue()
        first = _asked(scorer, matrix[:3], times[:3])
        second = _asked(scorer, matrix[3:5], times[3:5])
        queue.ask([first])
        assert recorder.started[0].wait(WAIT)
        queue.ask([second])  # waits behind the first call
        recorder.release.set()
        # the loop stays busy (blocked here): the first call's answers cannot be handed
        # over, yet the thread must start the second call
        went_on = recorder.started[1].wait(WAIT)
        return went_on, [await first.answer, await second.answer]

    went_on, answers = _run(monkeypatch, recorder, scenario)

    assert went_on
    assert [n for _, n in recorder.calls] == [3, 2]
    for answer, (lo, hi) in zip(answers, [(0, 3), (3, 5)], strict=True):
        assert answer[2] == explain_matrix(scorer, matrix[lo:hi], times=times[lo:hi])
        np.testing.assert_array_equal(answer[0], score_matrix(scorer, matrix[lo:hi])[0])


def test_a_batch_goes_in_one_call_and_each_request_gets_its_own_rows(
    scorer: FraudScorer, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, times = rows
    recorder = Recorder()
    cuts = [(0, 1), (1, 4), (4, 5), (5, 9)]

    async def scenario() -> list[Any]:
        batch = [_asked(scorer, matrix[lo:hi], times[lo:hi]) for lo, hi in cuts]
        ExplainQueue().ask(batch)
        return [await a.answer for a in batch]

    answers = _run(monkeypatch, recorder, scenario)

    assert [n for _, n in recorder.calls] == [9]
    for answer, (lo, hi) in zip(answers, cuts, strict=True):
        assert answer[2] == explain_matrix(scorer, matrix[lo:hi], times=times[lo:hi])


def test_a_failed_call_fails_its_own_requests_only(
    scorer: FraudScorer, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, times = rows
    recorder = Recorder(hold_first=True, fail_first=True)

    async def scenario() -> tuple[Any, Any]:
        queue = ExplainQueue()
        first = _asked(scorer, matrix[:2], times[:2])
        second = _asked(scorer, matrix[2:4], times[2:4])
        queue.ask([first])
        assert recorder.started[0].wait(WAIT)
        queue.ask([second])
        recorder.release.set()
        results = await asyncio.gather(first.answer, second.answer, return_exceptions=True)
        return results[0], results[1]

    failed, answered = _run(monkeypatch, recorder, scenario)

    assert isinstance(failed, RuntimeError)
    assert answered[2] == explain_matrix(scorer, matrix[2:4], times=times[2:4])


def test_each_model_is_explained_apart_after_a_swap(
    scorer: FraudScorer, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, times = rows
    other = FraudScorer(scorer.booster[:5], threshold=0.3)  # the next version, say
    recorder = Recorder(hold_first=True)

    async def scenario() -> list[Any]:
        queue = ExplainQueue()
        first = _asked(scorer, matrix[:1], times[:1])
        queue.ask([first])
        assert recorder.started[0].wait(WAIT)
        swapped = [_asked(other, matrix[1:3], times[1:3]), _asked(scorer, matrix[3:4], times[3:4])]
        queue.ask(swapped)
        recorder.release.set()
        return [await a.answer for a in (first, *swapped)]

    answers = _run(monkeypatch, recorder, scenario)

    called = [(s.booster.num_boosted_rounds(), n) for s, n in recorder.calls]
    assert sorted(called[1:]) == [(5, 2), (10, 1)]  # one call per model, never mixed
    assert answers[1][2] == explain_matrix(other, matrix[1:3], times=times[1:3])
    assert answers[2][2] == explain_matrix(scorer, matrix[3:4], times=times[3:4])


def test_the_thread_stops_when_idle_and_starts_again_on_the_next_request(
    scorer: FraudScorer, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix, times = rows
    monkeypatch.setattr(api_explain, "IDLE_SECONDS", 0.05)
    recorder = Recorder()

    def explaining() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "fraudops-explain"]

    async def scenario() -> tuple[bool, Any]:
        queue = ExplainQueue()
        first = _asked(scorer, matrix[:2], times[:2])
        queue.ask([first])
        await first.answer
        deadline = time.monotonic() + WAIT
        while explaining() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stopped = not explaining()
        again = _asked(scorer, matrix[2:3], times[2:3])
        queue.ask([again])
        return stopped, await again.answer

    stopped, answer = _run(monkeypatch, recorder, scenario)

    assert stopped
    assert answer[2] == explain_matrix(scorer, matrix[2:3], times=times[2:3])


def test_the_api_hands_the_gil_over_often(tmp_path: Path) -> None:
    """The explaining thread gets the GIL back within a tenth of a millisecond, not 5 ms."""
    from fraudops.api.app import create_app

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default
    try:
        create_app(make_settings(tmp_path, api_keys=KEY))
        assert sys.getswitchinterval() == pytest.approx(api_explain.GIL_SWITCH_SECONDS)
    finally:
        sys.setswitchinterval(before)
