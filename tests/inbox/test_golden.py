"""The outputs of one checked-in file are byte for byte the checked-in expected outputs.

``golden/`` holds a 300-line input with every kind of bad row (malformed, blank, repeated
ids, bad values, formula cells), an earlier history of some of its cards, a small booster,
and the scored, rejected and predictions files the inbox wrote for them. Any change to
reading, validation, features, scoring or writing that changes one byte fails here.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from fraudops.inbox.scorefile import score_file
from fraudops.scoring import FraudScorer

GOLDEN = Path(__file__).parent / "golden"


def _history() -> pa.Table:
    return pacsv.read_csv(
        GOLDEN / "history.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"event_ts": pa.timestamp("us", tz="UTC")}
        ),
    )


@pytest.mark.parametrize("chunk_rows", [7, 64, 100_000])
def test_outputs_are_the_checked_in_bytes(tmp_path: Path, chunk_rows: int) -> None:
    scorer = FraudScorer.load(GOLDEN / "model")
    history = _history()
    staged = score_file(
        GOLDEN / "input.csv",
        scorer=scorer,
        model_name="fraud-detector",
        model_version="3",
        staging=tmp_path,
        chunk_rows=chunk_rows,
        history=lambda rows: history,
    )
    assert (staged.rows_scored, staged.rows_rejected) == (284, 15)
    assert staged.scored.read_bytes() == (GOLDEN / "scored.csv").read_bytes()
    assert staged.rejected is not None
    assert staged.rejected.read_bytes() == (GOLDEN / "rejected.csv").read_bytes()
    sink = io.BytesIO()
    pacsv.write_csv(pa.concat_tables(staged.predictions), sink)
    assert sink.getvalue() == (GOLDEN / "predictions.csv").read_bytes()
