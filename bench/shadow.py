"""Shadow scoring's CPU cost in process: the batcher's path with and without a shadow model.

``bench/serve.py --only shadow`` measures what matters (p99 through uvicorn under wrk) but,
on a loaded machine, its rounds differ by more than the effect. This one measures the CPU
time (``time.process_time``) of one process driving the API's ``PredictBatcher`` itself: 16
concurrent single-transaction requests at a time (as wrk's 16 connections), each through the
card-history store (SQLite), the features, the 200-tree booster, the metrics and the
inference log's buffer, plus building the log's rows (what the serving process does before
the committer takes them). With a shadow, the same model as ``@shadow`` scores every settled
batch again and its rows are logged too. Both take turns, ``--rounds`` times each, each on a
fresh store filled alike; the figure is the CPU a transaction costs and what the shadow adds.

    python -m bench shadow
    python -m bench.shadow --requests 4000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.serve import PAYLOAD_ROWS, build_model, fill_store, payloads
from fraudops.api.batching import PredictBatcher
from fraudops.api.holder import LoadedModel, serving_scorer
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PredictionLog
from fraudops.api.shadow import ShadowHolder, ShadowScorer
from fraudops.cardhistory.stores.sqlite import SqliteStore
from fraudops.validation import parse_transactions

CONCURRENCY = 16


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
        scorer.flush()

    started = time.process_time()
    asyncio.run(main())
    log._pack()  # the serving process's part of a flush: the last requests' rows packed
    spent = time.process_time() - started
    store.close()
    store_path.unlink()
    return spent / len(records)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shadow", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        work = Path(tmp)
        settings, folder = build_model(work / "home")
        settings = settings.model_copy(update={"prediction_log_max_rows": 10**9})
        rows = payloads(min(args.requests, PAYLOAD_ROWS))
        records = [parse_transactions(json.dumps(r).encode(), max_batch=1)[0] for r in rows]
        one_run(settings, folder, records[:500], work / "warm.db", shadow=True)  # warm both
        without: list[float] = []
        with_shadow: list[float] = []
        for round_no in range(1, args.rounds + 1):
            for shadow, into in ((False, without), (True, with_shadow)):
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


if __name__ == "__main__":
    main(sys.argv[1:])
