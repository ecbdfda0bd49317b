"""The training's data read, in a fresh process: ``lake.read_labelled`` on the demo's lake.

What ``fraudops train``, Airflow's training task and the gate each do once before they fit or
score: the pinned transactions, their card histories, and their labels as known at the
cut-off (30 days x 20,000 transactions, the demo's default lake). Each read runs in a fresh
process, as those do, and is timed inside it (imports excluded); the median of ``--runs``,
contenders taking turns after one untimed warm-up each. ``--baseline REV`` reads with another
commit's sources in the same run and prints the ratio.

    python -m bench trainread                     # via make bench
    python -m bench.trainread --runs 7 --baseline main
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.startup import REPO, child_env, sources_of

READ = """
import time
from fraudops import lake
from fraudops.config import get_settings
settings = get_settings()
catalog = lake.open_catalog(settings)
pinned = lake.pin(catalog)
t0 = time.perf_counter()
labelled = lake.read_labelled(catalog, pinned, maturity_days=settings.label_maturity_days)
print(time.perf_counter() - t0, labelled.table.num_rows)
"""


def read_once(env: dict[str, str]) -> tuple[float, int]:
    """Seconds of one read in a fresh process, and the rows it labelled."""
    done = subprocess.run(
        [sys.executable, "-c", READ], env=env, check=True, capture_output=True, text=True
    )
    seconds, rows = done.stdout.split()
    return float(seconds), int(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision to time the same way, for the ratio")
    args = parser.parse_args(argv)
    from fraudops import generate
    from fraudops.config import Settings

    with tempfile.TemporaryDirectory(prefix="fraudops-bench-trainread-") as tmp:
        home = Path(tmp) / "home"
        print("generating the demo's lake (30 days x 20,000 transactions)", flush=True)
        generate.generate(Settings(_env_file=None, home=home))  # type: ignore[call-arg]
        base = child_env() | {"FRAUDOPS_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
        trees = {"this tree": base}
        if args.baseline:
            old = sources_of(args.baseline, Path(tmp) / "baseline")
            trees[f"baseline {args.baseline}"] = {**base, "PYTHONPATH": str(old)}
        rows = {name: read_once(env)[1] for name, env in trees.items()}  # the warm-up
        times: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, env in trees.items():
                times[name].append(read_once(env)[0])
    names = list(trees)
    ours = statistics.median(times[names[0]])
    print(f"\nlake.read_labelled in a fresh process, median of {args.runs} (taking turns)")
    for name in names:
        median = statistics.median(times[name])
        runs = ", ".join(f"{s:.2f}" for s in times[name])
        ratio = f"; ours is {median / ours:.2f}x faster" if name != names[0] else ""
        print(f"{name:<28} {median:6.2f} s (runs {runs}), {rows[name]:,} rows labelled{ratio}")


if __name__ == "__main__":
    main()
