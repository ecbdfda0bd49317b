"""What the CLI prints: outside text shown literally, a file's outputs one per line, counts
said with what they count, a version that does not exist said in one line."""

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST

from fraudops.cardhistory.backfill import Backfill
from fraudops.cli.batch import print_inbox
from fraudops.cli.common import console, facts, guarded, out
from fraudops.cli.features import print_backfill
from fraudops.cli.release import print_history
from fraudops.history import Event, Kind
from fraudops.inbox.ledger import Outcome
from fraudops.inbox.report import FileReport, InboxSummary


def _printed(*reports: FileReport) -> str:
    summary = InboxSummary.of(
        list(reports), inbox="/srv/inbox", outbox="/srv/inbox/outbox", seconds=0.5
    )
    with out.capture() as printed:
        print_inbox(summary)
    return printed.get()


def test_a_scored_file_lists_each_output_on_its_own_line():
    scored = FileReport(
        file="day.csv",
        status=Outcome.SCORED,
        rows_scored=993,
        rows_rejected=7,
        outputs={
            "scored": "/srv/inbox/outbox/day.scored.csv",
            "rejected": "/srv/inbox/outbox/day.rejected.csv",
        },
    )
    text = _printed(scored)
    assert "\\n" not in text
    lines = text.splitlines()
    assert any("outbox/day.scored.csv" in line for line in lines)
    assert any("outbox/day.rejected.csv" in line for line in lines)
    assert not any("day.scored.csv" in line and "day.rejected" in line for line in lines)


def test_a_file_name_with_control_characters_is_shown_escaped():
    odd = FileReport(
        file="evil\x1b[31m.csv",
        status=Outcome.QUARANTINED,
        reason="unreadable\nheader",
    )
    text = _printed(odd)
    assert "\x1b" not in text
    assert "\\x1b" in text
    assert "\\n" in text  # a reason's newline from outside stays one line


def test_a_backfill_says_what_the_store_holds():
    done = Backfill(
        store="sqlite:///home/feature-store.db",
        version="card-history-1",
        days=["2026-01-01", "2026-01-30"],
        transactions=600_000,
        loaded=600_000,
        cards=10_000,
        events=600_000,
        seconds=4.8,
    )
    with out.capture() as printed:
        print_backfill(done)
    text = " ".join(printed.get().split())
    assert "600,000 of 600,000 transactions (2026-01-01..2026-01-30) loaded" in text
    assert "it holds 600,000 transactions of 10,000 cards (card-history-1)" in text


def _unboxed(text: str) -> str:
    """The printed text without the table's borders and padding: wrapped values rejoined."""
    return "".join(ch for ch in text if ch not in "│┃┏┓┗┛┡┩└┘┌┐├┤─━┳┻╇┼┬┴ \n")


def test_a_long_path_wraps_in_full_in_a_narrow_terminal(monkeypatch):
    monkeypatch.setattr(out, "width", 60)
    report = "file:///srv/fraudops/home/mlflow/monitoring-artifacts/0e5ecf14/report/drift.html"
    table = facts("monitor")
    table.add_row("report", report)
    with out.capture() as printed:
        out.print(table)
    assert report in _unboxed(printed.get())

    outputs = {"scored": "/srv/inbox/outbox/a-long-name-of-a-daily-export-2026-03-01.scored.csv"}
    scored = FileReport(file="x.csv", status=Outcome.SCORED, rows_scored=1, outputs=outputs)
    assert "outbox/a-long-name-of-a-daily-export-2026-03-01.scored.csv" in _unboxed(
        _printed(scored)
    )


def test_the_history_keeps_each_reason_whole_and_each_event_on_a_line(monkeypatch):
    monkeypatch.setattr(out, "width", 80)
    gate = "candidate saves 478,522.42 a day >= champion's 478,522.42 - margin 0.00"
    found = [
        Event(Kind.AWAITING, "2", "1", "root", "2026-12-03T17:22:48.000001", gate, 0.77, 0.76),
        Event(
            Kind.APPROVED,
            "2",
            "1",
            "alice",
            "2026-12-03T17:30:00.000001",
            f"approved by alice: the gate: {gate}",
            candidate_saved_per_day=478_522.42,
            champion_saved_per_day=478_000.0,
        ),
    ]
    with out.capture() as printed:
        print_history("fraud-detector", "production", found)
    text = printed.get()
    flat = " ".join(text.split())
    assert f"the gate: {gate}" in flat  # whole, not squeezed into a narrow column
    assert "approved by alice" not in flat  # who is said once: in the event's line
    headers = [line for line in text.splitlines() if line.startswith("2026-12-03")]
    assert len(headers) == 2
    assert "APPROVED" in headers[1] and "version 2 (was 1)" in headers[1]
    assert "by alice" in headers[1] and "478,522.42" in headers[1]


def test_a_version_that_does_not_exist_is_one_line_and_exit_code_2():
    def missing():
        raise MlflowException(
            "Model Version (name=fraud-detector, version=99) not found",
            error_code=RESOURCE_DOES_NOT_EXIST,
        )

    with console.capture() as printed, pytest.raises(SystemExit) as stopped:
        guarded(missing)
    assert stopped.value.code == 2
    assert (
        printed.get().strip() == "error: Model Version (name=fraud-detector, version=99) not found"
    )

    def refused():  # any other MLflow error is not the user's to fix: it goes on
        raise MlflowException("the server said no", error_code=INTERNAL_ERROR)

    with pytest.raises(MlflowException, match="the server said no"):
        guarded(refused)
