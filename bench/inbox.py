"""Batch scoring speed: one 1,000,000-row inbox file end to end vs plain scripts.

Each contender runs in its own child process (so peak memory is its own ru_maxrss), on the
same CSV file and the same registered 200-tree model, one after the other. Every contender is
warmed the same way: it first does its whole job once on a small file (imports, model load,
caches), then is timed on the big file from the same point (the model loaded again inside
the timed region, as a nightly run would):

* pyarrow: a plain script: ``pyarrow.csv.read_csv`` (every core, the contract's types) +
  card history (``cardhistory.enrich``) + ``features.py`` + ``inplace_predict`` +
  ``write_csv``, no validation, no lake; its stages are also timed one by one: the *stage
  sum*;
* pyarrow-jemalloc: the same script with the memory settings ``import fraudops`` makes
  (``ARROW_DEFAULT_MEMORY_POOL=jemalloc``, ``NUMPY_MADVISE_HUGEPAGE=0``; the plain script
  keeps Arrow's mimalloc and numpy's huge pages): how much of the difference is memory;
* pandas: the same with ``pandas.read_csv`` and ``to_csv``;
* fraudops: ``score_inbox`` on an inbox holding the file: claim, hash, read, validate every
  row, score, write the outbox atomically, commit to ``fraud.scores`` and
  ``fraud.predictions``, move the input; its line ends with the file's seconds per step
  (``FileReport.seconds``);
* fraudops CLI: ``fraudops score-inbox`` as a new process, its start and imports included
  (warmed by one CLI run on the small file: the page cache and bytecode).

Each contender also reports the CPU seconds of its timed run (every thread): on a 2-core
machine a run cannot take less than half its CPU time.

Goals (issue 13): fraudops in process >= 700k rows/s, >= 0.6x the stage sum, >= 1.0x the
pyarrow script; the CLI >= 400k rows/s; peak memory < 1 GiB.

    python -m bench inbox                # via make bench
    python -m bench.inbox --rows 1000000 --repeat 3
    python -m bench.inbox --only pyarrow fraudops --baseline main   # before/after, one run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROWS = 1_000_000
WARM_ROWS = 1_000
GOAL_MEMORY_MIB = 1024
KINDS = ("pyarrow", "pyarrow-jemalloc", "pandas", "fraudops", "fraudops-cli")
Stages = dict[str, float]


def _peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    """CPU seconds so far (user + system, every thread)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_pandas(csv: Path, scorer_dir: Path, out: Path, stages: Stages) -> int:
    import pandas as pd
    import pyarrow as pa

    from fraudops.cardhistory import enrich
    from fraudops.features import features_from_table
    from fraudops.scoring import FraudScorer

    scorer = FraudScorer.load(scorer_dir)
    df = pd.read_csv(csv, parse_dates=["event_ts"])
    features = features_from_table(enrich(pa.Table.from_pandas(df, preserve_index=False)))
    proba = scorer.booster.inplace_predict(features, validate_features=False)
    pd.DataFrame(
        {
            "transaction_id": df["transaction_id"],
            "fraud_probability": proba,
            "is_fraud": proba >= scorer.threshold,
        }
    ).to_csv(out / "pandas.scored.csv", index=False)
    return len(df)


def run_pyarrow(csv: Path, scorer_dir: Path, out: Path, stages: Stages) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from fraudops.cardhistory import enrich
    from fraudops.features import features_from_table
    from fraudops.schema import arrow_schema
    from fraudops.scoring import FraudScorer

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = fn()
        stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - t0
        return result

    scorer = timed("load", lambda: FraudScorer.load(scorer_dir))
    # the contract's types given (type inference would be slower, timestamps above all)
    types = pacsv.ConvertOptions(column_types={f.name: f.type for f in arrow_schema()})
    table = timed("read", lambda: pacsv.read_csv(csv, convert_options=types))
    matrix = timed("features", lambda: features_from_table(enrich(table)))
    proba = timed(
        "predict", lambda: scorer.booster.inplace_predict(matrix, validate_features=False)
    )
    scored = pa.table(
        {
            "transaction_id": table["transaction_id"],
            "fraud_probability": proba,
            "is_fraud": proba >= scorer.threshold,
        }
    )
    timed("write", lambda: pacsv.write_csv(scored, out / "pyarrow.scored.csv"))
    return int(table.num_rows)


