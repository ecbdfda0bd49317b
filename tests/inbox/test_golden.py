"""The outputs of one checked-in file are byte for byte the checked-in expected outputs.

``golden/`` holds a 300-line input with every kind of bad row (malformed, blank, repeated
ids, bad values, formula cells), an earlier history of some of its cards, a small booster,
and the scored, rejected and predictions files the inbox wrote for them. Any change to
reading, validation, features, scoring or writing that changes one byte fails here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from fraudops import csvio, datagen
from fraudops.inbox import checkfile
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
    _assert_same_predictions(sink.getvalue(), (GOLDEN / "predictions.csv").read_bytes())


# numpy's sin, cos and arcsin take another code path on CPUs with AVX-512 than on those
# without: the last bit of a great-circle distance may differ from one machine to another.
# Those two columns are compared to 1e-12; every other byte of every line must be the same.
DISTANCES = ("km_from_last", "kmh_from_last")


def _assert_same_predictions(actual: bytes, expected: bytes) -> None:
    got, want = actual.decode().splitlines(), expected.decode().splitlines()
    assert len(got) == len(want)
    assert got[0] == want[0]
    header = next(csv.reader([want[0]]))
    loose = {header.index(name) for name in DISTANCES}
    for line, (mine, theirs) in enumerate(zip(got[1:], want[1:], strict=True), start=2):
        if mine == theirs:
            continue
        a, b = next(csv.reader([mine])), next(csv.reader([theirs]))
        assert len(a) == len(b), f"line {line}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if i in loose:
                assert float(x) == pytest.approx(float(y), rel=1e-12), f"line {line}, {header[i]}"
            else:
                assert x == y, f"line {line}, {header[i]}"


@pytest.mark.slow
def test_every_core_reads_what_one_thread_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean file of several parse blocks: the multi-threaded reader, then one thread."""
    table = datagen.generate_day(dt.date(2026, 3, 2), rows=50_000).drop_columns(["is_fraud"])
    path = tmp_path / "clean.csv"
    pacsv.write_csv(table, path)
    assert path.stat().st_size > 2 * csvio.BLOCK_SIZE
    scorer = FraudScorer.load(GOLDEN / "model")

    def outputs(name: str) -> tuple[bytes, bytes]:
        staging = tmp_path / name
        staging.mkdir()
        staged = score_file(
            path,
            scorer=scorer,
            model_name="fraud-detector",
            model_version="3",
            staging=staging,
            chunk_rows=7_000,
        )
        assert staged.rows_scored == 50_000
        sink = io.BytesIO()
        pacsv.write_csv(pa.concat_tables(staged.predictions), sink)
        return staged.scored.read_bytes(), sink.getvalue()

    threads: list[bool] = []
    real = checkfile.read_chunks

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(kwargs["threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(checkfile, "read_chunks", recorded)
    every_core = outputs("threads")
    monkeypatch.setattr(
        checkfile, "read_chunks", lambda *a, **k: recorded(*a, **{**k, "threads": False})
    )
    one_thread = outputs("one")
    assert threads == [True, False]
    assert every_core == one_thread
