"""Serving speed: `mlflow models serve` vs a bare FastAPI app vs `fraudops serve`, under wrk.

The same 200-tree model (registered in a throwaway embedded MLflow store) behind three servers,
two uvicorn workers each, measured one after the other with the same wrk client:

* ``mlflow models serve``: the pyfunc behind MLflow's own scoring server (``/invocations``);
* bare: FastAPI + ``features.py`` (card history from its own store, as ours) +
  ``booster.inplace_predict``, no validation, auth or metrics (given the same ``gc.freeze()``
  after load, so the ratio measures what our API adds);
* ``fraudops serve``: the API with strict validation, API keys, Prometheus, hot swap and the
  inference log (every prediction batched into ``fraud.predictions``);
* ``fraudops serve, no log``: the same with ``FRAUDOPS_PREDICTION_LOG=false``, so the ratio
  of the two is what logging predictions costs;
* ``fraudops serve, valkey``: the first with its card-history store on a real Valkey/Redis
  server (Debian's ``redis-server``) instead of the embedded SQLite file;
* ``fraudops serve, unbatched``: the first with ``FRAUDOPS_BATCH_MAX_ROWS=1``, every request
  scored alone, so the ratio of the two is what dynamic batching gives;
* ``fraudops serve, shadow``: the first with a shadow model (the same model registered again
  as ``@shadow`` of a model of its own), scoring every batch again after the answers and
  logging its rows too. At saturation the ratio of the two shows what a shadow costs in CPU;
  the goal's figure, p99 at a steady load, is ``bench/shadow.py``'s.

Each server that computes card history (ours and the bare app) has a store of its own, loaded
with the model's five training days. Single-transaction requests cycle through the next
day's 20,000 transactions in event-time order (each wrk thread from its own offset), so
every request reads and extends its card's history; once a cycle is done, a transaction
comes again as a retry (read, counted once).

Every server also answers one connection alone (c1): its p50 is what a lone request waits.

Goals (issue: the serving API): single-transaction /predict at 16 connections >= 10x mlflow
serve and >= 70% of the bare app, p99 <= 15 ms; 1,000-transaction requests reported in rows/s.
(issue: close the loop) logging predictions costs under 5% of /predict throughput.
(issue: speed at the limit) >= 1.5x the bare app, >= 25x mlflow serve, p99 <= 10 ms, and
batching slows a lone request (c1 p50) by at most 0.3 ms.
(issue: decisions a fraud team can trust) shadow scoring adds under 10% to production's p99:
measured by ``bench/shadow.py`` at a steady load, with these servers.

    python -m bench serve            # via make bench
    python -m bench.serve --seconds 20 --connections 16
    python -m bench.serve --only shadow   # fraudops serve and the named contenders only
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bench.startup import child_env
from fraudops.procs import free_port, start_group, stop_groups, wait_http
from tests.support.services import redis_server

REPO = Path(__file__).resolve().parents[1]
WORKERS = 2
CONNECTIONS = 16
BATCH_ROWS = 1000
BATCH_CONNECTIONS = 4
TREES = 200
API_KEY = "bench-key-0123456789abcdef"
SCORER_ENV = "BENCH_SCORER_DIR"
STORE_ENV = "BENCH_STORE"
DAYS = 5  # training days, loaded into every store
PAYLOAD_ROWS = 20_000

GOAL_VS_MLFLOW = 25.0
GOAL_VS_BARE = 1.5
GOAL_P99_MS = 10.0
GOAL_LOG_COST = 0.05
GOAL_LONE_MS = 0.3  # most a lone request may lose to batching (c1 p50)
SHADOWED = "fraud-detector-shadowed"  # the shadow contender's registered model
CONTENDERS = {  # --only: short names of the contenders next to `fraudops serve`
    "mlflow": "mlflow models serve",
    "bare": "bare FastAPI",
    "nolog": "fraudops serve, no log",
    "valkey": "fraudops serve, valkey",
    "unbatched": "fraudops serve, unbatched",
    "shadow": "fraudops serve, shadow",
}


# -- the bare app (imported by its uvicorn workers) --------------------------------------------


def bare_app() -> FastAPI:
    """FastAPI + the shared features + inplace_predict: the floor of what a Python server costs."""
    from fraudops.cardhistory.online import record_and_compute
    from fraudops.cardhistory.stores.sqlite import SqliteStore
    from fraudops.scoring import FraudScorer, score_records

    scorer = FraudScorer.load(Path(os.environ[SCORER_ENV]), nthread=1)
    store = SqliteStore(Path(os.environ[STORE_ENV]))
    gc.collect()
    gc.freeze()
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        rows = body if isinstance(body, list) else [body]
        for row in rows:
            row["event_ts"] = dt.datetime.fromisoformat(row["event_ts"])
        proba, flags = score_records(scorer, rows, record_and_compute(store, rows))
        return JSONResponse(
            {
                "predictions": [
                    {"transaction_id": r["transaction_id"], "fraud_probability": p, "is_fraud": f}
                    for r, p, f in zip(rows, proba.tolist(), flags.tolist(), strict=True)
                ]
            }
        )

    return app


# -- the model -----------------------------------------------------------------------------------


def build_model(home: Path) -> tuple[Any, Path]:
    """Train a 200-tree booster, log it as the pyfunc, register it @production; settings, scorer."""
    import mlflow
    import xgboost as xgb

    from fraudops import datagen, fitting, registry, tracking, train, trainset
    from fraudops.cardhistory import enrich
    from fraudops.config import Settings
    from fraudops.features import features_from_table
    from fraudops.scoring import FraudScorer

    settings = Settings(_env_file=None, home=home)  # type: ignore[call-arg]
    days = [datagen.generate_day(dt.date(2026, 1, d), rows=20_000) for d in range(1, DAYS + 1)]
    data = enrich(pa.concat_tables(days))
    matrix = fitting.matrix(features_from_table(data), trainset.labels(data))
    booster = xgb.train({**train.BASE_PARAMS, **train.SWEEP[1]}, matrix, num_boost_round=TREES)
    assert booster.num_boosted_rounds() == TREES
    scorer = FraudScorer(booster, threshold=0.5)

    client = tracking.connect(settings)
    experiment_id = tracking.ensure_experiment(client, settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name="bench-serve") as run:
        model_uri = train.log_model(scorer, data.slice(0, 5))
    version = registry.register(client, settings, model_uri=model_uri, run_id=run.info.run_id)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, version)
    # the shadow contender's model: the same one @production and again @shadow
    shadowed = settings.model_copy(update={"model_name": SHADOWED})
    for alias in (settings.model_alias, "shadow"):
        again = registry.register(client, shadowed, model_uri=model_uri, run_id=run.info.run_id)
        client.set_registered_model_alias(SHADOWED, alias, again)
    return settings, scorer.save(home / "bench-scorer")


def fill_store(url: str) -> None:
    """A card-history store (a SQLite path or a redis:// URL) with the training days."""
    from fraudops import datagen
    from fraudops.cardhistory import VERSION
    from fraudops.cardhistory.backfill import events_of
    from fraudops.cardhistory.stores.redis import RedisStore
    from fraudops.cardhistory.stores.sqlite import SqliteStore

    store = RedisStore(url) if url.startswith("redis://") else SqliteStore(Path(url))
    try:
        for d in range(1, DAYS + 1):
            store.load(events_of(datagen.generate_day(dt.date(2026, 1, d), rows=20_000)))
        store.set_version(VERSION)
    finally:
        store.close()


def payloads(n: int) -> list[dict[str, Any]]:
    """The day after the training days, as JSON records in event-time order."""
    from fraudops import datagen

    day = dt.date(2026, 1, DAYS + 1)
    table = datagen.generate_day(day, rows=PAYLOAD_ROWS).drop_columns(["is_fraud"])
    table = table.sort_by([("event_ts", "ascending"), ("transaction_id", "ascending")])
    rows = table.slice(0, n).to_pylist()
    for row in rows:  # naive UTC: mlflow's schema enforcement refuses offsets
        row["event_ts"] = row["event_ts"].replace(tzinfo=None).isoformat()
    return rows


# -- servers and wrk -------------------------------------------------------------------------


@contextmanager
def server(
    cmd: list[str], *, env: dict[str, str], ready_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group; stop the whole group afterwards."""
    proc = start_group(cmd, env=env, log=log, cwd=REPO)
    try:
        wait_http(ready_url, proc=proc, timeout=180, ready=lambda status: status == 200)
        yield proc
    except Exception:
        print(log.read_text()[-3000:])
        raise
    finally:
        stop_groups([proc], grace=30)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get)", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and apt-get could not install it")
    return found


@dataclass(frozen=True)
class Result:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    def rows_per_s(self, rows: int) -> float:
        return self.requests_per_s * rows


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{text}")
    return found.group(1)


def _ms(text: str) -> float:
    """wrk's latency ("850.00us", "5.93ms", "1.20s") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise RuntimeError(f"unexpected latency {text!r} in wrk's output")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    body: bytes | list[bytes],
    *,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    work: Path,
    pause_ms: int = 0,
) -> Result:
    """One wrk run; Result from its summary (latency percentiles, requests/s, non-2xx).

    ``body`` a list: requests cycle through its bodies, each wrk thread from its own offset.
    ``pause_ms``: each connection waits a random 0 to ``2 * pause_ms`` ms (whole ms, wrk's
    ``delay()``) before each request, so the load is paced instead of all the server can take;
    wrk's latencies leave the pause out.
    """
    bodies = body if isinstance(body, list) else [body]
    blob = b"\n".join(bodies)
    body_file = work / f"body-{hashlib.sha1(blob).hexdigest()[:12]}.jsonl"
    body_file.write_bytes(blob + b"\n")
    script = work / "post.lua"
    lines = [
        'wrk.method = "POST"',
        "local bodies = {}",
        f'for line in io.lines("{body_file}") do bodies[#bodies + 1] = line end',
        "wrk.body = bodies[1]",
        "local threads = 0",
        "function setup(thread) thread:set('offset', threads * 7919); threads = threads + 1 end",
        "local i = 0",
        "function init(args) i = offset or 0 end",
        "function request()",
        "  i = i % #bodies + 1",
        "  return wrk.format(nil, nil, nil, bodies[i])",
        "end",
    ]
    if pause_ms > 0:
        lines += [f"function delay() return math.random(0, {2 * pause_ms}) end"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    cmd = [
        ensure_wrk(), f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s",
        "--latency", "--timeout", "10s", "-s", str(script), url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    p50 = _ms(_find(r"\s50%\s+(\S+)", out))
    p99 = _ms(_find(r"\s99%\s+(\S+)", out))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket:
        errors += sum(int(g) for g in socket.groups())
    total = int(_find(r"(\d+) requests in", out))
    return Result(total, rps, p50, p99, errors)


# -- the benchmark -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A server under test: how to start it and what to send it."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    ready: str
    url: str
    one: list[bytes]  # single-transaction bodies, cycled through
    many: bytes
    headers: dict[str, str]


SENT: dict[str, int] = {}  # transactions sent to each server, warm-ups included


@dataclass(frozen=True)
class Runs:
    """One round of a server: single transactions at 16 and at 1 connection, batches."""

    single: Result
    lone: Result
    batch: Result
    cpu_ms: float = float("nan")  # the server's CPU time per request in the single run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server: its process and every live descendant."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measure(target: Target, *, seconds: float, work: Path, pid: int | None = None) -> Runs:
    """Single-transaction (16 connections, then 1) and batch runs, after 2 s warm-ups."""
    common = {"headers": target.headers, "work": work}
    warm = wrk(target.url, target.one, connections=CONNECTIONS, seconds=2, **common)
    before = cpu_seconds(pid) if pid else float("nan")
    single = wrk(target.url, target.one, connections=CONNECTIONS, seconds=seconds, **common)
    cpu_ms = 1000 * (cpu_seconds(pid) - before) / single.requests if pid else float("nan")
    runs = [
        warm,
        single,
        wrk(target.url, target.one, connections=1, seconds=max(1, seconds // 2), **common),
        wrk(target.url, target.many, connections=BATCH_CONNECTIONS, seconds=2, **common),
        wrk(target.url, target.many, connections=BATCH_CONNECTIONS, seconds=seconds, **common),
    ]
    SENT[target.name] = (
        SENT.get(target.name, 0) + runs[0].requests + runs[1].requests + runs[2].requests
        + BATCH_ROWS * (runs[3].requests + runs[4].requests)
    )  # fmt: skip
    got = Runs(single=runs[1], lone=runs[2], batch=runs[4], cpu_ms=cpu_ms)
    print(
        f"  {target.name:<26} {got.single.requests_per_s:>7,.0f} req/s  p50 "
        f"{got.single.p50_ms:6.2f} ms  p99 {got.single.p99_ms:6.2f} ms | c1 p50 "
        f"{got.lone.p50_ms:5.2f} ms | batch {got.batch.rows_per_s(BATCH_ROWS):>9,.0f} rows/s  "
        f"p99 {got.batch.p99_ms:6.1f} ms | cpu {got.cpu_ms:.2f} ms/req | errors "
        f"{sum(r.errors for r in runs)}",
        flush=True,
    )
    return got


def targets(
    settings: Any,
    *,
    scorer_dir: Path,
    work: Path,
    with_mlflow: bool,
    redis_url: str,
    names: Collection[str] | None = None,
) -> list[Target]:
    """The servers, on free ports, with the same transactions; each store filled alike.

    ``names``: only these servers (and only their stores filled); None: all.
    """
    wanted = names if names is not None else {"bare FastAPI", *CONTENDERS.values()}
    bin_dir = Path(sys.executable).parent
    rows = payloads(PAYLOAD_ROWS)
    one = [json.dumps(r).encode() for r in rows]
    many = json.dumps(rows[:BATCH_ROWS]).encode()
    json_header = {"Content-Type": "application/json"}
    env = child_env()
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # mlflow models serve starts `uvicorn` from PATH: the one of this environment
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    out = []
    if with_mlflow:
        port = free_port()
        model_uri = f"models:/{settings.model_name}@{settings.model_alias}"
        out.append(
            Target(
                name="mlflow models serve",
                cmd=[
                    str(bin_dir / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    model_uri,
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-w",
                    str(WORKERS),
                ],  # fmt: skip
                env={
                    **env,
                    "MLFLOW_TRACKING_URI": settings.tracking_url,
                    "MLFLOW_REGISTRY_URI": settings.tracking_url,
                },  # fmt: skip
                ready=f"http://127.0.0.1:{port}/ping",
                url=f"http://127.0.0.1:{port}/invocations",
                one=[json.dumps({"dataframe_records": [r]}).encode() for r in rows],
                many=json.dumps({"dataframe_records": rows[:BATCH_ROWS]}).encode(),
                headers=json_header,
            )
        )
    port = free_port()
    out.append(
        Target(
            name="bare FastAPI",
            cmd=[
                sys.executable,
                "-m",
                "uvicorn",
                "bench.serve:bare_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--log-level",
                "warning",
                "--no-access-log",
            ],  # fmt: skip
            env={
                **env,
                SCORER_ENV: str(scorer_dir),
                STORE_ENV: str(work / "bare-store.db"),
                "PYTHONPATH": str(REPO),
            },
            ready=f"http://127.0.0.1:{port}/docs",
            url=f"http://127.0.0.1:{port}/predict",
            one=one,
            many=many,
            headers=json_header,
        )
    )
    if "bare FastAPI" in wanted:
        fill_store(str(work / "bare-store.db"))
    ours = {**env, "FRAUDOPS_HOME": str(work / "home"), "FRAUDOPS_API_KEYS": API_KEY}
    valkey_lake = work / "valkey-lake"  # its own inference log, so each log is counted alone
    valkey_lake.mkdir()
    unbatched_lake = work / "unbatched-lake"
    unbatched_lake.mkdir()
    shadow_lake = work / "shadow-lake"
    shadow_lake.mkdir()
    for name, extra in (
        ("fraudops serve", {"FRAUDOPS_FEATURE_STORE": str(work / "store.db")}),
        (
            "fraudops serve, no log",
            {"FRAUDOPS_PREDICTION_LOG": "false", "FRAUDOPS_FEATURE_STORE": str(work / "quiet.db")},
        ),
        (
            "fraudops serve, valkey",
            {
                "FRAUDOPS_FEATURE_STORE": redis_url,
                "FRAUDOPS_CATALOG_URI": f"sqlite:///{valkey_lake / 'catalog.db'}",
                "FRAUDOPS_WAREHOUSE": str(valkey_lake / "warehouse"),
            },
        ),
        (
            "fraudops serve, unbatched",
            {
                "FRAUDOPS_BATCH_MAX_ROWS": "1",
                "FRAUDOPS_FEATURE_STORE": str(work / "unbatched.db"),
                "FRAUDOPS_CATALOG_URI": f"sqlite:///{unbatched_lake / 'catalog.db'}",
                "FRAUDOPS_WAREHOUSE": str(unbatched_lake / "warehouse"),
            },
        ),
        (
            "fraudops serve, shadow",
            {
                "FRAUDOPS_MODEL_NAME": SHADOWED,
                "FRAUDOPS_FEATURE_STORE": str(work / "shadow.db"),
                "FRAUDOPS_CATALOG_URI": f"sqlite:///{shadow_lake / 'catalog.db'}",
                "FRAUDOPS_WAREHOUSE": str(shadow_lake / "warehouse"),
            },
        ),
    ):
        if name != "fraudops serve" and name not in wanted:
            continue
        fill_store(extra["FRAUDOPS_FEATURE_STORE"])
        port = free_port()
        out.append(
            Target(
                name=name,
                cmd=[
                    str(bin_dir / "fraudops"),
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(WORKERS),
                ],  # fmt: skip
                env={**ours, **extra},
                ready=f"http://127.0.0.1:{port}/health/ready",
                url=f"http://127.0.0.1:{port}/predict",
                one=one,
                many=many,
                headers={**json_header, "X-API-Key": API_KEY},
            )
        )
    return [t for t in out if t.name in wanted or t.name == "fraudops serve"]


def history_p99_ms(target: Target) -> float:
    """p99 of the server's card-history step (record, read, compute) from its /metrics.

    As Prometheus' histogram_quantile: linear within the bucket that holds the 99th percentile.
    """
    import httpx

    text = httpx.get(target.url.removesuffix("/predict") + "/metrics", timeout=10).text
    found = re.findall(r'^fraudops_card_history_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)
    buckets = sorted((float(le), float(n)) for le, n in found)
    total = buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= 0.99 * total:
            share = (0.99 * total - below) / (count - below) if count > below else 1.0
            return 1000 * (lower + (upper - lower) * share)
        lower, below = upper, count
    return float("nan")


def shadow_rows(target: Target) -> float:
    """Transactions the server's shadow model scored (its /metrics, all workers)."""
    import httpx

    text = httpx.get(target.url.removesuffix("/predict") + "/metrics", timeout=10).text
    found = re.search(r"^fraudops_shadow_rows_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def logged_rows(settings: Any) -> int:
    """Predictions the logging server committed to fraud.predictions (after it stopped)."""
    from fraudops import lake

    table = lake.predictions_table(lake.open_catalog(settings))
    snapshot = table.current_snapshot()
    return int(snapshot.summary["total-records"]) if snapshot and snapshot.summary else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 8)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 2)))
    parser.add_argument("--skip-mlflow", action="store_true", help="Skip mlflow models serve.")
    parser.add_argument(
        "--only",
        default="",
        help=f"Comma-separated contenders next to fraudops serve ({', '.join(CONTENDERS)}).",
    )
    args = parser.parse_args(argv or [])
    only = {CONTENDERS[name] for name in args.only.split(",") if name}
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, ExitStack() as running:
        work = Path(tmp)
        print(f"training a {TREES}-tree model and registering it (embedded MLflow)", flush=True)
        settings, scorer_dir = build_model(work / "home")
        with_valkey = not only or CONTENDERS["valkey"] in only
        redis_url = running.enter_context(redis_server(work / "redis")) if with_valkey else ""
        print(f"filling the card-history stores with {DAYS} days", flush=True)
        servers = targets(
            settings,
            scorer_dir=scorer_dir,
            work=work,
            with_mlflow=not args.skip_mlflow and (not only or "mlflow models serve" in only),
            redis_url=redis_url,
            names=only or None,
        )
        pids: dict[str, int] = {}
        for target in servers:  # all up at once, measured in turns: load drifts hit all alike
            log = work / f"{target.name.replace(' ', '-')}.log"
            pids[target.name] = running.enter_context(
                server(target.cmd, env=target.env, ready_url=target.ready, log=log)
            ).pid
        print(
            f"wrk -t2: one transaction per request at {CONNECTIONS} connections, "
            f"{BATCH_ROWS} per request at {BATCH_CONNECTIONS}; {args.seconds:g} s runs after "
            f"2 s warm-ups; {WORKERS} workers per server; best of {args.rounds} rounds",
            flush=True,
        )
        runs: dict[str, list[Runs]] = {t.name: [] for t in servers}
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}", flush=True)
            for target in servers:
                got = measure(target, seconds=args.seconds, work=work, pid=pids[target.name])
                runs[target.name].append(got)
        history = {
            t.name: history_p99_ms(t) for t in servers if t.name.startswith("fraudops serve")
        }
        shadowed = {t.name: shadow_rows(t) for t in servers if t.name == CONTENDERS["shadow"]}
        running.close()  # stops the servers: the logging one commits what it still holds
        logged = logged_rows(settings)
    best = {
        name: Runs(
            single=max((r.single for r in rounds), key=lambda r: r.requests_per_s),
            lone=min((r.lone for r in rounds), key=lambda r: r.p50_ms),
            batch=max((r.batch for r in rounds), key=lambda r: r.requests_per_s),
        )
        for name, rounds in runs.items()
    }
    errors = sum(
        r.errors for rounds in runs.values() for got in rounds
        for r in (got.single, got.lone, got.batch)
    )  # fmt: skip
    report(best, errors)
    for name, rows in shadowed.items():
        print(f"{name}: the shadow model scored {rows:,.0f} transactions ({SENT[name]:,} sent)")
        pairs = zip(runs["fraudops serve"], runs[name], strict=True)
        pairs = list(pairs)
        ratios = sorted(theirs.single.p99_ms / ours.single.p99_ms for ours, theirs in pairs)
        cpu = sorted(theirs.cpu_ms / ours.cpu_ms for ours, theirs in pairs)
        print(
            f"  server CPU per request with / without a shadow, round by round: "
            f"{', '.join(f'{r:.2f}x' for r in cpu)}; median {statistics.median(cpu):.2f}x "
            f"({', '.join(f'{o.cpu_ms:.2f}/{t.cpu_ms:.2f} ms' for o, t in pairs)})"
        )
        median = statistics.median(ratios)
        print(
            f"  p99 at saturation with / without a shadow, round by round (each pair measured "
            f"back to back): {', '.join(f'{r:.2f}x' for r in ratios)}; median {median:.2f}x"
        )
    print("card-history step per request (record, read, compute), p99 from /metrics:")
    for name, p99 in history.items():
        print(f"  {name:<24} {p99:.2f} ms")
    print(
        f"inference log: {logged:,} predictions committed to fraud.predictions, "
        f"{SENT['fraudops serve']:,} transactions sent (wrk counts requests cut at its end too)"
    )


def report(results: dict[str, Runs], errors: int) -> None:
    print("best rounds:")
    for name, got in results.items():
        print(
            f"  {name:<26} {got.single.requests_per_s:>7,.0f} req/s  p99 "
            f"{got.single.p99_ms:6.2f} ms | c1 p50 {got.lone.p50_ms:5.2f} ms | batch "
            f"{got.batch.rows_per_s(BATCH_ROWS):>9,.0f} rows/s"
        )
    ours = results["fraudops serve"]
    checks: list[tuple[str, str, bool]] = []
    if CONTENDERS["shadow"] in results:
        shadowed = results[CONTENDERS["shadow"]].single
        added = shadowed.p99_ms / ours.single.p99_ms - 1
        print(
            f"shadow scoring at saturation: p99 {shadowed.p99_ms:.2f} ms with a shadow model vs "
            f"{ours.single.p99_ms:.2f} ms without ({added:+.1%}); "
            f"{shadowed.requests_per_s:,.0f} vs {ours.single.requests_per_s:,.0f} req/s (what its "
            "CPU costs; the goal's p99, at a steady load: python -m bench.shadow)"
        )
    if not {"bare FastAPI", "fraudops serve, no log", "fraudops serve, unbatched"} <= set(results):
        checks.append((f"failed requests {errors}", "0", errors == 0))
        for text, goal, ok in checks:
            print(f"  {text:<32} goal {goal:<9} {'met' if ok else 'MISSED'}")
        return
    bare = results["bare FastAPI"]
    quiet, alone = results["fraudops serve, no log"], results["fraudops serve, unbatched"]
    if "mlflow models serve" in results:
        theirs = results["mlflow models serve"]
        vs_mlflow = ours.single.requests_per_s / theirs.single.requests_per_s
        checks.append((f"vs mlflow models serve {vs_mlflow:.1f}x", f">= {GOAL_VS_MLFLOW:g}x",
                       vs_mlflow >= GOAL_VS_MLFLOW))  # fmt: skip
        print(
            f"{BATCH_ROWS}-transaction requests: fraudops serve "
            f"{ours.batch.requests_per_s / theirs.batch.requests_per_s:.1f}x mlflow models serve, "
            f"{ours.batch.requests_per_s / bare.batch.requests_per_s:.0%} of bare FastAPI"
        )
    vs_bare = ours.single.requests_per_s / bare.single.requests_per_s
    cost = 1 - ours.single.requests_per_s / quiet.single.requests_per_s
    batch_cost = 1 - ours.batch.requests_per_s / quiet.batch.requests_per_s
    gain = ours.single.requests_per_s / alone.single.requests_per_s
    lone_cost = ours.lone.p50_ms - alone.lone.p50_ms
    print(
        f"inference log: {ours.single.requests_per_s:,.0f} req/s logging vs "
        f"{quiet.single.requests_per_s:,.0f} off ({cost:+.1%} cost); {BATCH_ROWS}-transaction "
        f"requests {batch_cost:+.1%}"
    )
    print(
        f"dynamic batching: {gain:.2f}x the unbatched server at {CONNECTIONS} connections; "
        f"a lone request's p50 {ours.lone.p50_ms:.2f} ms vs {alone.lone.p50_ms:.2f} ms unbatched"
    )
    p99 = ours.single.p99_ms
    checks += [
        (f"vs bare FastAPI {vs_bare:.2f}x", f">= {GOAL_VS_BARE:g}x", vs_bare >= GOAL_VS_BARE),
        (f"p99 {p99:.1f} ms", f"<= {GOAL_P99_MS:g} ms", p99 <= GOAL_P99_MS),
        (f"lone request +{lone_cost:.2f} ms", f"<= {GOAL_LONE_MS:g} ms", lone_cost <= GOAL_LONE_MS),
        (f"inference log cost {cost:.1%}", f"< {GOAL_LOG_COST:.0%}", cost < GOAL_LOG_COST),
        (f"failed requests {errors}", "0", errors == 0),
    ]
    print(f"fraudops serve, one transaction per request at {CONNECTIONS} connections:")
    for text, goal, ok in checks:
        print(f"  {text:<32} goal {goal:<9} {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main(sys.argv[1:])
