"""The CLI end to end, as a user runs it: demo twice, then status --json."""

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.support.fresh import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _cli(*args, env, record=None):
    """``fraudops ARGS``; with ``record``, under tests.support.startorder writing there."""
    under = ["-m", "tests.support.startorder", str(record)] if record else ["-m"]
    return subprocess.run(
        [sys.executable, *under, "fraudops.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def test_demo_twice_then_status(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
    env.update(
        FRAUDOPS_HOME=str(tmp_path / "home"),
        FRAUDOPS_DAYS="10",
        FRAUDOPS_ROWS_PER_DAY="4000",
        FRAUDOPS_VALID_DAYS="2",
        FRAUDOPS_HOLDOUT_DAYS="2",
        FRAUDOPS_PROMOTION_FLOOR="0.1",
        FRAUDOPS_LABEL_MATURITY_DAYS="3",
    )
    order = tmp_path / "order.json"  # the first run records its process and thread starts
    first = _cli("demo", "--no-serve", env=env, record=order)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "PROMOTED version 1" in first.stdout
    # the lake's process runs before the thread that loads MLflow starts (startorder says why)
    events = json.loads(order.read_text())
    generator = next(i for i, e in enumerate(events) if e[0] == "start" and "fork" in e[2])
    side = next(i for i, e in enumerate(events) if e[0] == "thread" and "demo" in e[2])
    started = next(i for i in range(generator, len(events)) if events[i][0] == "started")
    assert started < side, events[: side + 1]

    # the sample inbox file is the day after the lake's last (2026-01-01 + 10 days): its card
    # histories go on from the lake's, where a later day would start every card afresh
    (sample,) = (tmp_path / "home" / "inbox" / "processed").glob("sample-*.csv")
    with sample.open() as f:
        days = {row["event_ts"][:10] for row in csv.DictReader(f)}
    assert {d for d in days if d.startswith("20")} == {"2026-01-11"}, days

    status = json.loads(_cli("status", "--json", env=env).stdout)
    assert status["lake"]["rows"] == 40_000
    prod = status["production"]
    assert prod["version"] == "1"
    assert prod["metrics"]["holdout_average_precision"] >= 0.5
    assert prod["snapshot_id"] == str(status["lake"]["snapshot_id"])
    assert prod["decision"]["promote"] is True

    second = _cli("demo", "--no-serve", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads(_cli("status", "--json", env=env).stdout)
    assert again["lake"]["rows"] == 40_000  # same days overwritten, not duplicated
    assert again["lake"]["snapshot_id"] != status["lake"]["snapshot_id"]
    decision = again["last_decision"]
    assert decision["candidate_version"] == "2"  # a new version, through the gate
    assert decision["champion_version"] == "1"
    # the same data and seed give the same model: at least as good, so promoted
    assert decision["promote"] is True
    assert again["production"]["version"] == "2"
