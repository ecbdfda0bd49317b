"""The online executor and its stores: the same features as the lake's, retries, workers.

Every test runs against each store: the embedded SQLite file and a real Redis server.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fraudops.cardhistory import HISTORY_FEATURES, compute
from fraudops.cardhistory.online import event_of, events_table, record_and_compute
from fraudops.cardhistory.stores.base import KEEP, HistoryStore
from fraudops.cardhistory.stores.sqlite import SqliteStore
from tests.unit.test_cardhistory import assert_same, events

pytestmark = pytest.mark.integration


def open_store(kind: str, tmp_path: Path) -> HistoryStore:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "store.db")
    raise AssertionError(kind)


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> HistoryStore:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


def _in_time_order(table: pa.Table) -> pa.Table:
    return table.sort_by([("event_ts", "ascending"), ("transaction_id", "ascending")])


def test_requests_in_time_order_get_the_offline_features(store: HistoryStore) -> None:
    table = _in_time_order(events(400, seed=11))
    want = compute(table)
    rng = np.random.default_rng(0)
    got: dict[str, list[np.ndarray]] = {name: [] for name in HISTORY_FEATURES}
    start = 0
    while start < table.num_rows:  # requests of 1 to 5 transactions, like the API gets
        size = int(rng.integers(1, 6))
        batch = table.slice(start, size).to_pylist()
        features = record_and_compute(store, batch)
        for name in HISTORY_FEATURES:
            got[name].append(features[name])
        start += size
    assert_same({k: np.concatenate(v) for k, v in got.items()}, want)
    # 40 days went through: the store keeps the last 31 of each card
    ts = table["event_ts"].cast(pa.int64()).to_numpy()
    cards = np.array(table["card_id"].to_pylist())
    kept = sum(int((ts[cards == c] >= ts[cards == c].max() - KEEP).sum()) for c in set(cards))
    assert store.stats()["events"] == kept < table.num_rows


def test_a_request_out_of_time_order_is_scored_in_time_order(store: HistoryStore) -> None:
    table = _in_time_order(events(60, seed=12, cards=2))
    want = compute(table)
    shuffled = np.random.default_rng(1).permutation(table.num_rows)
    features = record_and_compute(store, table.take(pa.array(shuffled)).to_pylist())
    assert_same(features, {k: v[shuffled] for k, v in want.items()})


def test_a_retried_transaction_counts_once(store: HistoryStore) -> None:
    table = _in_time_order(events(50, seed=13, cards=1, days=20))
    rows = table.to_pylist()
    first = record_and_compute(store, rows)
    again = record_and_compute(store, rows[-10:])  # the client retries the last ten
    assert store.stats()["events"] == 50
    assert_same(again, {k: v[-10:] for k, v in first.items()})


def test_fetch_reads_a_window_without_writing(store: HistoryStore) -> None:
    table = _in_time_order(events(100, seed=14, cards=3))
    store.load(event_of(r) for r in table.to_pylist())
    evs = [event_of(r) for r in table.to_pylist()]
    since, until = evs[20][1], evs[80][1]
    got = store.fetch({"C0", "C1"}, since=since, until=until)
    want = [e for e in evs if e[0] in ("C0", "C1") and since <= e[1] < until]
    assert sorted(got) == sorted(want)
    assert store.stats()["events"] == 100
    # the rows of a window come back as a table the offline executor reads
    assert events_table(got).num_rows == len(want)


def test_load_skips_what_is_stored_and_clear_forgets_everything(store: HistoryStore) -> None:
    evs = [event_of(r) for r in events(30, seed=15).to_pylist()]
    assert store.load(evs) == 30
    assert store.load(evs[:10]) == 0
    store.set_version("card-history-1")
    assert store.version() == "card-history-1"
    store.clear()
    assert store.stats() == {"cards": 0, "events": 0}
    assert store.version() is None


def _worker(kind: str, tmp_path: Path, worker: int, rows: list[dict]) -> None:
    opened = open_store(kind, tmp_path)
    for row in rows:
        record_and_compute(opened, [row])
    opened.close()


@pytest.mark.parametrize("kind", ["sqlite"])
def test_workers_updating_one_card_at_once_lose_nothing(kind: str, tmp_path: Path) -> None:
    table = _in_time_order(events(200, seed=16, cards=1, days=20))
    rows = table.to_pylist()
    open_store(kind, tmp_path).close()  # create it once, as the API's start-up does
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(kind, tmp_path, w, rows[w::4])) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    opened = open_store(kind, tmp_path)
    assert opened.stats() == {"cards": 1, "events": 200}
    # with every transaction in, a retry sees the lake's answer
    assert_same(record_and_compute(opened, rows), compute(table))
    opened.close()
