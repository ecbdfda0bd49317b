"""What the CLI prints: outside text shown literally, a file's outputs one per line."""

from fraudops.cli.batch import print_inbox
from fraudops.cli.common import out
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
