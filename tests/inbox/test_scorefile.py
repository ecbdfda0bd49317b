"""One file scored: the same answer whatever the chunk size (no services)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fraudops import datagen
from fraudops.cardhistory import enrich
from fraudops.demo import sample_csv
from fraudops.inbox.scorefile import score_file
from fraudops.scoring import FraudScorer
from tests.support.models import small_scorer


@pytest.fixture(scope="module")
def scorer() -> FraudScorer:
    """A small booster: these tests check plumbing, not model quality."""
    data = enrich(datagen.generate_day(dt.date(2026, 1, 1), rows=3_000))
    return small_scorer(
        data, params={"max_depth": 3, "objective": "binary:logistic"}, rounds=5, threshold=0.5
    )


def _lines(rows: int, seed: int = 3) -> list[str]:
    return sample_csv(rows=rows, bad_rows=False, seed=seed).decode().splitlines()


def _messy() -> bytes:
    """Good rows with malformed ones, blank lines, bad values and repeated ids in between."""
    lines = _lines(40)
    header, rows = lines[0], lines[1:]
    first_id = rows[0].split(",")[0]
    rows[4] = rows[4].rsplit(",", 1)[0]  # a missing field (row 5)
    rows[5] = ""  # a blank line: not a row
    rows[6] = rows[6] + ",extra"  # one field too many (row 6)
    rows[10] = first_id + "," + rows[10].split(",", 1)[1]  # repeats row 1's id (row 10)
    rows[11] = rows[11].replace("true", "maybe", 1).replace("false", "maybe", 1)
    rows[20] = rows[20].rsplit(",", 2)[0]  # two fields short (row 20)
    rows[21] = rows[1]  # an exact repeat of row 2 (row 21)
    rows[30] = ",".join(rows[30].split(",")[:3])  # row 30
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def _score(
    tmp: Path, data: bytes, scorer: FraudScorer, chunk_rows: int
) -> tuple[bytes, bytes, int]:
    path = tmp / "in.csv"
    path.write_bytes(data)
    staging = tmp / f"staging-{chunk_rows}"
    staging.mkdir()
    staged = score_file(
        path,
        scorer=scorer,
        model_name="m",
        model_version="1",
        staging=staging,
        chunk_rows=chunk_rows,
    )
    rejected = staged.rejected.read_bytes() if staged.rejected else b""
    return staged.scored.read_bytes(), rejected, staged.rows_rejected


def test_chunk_size_changes_nothing(tmp_path: Path, scorer: FraudScorer) -> None:
    data = _messy()
    results = {n: _score(tmp_path, data, scorer, n) for n in (1, 3, 7, 10_000)}
    assert len(set(results.values())) == 1, "outputs differ between chunk sizes"
    scored, rejected, rows_rejected = results[10_000]
    lines = rejected.decode().splitlines()[1:]
    rows = [int(line.split(",")[0]) for line in lines]
    assert rows == sorted(rows)
    assert sorted(set(rows)) == [5, 6, 10, 11, 20, 21, 30]
    assert rows_rejected == 7
    by_row = {int(line.split(",")[0]): line for line in lines}
    assert "expected 18 fields, found 17" in by_row[5]
    assert "expected 18 fields, found 19" in by_row[6]
    assert "same as row 1" in by_row[10]
    assert "not a boolean" in by_row[11]
    assert "same as row 2" in by_row[21]
    assert len(scored.decode().splitlines()) == 1 + 40 - 1 - 7  # header + 40 lines - blank - bad


def test_explain_adds_a_reasons_column_and_changes_no_score(
    tmp_path: Path, scorer: FraudScorer
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(sample_csv(rows=60, bad_rows=False, seed=5))
    outputs = {}
    for explain in (False, True):
        staging = tmp_path / f"staging-{explain}"
        staging.mkdir()
        staged = score_file(
            path,
            scorer=scorer,
            model_name="m",
            model_version="1",
            staging=staging,
            chunk_rows=25,
            explain=explain,
        )
        outputs[explain] = staged.scored.read_text().splitlines()
    plain, explained = outputs[False], outputs[True]
    assert explained[0] == plain[0] + ',"reasons"'
    assert len(explained) == len(plain) == 61
    for without, with_reasons in zip(plain[1:], explained[1:], strict=True):
        assert with_reasons.startswith(without + ",")
    assert any(" km " in line or "×" in line or "card" in line for line in explained[1:])
