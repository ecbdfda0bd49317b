"""Wall time of the default demo (30 days x 20,000 transactions) to a promoted model.

Goals: under 60 s from an installed virtualenv (issue: lifecycle core), under 12 s (issue:
speed at the limit). Runs the real ``fraudops demo --no-serve`` command in a fresh
FRAUDOPS_HOME, as a user would, and reports the CPU time it took (user and system, every
process and thread: on 2 cores a demo cannot take less than half of it). ``--baseline REV``
runs another commit's sources the same way, alternating with ours, and prints the ratio.

    python -m bench demo                                   # via make bench
    python -m bench.demo --runs 3 --baseline main
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench.startup import REPO, child_env, sources_of

GOAL_S = 60.0
FAST_GOAL_S = 12.0


class Run(NamedTuple):
    seconds: float
    user_s: float  # CPU seconds in user space, every process of the demo
    system_s: float  # CPU seconds in the kernel (page faults, zeroing pages, I/O)
    lines: list[str]


def run_demo(env: dict[str, str]) -> Run:
    """One ``fraudops demo --no-serve`` in a fresh home: its times and verdict lines."""
    exe = Path(sys.executable).with_name("fraudops")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**env, "FRAUDOPS_HOME": str(Path(tmp) / "home")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        res = subprocess.run(
            [str(exe), "demo", "--no-serve"], env=env, cwd=tmp, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        print(res.stdout[-2000:], res.stderr[-4000:])
        raise SystemExit(f"demo failed with exit code {res.returncode}")
    keep = ("PROMOTED", "REJECTED", "holdout AP")
    return Run(
        elapsed,
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
        [line.strip() for line in res.stdout.splitlines() if any(k in line for k in keep)],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="demos per contender (median)")
    parser.add_argument("--baseline", help="a git revision to run the same way, alternating")
    args = parser.parse_args(argv)
    env = child_env()
    contenders = {"this tree": {**env, "PYTHONPATH": str(REPO / "src")}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            old = sources_of(args.baseline, Path(tmp))
            contenders[f"baseline {args.baseline}"] = {**env, "PYTHONPATH": str(old)}
            run_demo(contenders[f"baseline {args.baseline}"])  # compiles its bytecode
        runs: dict[str, list[Run]] = {name: [] for name in contenders}
        for _ in range(args.runs):  # alternating: machine load hits every contender alike
            for name, contender_env in contenders.items():
                runs[name].append(run_demo(contender_env))
    ours = statistics.median(r.seconds for r in runs["this tree"])
    for name, done in runs.items():
        median = statistics.median(r.seconds for r in done)
        each = ", ".join(f"{r.seconds:.1f}" for r in done)
        user = statistics.median(r.user_s for r in done)
        system = statistics.median(r.system_s for r in done)
        ratio = "" if name == "this tree" else f"; ours is {median / ours:.2f}x faster"
        print(
            f"{name}: fraudops demo --no-serve: {median:.1f} s to a promoted model (runs: {each}) "
            f"(CPU {user:.1f} s user + {system:.1f} s system; {median / GOAL_S:.2f}x of the "
            f"60 s budget; goal < {FAST_GOAL_S:.0f} s: "
            f"{'met' if median < FAST_GOAL_S else 'MISSED'}{ratio})"
        )
        for line in done[-1].lines:
            print("  " + line)


if __name__ == "__main__":
    main()
