"""Start-up: what a command or the API costs before it does any work, each in a fresh process.

Times, as the median of ``--runs`` fresh processes after one untimed warm-up each (contenders
taking turns):

* ``fraudops --help``;
* ``fraudops status`` (reads the lake and the registry of a small embedded home);
* ``fraudops score-inbox`` on an empty inbox, and with one new 1,000-row CSV to score (the
  model loaded from the registry; each run finds a file of its own, written before its clock
  starts);
* ``import fraudops.api.app`` (what every API worker imports);
* ``fraudops serve`` (one worker) until ``/health/live`` answers, and until ``/health/ready``
  answers 200 (the production model loaded from the registry).

Goal (issue: speed at the limit): ``fraudops --help`` < 0.5 s; the others are reported.
``--baseline REV`` times the same commands on another commit's sources (``git archive``) in
the same run, with the same virtualenv, and prints our ratio to it.

    python -m bench startup                        # via make bench
    python -m bench.startup --runs 7 --baseline main
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fraudops import MEMORY_SETTINGS
from fraudops.procs import free_port, http_status, start_group, stop_groups

REPO = Path(__file__).resolve().parents[1]
HELP_GOAL_S = 0.5
API_KEY = "bench-startup-key-0123456789abcdef"


def child_env() -> dict[str, str]:
    """This environment for a contender's process, without the product's own choices.

    No ``FRAUDOPS_*`` setting, and none of the memory settings ``import fraudops`` made in
    this process (Arrow's allocator, numpy's huge pages): each contender's sources choose
    their own (a baseline revision's too).
    """
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRAUDOPS_") and k not in MEMORY_SETTINGS
    }


def build_home(home: Path) -> None:
    """A small embedded home: 3 days in the lake, a 20-tree model @production, a store."""
    import mlflow
    import xgboost as xgb

    from fraudops import fitting, generate, lake, registry, tracking, train, trainset
    from fraudops.cardhistory import VERSION
    from fraudops.cardhistory.stores.sqlite import SqliteStore
    from fraudops.config import Settings
    from fraudops.features import features_from_table
    from fraudops.scoring import FraudScorer

    settings = Settings(_env_file=None, home=home)  # type: ignore[call-arg]
    generate.generate(settings, start=dt.date(2026, 1, 1), days=3, rows_per_day=5_000)
    catalog = lake.open_catalog(settings)
    data = lake.read_labelled(catalog, lake.pin(catalog), maturity_days=0).table
    matrix = fitting.matrix(features_from_table(data), trainset.labels(data))
    booster = xgb.train({**train.BASE_PARAMS, **train.SWEEP[0]}, matrix, num_boost_round=20)
    client = tracking.connect(settings)
    experiment_id = tracking.ensure_experiment(client, settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name="bench-startup") as run:
        model_uri = train.log_model(FraudScorer(booster, threshold=0.5), data.slice(0, 5))
    version = registry.register(client, settings, model_uri=model_uri, run_id=run.info.run_id)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, version)
    store = SqliteStore(Path(settings.feature_store_url))
    store.set_version(VERSION)
    store.close()


def sources_of(rev: str, into: Path) -> Path:
    """The ``src/`` folder of a commit, extracted from git."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", rev, "src"], cwd=REPO, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def timed(contenders: dict[str, Callable[[], None]], runs: int) -> dict[str, float]:
    """Median seconds per contender: one untimed call each (bytecode, page cache), then
    ``runs`` rounds taking turns, so a change in machine load hits every contender alike."""
    for fn in contenders.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def command(argv: list[str], env: dict[str, str]) -> Callable[[], None]:
    """A run of the ``fraudops`` CLI (through this interpreter, so PYTHONPATH applies)."""
    code = "import sys; from fraudops.cli import main; sys.argv[0] = 'fraudops'; main()"
    cmd = [sys.executable, "-c", code, *argv]
    return lambda: subprocess.run(cmd, env=env, check=True, capture_output=True)


SEEDS = itertools.count(1)  # every dropped file differs: none is skipped as a duplicate


