"""Spark engine vs in-process: rows/s of generation and inbox scoring, side by side in one run.

Contenders: the in-process engine, Spark ``local[2]``, and a standalone cluster (a master and
one 2-core worker of the installed pyspark) on this machine. Each runs in its own process
(one SparkContext per process), is warmed the same way (a small generate and a small scored
file) and then timed on the same data: ``BENCH_SPARK_ROWS`` rows (default 1,000,000; a
comma-separated list for several sizes) generated as 10 days into a fresh lake, and a CSV of
that many rows scored through the inbox against a lake holding the cards' history.

Baseline (the issue's): the in-process engine. Also printed: Spark's start-up cost and, with
two sizes, each contender's marginal rate and fixed cost per job, from which: where Spark
starts to pay off on this machine, and a projection for N workers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from fraudops import datagen, generate, registry, train
from fraudops.config import Settings
from fraudops.csvio import to_csv_bytes
from fraudops.engine import Engine
from fraudops.inbox import drop_file, score_inbox
from fraudops.spark.cluster import standalone_cluster

DAYS = 10
SCORE_DAY = dt.date(2026, 1, 11)  # the day after the lake's history
WARM_ROWS = 2_000
SMALL = {
    "days": 10,
    "rows_per_day": 4_000,
    "valid_days": 2,
    "holdout_days": 2,
    "label_maturity_days": 3,
    "alert_budget": 40,
    "promotion_floor": 0.1,
    "inbox_chunk_rows": 100_000,
    "spark_driver_memory": "8g",  # local mode: the executors too; a 10M-row file's results
    "spark_executor_memory": "2g",
}


def _settings(home: Path, **update: Any) -> Settings:
    return Settings(_env_file=None, home=home, **{**SMALL, **update})  # type: ignore[call-arg]


def _csv(path: Path, rows: int, tag: str) -> Path:
    table = datagen.generate_day(SCORE_DAY, rows=rows, seed=42).drop_columns(["is_fraud"])
    table = table.append_column("note", pa.repeat(pa.scalar(tag), rows))  # its own content
    path.write_bytes(to_csv_bytes(table))
    return path


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One contender: warm up, then generate and score each size; seconds of each."""
    home = Path(spec["home"])
    work = Path(spec["work"])
    base = _settings(home)
    if spec["master"] == "in-process":
        engine: dict[str, Any] = {"engine": Engine.IN_PROCESS}
    else:
        engine = {"engine": Engine.SPARK, "spark_master": spec["master"]}
    startup = 0.0
    if spec["master"] != "in-process":
        from fraudops.spark.session import spark_session

        t0 = time.perf_counter()
        spark_session(base.model_copy(update=engine)).range(1).count()  # JVM up, one job
        startup = time.perf_counter() - t0

    def lake_at(name: str) -> Settings:
        (work / name).mkdir(parents=True, exist_ok=True)
        return base.model_copy(
            update={
                **engine,
                "catalog_uri": f"sqlite:///{work / name / 'catalog.db'}",
                "warehouse": (work / name / "warehouse").as_uri(),
            }
        )

    def scored(name: str, csv: Path) -> float:
        settings = base.model_copy(update={**engine, "inbox": str(work / name)})
        drop_file(settings, "tx.csv", csv.read_bytes())
        t0 = time.perf_counter()
        summary = score_inbox(settings)
        assert summary.rows_scored > 0, summary
        assert not summary.failed, summary
        return time.perf_counter() - t0

    generate.generate(lake_at("warm-lake"), start=dt.date(2026, 3, 1), days=1, rows_per_day=1_000)
    scored("warm-inbox", Path(spec["warm_csv"]))
    out: dict[str, Any] = {"startup_s": startup, "sizes": {}}
    for rows, csv in spec["csvs"].items():
        t0 = time.perf_counter()
        generate.generate(
            lake_at(f"lake-{rows}"),
            start=dt.date(2026, 2, 1),
            days=DAYS,
            rows_per_day=int(rows) // DAYS,
        )
        gen_s = time.perf_counter() - t0
        try:  # a failed size is reported as such; the other sizes' figures stay
            out["sizes"][rows] = {
                "generate_s": gen_s,
                "score_s": scored(f"inbox-{rows}", Path(csv)),
            }
        except AssertionError as exc:
            out["sizes"][rows] = {"generate_s": gen_s, "score_s": None, "error": str(exc)[-400:]}
    return out


