"""The history's rule for "the version before": promotions push, rollbacks pop."""

from __future__ import annotations

from fraudops.history import Event, Kind, previous_production


def _e(kind: Kind, version: str, previous: str | None = None) -> Event:
    return Event(kind, version, previous, by="t", at="2026-01-01T00:00:00.000000+00:00", reason="")


def test_the_version_before_the_current_one():
    events = [_e(Kind.PROMOTED, "1"), _e(Kind.PROMOTED, "2", "1"), _e(Kind.APPROVED, "4", "2")]
    assert previous_production(events, "4") == "2"


def test_refusals_and_waiting_candidates_never_served():
    events = [
        _e(Kind.PROMOTED, "1"),
        _e(Kind.REFUSED, "2", "1"),
        _e(Kind.AWAITING, "3", "1"),
    ]
    assert previous_production(events, "1") is None


def test_rolling_back_twice_goes_two_versions_back():
    events = [_e(Kind.PROMOTED, "1"), _e(Kind.PROMOTED, "2", "1"), _e(Kind.PROMOTED, "3", "2")]
    events.append(_e(Kind.ROLLED_BACK, "2", "3"))
    assert previous_production(events, "2") == "1"


def test_an_alias_moved_by_hand_rolls_back_to_the_last_recorded_version():
    events = [_e(Kind.PROMOTED, "1"), _e(Kind.PROMOTED, "2", "1")]
    assert previous_production(events, "7") == "2"


def test_an_event_reads_back_from_its_tag():
    event = _e(Kind.ROLLED_BACK, "2", "3")
    assert Event.from_json(event.as_json()) == event