def _settings(home: Path, inbox_dir: Path) -> Any:
    from fraudops.config import Settings

    return Settings(_env_file=None, home=home, inbox=str(inbox_dir))


def run_fraudops(csv: Path, home: Path, out: Path, stages: Stages) -> int:
    from fraudops import inbox

    settings = _settings(home, out / "inbox")
    (out / "inbox" / "incoming").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(csv, out / "inbox" / "incoming" / csv.name)
    summary = inbox.score_inbox(settings)
    assert summary.files == 1, summary
    assert summary.files_quarantined == 0, summary
    stages.update(getattr(summary.reports[0], "seconds", {}))  # none before they were kept
    return summary.rows_scored + summary.rows_rejected


def run_cli(csv: Path, home: Path, out: Path, stages: Stages) -> int:
    inbox_dir = out / "inbox"
    (inbox_dir / "incoming").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(csv, inbox_dir / "incoming" / csv.name)
    env = {**os.environ, "FRAUDOPS_HOME": str(home), "FRAUDOPS_INBOX": str(inbox_dir)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "fraudops"), "score-inbox", "--json"],
        cwd=out,  # no .env of the repository
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    summary = json.loads(proc.stdout)
    stages.update(summary["reports"][0].get("seconds", {}))
    return int(summary["rows_scored"]) + int(summary["rows_rejected"])


RUNS = {
    "pyarrow": run_pyarrow,
    "pyarrow-jemalloc": run_pyarrow,
    "pandas": run_pandas,
    "fraudops": run_fraudops,
}


def child(argv: list[str]) -> None:
    """One contender in this process: warmed on the small file, timed on the big one."""
    kind, csv, small, scorer_dir, home, out = argv[0], *(Path(a) for a in argv[1:6])
    for part in ("warm", "big"):
        (out / part).mkdir(parents=True, exist_ok=True)
    warm: Stages = {}
    if kind == "fraudops-cli":
        run_cli(small, home, out / "warm", warm)
        steps: Stages = {}
        c0, t0 = _cpu_s(resource.RUSAGE_CHILDREN), time.perf_counter()
        rows = run_cli(csv, home, out / "big", steps)
        seconds = time.perf_counter() - t0
        cpu = _cpu_s(resource.RUSAGE_CHILDREN) - c0
        peak = _peak_mib(resource.RUSAGE_CHILDREN)
        done = {"rows": rows, "seconds": seconds, "cpu_s": cpu, "peak_mib": peak, "stages": steps}
        print(json.dumps(done))
        return
    run = RUNS[kind]
    target = home if kind == "fraudops" else scorer_dir
    run(small, target, out / "warm", warm)
    stages: Stages = {}
    c0, t0 = _cpu_s(), time.perf_counter()
    rows = run(csv, target, out / "big", stages)
    seconds = time.perf_counter() - t0
    cpu = _cpu_s() - c0
    done = {"rows": rows, "seconds": seconds, "cpu_s": cpu, "peak_mib": _peak_mib()}
    print(json.dumps({**done, "stages": stages}))


