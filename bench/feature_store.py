"""Card-history stores: the embedded SQLite file vs Redis, one transaction per call.

Both stores are warmed the same way: 30 days of history for 2,000 cards loaded in bulk (the
backfill path), then 500 calls (half of them with the features). Then both get the same
stream of new transactions, in event time, one per ``record_and_fetch`` call as /predict
makes them: latency per call (p50, p99) and calls per second from one client.
``record_and_compute`` (the store plus the features computed by the offline executor's code)
is timed the same way, on further transactions. Rounds alternate between the stores, so a
drift in the machine's load hits both; the best round of each is reported.

Redis is Debian's redis-server on loopback TCP with a password, as the stack reaches Valkey
(the same protocol and commands); the SQLite file is in a temporary folder.

    python -m bench feature_store            # via make bench
    python -m bench.feature_store --calls 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudops.cardhistory.definition import US
from fraudops.cardhistory.online import record_and_compute
from fraudops.cardhistory.stores.base import Event, HistoryStore
from fraudops.cardhistory.stores.redis import RedisStore
from fraudops.cardhistory.stores.sqlite import SqliteStore
from tests.support.services import redis_server

CARDS = 2_000
HISTORY_DAYS = 30
PER_CARD = 60  # transactions a card makes in HISTORY_DAYS: its window on every call
WARMUP = 500
T0 = 1_772_323_200 * US  # 2026-03-01 UTC


def transactions(n: int, *, start: int, span_days: float, seed: int) -> list[Event]:
    """``n`` transactions of random cards in time order from ``start``."""
    rng = np.random.default_rng(seed)
    ts = np.sort(start + rng.integers(0, int(span_days * 86_400 * US), n))
    cards = rng.integers(0, CARDS, n)
    amounts = np.round(rng.lognormal(4, 1, n), 2)
    lats, lons = rng.uniform(-60, 60, n), rng.uniform(-170, 170, n)
    merchants = rng.integers(0, 500, n)
    return [
        (f"C{c}", int(t), f"s{seed}-{i}", float(a), float(la), float(lo), f"M{m}")
        for i, (c, t, a, la, lo, m) in enumerate(
            zip(cards, ts, amounts, lats, lons, merchants, strict=True)
        )
    ]


def as_record(event: Event) -> dict[str, Any]:
    """A validated /predict transaction for the event."""
    card, ts, txn, amount, lat, lon, merchant = event
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts)
    return {
        "card_id": card,
        "event_ts": when,
        "transaction_id": txn,
        "transaction_amount": amount,
        "latitude": lat,
        "longitude": lon,
        "merchant_id": merchant,
    }


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p99_ms: float
    calls_per_s: float


def timed(call: Callable[[Any], object], items: Sequence[Any]) -> Timing:
    """Each item through ``call`` once; latency percentiles and calls per second."""
    laps = []
    started = time.perf_counter()
    for item in items:
        t = time.perf_counter_ns()
        call(item)
        laps.append(time.perf_counter_ns() - t)
    wall = time.perf_counter() - started
    ms = np.array(laps) / 1e6
    return Timing(float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(items) / wall)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feature_store", description=__doc__)
    parser.add_argument("--calls", type=int, default=int(os.environ.get("BENCH_CALLS", 3_000)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 2)))
    args = parser.parse_args(argv or [])
    history = transactions(CARDS * PER_CARD, start=T0, span_days=HISTORY_DAYS, seed=1)
    end = T0 + HISTORY_DAYS * 86_400 * US
    # per round: calls for record_and_fetch, then as many for record_and_compute
    stream = transactions(WARMUP + 2 * args.calls * args.rounds, start=end, span_days=1, seed=2)
    warmup, rest = stream[:WARMUP], stream[WARMUP:]
    with (
        tempfile.TemporaryDirectory(prefix="bench-store-") as tmp,
        redis_server(Path(tmp) / "redis", password="bench-Pa55word") as url,
    ):
        stores: dict[str, HistoryStore] = {
            "SQLite file": SqliteStore(Path(tmp) / "store.db"),
            "Redis (TCP)": RedisStore(url),
        }
        print(
            f"warming each store: {len(history):,} transactions of {CARDS:,} cards over "
            f"{HISTORY_DAYS} days (~{PER_CARD} per card window), then {WARMUP} calls",
            flush=True,
        )
        for name, store in stores.items():
            t = time.perf_counter()
            assert store.load(history) == len(history)
            rate = len(history) / (time.perf_counter() - t)
            for event in warmup[: WARMUP // 2]:
                store.record_and_fetch([event])
            for event in warmup[WARMUP // 2 :]:  # the first calls pay pyarrow's set-up
                record_and_compute(store, [as_record(event)])
            print(f"  {name:<12} bulk load {rate:>9,.0f} transactions/s", flush=True)
        fetches: dict[str, list[Timing]] = {name: [] for name in stores}
        computes: dict[str, list[Timing]] = {name: [] for name in stores}
        for r in range(args.rounds):
            base = 2 * args.calls * r
            fetch_part = rest[base : base + args.calls]
            compute_part = [as_record(e) for e in rest[base + args.calls : base + 2 * args.calls]]
            for name, store in stores.items():
                fetches[name].append(timed(lambda e, s=store: s.record_and_fetch([e]), fetch_part))
                computes[name].append(
                    timed(lambda rec, s=store: record_and_compute(s, [rec]), compute_part)
                )
        sizes = [len(w) for w in stores["Redis (TCP)"].record_and_fetch(rest[-50:])]
        for store in stores.values():
            store.close()
    report(fetches, computes, calls=args.calls, rounds=args.rounds, window=float(np.mean(sizes)))


def report(
    fetches: dict[str, list[Timing]],
    computes: dict[str, list[Timing]],
    *,
    calls: int,
    rounds: int,
    window: float,
) -> None:
    print(
        f"one transaction per call, one client; {calls:,} calls per round, best of {rounds} "
        f"rounds; ~{window:.0f} transactions in a card's 30-day window"
    )
    print(
        f"  {'store':<12} {'record_and_fetch':>34}   {'record_and_compute (+ features)':>34}\n"
        f"  {'':<12} {'p50 ms':>10} {'p99 ms':>10} {'calls/s':>12}   "
        f"{'p50 ms':>10} {'p99 ms':>10} {'calls/s':>12}"
    )
    best = {
        name: (
            max(fetches[name], key=lambda t: t.calls_per_s),
            max(computes[name], key=lambda t: t.calls_per_s),
        )
        for name in fetches
    }
    for name, (f, c) in best.items():
        print(
            f"  {name:<12} {f.p50_ms:>10.3f} {f.p99_ms:>10.3f} {f.calls_per_s:>12,.0f}   "
            f"{c.p50_ms:>10.3f} {c.p99_ms:>10.3f} {c.calls_per_s:>12,.0f}"
        )
    (sf, sc), (rf, rc) = best["SQLite file"], best["Redis (TCP)"]
    print(
        f"Redis vs SQLite at the median: record_and_fetch {rf.p50_ms / sf.p50_ms:.2f}x the time, "
        f"with the features {rc.p50_ms / sc.p50_ms:.2f}x"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
