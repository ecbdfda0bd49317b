"""Batch scoring speed: one 1,000,000-row inbox file end to end vs two bare baselines.

Each contender runs in its own child process (so peak memory is its own ru_maxrss), on the
same CSV file and the same registered 200-tree model, one after the other:

* pandas: ``pandas.read_csv`` + card history (``cardhistory.enrich``) + ``features.py`` +
  ``inplace_predict`` + ``to_csv``;
* pyarrow: the same with pyarrow's CSV reader and writer;
* fraudops: ``score_inbox`` on an inbox holding the file: claim, hash, stream in chunks,
  validate every row, score, write the outbox atomically, commit to ``fraud.scores``, move
  the input. Its process is warmed up on a small file first (imports, MLflow store), so the
  figure is a nightly run's work, including the model download from the registry.

Goal (issue: batch scoring): fraudops >= the pandas baseline in rows/s, peak memory < 1 GiB.

    python -m bench inbox                # via make bench
    python -m bench.inbox --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROWS = 1_000_000
GOAL_MEMORY_MIB = 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pandas(csv: Path, scorer_dir: Path, out: Path) -> int:
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


def run_pyarrow(csv: Path, scorer_dir: Path, out: Path) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from fraudops.cardhistory import enrich
    from fraudops.features import features_from_table
    from fraudops.scoring import FraudScorer

    scorer = FraudScorer.load(scorer_dir)
    table = pacsv.read_csv(csv)
    proba = scorer.booster.inplace_predict(
        features_from_table(enrich(table)), validate_features=False
    )
    pacsv.write_csv(
        pa.table(
            {
                "transaction_id": table["transaction_id"],
                "fraud_probability": proba,
                "is_fraud": proba >= scorer.threshold,
            }
        ),
        out / "pyarrow.scored.csv",
    )
    return table.num_rows


def run_fraudops(csv: Path, home: Path, out: Path) -> tuple[int, float]:
    """Warm up on a small file, then time ``score_inbox`` on the big one."""
    from fraudops import inbox
    from fraudops.config import Settings
    from fraudops.demo import sample_csv

    settings = Settings(_env_file=None, home=home, inbox=str(out / "inbox"))  # type: ignore[call-arg]
    inbox.drop_file(settings, "warm-up.csv", sample_csv(rows=1_000))
    inbox.score_inbox(settings)
    shutil.copyfile(csv, out / "inbox" / "incoming" / "transactions.csv")
    t0 = time.perf_counter()
    summary = inbox.score_inbox(settings)
    seconds = time.perf_counter() - t0
    assert summary.files == 1, summary
    assert summary.files_quarantined == 0, summary
    return summary.rows_scored + summary.rows_rejected, seconds


def child(argv: list[str]) -> None:
    """One contender in this process; prints its figures as JSON."""
    kind, csv, scorer_dir, home, out = (
        argv[0],
        Path(argv[1]),
        Path(argv[2]),
        Path(argv[3]),
        Path(argv[4]),
    )
    out.mkdir(parents=True, exist_ok=True)
    if kind == "fraudops":
        rows, seconds = run_fraudops(csv, home, out)
    else:
        import pandas  # noqa: F401  (imports are not part of the measured work)
        import pyarrow.csv  # noqa: F401

        import fraudops.features  # noqa: F401

        t0 = time.perf_counter()
        rows = (run_pandas if kind == "pandas" else run_pyarrow)(csv, scorer_dir, out)
        seconds = time.perf_counter() - t0
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": _peak_mib()}))


def measure(kind: str, csv: Path, scorer_dir: Path, home: Path, work: Path) -> dict[str, Any]:
    out = work / f"{kind}-{time.monotonic_ns()}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.inbox",
            "--child",
            kind,
            str(csv),
            str(scorer_dir),
            str(home),
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
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
    args = parser.parse_args(argv if argv is not None else [])

    from bench.serve import TREES, build_model

    with tempfile.TemporaryDirectory(prefix="bench-inbox-") as tmp:
        work = Path(tmp)
        print(f"training a {TREES}-tree model and registering it (embedded MLflow)", flush=True)
        _, scorer_dir = build_model(work / "home")
        csv = work / "transactions.csv"
        write_csv(csv, args.rows)
        size_mib = csv.stat().st_size / 2**20
        print(f"input: {args.rows:,} rows, {size_mib:,.0f} MiB of CSV", flush=True)
        results: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for kind in ("pandas", "pyarrow", "fraudops"):
                r = measure(kind, csv, scorer_dir, work / "home", work)
                assert r["rows"] == args.rows, r
                best = results.get(kind)
                if best is None or r["seconds"] < best["seconds"]:
                    results[kind] = r
    report(results, args.rows)


def report(results: dict[str, dict[str, Any]], rows: int) -> None:
    rate = {kind: rows / r["seconds"] for kind, r in results.items()}
    labels = {
        "pandas": "pandas baseline (read_csv + history + features + predict + to_csv)",
        "pyarrow": "pyarrow baseline (CSV reader + history + features + predict + writer)",
        "fraudops": "fraudops score-inbox (validate, score, outbox, lake commit)",
    }
    for kind, r in results.items():
        print(
            f"{labels[kind]:<62} {rate[kind]:>10,.0f} rows/s  {r['seconds']:6.2f} s  "
            f"peak {r['peak_mib']:,.0f} MiB"
        )
    vs_pandas = rate["fraudops"] / rate["pandas"]
    vs_arrow = rate["fraudops"] / rate["pyarrow"]
    peak = results["fraudops"]["peak_mib"]
    speed_goal = "met" if vs_pandas >= 1 else "MISSED"
    memory_goal = "met" if peak < GOAL_MEMORY_MIB else "MISSED"
    print(
        f"fraudops / pandas = {vs_pandas:.2f}x (goal >= 1.00x: {speed_goal}); "
        f"fraudops / pyarrow = {vs_arrow:.2f}x; "
        f"fraudops peak memory {peak:,.0f} MiB (goal < {GOAL_MEMORY_MIB} MiB: {memory_goal})"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main(sys.argv[1:])
