"""The inference log's own cost per row, against the request path's, in CPU time.

Throughput on the shared 2-core machine moves with other people's load by more than the log
costs, so this measures CPU seconds (``time.process_time``), which moves much less: the
batch path of ``/predict`` (validation, card-history store step, features, booster) for the
serve bench's transactions, with the inference log off and on (on: the requests' rows
packed into Arrow parts every few hundred requests, in the worker), and the log's two later
steps: the flush (the last requests packed, in the worker) and the commit (one Iceberg
snapshot, in the committer process; run here in process, on a table that already has a
history of commits). Each buffer holds what a worker
gathers in ``prediction_log_seconds`` (10 s) at the serve bench's rates. Contenders take
turns, warmed alike; median of the rounds.

Goal (issue: close the loop): logging predictions adds under 5% to /predict. The figure is
(packing on the request path + flush + commit) / request path without the log; the
request path's own CPU moves by ±20% from round to round, more than the log costs, so the
packing is timed where it runs, not as a difference of the two. Then a
worker's 10 s of rows is committed 300 times in a row, by the committer and by plain appends
taking turns: a day of serving must not make a commit slower.

    python -m bench predlog            # via make bench
    python -m bench.predlog --rounds 5 --commits 600
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from bench import serve

GOAL = 0.05
SIZES = {1000: 120, 8: 3000}  # transactions per request -> requests per buffer (~10 s a worker)
# commits before the timed one: its metadata log is full and the log's snapshots have been
# forgotten at least once, as in a server that has run for a while (not a fresh table)
HISTORY_COMMITS = 25


def _setup(work: Path) -> tuple[Any, Path, list[dict[str, Any]]]:
    settings, scorer_dir = serve.build_model(work / "home")
    serve.fill_store(str(work / "store0.db"))
    return settings, scorer_dir, serve.payloads(serve.PAYLOAD_ROWS)


def _run(
    work: Path, scorer_dir: Path, rows: list[dict[str, Any]], size: int, log: bool
) -> dict[str, float]:
    """CPU seconds per row: the request path, and (log on) the flush and the commit."""
    from fraudops.api import committer, predlog
    from fraudops.api.batching import PredictBatcher
    from fraudops.api.holder import LoadedModel, serving_scorer
    from fraudops.api.metrics import Metrics
    from fraudops.cardhistory.stores.sqlite import SqliteStore
    from fraudops.config import Settings
    from fraudops.validation import parse_transactions

    n = SIZES[size]
    bodies = [
        json.dumps(rows[(i * size) % len(rows) : (i * size) % len(rows) + size]).encode()
        for i in range(n)
    ]
    for suffix in ("", "-wal", "-shm"):
        (work / f"store.db{suffix}").unlink(missing_ok=True)
    shutil.copy(work / "store0.db", work / "store.db")
    store = SqliteStore(work / "store.db")
    lake = work / f"lake-{time.monotonic_ns()}"  # its own: the committer keeps tables open
    lake.mkdir()
    settings = Settings(
        _env_file=None,
        home=work / "h",
        prediction_log=log,
        catalog_uri=f"sqlite:///{lake / 'catalog.db'}",
        warehouse=str(lake / "warehouse"),
    )
    metrics = Metrics()
    plog = predlog.PredictionLog(settings, metrics=metrics)
    pa.array([dt.datetime.now(dt.UTC)], pa.timestamp("us", tz="UTC"))  # time zones, once
    scorer = serving_scorer(scorer_dir)
    model = LoadedModel(
        "m", "1", "production", None, None, {}, {}, None, dt.datetime.now(dt.UTC), "bench", scorer
    )
    batcher = PredictBatcher(
        store=store, metrics=metrics, predictions=plog, max_rows=100_000, max_wait_us=500
    )
    if log:  # a table with a history, as after a while of serving (and opened)
        one = _one_part(plog)
        for _ in range(HISTORY_COMMITS):
            committer._append(settings, one)
    packing = [0.0]  # CPU of the packs on the request path (a part of "request")
    pack = plog._pack

    def timed_pack() -> None:  # this thread's CPU: the booster's threads run meanwhile
        started = time.thread_time()
        pack()
        packing[0] += time.thread_time() - started

    plog._pack = timed_pack  # type: ignore[method-assign]
    gc.collect()
    gc.freeze()

    async def requests() -> None:
        for body in bodies:
            await batcher.score(model, parse_transactions(body, max_batch=1000))

    total = n * size
    started = time.process_time()
    asyncio.run(requests())
    out = {"request": (time.process_time() - started) / total}
    if log:
        out["pack"] = packing[0] / total
        started = time.process_time()  # packed as the requests came; the rest at the flush
        pack()
        ipcs = [part.ipc for part in plog._parts]
        out["flush"] = (time.process_time() - started) / total
        started = time.process_time()
        committer._append(settings, ipcs)
        out["commit"] = (time.process_time() - started) / total
    gc.unfreeze()
    store.close()
    return out


def _one_part(plog: Any) -> list[bytes]:
    """One logged row, to open (and create) the lake table before the timed commit."""
    import numpy as np

    from fraudops.cardhistory import HISTORY_FEATURES
    from fraudops.schema import EXAMPLE_TRANSACTION
    from fraudops.validation import parse_transactions

    records = parse_transactions(json.dumps(EXAMPLE_TRANSACTION).encode(), max_batch=1)
    history = {name: np.zeros(1) for name in HISTORY_FEATURES}
    plog.add(records, np.zeros(1), np.zeros(1, bool), history=history, model_name="m",
             model_version="1", source="bench")  # fmt: skip
    plog._pack()
    parts, plog._parts, plog._rows = plog._parts, [], 0
    return [part.ipc for part in parts]


def commits_over_time(work: Path, rows: list[dict[str, Any]], commits: int) -> None:
    """CPU per commit as the log's history grows: a day of serving must not slow it down.

    One worker's 10 s at the serve bench's rates (20,000 rows) committed ``commits`` times
    to a fresh table, by three contenders taking turns commit by commit: the committer's own
    function (merged manifests, the log's old snapshots forgotten, a metadata log of 10
    files); the same steps with pyiceberg's metadata log of 100 files; plain appends (what
    the committer did at first: no merging, every snapshot kept, a log of 100). The mean of
    the first and the last 50 commits of each.
    """
    import numpy as np

    from fraudops import lake
    from fraudops.api import committer, predlog
    from fraudops.api.metrics import Metrics
    from fraudops.cardhistory import HISTORY_FEATURES
    from fraudops.config import Settings
    from fraudops.validation import parse_transactions

    def settings_in(folder: Path) -> Settings:
        folder.mkdir()
        return Settings(
            _env_file=None,
            home=work / "h",
            catalog_uri=f"sqlite:///{folder / 'catalog.db'}",
            warehouse=str(folder / "warehouse"),
        )

    ours, theirs = settings_in(work / "growth-ours"), settings_in(work / "growth-plain")
    plain = lake.predictions_table(lake.open_catalog(theirs))
    log_of_100 = lake.predictions_table(lake.open_catalog(settings_in(work / "growth-log")))
    for table in (plain, log_of_100):  # pyiceberg's default: a metadata log of 100 files
        with table.transaction() as tx:
            tx.remove_properties("write.metadata.previous-versions-max")
    with plain.transaction() as tx:  # the table as it was before: no manifest merging
        tx.remove_properties("commit.manifest-merge.enabled", "commit.manifest.min-count-to-merge")
    plog = predlog.PredictionLog(ours, metrics=Metrics())
    records = parse_transactions(json.dumps(rows[:20_000]).encode(), max_batch=20_000)
    n = len(records)
    history = {name: np.zeros(n) for name in HISTORY_FEATURES}
    plog.add(records, np.zeros(n), np.zeros(n, bool), history=history, model_name="m",
             model_version="1", source="bench")  # fmt: skip
    plog._pack()
    ipcs = [part.ipc for part in plog._parts]
    data = pa.concat_tables([pa.ipc.open_stream(ipc).read_all() for ipc in ipcs])
    spent: dict[str, list[float]] = {"committer": [], "log of 100": [], "plain appends": []}
    source = {lake.appends.SOURCE_PROPERTY: committer.SOURCE}
    for _ in range(commits):
        started = time.process_time()
        committer._append(ours, ipcs)
        spent["committer"].append(time.process_time() - started)
        started = time.process_time()  # the committer's two steps, on the longer log
        lake.append(log_of_100, data, properties=source)
        lake.forget_own(log_of_100, source=committer.SOURCE, keep=committer.SNAPSHOTS_KEPT)
        spent["log of 100"].append(time.process_time() - started)
        started = time.process_time()
        lake.append(plain, data)
        spent["plain appends"].append(time.process_time() - started)
    print(f"{commits} commits of {n:,} rows each, CPU per commit:")
    for name, times in spent.items():
        first, last = statistics.mean(times[:50]), statistics.mean(times[-50:])
        print(
            f"  {name:<14} first 50 {first * 1e3:4.0f} ms, last 50 {last * 1e3:4.0f} ms "
            f"({last / first:.2f}x)"
        )
    kept = len(committer._TABLES[ours.catalog_url].snapshots())
    print(f"  the committer's table keeps {kept} snapshots, the plain one {len(plain.snapshots())}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.predlog", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commits", type=int, default=300, help="Commits in a row, timed.")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="bench-predlog-") as tmp:
        work = Path(tmp)
        print(
            f"training a {serve.TREES}-tree model; store filled with {serve.DAYS} days", flush=True
        )
        _, scorer_dir, rows = _setup(work)
        results: dict[tuple[int, bool], list[dict[str, float]]] = {}
        for size in SIZES:
            _run(work, scorer_dir, rows, size, True)  # warm-up, alike for both
            for round_no in range(args.rounds):
                for log in (False, True):
                    got = _run(work, scorer_dir, rows, size, log)
                    results.setdefault((size, log), []).append(got)
                    figures = ", ".join(f"{k} {v * 1e6:.2f} µs/row" for k, v in got.items())
                    state = "on " if log else "off"
                    print(
                        f"  round {round_no + 1} {size:>4}-tx, log {state}: {figures}", flush=True
                    )
        if args.commits:
            commits_over_time(work, rows, args.commits)
    print(f"median of {args.rounds} rounds, CPU µs per logged row:")
    for size in SIZES:
        off = statistics.median(r["request"] for r in results[(size, False)])
        on = {
            k: statistics.median(r[k] for r in results[(size, True)])
            for k in ("request", "pack", "flush", "commit")
        }
        cost = (on["pack"] + on["flush"] + on["commit"]) / off
        verdict = "met" if cost < GOAL else "MISSED"
        print(
            f"  {size:>4}-tx requests: packed on the way {on['pack'] * 1e6:.2f} + flush "
            f"{on['flush'] * 1e6:.2f} + commit {on['commit'] * 1e6:.2f} (committer process) "
            f"against a request path of {off * 1e6:.1f} µs/row (log off; {on['request'] * 1e6:.1f}"
            f" with it on, packing included): the log costs {cost:.1%}, goal < {GOAL:.0%} "
            f"{verdict}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
