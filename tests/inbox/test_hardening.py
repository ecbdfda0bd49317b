"""Nothing a file can do stops the inbox or loses a row (each test a defect found by review)."""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import asdict
from pathlib import Path

import pyarrow.compute as pc
import pytest

from fraudops import inbox
from fraudops.cardhistory import sources
from fraudops.config import Settings
from fraudops.demo import sample_csv
from fraudops.errors import FraudOpsError
from fraudops.inbox import claimscore, scorefile
from fraudops.inbox.ledger import Claim, ClaimState, now
from fraudops.lake import appends as scores_module
from tests.support.inbox import (
    HEADER,
    get,
    hash_snapshots,
    inbox_settings,
    local_root,
    names,
    put,
    rejected,
    scored,
    scores,
    sha256,
)

GOOD = sample_csv(rows=300, bad_rows=False, seed=31)


def _report(summary: inbox.InboxSummary, name: str) -> inbox.FileReport:
    return next(r for r in summary.reports if r.file == name)


def test_a_huge_header_field_is_quarantined_and_the_rest_scored(fresh_inbox: Settings) -> None:
    huge = (HEADER + "," + "x" * 200_000 + "\n").encode() + GOOD.split(b"\n", 1)[1]
    put(fresh_inbox, "incoming/a-huge.csv", huge)
    put(fresh_inbox, "incoming/b-good.csv", GOOD)

    summary = inbox.score_inbox(fresh_inbox)

    bad = _report(summary, "a-huge.csv")
    assert bad.status == "quarantined"
    assert bad.reason
    assert _report(summary, "b-good.csv").rows_scored == 300
    assert names(fresh_inbox, "ledger/claims") == []
    assert inbox.score_inbox(fresh_inbox).files == 0  # nothing left behind to trip over


def test_a_file_failing_in_an_unexpected_way_is_quarantined_with_the_reason(
    fresh_inbox: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = scorefile.score_file

    def flaky(path: Path, **kwargs: object) -> scorefile.Staged:
        if path.read_bytes().startswith(b"\xef\xbb\xbf"):
            raise KeyError("a bug met by this file only")
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scorefile, "score_file", flaky)
    monkeypatch.setattr(claimscore, "score_file", flaky)
    put(fresh_inbox, "incoming/a-bom.csv", b"\xef\xbb\xbf" + GOOD)
    put(fresh_inbox, "incoming/b-good.csv", GOOD)

    summary = inbox.score_inbox(fresh_inbox)

    bad = _report(summary, "a-bom.csv")
    assert bad.status == "quarantined"
    assert bad.reason is not None and "KeyError" in bad.reason
    assert _report(summary, "b-good.csv").rows_scored == 300
    assert names(fresh_inbox, "quarantine") == ["a-bom.csv", "a-bom.error.json"]


def test_many_columns_are_refused_before_parsing(fresh_inbox: Settings) -> None:
    # 150,000 columns of the same one-letter name: a quadratic check never ends on this
    header = HEADER + ",a" * 150_000
    put(fresh_inbox, "incoming/wide.csv", (header + "\n").encode())

    summary = inbox.score_inbox(fresh_inbox)

    report = _report(summary, "wide.csv")
    assert report.status == "quarantined"
    assert report.reason is not None and "columns" in report.reason


def test_a_long_value_is_reported_shortened(fresh_inbox: Settings) -> None:
    lines = GOOD.decode().splitlines()
    row = next(csv.reader([lines[1]]))
    row[0] = "y" * 100_000  # transaction_id far over 64 characters
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    put(fresh_inbox, "incoming/long.csv", ("\n".join([lines[0], out.getvalue()]) + "\n").encode())

    inbox.score_inbox(fresh_inbox)

    [value] = rejected(fresh_inbox, "long")["value"].to_pylist()
    assert len(value) < 1_100
    assert value.startswith("yyyy")


FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tx"]


def test_spreadsheet_formulas_are_neutralised_in_the_outputs(fresh_inbox: Settings) -> None:
    lines = GOOD.decode().splitlines()
    rows = [next(csv.reader([line])) for line in lines[1 : len(FORMULAS) + 2]]
    for row, formula in zip(rows, FORMULAS, strict=False):
        row[0] = formula
    rows[-1][5] = "=1+1"  # an invalid channel: the value is echoed in the rejected file
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([next(csv.reader([lines[0]])), *rows])
    put(fresh_inbox, "incoming/formulas.csv", out.getvalue().encode())

    inbox.score_inbox(fresh_inbox)

    ids = scored(fresh_inbox, "formulas")["transaction_id"].to_pylist()
    assert ids == ["'" + f for f in FORMULAS]
    text = get(fresh_inbox, "outbox/formulas.rejected.csv")
    assert text is not None and b"'=1+1" in text
    assert scores(fresh_inbox)["transaction_id"].to_pylist() == FORMULAS  # the lake keeps ids


