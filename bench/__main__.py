"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench datagen demo``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")
    )
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        t0 = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"--- {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
