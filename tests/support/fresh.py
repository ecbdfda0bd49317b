"""Code run in a fresh interpreter: what a new process imports and sets, not what this one has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the code's working directory: it may import tests


def run_fresh(
    code: str, env: dict[str, str], *, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``env`` (a plain PATH unless it has one; no CI or pytest variables
    unless given); must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
