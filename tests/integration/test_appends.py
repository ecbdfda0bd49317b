"""Exactly-once appends when another writer commits between the check and the commit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from fraudops import lake
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

HASH = "f" * 64


def _rows(n: int = 5) -> pa.Table:
    now = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    return pa.table(
        {
            "transaction_id": [f"tx-{i}" for i in range(n)],
            "fraud_probability": [0.1] * n,
            "is_fraud": [False] * n,
            "model_name": ["fraud-detector"] * n,
            "model_version": ["1"] * n,
            "source_file": ["a.csv"] * n,
            "content_hash": [HASH] * n,
            "scored_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def test_a_writer_overtaken_between_its_check_and_its_commit_appends_nothing(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "home")
    slow = lake.scores_table(lake.open_catalog(settings))  # run A, paused after its check
    fast = lake.scores_table(lake.open_catalog(settings))  # run B, the lock's new holder
    overtaken: list[int] = []

    def check_then_get_overtaken() -> None:  # A's lock check passes; B commits meanwhile
        if not overtaken:
            fence = lake.Fence("fraudops.fence.inbox", 2, lambda: None)
            overtaken.append(
                lake.append_once(fast, [_rows()], content_hash=HASH, properties={}, fence=fence)
            )

    a_fence = lake.Fence("fraudops.fence.inbox", 1, check_then_get_overtaken)
    found = lake.append_once(slow, [_rows()], content_hash=HASH, properties={}, fence=a_fence)

    assert found == overtaken[0]  # A finds B's commit instead of adding its own
    table = lake.scores_table(lake.open_catalog(settings))
    assert table.scan().to_arrow().num_rows == 5
    assert len(table.snapshots()) == 1
    assert table.properties["fraudops.fence.inbox"] == "2"  # B's token stands


def test_a_frequent_writer_forgets_its_old_snapshots_and_keeps_everyone_elses(
    tmp_path: Path,
) -> None:
    """The API's log commits every few seconds; the inbox's commit must stay findable."""
    settings = make_settings(tmp_path / "home")
    table = lake.scores_table(lake.open_catalog(settings))
    api = {lake.appends.SOURCE_PROPERTY: "api"}
    for _ in range(3):
        lake.append(table, _rows(2), properties=api)
    inbox = lake.append_once(table, [_rows(5)], content_hash=HASH, properties={})
    forgotten = 0
    for _ in range(12):
        lake.append(table, _rows(2), properties=api)
        forgotten += lake.forget_own(table, source="api", keep=4)

    table = lake.scores_table(lake.open_catalog(settings))
    own = [s for s in table.snapshots() if (s.summary or {}).get("fraudops.source") == "api"]
    assert forgotten > 0 and 4 <= len(own) < 8
    assert lake.committed_snapshot(table, HASH) == inbox  # a rerun still finds its commit
    assert lake.append_once(table, [_rows(5)], content_hash=HASH, properties={}) == inbox
    assert table.scan().to_arrow().num_rows == 15 * 2 + 5  # forgotten snapshots, kept rows


def test_batches_written_side_by_side_land_whole_in_one_snapshot(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    table = lake.scores_table(lake.open_catalog(settings))
    assert lake.appends.WRITE_THREADS > 1
    batches = []
    for b in range(7):
        rows = _rows(3 + b)
        ids = [f"b{b}-{i}" for i in range(rows.num_rows)]
        batches.append(rows.set_column(0, "transaction_id", pa.array(ids)))
    lake.append_once(table, iter(batches), content_hash=HASH, properties={})

    table = lake.scores_table(lake.open_catalog(settings))
    assert len(table.snapshots()) == 1
    written = table.scan().to_arrow()
    expected = pa.concat_tables(batches)
    assert sorted(written["transaction_id"].to_pylist()) == sorted(
        expected["transaction_id"].to_pylist()
    )
    assert len(table.inspect.files()) == 7  # a file per batch, none lost or written twice