def test_hidden_uploads_in_progress_are_left_alone(fresh_inbox: Settings) -> None:
    put(fresh_inbox, "incoming/.report..csv.part", b"half an upload")

    summary = inbox.score_inbox(fresh_inbox)

    assert summary.reports == []
    assert names(fresh_inbox, "incoming") == [".report..csv.part"]


@pytest.fixture
def local_inbox(trained_settings: Settings, tmp_path: Path) -> Settings:
    return inbox_settings(trained_settings, tmp_path / "inbox-home", "local")


def test_a_file_still_being_written_is_left_for_the_next_run(
    local_inbox: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = sample_csv(rows=2_001, bad_rows=False, seed=32).decode().splitlines(keepends=True)
    first, rest = "".join(lines[:1_001]), "".join(lines[1_001:])
    path = local_root(local_inbox) / "incoming" / "live.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(first)
    real = scorefile.score_file

    def writer_still_writing(claimed: Path, **kwargs: object) -> scorefile.Staged:
        staged = real(claimed, **kwargs)  # type: ignore[arg-type]
        with open(claimed, "a") as fh:  # the writer's handle follows the renamed file
            fh.write(rest)
        return staged

    monkeypatch.setattr(scorefile, "score_file", writer_still_writing)
    monkeypatch.setattr(claimscore, "score_file", writer_still_writing)

    summary = inbox.score_inbox(local_inbox)

    assert _report(summary, "live.csv").status == "changing"
    assert names(local_inbox, "outbox") == []  # nothing of the half-written file published
    assert names(local_inbox, "processed") == []
    assert names(local_inbox, "claimed") == ["live.csv"]  # kept for the next run
    monkeypatch.setattr(claimscore, "score_file", real)

    again = inbox.score_inbox(local_inbox)

    assert _report(again, "live.csv").rows_scored == 2_001
    assert scores(local_inbox).num_rows == 2_001


def expire_lease(settings: Settings) -> None:
    """Move the S3 lock's expiry into the past, as the clock would after a long pause."""
    lock = json.loads(get(settings, ".lock") or b"{}")
    lock["expires_at"] = "2000-01-01T00:00:00+00:00"
    put(settings, ".lock", json.dumps(lock).encode())


@pytest.mark.integration
def test_a_run_that_outlives_its_lease_cannot_commit_twice(
    trained_settings: Settings,
    tmp_path: Path,
    s3: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = inbox_settings(trained_settings, tmp_path / "lease", "s3", s3)
    put(settings, "incoming/late.csv", GOOD)
    checked, resume = threading.Event(), threading.Event()
    real_check = scores_module.committed_snapshot
    main = threading.current_thread()

    def paused_after_check(table: object, content_hash: str) -> int | None:
        found = real_check(table, content_hash)  # type: ignore[arg-type]
        if threading.current_thread() is not main and not checked.is_set():
            checked.set()  # run A has looked: not committed yet
            assert resume.wait(60)
        return found

    monkeypatch.setattr(scores_module, "committed_snapshot", paused_after_check)
    outcome: dict[str, BaseException | inbox.InboxSummary] = {}

    def run_a() -> None:
        try:
            outcome["a"] = inbox.score_inbox(settings)
        except BaseException as exc:  # noqa: BLE001  (the test reads it)
            outcome["a"] = exc

    thread = threading.Thread(target=run_a)
    thread.start()
    assert checked.wait(60)
    expire_lease(settings)  # A is paused past its lease (a VM pause, a stuck task)
    b = inbox.score_inbox(settings)  # takes over the stale lock and finishes the file
    resume.set()
    thread.join(60)

    assert _report(b, "late.csv").rows_scored == 300
    assert isinstance(outcome["a"], FraudOpsError), outcome["a"]
    assert "lock" in str(outcome["a"])
    rows = scores(settings)
    assert rows.num_rows == 300
    assert len(pc.unique(rows["transaction_id"])) == 300
    assert hash_snapshots(settings, sha256(GOOD)) == 1
    assert names(settings, "processed") == ["late.csv"]


@pytest.mark.integration
def test_a_run_that_outlives_its_lease_writes_no_claim_after_the_next_run_finished(
    trained_settings: Settings,
    tmp_path: Path,
    s3: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = inbox_settings(trained_settings, tmp_path / "lease", "s3", s3)
    put(settings, "incoming/late.csv", GOOD)
    scored, resume = threading.Event(), threading.Event()
    real_score = scorefile.score_file
    main = threading.current_thread()

    def paused_after_scoring(path: Path, **kwargs: object) -> scorefile.Staged:
        staged = real_score(path, **kwargs)  # type: ignore[arg-type]
        if threading.current_thread() is not main and not scored.is_set():
            scored.set()  # run A has scored the file, and stops here for a while
            assert resume.wait(60)
        return staged

    monkeypatch.setattr(claimscore, "score_file", paused_after_scoring)
    outcome: dict[str, BaseException | inbox.InboxSummary] = {}

    def run_a() -> None:
        try:
            outcome["a"] = inbox.score_inbox(settings)
        except BaseException as exc:  # noqa: BLE001  (the test reads it)
            outcome["a"] = exc

    thread = threading.Thread(target=run_a)
    thread.start()
    assert scored.wait(60)
    expire_lease(settings)
    b = inbox.score_inbox(settings)  # takes over and finishes the file, A's claim included
    resume.set()
    thread.join(60)

    assert _report(b, "late.csv").rows_scored == 300
    assert isinstance(outcome["a"], FraudOpsError), outcome["a"]
    assert "lock" in str(outcome["a"])
    assert names(settings, "ledger/claims") == []  # no claim for a third run to call missing
    assert inbox.score_inbox(settings).reports == []
    assert scores(settings).num_rows == 300


def test_a_claim_written_after_its_file_was_finished_is_dropped_quietly(
    local_inbox: Settings,
) -> None:
    put(local_inbox, "incoming/done.csv", GOOD)
    inbox.score_inbox(local_inbox)
    # what a run that lost its lock writes when it is paused between its lock check and the
    # write, and the run that took the lock over finishes the file meanwhile
    stale = Claim(
        name="done.csv",
        source="paused",
        claimed_at=now(),
        state=ClaimState.SCORING,
        content_hash=sha256(GOOD),
        out="done",
        model_name="fraud-detector",
        model_version="1",
        scored_at=now(),
    )
    put(local_inbox, "ledger/claims/done.csv.json", json.dumps(asdict(stale)).encode())

    summary = inbox.score_inbox(local_inbox)

    assert summary.reports == []  # not reported missing: it was scored
    assert names(local_inbox, "ledger/claims") == []
    assert scores(local_inbox).num_rows == 300


def _lake_failing(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The lake's card history fails ``times`` times (a catalog restart, a lost warehouse)."""
    real = sources.lake_history
    calls: list[int] = []

    def failing(settings: Settings, snapshot_id: int | None) -> object:
        calls.append(1)
        if len(calls) <= times:
            raise OSError("the catalog closed the connection unexpectedly")
        return real(settings, snapshot_id)

    monkeypatch.setattr(sources, "lake_history", failing)
    monkeypatch.setattr(claimscore, "LAKE_RETRY_SECONDS", 0.0)
    return calls


def test_a_lake_failing_while_a_file_is_scored_leaves_it_in_flight(
    fresh_inbox: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lake_failing(monkeypatch, times=10**6)
    put(fresh_inbox, "incoming/a-good.csv", GOOD)

    summary = inbox.score_inbox(fresh_inbox)

    report = _report(summary, "a-good.csv")
    assert report.status == "failed"  # the world's fault: never the file's
    assert report.reason is not None and "card history" in report.reason
    assert names(fresh_inbox, "quarantine") == []
    monkeypatch.undo()  # the lake is back
    again = inbox.score_inbox(fresh_inbox)
    assert _report(again, "a-good.csv").rows_scored == 300
    assert scores(fresh_inbox).num_rows == 300


def test_a_lake_failing_once_is_read_again_in_the_same_run(
    fresh_inbox: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _lake_failing(monkeypatch, times=1)
    put(fresh_inbox, "incoming/a-good.csv", GOOD)

    summary = inbox.score_inbox(fresh_inbox)

    assert _report(summary, "a-good.csv").rows_scored == 300
    assert len(calls) == 2


def test_a_lake_failing_once_as_a_file_is_claimed_is_read_again(
    fresh_inbox: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sources.lake_snapshot
    calls: list[int] = []

    def failing(settings: Settings) -> int | None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the catalog closed the connection unexpectedly")
        return real(settings)

    monkeypatch.setattr(sources, "lake_snapshot", failing)
    monkeypatch.setattr(claimscore, "LAKE_RETRY_SECONDS", 0.0)
    put(fresh_inbox, "incoming/a-good.csv", GOOD)

    assert _report(inbox.score_inbox(fresh_inbox), "a-good.csv").rows_scored == 300
    assert len(calls) == 2
