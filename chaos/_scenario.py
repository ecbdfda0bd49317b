"""What every scenario module shares: its command line, and handing its rows to the runner.

``python -m chaos.<name> --world WORLD_JSON --out ROWS_JSON [--seed N]`` runs one scenario
module (one or more rows; ``--quick`` is a property of the world). An exception is not caught
here: the process fails, and the runner reports the scenario as FAILED with the reason, never
as zeros.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from chaos._report import Row, write_rows
from chaos._world import World

Scenario = Callable[[World, random.Random], list[Row]]
_T0 = time.monotonic()


def say(message: str) -> None:
    """A step of the scenario, with the seconds since it started (for its log)."""
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", flush=True)


def main(run: Scenario) -> None:
    """Parse the command line, run the scenario, write its rows."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=None, help="Seed of the random faults.")
    args = parser.parse_args()
    # a runner that gives up sends SIGTERM: exit through the finally blocks that stop services
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server: one line a request
    world = World.load(args.world)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    say(f"random seed {seed}")
    rows = run(world, random.Random(seed))
    write_rows(args.out, rows)
