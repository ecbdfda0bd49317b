"""The one CSV reader: headers that are not ours, row numbers kept around malformed rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraudops import csvio
from fraudops.csvio import Unparseable, read_header
from fraudops.validation import REQUIRED
from tests.support.inbox import HEADER


def test_malformed_rows_keep_the_numbers_of_the_file() -> None:
    skipped = np.array([2, 3, 7], dtype=np.int64)
    rows = csvio._original_rows(0, 6, skipped)
    assert rows.tolist() == [1, 4, 5, 6, 8, 9]
    assert csvio._original_rows(3, 2, skipped).tolist() == [6, 8]
    assert csvio._original_rows(0, 3, np.zeros(0, np.int64)).tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \n\n", "empty file"),
        (b"\xef\xbb\xbf", "empty file"),
        (b"a,b\x00c\n", "not a text file"),
        (b"caf\xe9,b\n", "not UTF-8"),
        (b"x" * (csvio.HEADER_LIMIT + 10), "no header line"),
        (b"transaction_id,amount\n1,2\n", "missing required column(s)"),
        ((HEADER + ",age\n").encode(), "duplicate column(s): age"),
        # a spreadsheet's export in a locale whose lists use another separator
        (
            (HEADER.replace(",", ";") + "\n").encode(),
            "split by ';': a CSV of transactions is comma",
        ),
        (
            (HEADER.replace(",", "\t") + "\n").encode(),
            "split by '\\\\t': a CSV of transactions is comma",
        ),
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
