"""``bench/inbox.py --baseline``: only the baseline contender runs the old sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import inbox, serve, startup


def test_only_the_baseline_runs_the_old_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = tmp_path / "old-src"
    given: dict[str, Path | None] = {}

    def measure(kind: str, *args: Any) -> dict[str, Any]:
        given[kind] = args[-1]
        return {"rows": 10, "seconds": 1.0, "peak_mib": 1.0, "stages": {}}

    def write_csv(path: Path, rows: int) -> None:
        path.write_text("transaction_id\n")

    monkeypatch.setattr(serve, "build_model", lambda home: (None, home / "scorer"))
    monkeypatch.setattr(startup, "sources_of", lambda rev, into: old)
    monkeypatch.setattr(inbox, "measure", measure)
    monkeypatch.setattr(inbox, "write_csv", write_csv)
    monkeypatch.setattr(inbox, "report", lambda results, rows: None)

    inbox.main(["--rows", "10", "--only", "pyarrow", "fraudops", "--baseline", "HEAD~1"])

    assert given == {"pyarrow": None, "fraudops": None, "baseline": old}
