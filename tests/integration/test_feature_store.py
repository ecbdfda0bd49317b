"""The online executor and its stores: the same features as the lake's, retries, workers.

Every test runs against each store: the embedded SQLite file and a real Redis server.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import redis

from fraudops.cardhistory import HISTORY_FEATURES, compute
from fraudops.cardhistory.definition import US
from fraudops.cardhistory.online import event_of, events_table, record_and_compute
from fraudops.cardhistory.stores.base import KEEP, Event, HistoryStore, StoreUnavailable
from fraudops.cardhistory.stores.redis import TTL_SECONDS, RedisStore, card_keys
from fraudops.cardhistory.stores.sqlite import SqliteStore
from tests.support.services import redis_server
from tests.unit.test_cardhistory import assert_same, events

pytestmark = pytest.mark.integration


def open_store(where: str) -> HistoryStore:
    """The store at ``where``: a redis:// URL or a SQLite file."""
    return RedisStore(where) if where.startswith("redis://") else SqliteStore(Path(where))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: a fresh SQLite file, or an emptied Redis database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    url: str = request.getfixturevalue("redis_url")
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def store(where: str) -> Iterator[HistoryStore]:
    opened = open_store(where)
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


def _worker(where: str, rows: list[dict]) -> None:
    opened = open_store(where)
    for row in rows:
        record_and_compute(opened, [row])
    opened.close()


def test_workers_updating_one_card_at_once_lose_nothing(where: str) -> None:
    table = _in_time_order(events(200, seed=16, cards=1, days=20))
    rows = table.to_pylist()
    open_store(where).close()  # create it once, as the API's start-up does
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(where, rows[w::4])) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    opened = open_store(where)
    assert opened.stats() == {"cards": 1, "events": 200}
    # with every transaction in, a retry sees the lake's answer
    assert_same(record_and_compute(opened, rows), compute(table))
    opened.close()


def _bits(evs: list[Event]) -> list[tuple[object, ...]]:
    """Events with their floats as bytes, in a stable order."""
    return sorted((c, t, x, struct.pack("<ddd", a, la, lo), m) for c, t, x, a, la, lo, m in evs)


def test_events_come_back_bit_for_bit(store: HistoryStore) -> None:
    # floats that text with a precision would change (not -0.0: SQLite stores it as 0, which
    # no feature can tell apart); card ids that look like the store's own keys
    odd = [
        0.1 + 0.2,
        1e-310,
        2.2250738585072014e-308,
        5e-324,
        1.7976931348623157e308,
        math.pi,
        -123.4567890123,
    ]
    cards = ["version", "x", "x}:ev", "C{1}", "carte-é"]
    t0 = 1_700_000_000 * US
    evs: list[Event] = [
        (card, t0 + i, f"t{i}", odd[i % 7], odd[(i + 1) % 7], odd[(i + 2) % 7], "M|é")
        for i, card in enumerate(cards * 3)
    ]
    assert store.load(evs[:5]) == 5
    last: Event = ("version", t0 + 99, "t-last", 0.1 + 0.7, 5e-324, math.pi, "M")
    windows = store.record_and_fetch([*evs[5:], last])
    assert _bits(windows[-1]) == _bits([e for e in evs if e[0] == "version"])
    assert _bits(store.fetch(cards, since=0, until=2**62)) == _bits([*evs, last])
    assert store.stats() == {"cards": 5, "events": 16}
    assert store.version() is None


def test_a_stopped_redis_fails_fast_with_the_password_hidden(tmp_path: Path) -> None:
    secret = "s3cret-Pa55word"
    with redis_server(tmp_path / "redis", password=secret) as url:
        opened = RedisStore(url)
        assert opened.load([("C1", 1, "t1", 1.0, 2.0, 3.0, "M1")]) == 1
    assert secret not in opened.url and opened.url.startswith("redis://:***@127.0.0.1:")
    for call in (
        lambda: opened.record_and_fetch([("C1", 2, "t2", 1.0, 2.0, 3.0, "M1")]),
        lambda: opened.fetch(["C1"], since=0, until=10),
        opened.stats,
        opened.version,
    ):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert time.monotonic() - started < 2
        assert secret not in str(caught.value)
        assert f"card-history store {opened.url}: " in str(caught.value)
    opened.close()


def test_redis_clear_spares_other_keys_and_cards_expire(redis_url: str) -> None:
    opened = RedisStore(redis_url)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
        client.set("session:42", "someone else's")
        client.set("fraudops:api:other", "not the history")
        record_and_compute(opened, events(20, seed=17, cards=2).to_pylist())
        opened.set_version("card-history-1")
        for key in card_keys("C0"):
            assert 0 < client.ttl(key) <= TTL_SECONDS
        assert TTL_SECONDS > KEEP // US
        opened.clear()
        assert sorted(client.keys("*")) == [b"fraudops:api:other", b"session:42"]
    assert opened.stats() == {"cards": 0, "events": 0}
    opened.close()


def _fill_log(store: HistoryStore) -> None:
    rows = _in_time_order(events(2000, seed=23, cards=400, days=20)).to_pylist()
    for i in range(0, len(rows), 4):  # the API's small batches: a commit each
        record_and_compute(store, rows[i : i + 4])


def test_the_api_store_checkpoints_off_the_request_path(tmp_path: Path) -> None:
    own = SqliteStore(tmp_path / "own.db")  # SQLite's own checkpoints, on the commits
    _fill_log(own)
    frames_own, _ = own.checkpoint()
    serving = SqliteStore(tmp_path / "serving.db", autocheckpoint=False)
    _fill_log(serving)
    frames, copied = serving.checkpoint()
    assert frames_own <= 1_000 < frames  # no commit checkpointed the serving store's log
    assert copied == frames  # the upkeep did, all of it
    assert serving.stats() == own.stats()
    own.close()
    serving.close()


def test_the_api_runs_the_store_upkeep(tmp_path: Path) -> None:
    from fraudops.api.app import _maintain

    path = tmp_path / "serving.db"
    store = SqliteStore(path, autocheckpoint=False)
    _fill_log(store)
    before = path.stat().st_size  # everything since the header is in the log still

    async def upkeep_until_checkpointed() -> int:
        task = asyncio.create_task(_maintain(store, 0.01))
        try:
            for _ in range(3_000):
                await asyncio.sleep(0.01)
                if path.stat().st_size > before:
                    return path.stat().st_size
            raise AssertionError("the upkeep never checkpointed the log")
        finally:
            task.cancel()

    assert before <= 8192
    asyncio.run(upkeep_until_checkpointed())
    frames, copied = store.checkpoint()
    assert frames == copied
    store.close()
