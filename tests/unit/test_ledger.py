"""The inbox ledger: claim states move only forward, through one transition function."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudops.inbox.ledger import (
    TRANSITIONS,
    Claim,
    ClaimState,
    InvalidTransition,
    Ledger,
    Outcome,
)
from fraudops.inbox.storage import LocalStorage


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    store = LocalStorage(tmp_path / "inbox")
    store.ensure()
    return Ledger(store)


def test_every_state_is_in_the_table_and_final_states_lead_nowhere() -> None:
    assert set(TRANSITIONS) == set(ClaimState)
    for final in (ClaimState.COMMITTED, ClaimState.DUPLICATE, ClaimState.QUARANTINED):
        assert TRANSITIONS[final] == frozenset()


def test_a_scored_file_walks_claimed_scoring_published_committed(ledger: Ledger) -> None:
    claim = Claim(name="a.csv", source="id-1", claimed_at="t0")
    ledger.save(claim)

    ledger.advance(claim, ClaimState.SCORING, content_hash="h", out="a", model_version="3")
    ledger.advance(claim, ClaimState.PUBLISHED, rows_scored=10, rows_rejected=2)
    ledger.advance(claim, ClaimState.COMMITTED, snapshot_id=42)

    [stored] = ledger.in_flight()
    assert stored == claim
    assert (stored.state, stored.snapshot_id, stored.model_version) == ("committed", 42, "3")


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (ClaimState.CLAIMED, ClaimState.PUBLISHED),
        (ClaimState.CLAIMED, ClaimState.COMMITTED),
        (ClaimState.SCORING, ClaimState.COMMITTED),
        (ClaimState.PUBLISHED, ClaimState.QUARANTINED),
        (ClaimState.COMMITTED, ClaimState.SCORING),
        (ClaimState.DUPLICATE, ClaimState.SCORING),
    ],
)
def test_skipping_or_going_back_is_refused(
    ledger: Ledger, start: ClaimState, target: ClaimState
) -> None:
    claim = Claim(name="a.csv", source="id-1", claimed_at="t0", state=start)

    with pytest.raises(InvalidTransition):
        ledger.advance(claim, target)

    assert claim.state == start
    assert ledger.in_flight() == []  # nothing recorded


def test_unknown_fields_are_refused(ledger: Ledger) -> None:
    claim = Claim(name="a.csv", source="id-1", claimed_at="t0")

    with pytest.raises(AttributeError, match="no field"):
        ledger.advance(claim, ClaimState.SCORING, colour="red")


def test_finished_content_is_recognised_and_the_claim_dropped(ledger: Ledger) -> None:
    claim = Claim(name="a.csv", source="id-1", claimed_at="t0")
    ledger.advance(claim, ClaimState.SCORING, content_hash="abc", out="a", model_version="1")
    ledger.advance(claim, ClaimState.PUBLISHED, rows_scored=5)
    ledger.advance(claim, ClaimState.COMMITTED)

    ledger.finish(claim, Outcome.SCORED)

    assert ledger.in_flight() == []
    record = ledger.content("abc")
    assert record is not None
    assert (record.status, record.name, record.rows_scored) == (Outcome.SCORED, "a.csv", 5)
    assert ledger.content("other") is None


def test_a_temporary_file_of_a_cut_write_is_not_a_claim(ledger: Ledger, tmp_path: Path) -> None:
    claims = tmp_path / "inbox" / "ledger" / "claims"
    claims.mkdir(parents=True)
    (claims / ".a.csv.json.123.tmp").write_text("{")

    assert ledger.in_flight() == []
