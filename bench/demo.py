"""Wall time of the default demo (30 days x 20,000 transactions) to a promoted model.

Goals: under 60 s from an installed virtualenv (issue: lifecycle core), under 12 s (issue:
speed at the limit). Runs the real ``fraudops demo --no-serve`` command in a fresh
FRAUDOPS_HOME, as a user would. ``--baseline REV`` runs another commit's sources the same way,
alternating with ours, and prints the ratio.

    python -m bench demo                                   # via make bench
    python -m bench.demo --runs 3 --baseline main
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.startup import REPO, sources_of

GOAL_S = 60.0
FAST_GOAL_S = 12.0


def run_demo(env: dict[str, str]) -> tuple[float, list[str]]:
    """Seconds of one ``fraudops demo --no-serve`` in a fresh home, and its verdict lines."""
    exe = Path(sys.executable).with_name("fraudops")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**env, "FRAUDOPS_HOME": str(Path(tmp) / "home")}
        t0 = time.perf_counter()
        res = subprocess.run(
            [str(exe), "demo", "--no-serve"], env=env, cwd=tmp, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stdout[-2000:], res.stderr[-4000:])
        raise SystemExit(f"demo failed with exit code {res.returncode}")
    keep = ("PROMOTED", "REJECTED", "holdout AP")
    return elapsed, [
        line.strip() for line in res.stdout.splitlines() if any(k in line for k in keep)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="demos per contender (median)")
    parser.add_argument("--baseline", help="a git revision to run the same way, alternating")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
    contenders = {"this tree": {**env, "PYTHONPATH": str(REPO / "src")}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            old = sources_of(args.baseline, Path(tmp))
            contenders[f"baseline {args.baseline}"] = {**env, "PYTHONPATH": str(old)}
            run_demo(contenders[f"baseline {args.baseline}"])  # compiles its bytecode
        times: dict[str, list[float]] = {name: [] for name in contenders}
        lines: dict[str, list[str]] = {}
        for _ in range(args.runs):  # alternating: machine load hits every contender alike
            for name, contender_env in contenders.items():
                elapsed, lines[name] = run_demo(contender_env)
                times[name].append(elapsed)
    ours = statistics.median(times["this tree"])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        runs = ", ".join(f"{t:.1f}" for t in seconds)
        ratio = "" if name == "this tree" else f"; ours is {median / ours:.2f}x faster"
        print(
            f"{name}: fraudops demo --no-serve: {median:.1f} s to a promoted model (runs: {runs}) "
            f"({median / GOAL_S:.2f}x of the 60 s budget; goal < {FAST_GOAL_S:.0f} s: "
            f"{'met' if median < FAST_GOAL_S else 'MISSED'}{ratio})"
        )
        for line in lines[name]:
            print("  " + line)


if __name__ == "__main__":
    main()
