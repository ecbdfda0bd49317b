"""Reading a file in chunks gives the same answer whatever the chunk size (no services)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import xgboost as xgb

from fraudops import datagen, inbox
from fraudops.features import FEATURE_NAMES, FEATURE_TYPES, features_from_table
from fraudops.inbox import Unparseable, classify, read_header, score_file, unsafe_name
from fraudops.model import FraudScorer
from fraudops.schema import COLUMNS_BY_NAME
from fraudops.storage import Entry
from fraudops.validation import REQUIRED, validate_batch
from tests.inbox.helpers import HEADER


@pytest.fixture(scope="module")
def scorer() -> FraudScorer:
    """A small booster: these tests check plumbing, not model quality."""
    data = datagen.generate_day(dt.date(2026, 1, 1), rows=3_000)
    matrix = xgb.DMatrix(
        features_from_table(data),
        data["is_fraud"].to_numpy(),
        feature_names=list(FEATURE_NAMES),
        feature_types=list(FEATURE_TYPES),
        enable_categorical=True,
    )
    booster = xgb.train({"max_depth": 3, "objective": "binary:logistic"}, matrix, 5)
    return FraudScorer(booster, threshold=0.5)


def _lines(rows: int, seed: int = 3) -> list[str]:
    return inbox.sample_csv(rows=rows, bad_rows=False, seed=seed).decode().splitlines()


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
    assert "first in row 1" in by_row[10]
    assert "not a boolean" in by_row[11]
    assert "first in row 2" in by_row[21]
    assert len(scored.decode().splitlines()) == 1 + 40 - 1 - 7  # header + 40 lines - blank - bad


def test_malformed_rows_keep_the_numbers_of_the_file() -> None:
    skipped = np.array([2, 3, 7], dtype=np.int64)
    rows = inbox._original_rows(0, 6, skipped)
    assert rows.tolist() == [1, 4, 5, 6, 8, 9]
    assert inbox._original_rows(3, 2, skipped).tolist() == [6, 8]
    assert inbox._original_rows(0, 3, np.zeros(0, np.int64)).tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \n\n", "empty file"),
        (b"\xef\xbb\xbf", "empty file"),
        (b"a,b\x00c\n", "not a text file"),
        (b"caf\xe9,b\n", "not UTF-8"),
        (b"x" * (inbox.HEADER_LIMIT + 10), "no header line"),
        (b"transaction_id,amount\n1,2\n", "missing required column(s)"),
        ((HEADER + ",age\n").encode(), "duplicate column(s): age"),
    ],
)
def test_headers_that_are_not_ours(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(Unparseable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_header(path)


def test_header_with_bom_quotes_spaces_and_crlf(tmp_path: Path) -> None:
    names = [f'"{n}"' if i % 2 else f" {n} " for i, n in enumerate(REQUIRED)]
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ",".join(names).encode() + b"\r\n")
    assert read_header(path) == list(REQUIRED)


@pytest.mark.parametrize(
    ("name", "kind", "verdict"),
    [
        ("day.csv", "file", "take"),
        ("DAY.CSV", "file", "take"),
        ("notes.txt", "file", None),
        (".upload.csv", "file", None),
        ("folder", "dir", None),
        ("link.csv", "link", "not a regular file"),
        ("../x.csv", "file", "unsafe file name"),
        ("a..b.csv", "file", "unsafe file name"),
        ("sub/x.csv", "file", "unsafe file name"),
        ("a\\x.csv", "file", "unsafe file name"),
        ("nul\x00.csv", "file", "unsafe file name"),
        ("new\nline.csv", "file", "unsafe file name"),
        ("rtl\u202etxt.csv", "file", "unsafe file name"),
        ("bad\udcff.csv", "file", "unsafe file name"),  # undecodable bytes from the OS
        ("x" * 250 + ".csv", "file", "unsafe file name"),
        ("ümlaut café.csv", "file", "take"),
    ],
)
def test_which_names_are_taken(name: str, kind: str, verdict: str | None) -> None:
    got = classify(Entry(name, kind, 1, "id"))  # type: ignore[arg-type]
    if verdict is None or verdict == "take":
        assert got == verdict
    else:
        assert got is not None
        assert got.startswith(verdict)
    if verdict == "take":
        assert unsafe_name(name) is None


def test_timestamp_verdict_does_not_depend_on_other_rows() -> None:
    """A form the fast cast accepts but the contract does not is refused either way."""
    col = COLUMNS_BY_NAME["event_ts"]
    base = inbox.sample_csv(rows=3, bad_rows=False).decode().splitlines()
    import io

    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        io.BytesIO(("\n".join(base) + "\n").encode()),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(REQUIRED, pa.string())),
    )
    ts = table[col.name].to_pylist()
    for odd in ("2026-03-01T10:00:00+0100", "2026-03-01 10:00Z"):
        alone = table.set_column(1, col.name, pa.array([ts[0], odd, ts[2]]))
        with_bad = table.set_column(1, col.name, pa.array(["garbage", odd, ts[2]]))
        assert validate_batch(alone).valid_rows.tolist() == [1, 3]
        assert validate_batch(with_bad).valid_rows.tolist() == [3]
    flags = table.set_column(6, "card_present", pa.array(["TRUE", "0", "yes"]))
    assert validate_batch(flags).valid["card_present"].to_pylist() == [True, False, True]
