"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench datagen demo``.

Each benchmark runs in its own Python process, so one's memory and warm caches never colour
another's figures (peak RSS in particular).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")
    )
    failed = []
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=here.parent)
        print(f"--- {name}: {time.perf_counter() - t0:.1f} s (exit {code})", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