def _run_child(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.spark", "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{spec['master']}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SPARK_ROWS", "1000000").split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        settings = _settings(home)
        generate.generate(settings)
        result = train.train_and_register(settings, configs=train.SWEEP[:1])
        assert registry.promote(settings, version=result.version).promote
        with standalone_cluster(tmp / "cluster", cores=2, memory="3g") as cluster_url:
            contenders = {
                "in-process": "in-process",
                "local[2]": "local[2]",
                "standalone (1 worker, 2 cores)": cluster_url,
            }
            results = {}
            for name, master in contenders.items():
                tag = name.split()[0]
                spec = {
                    "master": master,
                    "home": str(home),
                    "work": str(tmp / f"work-{tag}"),
                    "warm_csv": str(_csv(tmp / f"warm-{tag}.csv", WARM_ROWS, f"warm-{tag}")),
                    "csvs": {str(n): str(_csv(tmp / f"{n}-{tag}.csv", n, tag)) for n in sizes},
                }
                print(f"running {name} ...", flush=True)
                results[name] = _run_child(spec)
    base = results["in-process"]
    for rows in map(str, sizes):
        print(f"\n{int(rows):,} rows ({DAYS} days generated; one CSV scored through the inbox)")
        print(
            f"{'contender':34} {'generate rows/s':>16} {'vs in-process':>14} "
            f"{'score rows/s':>13} {'vs in-process':>14}"
        )
        for name, res in results.items():
            g = int(rows) / res["sizes"][rows]["generate_s"]
            g0 = int(rows) / base["sizes"][rows]["generate_s"]
            score_s, score0_s = res["sizes"][rows]["score_s"], base["sizes"][rows]["score_s"]
            if score_s is None or score0_s is None:
                print(f"{name:34} {g:>16,.0f} {g / g0:>13.2f}x   scoring failed: ", end="")
                print(res["sizes"][rows].get("error", "(the baseline failed)").splitlines()[-1])
                continue
            s, s0 = int(rows) / score_s, int(rows) / score0_s
            print(f"{name:34} {g:>16,.0f} {g / g0:>13.2f}x {s:>13,.0f} {s / s0:>13.2f}x")
    print()
    for name, res in results.items():
        if name != "in-process":
            print(f"{name}: start-up {res['startup_s']:.1f} s (session and a first job)")
    if len(sizes) < 2:
        return
    # two sizes: each contender's cost is fixed per job + rows / marginal rate
    lo, hi = str(sizes[0]), str(sizes[-1])
    for step in ("generate_s", "score_s"):
        print(f"\n{step.removesuffix('_s')}: marginal rows/s (between the sizes), fixed s per job")
        fit = {}
        for name, res in results.items():
            if res["sizes"][hi][step] is None or res["sizes"][lo][step] is None:
                print(f"  {name:34} (a size failed: no fit)")
                continue
            dt_s = res["sizes"][hi][step] - res["sizes"][lo][step]
            rate = (int(hi) - int(lo)) / dt_s if dt_s > 0 else float("inf")
            fixed = max(0.0, res["sizes"][lo][step] - int(lo) / rate)
            fit[name] = (rate, fixed)
            print(f"  {name:34} {rate:>12,.0f} rows/s  fixed {fixed:5.1f} s")
        if "in-process" not in fit:
            continue
        rate0, fixed0 = fit["in-process"]
        for name, (rate, fixed) in fit.items():
            if name == "in-process":
                continue
            cost = fixed + results[name]["startup_s"] - fixed0
            if rate <= rate0:
                verdict = "never on this machine (lower marginal rate)"
            else:
                verdict = f"from ~{cost / (1 / rate0 - 1 / rate):,.0f} rows"
            print(f"  {name}: pays off {verdict}")
        cluster = next((n for n in fit if n.startswith("standalone")), None)
        if cluster is None:
            continue
        rate1, fixed1 = fit[cluster]
        proj = ", ".join(
            f"{n} workers ~{int(hi) / (fixed1 + int(hi) / (rate1 * n)):,.0f} rows/s"
            for n in (2, 4, 8, 16)
        )
        print(
            f"  projection at {int(hi):,} rows, N 2-core workers (marginal rate x N, fixed "
            f"cost kept): {proj}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print("RESULT " + json.dumps(child(json.loads(sys.argv[2]))), flush=True)
    else:
        main()
