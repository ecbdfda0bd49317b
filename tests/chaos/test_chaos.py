"""The reduced chaos run (``python -m chaos --quick``), as CI runs it: every row of the table
must show 0 lost, 0 duplicated, 0 errors. The suite starts and faults its own services
(PostgreSQL, mlflow server, moto's S3, fraudops serve and score-inbox); see chaos/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ROWS = {
    "api: 2 hot swaps + SIGTERM under load",
    "api: overload",
    "api: MLflow down at start",
    "api: MLflow down at reload",
    "train: MLflow killed mid-training",
    "registry: two concurrent promotions",
    "inbox local: SIGKILL at random moments",
    "inbox s3: SIGKILL at random moments",
    "inbox s3: endpoint failing mid-file",
    "inbox s3: run outlives its lease",
    "lake: PostgreSQL restart during a commit",
    "lake: PostgreSQL restart between commits",
}


def test_the_quick_chaos_run_loses_doubles_and_breaks_nothing(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "-m", "chaos", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    table = done.stdout[-6000:] + done.stderr[-3000:]
    assert out.exists(), table
    rows = json.loads(out.read_text())

    assert {r["scenario"] for r in rows} == ROWS, table
    for row in rows:
        counts = (row["lost"], row["duplicated"], row["errors"])
        assert counts == (0, 0, 0), f"{row['scenario']}: {counts}\n{table}"
        assert row["verdict"] == "pass", f"{row['scenario']}: {row['failure']}\n{table}"
    assert done.returncode == 0, table