def inbox_file(env: dict[str, str], inbox: Path, count: int) -> Callable[[], None]:
    """``fraudops score-inbox`` on a new 1,000-row CSV, made before any clock starts."""
    from fraudops.demo import sample_csv

    files = [sample_csv(rows=1_000, seed=next(SEEDS)) for _ in range(count)]
    run = command(["score-inbox"], env)

    def once() -> None:
        (inbox / "incoming" / "startup.csv").write_bytes(files.pop())
        run()

    return once


def serve_until(path: str, env: dict[str, str], work: Path) -> Callable[[], None]:
    """Start ``fraudops serve`` on a free port; return once ``path`` answers 200, then stop."""

    def once() -> None:
        port = free_port()
        code = "import sys; from fraudops.cli import main; sys.argv[0] = 'fraudops'; main()"
        cmd = [sys.executable, "-c", code, "serve", "--port", str(port), "--workers", "1"]
        proc = start_group(cmd, env=env, log=work / "serve.log")
        try:
            deadline = time.monotonic() + 180
            while http_status(f"http://127.0.0.1:{port}{path}", timeout=1.0) != 200:
                if proc.poll() is not None:
                    raise RuntimeError((work / "serve.log").read_text()[-3000:])
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} did not answer 200 in 180 s")
                time.sleep(0.02)
        finally:
            stop_groups([proc], grace=30)

    return once


def measure(trees: dict[str, dict[str, str]], work: Path, runs: int) -> dict[str, dict[str, float]]:
    """Every figure, for every source tree: figure -> tree -> median seconds."""
    imports = [sys.executable, "-c", "import fraudops.api.app"]

    def app_import(env: dict[str, str]) -> Callable[[], None]:
        def once() -> None:
            subprocess.run(imports, env=env, check=True, capture_output=True)

        return once

    figures: dict[str, Callable[[dict[str, str]], Callable[[], None]]] = {
        "fraudops --help": lambda env: command(["--help"], env),
        "fraudops status": lambda env: command(["status"], env),
        "fraudops score-inbox, empty inbox": lambda env: command(["score-inbox"], env),
        "fraudops score-inbox, one 1,000-row file": lambda env: inbox_file(
            env, work / "home" / "inbox", count=runs + 1
        ),
        "import fraudops.api.app": app_import,
        "fraudops serve -> /health/live": lambda env: serve_until("/health/live", env, work),
        "fraudops serve -> /health/ready (model loaded)": lambda env: serve_until(
            "/health/ready", env, work
        ),
    }
    return {
        what: timed({name: make(env) for name, env in trees.items()}, runs)
        for what, make in figures.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision to time the same way, for the ratio")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fraudops-bench-startup-") as tmp:
        work = Path(tmp)
        print("building a small embedded home (3 days, a 20-tree model)", flush=True)
        build_home(work / "home")
        (work / "home" / "inbox" / "incoming").mkdir(parents=True, exist_ok=True)
        base = child_env() | {
            "FRAUDOPS_HOME": str(work / "home"),
            "FRAUDOPS_API_KEYS": API_KEY,
            "FRAUDOPS_PREDICTION_LOG": "false",
            "PYTHONPATH": str(REPO / "src"),
        }
        trees = {"this tree": base}
        if args.baseline:
            old = sources_of(args.baseline, work / "baseline")
            trees[f"baseline {args.baseline}"] = {**base, "PYTHONPATH": str(old)}
        figures = measure(trees, work, args.runs)
    report(figures, list(trees), args.runs)


def report(figures: dict[str, dict[str, float]], names: list[str], runs: int) -> None:
    print(f"\nmedian of {runs} fresh processes per contender, taking turns (after a warm-up)")
    print(f"{'what':<48}" + "".join(f"{n:>24}" for n in names) + "   goal / ratio")
    for what, by_tree in figures.items():
        seconds = by_tree[names[0]]
        cells = "".join(f"{by_tree[n]:>23.2f}s" for n in names)
        notes = []
        if what == "fraudops --help":
            notes.append(f"< {HELP_GOAL_S} s ({'met' if seconds < HELP_GOAL_S else 'MISSED'})")
        if len(names) > 1:
            notes.append(f"{by_tree[names[1]] / seconds:.2f}x faster than the baseline")
        print(f"{what:<48}{cells}   {'; '.join(notes)}")


if __name__ == "__main__":
    main()