def measure(
    kind: str,
    csv: Path,
    small: Path,
    scorer_dir: Path,
    home: Path,
    work: Path,
    sources: Path | None = None,
) -> dict[str, Any]:
    from bench.startup import child_env
    from fraudops import MEMORY_SETTINGS

    out = work / f"{kind}-{time.monotonic_ns()}"
    # a lake of its own: a file committed by an earlier contender would be found, not written
    shutil.copytree(home, out / "home", ignore=shutil.ignore_patterns("bench-scorer"))
    args = ["fraudops" if kind == "baseline" else kind, csv, small, scorer_dir, out / "home", out]
    env = {**child_env(), "PYTHONPATH": str(sources)} if sources else child_env()
    if kind == "pyarrow-jemalloc":  # fraudops's memory settings; the plain script: defaults
        env.update(MEMORY_SETTINGS)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.inbox", "--child", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def write_csv(path: Path, rows: int) -> None:
    import pyarrow.csv as pacsv

    from fraudops import datagen

    table = datagen.generate_day(dt.date(2026, 2, 1), rows=rows).drop_columns(["is_fraud"])
    pacsv.write_csv(table, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; best is kept")
    parser.add_argument("--only", nargs="*", choices=KINDS, default=list(KINDS))
    parser.add_argument("--baseline", help="a git revision whose score_inbox is timed too")
    args = parser.parse_args(argv if argv is not None else [])

    from bench.serve import TREES, build_model
    from bench.startup import sources_of

    with tempfile.TemporaryDirectory(prefix="bench-inbox-") as tmp:
        work = Path(tmp)
        print(f"training a {TREES}-tree model and registering it (embedded MLflow)", flush=True)
        _, scorer_dir = build_model(work / "home")
        csv = work / "transactions.csv"
        write_csv(csv, args.rows)
        small = work / "warm-up.csv"
        write_csv(small, WARM_ROWS)
        size_mib = csv.stat().st_size / 2**20
        print(f"input: {args.rows:,} rows, {size_mib:,.0f} MiB of CSV", flush=True)
        old = sources_of(args.baseline, work / "baseline") if args.baseline else None
        results: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for kind in [*args.only, *(["baseline"] if args.baseline else [])]:
                # only the baseline runs the old sources; every other contender this tree's
                sources = old if kind == "baseline" else None
                r = measure(kind, csv, small, scorer_dir, work / "home", work, sources)
                assert r["rows"] == args.rows, r
                best = results.get(kind)
                if best is None or r["seconds"] < best["seconds"]:
                    results[kind] = r
    report(results, args.rows)


LABELS = {
    "pyarrow": "pyarrow script (read + history + features + predict + write)",
    "pyarrow-jemalloc": "the same script, memory set as fraudops sets it (jemalloc, no THP)",
    "pandas": "pandas script (read_csv + history + features + predict + to_csv)",
    "fraudops": "fraudops score_inbox in process (validate, score, outbox, lake)",
    "fraudops-cli": "fraudops score-inbox from the CLI (process start included)",
    "baseline": "fraudops score_inbox in process, the --baseline revision",
    "stages": "stage sum: pyarrow read / history + features / predict / write",
}


def report(results: dict[str, dict[str, Any]], rows: int) -> None:
    """Each contender's figures and its ratio to fraudops in process."""
    if "pyarrow" in results:
        stages = results["pyarrow"]["stages"]
        parts = ("read", "features", "predict", "write")
        results["stages"] = {
            "seconds": sum(stages[p] for p in parts),
            "peak_mib": results["pyarrow"]["peak_mib"],
            "detail": " / ".join(f"{stages[p]:.2f}" for p in parts) + " s",
        }
    for kind in ("fraudops", "fraudops-cli", "baseline"):
        steps = results.get(kind, {}).get("stages")
        if steps:  # where its time went, step by step (the file's report)
            results[kind]["detail"] = " / ".join(f"{k} {v:.2f}" for k, v in steps.items()) + " s"
    rate = {kind: rows / r["seconds"] for kind, r in results.items()}
    ours = rate.get("fraudops")
    for kind, r in results.items():
        ratio = f"fraudops / this = {ours / rate[kind]:.2f}x" if ours else ""
        cpu = f"cpu {r['cpu_s']:6.2f} s" if "cpu_s" in r else " " * 12
        print(
            f"{LABELS[kind]:<66} {rate[kind]:>10,.0f} rows/s  {r['seconds']:6.2f} s  {cpu}  "
            f"peak {r['peak_mib']:,.0f} MiB  {ratio}  {r.get('detail', '')}"
        )
    goals = []
    if ours:
        goals.append(_goal("fraudops in process", ours, 700_000, "rows/s"))
        peak = results["fraudops"]["peak_mib"]
        goals.append(f"peak {peak:,.0f} MiB (goal < {GOAL_MEMORY_MIB}: {_met(peak < 1024)})")
        for kind, goal in (("stages", 0.6), ("pyarrow", 1.0)):
            if kind in rate:
                goals.append(_goal(f"vs {kind}", ours / rate[kind], goal, "x"))
        if "pyarrow-jemalloc" in rate:  # context: the script given fraudops's memory settings
            goals.append(f"vs pyarrow-jemalloc {ours / rate['pyarrow-jemalloc']:.2f} x")
    if "fraudops-cli" in rate:
        goals.append(_goal("CLI", rate["fraudops-cli"], 400_000, "rows/s"))
    print("; ".join(goals))


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _goal(name: str, value: float, goal: float, unit: str) -> str:
    fmt = ",.0f" if unit == "rows/s" else ".2f"
    return f"{name} {value:{fmt}} {unit} (goal >= {goal:{fmt}}: {_met(value >= goal)})"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main(sys.argv[1:])
