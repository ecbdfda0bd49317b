"""Which entries of incoming/ an inbox run takes, leaves alone or quarantines."""

from __future__ import annotations

import pytest

from fraudops.inbox.names import Verdict, classify, unsafe_name
from fraudops.inbox.storage import Entry


@pytest.mark.parametrize(
    ("name", "kind", "verdict"),
    [
        ("day.csv", "file", "take"),
        ("DAY.CSV", "file", "take"),
        ("notes.txt", "file", None),
        (".upload.csv", "file", None),
        (".report..csv.part", "file", None),  # an upload in progress, whatever its name
        (".bell\x07.csv", "file", None),
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
    got, reason = classify(Entry(name, kind, 1, "id"))  # type: ignore[arg-type]
    if verdict is None:
        assert (got, reason) == (Verdict.LEAVE, None)
    elif verdict == "take":
        assert (got, reason) == (Verdict.TAKE, None)
        assert unsafe_name(name) is None
    else:
        assert got == Verdict.QUARANTINE
        assert reason is not None
        assert reason.startswith(verdict)
