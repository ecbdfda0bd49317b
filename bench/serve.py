"""Serving speed: `mlflow models serve` vs a bare FastAPI app vs `fraudops serve`, under wrk.

The same 200-tree model (registered in a throwaway embedded MLflow store) behind three servers,
two uvicorn workers each, measured one after the other with the same wrk client:

* ``mlflow models serve``: the pyfunc behind MLflow's own scoring server (``/invocations``);
* bare: FastAPI + ``features.py`` + ``booster.inplace_predict``, no validation, auth or metrics
  (given the same ``gc.freeze()`` after load, so the ratio measures what our API adds);
* ``fraudops serve``: the API with strict validation, API keys, Prometheus, hot swap and the
  inference log (every prediction batched into ``fraud.predictions``);
* ``fraudops serve, no log``: the same with ``FRAUDOPS_PREDICTION_LOG=false``, so the ratio
  of the two is what logging predictions costs.

Goals (issue: the serving API): single-transaction /predict at 16 connections >= 10x mlflow
serve and >= 70% of the bare app, p99 <= 15 ms; 1,000-transaction requests reported in rows/s.
(issue: close the loop) logging predictions costs under 5% of /predict throughput.

    python -m bench serve            # via make bench
    python -m bench.serve --seconds 20 --connections 16
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
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fraudops.procs import free_port, start_group, stop_groups, wait_http

REPO = Path(__file__).resolve().parents[1]
WORKERS = 2
CONNECTIONS = 16
BATCH_ROWS = 1000
BATCH_CONNECTIONS = 4
TREES = 200
API_KEY = "bench-key-0123456789abcdef"
SCORER_ENV = "BENCH_SCORER_DIR"

GOAL_VS_MLFLOW = 10.0
GOAL_VS_BARE = 0.70
GOAL_P99_MS = 15.0
GOAL_LOG_COST = 0.05


# -- the bare app (imported by its uvicorn workers) --------------------------------------------


def bare_app() -> FastAPI:
    """FastAPI + the shared features + inplace_predict: the floor of what a Python server costs."""
    from fraudops.scoring import FraudScorer, score_records

    scorer = FraudScorer.load(Path(os.environ[SCORER_ENV]), nthread=1)
    gc.collect()
    gc.freeze()
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        rows = body if isinstance(body, list) else [body]
        for row in rows:
            row["event_ts"] = dt.datetime.fromisoformat(row["event_ts"])
        proba, flags = score_records(scorer, rows)
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

    from fraudops import datagen, registry, tracking, train, trainset
    from fraudops.config import Settings
    from fraudops.features import FEATURE_NAMES, FEATURE_TYPES, features_from_table
    from fraudops.scoring import FraudScorer

    settings = Settings(_env_file=None, home=home)  # type: ignore[call-arg]
    days = [datagen.generate_day(dt.date(2026, 1, d), rows=20_000) for d in range(1, 6)]
    import pyarrow as pa

    data = pa.concat_tables(days)
    matrix = xgb.DMatrix(
        features_from_table(data),
        trainset.labels(data),
        feature_names=list(FEATURE_NAMES),
        feature_types=list(FEATURE_TYPES),
        enable_categorical=True,
    )
    booster = xgb.train({**train.BASE_PARAMS, **train.SWEEP[1]}, matrix, num_boost_round=TREES)
    assert booster.num_boosted_rounds() == TREES
    scorer = FraudScorer(booster, threshold=0.5)

    client = tracking.connect(settings)
    experiment_id = tracking.ensure_experiment(client, settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name="bench-serve") as run:
        model_uri = train.log_model(scorer, data.slice(0, 5))
    version = registry.register(client, settings, model_uri=model_uri, run_id=run.info.run_id)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, version)
    return settings, scorer.save(home / "bench-scorer")


def payloads(n: int) -> list[dict[str, Any]]:
    """Transactions as JSON records (a day the model did not see)."""
    from fraudops import datagen

    table = datagen.generate_day(dt.date(2026, 2, 1), rows=max(n, 100)).drop_columns(["is_fraud"])
    rows = table.slice(0, n).to_pylist()
    for row in rows:  # naive UTC: mlflow's schema enforcement refuses offsets
        row["event_ts"] = row["event_ts"].replace(tzinfo=None).isoformat()
    return rows


# -- servers and wrk -------------------------------------------------------------------------


@contextmanager
def server(cmd: list[str], *, env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    """Run a server in its own process group; stop the whole group afterwards."""
    proc = start_group(cmd, env=env, log=log, cwd=REPO)
    try:
        wait_http(ready_url, proc=proc, timeout=180, ready=lambda status: status == 200)
        yield
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
    url: str, body: bytes, *, headers: dict[str, str], connections: int, seconds: float, work: Path
) -> Result:
    """One wrk run; Result from its summary (latency percentiles, requests/s, non-2xx)."""
    body_file = work / f"body-{hashlib.sha1(body).hexdigest()[:12]}.json"
    body_file.write_bytes(body)
    script = work / "post.lua"
    lines = [
        'wrk.method = "POST"',
        f'local f = io.open("{body_file}", "rb")',
        "wrk.body = f:read('*a')",
        "f:close()",
    ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    cmd = [
        ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "--timeout", "10s", "-s", str(script), url,
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
    one: bytes
    many: bytes
    headers: dict[str, str]


SENT: dict[str, int] = {}  # transactions sent to each server, warm-ups included


def measure(target: Target, *, seconds: float, work: Path) -> tuple[Result, Result]:
    """Single-transaction and batch runs, each after a 2 s warm-up."""
    common = {"headers": target.headers, "work": work}
    runs = [
        wrk(target.url, target.one, connections=CONNECTIONS, seconds=2, **common),
        wrk(target.url, target.one, connections=CONNECTIONS, seconds=seconds, **common),
        wrk(target.url, target.many, connections=BATCH_CONNECTIONS, seconds=2, **common),
        wrk(target.url, target.many, connections=BATCH_CONNECTIONS, seconds=seconds, **common),
    ]
    SENT[target.name] = (
        SENT.get(target.name, 0) + runs[0].requests + runs[1].requests
        + BATCH_ROWS * (runs[2].requests + runs[3].requests)
    )  # fmt: skip
    single, batch = runs[1], runs[3]
    print(
        f"  {target.name:<20} {single.requests_per_s:>7,.0f} req/s  p50 {single.p50_ms:6.2f} ms  "
        f"p99 {single.p99_ms:6.2f} ms | batch {batch.rows_per_s(BATCH_ROWS):>9,.0f} rows/s  "
        f"p99 {batch.p99_ms:6.1f} ms | errors {single.errors + batch.errors}",
        flush=True,
    )
    return single, batch


def targets(settings: Any, *, scorer_dir: Path, work: Path, with_mlflow: bool) -> list[Target]:
    """The three servers, on free ports, with the same transactions."""
    bin_dir = Path(sys.executable).parent
    rows = payloads(BATCH_ROWS)
    one, many = json.dumps(rows[0]).encode(), json.dumps(rows).encode()
    json_header = {"Content-Type": "application/json"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
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
                one=json.dumps({"dataframe_records": rows[:1]}).encode(),
                many=json.dumps({"dataframe_records": rows}).encode(),
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
            env={**env, SCORER_ENV: str(scorer_dir), "PYTHONPATH": str(REPO)},
            ready=f"http://127.0.0.1:{port}/docs",
            url=f"http://127.0.0.1:{port}/predict",
            one=one,
            many=many,
            headers=json_header,
        )
    )
    ours = {**env, "FRAUDOPS_HOME": str(work / "home"), "FRAUDOPS_API_KEYS": API_KEY}
    for name, extra in (
        ("fraudops serve", {}),
        ("fraudops serve, no log", {"FRAUDOPS_PREDICTION_LOG": "false"}),
    ):
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
    return out


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
    args = parser.parse_args(argv or [])
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, ExitStack() as running:
        work = Path(tmp)
        print(f"training a {TREES}-tree model and registering it (embedded MLflow)", flush=True)
        settings, scorer_dir = build_model(work / "home")
        servers = targets(
            settings, scorer_dir=scorer_dir, work=work, with_mlflow=not args.skip_mlflow
        )
        for target in servers:  # all up at once, measured in turns: load drifts hit all alike
            log = work / f"{target.name.replace(' ', '-')}.log"
            running.enter_context(
                server(target.cmd, env=target.env, ready_url=target.ready, log=log)
            )
        print(
            f"wrk -t2: one transaction per request at {CONNECTIONS} connections, "
            f"{BATCH_ROWS} per request at {BATCH_CONNECTIONS}; {args.seconds:g} s runs after "
            f"2 s warm-ups; {WORKERS} workers per server; best of {args.rounds} rounds",
            flush=True,
        )
        runs: dict[str, list[tuple[Result, Result]]] = {t.name: [] for t in servers}
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}", flush=True)
            for target in servers:
                runs[target.name].append(measure(target, seconds=args.seconds, work=work))
        running.close()  # stops the servers: the logging one commits what it still holds
        logged = logged_rows(settings)
    best = {
        name: (
            max((r[0] for r in pairs), key=lambda r: r.requests_per_s),
            max((r[1] for r in pairs), key=lambda r: r.requests_per_s),
        )
        for name, pairs in runs.items()
    }
    errors = sum(r.errors for pairs in runs.values() for pair in pairs for r in pair)
    report(best, errors)
    print(
        f"inference log: {logged:,} predictions committed to fraud.predictions, "
        f"{SENT['fraudops serve']:,} transactions sent (wrk counts requests cut at its end too)"
    )


def report(results: dict[str, tuple[Result, Result]], errors: int) -> None:
    print("best rounds:")
    for name, (single, batch) in results.items():
        print(
            f"  {name:<20} {single.requests_per_s:>7,.0f} req/s  p99 {single.p99_ms:6.2f} ms | "
            f"batch {batch.rows_per_s(BATCH_ROWS):>9,.0f} rows/s"
        )
    ours, ours_batch = results["fraudops serve"]
    bare, bare_batch = results["bare FastAPI"]
    checks: list[tuple[str, str, bool]] = []
    if "mlflow models serve" in results:
        mlflow_single, mlflow_batch = results["mlflow models serve"]
        vs_mlflow = ours.requests_per_s / mlflow_single.requests_per_s
        checks.append((f"vs mlflow models serve {vs_mlflow:.1f}x", f">= {GOAL_VS_MLFLOW:g}x",
                       vs_mlflow >= GOAL_VS_MLFLOW))  # fmt: skip
        print(
            f"{BATCH_ROWS}-transaction requests: fraudops serve "
            f"{ours_batch.requests_per_s / mlflow_batch.requests_per_s:.1f}x mlflow models serve, "
            f"{ours_batch.requests_per_s / bare_batch.requests_per_s:.0%} of bare FastAPI"
        )
    vs_bare = ours.requests_per_s / bare.requests_per_s
    quiet, quiet_batch = results["fraudops serve, no log"]
    cost = 1 - ours.requests_per_s / quiet.requests_per_s
    batch_cost = 1 - ours_batch.requests_per_s / quiet_batch.requests_per_s
    print(
        f"inference log: {ours.requests_per_s:,.0f} req/s logging vs {quiet.requests_per_s:,.0f} "
        f"off ({cost:+.1%} cost); {BATCH_ROWS}-transaction requests {batch_cost:+.1%}"
    )
    checks += [
        (f"inference log cost {cost:.1%}", f"< {GOAL_LOG_COST:.0%}", cost < GOAL_LOG_COST),
        (f"vs bare FastAPI {vs_bare:.0%}", f">= {GOAL_VS_BARE:.0%}", vs_bare >= GOAL_VS_BARE),
        (f"p99 {ours.p99_ms:.1f} ms", f"<= {GOAL_P99_MS:g} ms", ours.p99_ms <= GOAL_P99_MS),
        (f"failed requests {errors}", "0", errors == 0),
    ]
    print(f"fraudops serve, one transaction per request at {CONNECTIONS} connections:")
    for text, goal, ok in checks:
        print(f"  {text:<32} goal {goal:<9} {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main(sys.argv[1:])
