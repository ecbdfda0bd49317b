"""Reason codes: ``/predict?explain=true`` vs plain ``/predict``, and batch explanations rows/s.

The 200-tree model of ``bench/serve`` behind two ``fraudops serve`` servers alike (one
uvicorn worker each by default, a card-history store each filled with the same five training
days), one answered on ``/predict`` and one on ``/predict?explain=true``; both up at once,
measured in turns with the same wrk client and the same single-transaction bodies, after the
same 2 s warm-up; best of the rounds. Then in this process, on the next day's 20,000
transactions (history enriched): scoring (``scored_table``) vs scoring's reasons
(``reasons_column``, TreeSHAP), and the TreeSHAP contributions alone from the model's table
(``fraudops.treeshap``) vs XGBoost's ``pred_contribs``, each warmed once and timed alike.

Goal (issue: decisions a fraud team can trust): explain throughput >= 0.5x plain /predict;
batch explanations reported in rows/s.

    python -m bench explain            # via make bench ARGS=explain
    python -m bench.explain --seconds 8 --rounds 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.serve import (
    API_KEY,
    BATCH_CONNECTIONS,
    BATCH_ROWS,
    CONNECTIONS,
    DAYS,
    PAYLOAD_ROWS,
    Runs,
    Target,
    build_model,
    ensure_wrk,
    fill_store,
    measure,
    payloads,
    server,
)
from bench.startup import child_env
from fraudops.procs import free_port

GOAL = 0.5


def targets(work: Path, workers: int) -> list[Target]:
    """Two fraudops serve servers alike: plain /predict and /predict?explain=true."""
    rows = payloads(PAYLOAD_ROWS)
    one = [json.dumps(r).encode() for r in rows]
    many = json.dumps(rows[:BATCH_ROWS]).encode()
    env = child_env()
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(FRAUDOPS_HOME=str(work / "home"), FRAUDOPS_API_KEYS=API_KEY)
    exe = str(Path(sys.executable).with_name("fraudops"))
    out = []
    for name, path in (("/predict", "/predict"), ("?explain=true", "/predict?explain=true")):
        store = work / f"store-{len(out)}.db"
        fill_store(str(store))
        port = free_port()
        out.append(
            Target(
                name=name,
                cmd=[exe, "serve", "--port", str(port), "--workers", str(workers)],
                env={**env, "FRAUDOPS_FEATURE_STORE": str(store)},
                ready=f"http://127.0.0.1:{port}/health/ready",
                url=f"http://127.0.0.1:{port}{path}",
                one=one,
                many=many,
                headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
            )
        )
    return out


def _rate(rows: int, work: Callable[[], object]) -> float:
    """Rows per second of ``work``, warmed once, then timed once."""
    work()
    t0 = time.perf_counter()
    work()
    return rows / (time.perf_counter() - t0)


def batch_rows_per_s(scorer_dir: Path) -> dict[str, float]:
    """Rows/s on the next day's enriched transactions: scoring, reasons, TreeSHAP two ways."""
    import numpy as np
    import pyarrow as pa
    import xgboost as xgb

    from fraudops import datagen, treeshap
    from fraudops.cardhistory import enrich
    from fraudops.explain import reasons_column
    from fraudops.features import features_from_table
    from fraudops.scoring import FraudScorer, scored_table

    scorer = FraudScorer.load(scorer_dir)
    days = [datagen.generate_day(dt.date(2026, 1, d), rows=20_000) for d in range(1, DAYS + 2)]
    table = enrich(pa.concat_tables(days).drop_columns(["is_fraud"]))
    table = table.slice(table.num_rows - PAYLOAD_ROWS)
    matrix, rows = features_from_table(table), table.num_rows
    shap = treeshap.make(scorer.booster)
    assert shap is not None, "the benchmark's model has a TreeSHAP table"
    return {
        "scoring": _rate(rows, lambda: scored_table(scorer, table)),
        "reasons": _rate(rows, lambda: reasons_column(scorer, table)),
        "table": _rate(rows, lambda: shap.contributions(matrix, threads=os.cpu_count() or 1)),
        "xgboost": _rate(
            rows,
            lambda: np.asarray(
                scorer.booster.predict(
                    xgb.DMatrix(matrix, nthread=-1), pred_contribs=True, validate_features=False
                )
            ),
        ),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 8)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 2)))
    # one worker: on a loaded 2-core machine a second worker may not answer uvicorn's 5 s
    # start-up health check while it imports, and is restarted over and over
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv or [])
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp, ExitStack() as running:
        work = Path(tmp)
        print("training a 200-tree model and registering it (embedded MLflow)", flush=True)
        _, scorer_dir = build_model(work / "home")
        servers = targets(work, args.workers)
        pids: dict[str, int] = {}
        for target in servers:
            log = work / f"server-{servers.index(target)}.log"
            pids[target.name] = running.enter_context(
                server(target.cmd, env=target.env, ready_url=target.ready, log=log)
            ).pid
        print(
            f"wrk -t2: one transaction per request at {CONNECTIONS} connections, {BATCH_ROWS} "
            f"per request at {BATCH_CONNECTIONS}; {args.seconds:g} s runs after 2 s warm-ups; "
            f"{args.workers} worker(s) per server; best of {args.rounds} rounds",
            flush=True,
        )
        runs: dict[str, list[Runs]] = {t.name: [] for t in servers}
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}", flush=True)
            for target in servers:
                got = measure(target, seconds=args.seconds, work=work, pid=pids[target.name])
                runs[target.name].append(got)
        running.close()
        inproc = batch_rows_per_s(scorer_dir)
    best = {
        name: (
            max((r.single for r in pairs), key=lambda r: r.requests_per_s),
            max((r.batch for r in pairs), key=lambda r: r.requests_per_s),
        )
        for name, pairs in runs.items()
    }
    (plain, plain_batch), (explained, explained_batch) = best["/predict"], best["?explain=true"]
    ratio = explained.requests_per_s / plain.requests_per_s
    batch_ratio = explained_batch.requests_per_s / plain_batch.requests_per_s
    errors = sum(
        r.errors for pairs in runs.values() for p in pairs for r in (p.single, p.lone, p.batch)
    )
    print("best rounds:")
    for name, (single, batch) in best.items():
        print(
            f"  {name:<14} {single.requests_per_s:>7,.0f} req/s  p99 {single.p99_ms:6.2f} ms | "
            f"batch {batch.rows_per_s(BATCH_ROWS):>9,.0f} rows/s"
        )
    print(
        f"explain vs plain, one transaction per request: {ratio:.2f}x (goal >= {GOAL:g}x: "
        f"{'met' if ratio >= GOAL else 'MISSED'}); {BATCH_ROWS}-transaction requests "
        f"{batch_ratio:.2f}x; failed requests {errors}"
    )
    cpu = {name: statistics.median(p.cpu_ms for p in pairs) for name, pairs in runs.items()}
    print(
        "server CPU per single-transaction request (median of the rounds; every thread of "
        "the server's processes): " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items())
    )
    scoring, reasons = inproc["scoring"], inproc["reasons"]
    print(
        f"batch, in process, {inproc['rows']:,.0f} rows: scoring {scoring:,.0f} rows/s, "
        f"explanations {reasons:,.0f} rows/s ({reasons / scoring:.2f}x)"
    )
    print(
        f"TreeSHAP contributions, in process, every core: the model's table "
        f"{inproc['table']:,.0f} rows/s vs XGBoost's pred_contribs "
        f"{inproc['xgboost']:,.0f} rows/s: "
        f"{inproc['table'] / inproc['xgboost']:.2f}x"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
