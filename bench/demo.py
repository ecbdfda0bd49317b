"""Wall time of the default demo (30 days x 20,000 transactions) to a promoted model.

Goal (issue: lifecycle core): under 60 s from an installed virtualenv. Runs the real
``fraudops demo --no-serve`` command in a fresh FRAUDOPS_HOME, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 60.0


def main() -> None:
    exe = Path(sys.executable).with_name("fraudops")
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
        env["FRAUDOPS_HOME"] = str(Path(tmp) / "home")
        t0 = time.perf_counter()
        res = subprocess.run(
            [str(exe), "demo", "--no-serve"], env=env, cwd=tmp, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stdout[-2000:], res.stderr[-4000:])
        raise SystemExit(f"demo failed with exit code {res.returncode}")
    print(
        f"fraudops demo --no-serve: {elapsed:.1f} s to a promoted model "
        f"({elapsed / GOAL_S:.2f}x of the 60 s budget)"
    )
    for line in res.stdout.splitlines():
        if "PROMOTED" in line or "REJECTED" in line or "holdout AP" in line:
            print("  " + line.strip())


if __name__ == "__main__":
    main()
