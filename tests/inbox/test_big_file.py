"""A 200,000-row file, read in chunks of 50,000, on both backends."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from fraudops import datagen, inbox
from fraudops.config import Settings
from tests.support.inbox import hash_snapshots, put, scored, scores, sha256

ROWS = 200_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_csv() -> bytes:
    table = datagen.generate_day(dt.date(2026, 4, 1), rows=ROWS).drop_columns(["is_fraud"])
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def test_200k_rows_scored_in_chunks(fresh_inbox: Settings, big_csv: bytes) -> None:
    settings = fresh_inbox.model_copy(update={"inbox_chunk_rows": 50_000})
    put(settings, "incoming/day.csv", big_csv)
    seen: list[inbox.InboxProgress] = []
    summary = inbox.score_inbox(settings, progress=seen.append)
    assert (summary.files, summary.rows_scored, summary.rows_rejected) == (1, ROWS, 0)
    reading = [p.done_bytes for p in seen if p.status == "reading"]
    assert len(reading) > 1
    assert reading == sorted(reading)
    assert seen[-1].status == "scored"
    out = scored(settings, "day")
    assert out.num_rows == ROWS
    assert len(pc.unique(out["transaction_id"])) == ROWS
    table = scores(settings)
    assert table.num_rows == ROWS
    assert hash_snapshots(settings, sha256(big_csv)) == 1
