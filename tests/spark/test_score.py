"""``score-inbox --engine spark``: the in-process outputs; each row once after a SIGKILL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from fraudops import lake
from fraudops.config import Settings
from fraudops.demo import sample_csv
from fraudops.engine import Engine
from fraudops.inbox import Outcome, drop_file, score_inbox
from fraudops.inbox.ledger import ClaimState, Ledger
from fraudops.inbox.storage import open_storage
from fraudops.procs import start_group, stop_groups, wait_until
from tests.spark.conftest import on_spark

pytestmark = [pytest.mark.slow, pytest.mark.integration]
DAY = dt.date(2026, 1, 11)  # the day after the lake's: every card has a history there


def variant(data: bytes, tag: str) -> bytes:
    """The same rows with an extra (ignored) column: other content, so its own lake commit."""
    lines = data.decode().splitlines()
    return "\n".join([f"{lines[0]},note"] + [f"{line},{tag}" for line in lines[1:]]).encode()


@pytest.fixture(scope="module")
def transactions() -> bytes:
    return sample_csv(rows=3_000, day=DAY, seed=42, bad_rows=True)


@pytest.fixture(scope="module")
def in_process(
    spark_lake: Settings, transactions: bytes, tmp_path_factory: pytest.TempPathFactory
) -> pa.Table:
    """The in-process engine's scored CSV of the file."""
    settings = spark_lake.model_copy(
        update={"inbox": str(tmp_path_factory.mktemp("inbox-in-process"))}
    )
    drop_file(settings, "tx.csv", variant(transactions, "in-process"))
    assert score_inbox(settings).rows_scored > 0
    return pacsv.read_csv(Path(settings.inbox_url) / "outbox" / "tx.scored.csv")


def lake_scores(settings: Settings, content_hash: str) -> pa.Table:
    table = lake.scores_table(lake.open_catalog(settings)).scan().to_arrow()
    return table.filter(pc.equal(table["content_hash"], content_hash)).sort_by("transaction_id")


def test_spark_scores_as_the_in_process_engine(
    master: str, spark_lake: Settings, transactions: bytes, in_process: pa.Table, tmp_path: Path
) -> None:
    settings = on_spark(spark_lake, master, inbox=str(tmp_path / "inbox"))
    drop_file(settings, "tx.csv", variant(transactions, master))

    summary = score_inbox(settings)

    (report,) = summary.reports
    assert report.status == Outcome.SCORED, report.reason
    assert report.rows_rejected == 7  # the sample's bad rows, as in-process
    scored = pacsv.read_csv(tmp_path / "inbox" / "outbox" / "tx.scored.csv")
    assert scored["transaction_id"] == in_process["transaction_id"]  # same rows, same order
    np.testing.assert_allclose(
        scored["fraud_probability"].to_numpy(),
        in_process["fraud_probability"].to_numpy(),
        rtol=0,
        atol=1e-6,
    )
    assert scored["is_fraud"] == in_process["is_fraud"]
    assert pc.sum(in_process["is_fraud"]).as_py() > 0
    rows = lake_scores(settings, report.content_hash or "")
    assert rows.num_rows == scored.num_rows == report.rows_scored
    np.testing.assert_allclose(
        rows["fraud_probability"].to_numpy(),
        scored.sort_by("transaction_id")["fraud_probability"].to_numpy(),
        rtol=0,
        atol=1e-12,
    )


def _spark_jvm_in(group: int) -> bool:
    """A java process (the Spark driver) runs in this process group."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if (
                os.getpgid(int(pid)) == group
                and b"java" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ):
                return True
        except (OSError, ProcessLookupError):
            continue
    return False


def test_a_spark_scoring_job_killed_then_rerun_commits_each_row_once(
    master: str, spark_lake: Settings, transactions: bytes, tmp_path: Path
) -> None:
    settings = on_spark(spark_lake, master, inbox=str(tmp_path / "inbox"))
    drop_file(settings, "tx.csv", variant(transactions, f"killed-{master}"))
    env = {
        **os.environ,
        "FRAUDOPS_HOME": str(settings.home_dir),
        "FRAUDOPS_CATALOG_URI": settings.catalog_url,
        "FRAUDOPS_WAREHOUSE": settings.warehouse_url,
        "FRAUDOPS_TRACKING_URI": settings.tracking_url,
        "FRAUDOPS_INBOX": settings.inbox_url,
        "FRAUDOPS_INBOX_CHUNK_ROWS": "1000",
        "FRAUDOPS_ENGINE": Engine.SPARK.value,
        "FRAUDOPS_SPARK_DRIVER_MEMORY": "768m",
        "SPARK_MASTER_URL": master,
    }
    fraudops = str(Path(sys.executable).with_name("fraudops"))
    run = start_group(
        [fraudops, "score-inbox", "--json"], env=env, cwd=tmp_path, log=tmp_path / "killed.log"
    )
    store = open_storage(settings)
    try:

        def scoring_on_spark() -> bool:
            claims = Ledger(store).in_flight()
            at_scoring = bool(claims) and claims[0].state == ClaimState.SCORING
            return at_scoring and _spark_jvm_in(run.pid)

        wait_until(scoring_on_spark, what="the Spark scoring job", timeout=300, interval=0.2)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        stop_groups([run], grace=1)
        store.close()
    assert run.returncode == -signal.SIGKILL

    summary = score_inbox(settings)  # the rerun finishes the file left in flight

    (report,) = summary.reports
    assert report.status == Outcome.SCORED, report.reason
    rows = lake_scores(settings, report.content_hash or "")
    assert rows.num_rows == report.rows_scored == 2_993
    assert pc.count_distinct(rows["transaction_id"]).as_py() == rows.num_rows
    scored = pacsv.read_csv(tmp_path / "inbox" / "outbox" / "tx.scored.csv")
    assert scored.num_rows == rows.num_rows
