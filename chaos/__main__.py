"""Run the fault and load scenarios and print the chaos table.

    python -m chaos                      # every scenario (make chaos)
    python -m chaos --quick              # small data, fewer requests, one random kill (CI)
    python -m chaos api_swaps inbox_kills --seed 7 --json rows.json

The runner starts the shared services once (PostgreSQL, ``mlflow server``, a small lake and
registry; see ``chaos/_world.py``), then runs each scenario module in its own Python process,
as ``make bench`` does: one scenario's threads, memory or a crash never colour another.
With ``--quick`` two scenarios run side by side (one of them always a scenario that moves
the shared alias, the other never) to stay within CI's time. Each writes its rows; a scenario
that fails or writes none is a FAILED row, never zeros. Exit code 0 only when every row
passes. Logs of every service and run are in the work folder (kept on failure or --keep).
"""

from __future__ import annotations

import argparse
import json
import pkgutil
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chaos import _world
from chaos._report import Row, failed, markdown, notes, read_rows

HERE = Path(__file__).parent
# these move the shared @production alias and read it back: never side by side
SHARED_ALIAS = ("api_overload", "api_swaps", "mlflow_outage", "promotions")


def scenarios() -> list[str]:
    """Every scenario module (helpers start with an underscore)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_"))


def run_one(world: _world.World, name: str, *, seed: int | None, timeout: float) -> list[Row]:
    """One scenario module in its own process; its rows, or one FAILED row saying why."""
    logs = Path(world.root) / "logs"
    out = logs / f"{name}.json"
    argv = [sys.executable, "-m", f"chaos.{name}", "--world", str(world.path), "--out", str(out)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    t0 = time.perf_counter()
    with open(logs / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            proc.terminate()  # SIGTERM: the scenario stops the services it started, then exits
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    elapsed = time.perf_counter() - t0
    rows = read_rows(out) if code == 0 and out.exists() else []
    if not rows:
        tail = (logs / f"{name}.log").read_text(errors="replace").strip().splitlines()[-15:]
        why = "timed out" if code is None else f"exit {code}"
        print(f"--- {name}: {why} after {elapsed:.0f} s; log {logs / name}.log:", flush=True)
        print("\n".join(f"    {line}" for line in tail), flush=True)
        last = tail[-1] if tail else "no output"
        rows = [failed(name, f"{why}: {last}")]
    else:
        verdicts = ", ".join(f"{r.scenario}: {r.verdict}" for r in rows)
        print(f"--- {name}: {elapsed:.0f} s ({verdicts})", flush=True)
    return rows


def run_all(
    world: _world.World, names: list[str], *, jobs: int, seed: int | None
) -> dict[str, list[Row]]:
    """Every scenario, in one lane or two; their rows by scenario."""
    timeout = 300 if world.quick else 900
    lanes = [names]
    if jobs == 2:
        lanes = [
            [n for n in names if n in SHARED_ALIAS],
            [n for n in names if n not in SHARED_ALIAS],
        ]
    got: dict[str, list[Row]] = {}

    def lane(queue: list[str]) -> None:
        for name in queue:
            got[name] = run_one(world, name, seed=seed, timeout=timeout)

    with ThreadPoolExecutor(len(lanes)) as pool:
        for future in [pool.submit(lane, queue) for queue in lanes if queue]:
            future.result()
    return got


def main(argv: list[str]) -> int:
    """Run the scenarios named (default all), print the table; 0 only if every row passes."""
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"scenarios (default all: {scenarios()})")
    parser.add_argument("--quick", action="store_true", help="the reduced run CI uses")
    parser.add_argument("--seed", type=int, help="seed of every random fault (for a rerun)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    parser.add_argument(
        "--jobs",
        type=int,
        choices=(1, 2),
        help="scenarios side by side (default: 2 with --quick, else 1): those that move the "
        "shared alias run one after the other, the others beside them",
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(scenarios())
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {scenarios()}")
    names = args.names or scenarios()
    jobs = args.jobs or (2 if args.quick else 1)
    root = Path(tempfile.mkdtemp(prefix="fraudops-chaos-"))
    mode = "quick" if args.quick else "full"
    t0 = time.perf_counter()
    print(f"chaos ({mode}): starting PostgreSQL, mlflow server, lake and registry in {root}")
    got: dict[str, list[Row]] = {}
    try:
        with _world.started(root, quick=args.quick) as world:
            print(f"--- world ready in {time.perf_counter() - t0:.0f} s", flush=True)
            got = run_all(world, names, jobs=jobs, seed=args.seed)
    except Exception as exc:  # noqa: BLE001  (the services themselves failed: say so, loudly)
        reason = f"the shared services failed: {str(exc).strip()[-500:]}"
        print(f"--- {reason}", flush=True)
        got.update({n: [failed(n, reason)] for n in names if n not in got})
    rows = [row for name in names for row in got[name]]
    print(f"\nchaos ({mode}) in {time.perf_counter() - t0:.0f} s:\n")
    print(markdown(rows))
    print()
    print(notes(rows))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    ok = all(r.verdict == "pass" for r in rows)
    if ok and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"\nwork folder and logs kept in {root}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
