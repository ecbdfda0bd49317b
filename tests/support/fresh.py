"""Code run in a fresh interpreter: what a new process imports and sets, not what this one has."""

from __future__ import annotations

import subprocess
import sys


def run_fresh(
    code: str, env: dict[str, str], *, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``env`` and a plain PATH only (no CI or pytest variables); must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert done.returncode == 0, done.stderr
    return done
