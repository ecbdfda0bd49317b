"""Shadow scoring: what a shadow model adds to production's p99, and to its CPU.

**p99 at a steady load** (the goal's figure). ``fraudops serve`` and the same server with a
shadow model (``bench.serve``'s two servers: 2 workers each, the 200-tree model as
``@production`` and again as ``@shadow``, every settled batch scored again and its rows
logged) take turns under the same paced load: 16 connections, each pausing a random while
before each request, so that together they send ``--share`` of what ``fraudops serve``
answers at saturation. Runs of ``--seconds`` (10 s: each holds one commit of each worker's
inference log) alternate (A B B A ...) ``--pairs`` times; the figure is the geometric mean of
the pairs' p99 ratios, printed with its spread (two standard errors), since one pair's ratio
moves by tens of percent from pair to pair on this machine. At saturation (``bench.serve``)
a p99 is the queue's length over the throughput: it shows what a shadow costs in CPU
(reported here too), not the wait it adds to an answer.

**CPU in process.** One process drives the API's ``PredictBatcher`` itself: 16 concurrent
single-transaction requests at a time (as wrk's 16 connections), each through the
card-history store (SQLite), the features, the 200-tree booster, the metrics and the
inference log's buffer, plus building the log's rows (what the serving process does before
the committer takes them). With a shadow, the same model as ``@shadow`` scores every settled
batch again and its rows are logged too. Both take turns (A B, B A, ...), ``--rounds`` times
each, each on a fresh store filled alike; the figure is the CPU a transaction costs and what
the shadow adds.

    python -m bench shadow
    python -m bench.shadow --pairs 8 --seconds 10 --share 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import math
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.serve import (
    CONNECTIONS,
    CONTENDERS,
    PAYLOAD_ROWS,
    TREES,
    Result,
    Target,
    build_model,
    ensure_wrk,
    fill_store,
    payloads,
    server,
    shadow_rows,
    targets,
    wrk,
)
from fraudops.api.batching import PredictBatcher
from fraudops.api.explain import GIL_SWITCH_SECONDS
from fraudops.api.holder import LoadedModel, serving_scorer
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PredictionLog
from fraudops.api.shadow import ShadowHolder, ShadowScorer
from fraudops.cardhistory.stores.sqlite import SqliteStore
from fraudops.validation import parse_transactions

CONCURRENCY = 16
GOAL_SHADOW_P99 = 0.10  # most shadow scoring may add to production's p99


def _model(settings: Any, folder: Path, version: str) -> LoadedModel:
    return LoadedModel(
        name=settings.model_name, version=version, alias="production", run_id=None,
        snapshot_id=None, metrics={}, lineage={}, decision=None,
        loaded_at=dt.datetime.now(dt.UTC), source="bench", scorer=serving_scorer(folder),
    )  # fmt: skip


async def _drive(batcher: PredictBatcher, model: LoadedModel, records: list[Any]) -> None:
    queue = iter(records)

    async def client() -> None:
        for record in queue:
            await batcher.score(model, [record])

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


def one_run(
    settings: Any, folder: Path, records: list[Any], store_path: Path, *, shadow: bool
) -> float:
    """CPU seconds per transaction of one run (the log's rows built at the end included)."""
    fill_store(str(store_path))
    store = SqliteStore(store_path)
    metrics = Metrics()
    log = PredictionLog(settings, metrics=metrics)
    holder = ShadowHolder(settings, metrics=metrics, store=store)
    holder.current = _model(settings, folder, "2") if shadow else None
    scorer = ShadowScorer(holder, predictions=log, metrics=metrics)
    batcher = PredictBatcher(
        store=store, metrics=metrics, predictions=log, max_rows=settings.batch_max_rows,
        max_wait_us=settings.batch_max_wait_us, shadow=scorer,
    )  # fmt: skip
    model = _model(settings, folder, "1")

    async def main() -> None:
        await _drive(batcher, model, records)
        await scorer.flush()

    gc.collect()  # the runs before leave nothing for this one's collections to walk
    started = time.process_time()
    asyncio.run(main())
    log._pack()  # the serving process's part of a flush: the last requests' rows packed
    spent = time.process_time() - started
    scorer.close()
    store.close()
    store_path.unlink()
    return spent / len(records)


def _run(target: Target, *, seconds: float, work: Path, pause_ms: int = 0) -> Result:
    return wrk(
        target.url, target.one, headers=target.headers, connections=CONNECTIONS,
        seconds=seconds, work=work, pause_ms=pause_ms,
    )  # fmt: skip


def paced(settings: Any, folder: Path, work: Path, args: argparse.Namespace) -> None:
    """p99 with and without a shadow at the same paced load, in alternating short runs."""
    ensure_wrk()
    shadowed = CONTENDERS["shadow"]
    ours, theirs = targets(
        settings, scorer_dir=folder, work=work, with_mlflow=False, redis_url="",
        names={shadowed},
    )  # fmt: skip
    with ExitStack() as running:
        for target in (ours, theirs):
            log = work / f"{target.name.replace(' ', '-').replace(',', '')}.log"
            running.enter_context(
                server(target.cmd, env=target.env, ready_url=target.ready, log=log)
            )
        for target in (ours, theirs):
            _run(target, seconds=2, work=work)  # warm-up
        full = {t.name: _run(t, seconds=args.seconds, work=work) for t in (ours, theirs)}
        for name, got in full.items():
            print(f"  at saturation: {name:<24} {got.requests_per_s:>7,.0f} req/s  p99 "
                  f"{got.p99_ms:6.2f} ms")  # fmt: skip
        cycle_ms = 1000 * CONNECTIONS / (args.share * full[ours.name].requests_per_s)
        pause_ms = max(1, round(cycle_ms - full[ours.name].p50_ms / 2))
        print(
            f"paced: {CONNECTIONS} connections, each pausing 0-{2 * pause_ms} ms before a "
            f"request (about {args.share:.0%} of fraudops serve's saturated rate); "
            f"{args.seconds:g} s runs taking turns",
            flush=True,
        )
        ratios: list[float] = []
        errors = 0
        for pair in range(1, args.pairs + 1):
            order = (ours, theirs) if pair % 2 else (theirs, ours)
            got = {
                t.name: _run(t, seconds=args.seconds, work=work, pause_ms=pause_ms) for t in order
            }
            alone, with_shadow = got[ours.name], got[shadowed]
            errors += alone.errors + with_shadow.errors
            ratios.append(with_shadow.p99_ms / alone.p99_ms)
            print(
                f"  pair {pair}: without {alone.requests_per_s:>6,.0f} req/s p50 "
                f"{alone.p50_ms:5.2f} p99 {alone.p99_ms:5.2f} ms | with a shadow "
                f"{with_shadow.requests_per_s:>6,.0f} req/s p50 {with_shadow.p50_ms:5.2f} p99 "
                f"{with_shadow.p99_ms:5.2f} ms | {ratios[-1]:.2f}x",
                flush=True,
            )
        scored = shadow_rows(theirs)
    mean, low, high = _geometric(ratios)
    each = ", ".join(f"{r:.2f}x" for r in sorted(ratios))
    print(
        f"shadow scoring at a steady load: p99 with / without a shadow over {args.pairs} pairs: "
        f"geometric mean {mean:.2f}x (two standard errors: {low:.2f}x to {high:.2f}x), median "
        f"{statistics.median(ratios):.2f}x; pairs {each}; the shadow model scored "
        f"{scored:,.0f} transactions; failed requests {errors}"
    )
    met = mean - 1 < GOAL_SHADOW_P99 and errors == 0 and scored > 0
    print(f"  shadow adds {mean - 1:+.1%} to p99  goal < {GOAL_SHADOW_P99:.0%}  "
          f"{'met' if met else 'MISSED'}")  # fmt: skip


def _geometric(ratios: list[float]) -> tuple[float, float, float]:
    """The ratios' geometric mean, and that mean two standard errors below and above."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    spread = 2 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else math.inf
    return math.exp(mean), math.exp(mean - spread), math.exp(mean + spread)


def in_process(settings: Any, folder: Path, work: Path, args: argparse.Namespace) -> None:
    """CPU a transaction costs on the batcher's path, with and without a shadow."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # as a serving process (api.app), for its threads
    settings = settings.model_copy(update={"prediction_log_max_rows": 10**9})
    rows = payloads(min(args.requests, PAYLOAD_ROWS))
    records = [parse_transactions(json.dumps(r).encode(), max_batch=1)[0] for r in rows]
    one_run(settings, folder, records[:500], work / "warm.db", shadow=True)  # warm both
    without: list[float] = []
    with_shadow: list[float] = []
    for round_no in range(1, args.rounds + 1):
        turns = ((False, without), (True, with_shadow))
        for shadow, into in turns if round_no % 2 else turns[::-1]:  # A B, B A, ...
            into.append(one_run(settings, folder, records, work / "store.db", shadow=shadow))
        print(
            f"round {round_no}: {1e6 * without[-1]:.1f} µs vs {1e6 * with_shadow[-1]:.1f} "
            "µs of CPU a transaction without / with a shadow",
            flush=True,
        )
    alone, shadowed = statistics.median(without), statistics.median(with_shadow)
    ratios = [s / a for a, s in zip(without, with_shadow, strict=True)]
    print(
        f"batcher path, {CONCURRENCY} concurrent single-transaction requests, median of "
        f"{args.rounds}: {1e6 * alone:.1f} µs of CPU a transaction without a shadow, "
        f"{1e6 * shadowed:.1f} µs with (+{1e6 * (shadowed - alone):.1f} µs, "
        f"{statistics.median(ratios):.2f}x; rounds {', '.join(f'{r:.2f}x' for r in ratios)})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.shadow", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--pairs", type=int, default=12, help="paced runs of each, taking turns")
    parser.add_argument("--seconds", type=float, default=10, help="length of a wrk run")
    parser.add_argument(
        "--share", type=float, default=0.5,
        help="the paced load, as a share of fraudops serve's saturated rate",
    )  # fmt: skip
    parser.add_argument(
        "--requests", type=int, default=PAYLOAD_ROWS, help="in process: transactions a run"
    )
    parser.add_argument("--rounds", type=int, default=3, help="in process: runs of each")
    parser.add_argument("--skip-cpu", action="store_true", help="only the paced p99")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        work = Path(tmp)
        print(f"training a {TREES}-tree model and registering it (embedded MLflow)", flush=True)
        settings, folder = build_model(work / "home")
        paced(settings, folder, work, args)
        if not args.skip_cpu:
            in_process(settings, folder, work, args)


if __name__ == "__main__":
    main(sys.argv[1:])
