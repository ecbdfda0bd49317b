"""What happened to the production alias: promotions, refusals, approvals, rollbacks, shadows.

The history is kept in the registry itself, no second store: each event is one tag on the
version it is about, ``fraudops.history.<when>-<nonce>`` holding a small JSON document. Tags
are only ever added, so two writers never overwrite each other's events.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fraudops.config import Settings
from fraudops.gate import Decision

if TYPE_CHECKING:  # MLflow loads when the history is first read or written
    from mlflow.tracking import MlflowClient

HISTORY = "fraudops.history."


class Kind(StrEnum):
    """What an event did."""

    PROMOTED = "promoted"  # the gate moved production to the version
    REFUSED = "refused"  # the gate kept the version out
    AWAITING = "awaiting-approval"  # the gate passed it; a person has to approve it
    APPROVED = "approved"  # a person moved production to the version the gate passed
    REJECTED = "rejected"  # a person kept the version the gate passed out of production
    ROLLED_BACK = "rolled-back"  # production moved back to the version before
    SHADOW_STARTED = "shadow-started"  # the API scores live traffic with it too, unanswered
    SHADOW_STOPPED = "shadow-stopped"  # the API no longer scores with it


MOVES = (Kind.PROMOTED, Kind.APPROVED, Kind.ROLLED_BACK)


@dataclass(frozen=True)
class Event:
    """One event of the production alias's history."""

    kind: Kind
    version: str  # the version the event is about (production after a move)
    previous: str | None  # production before the event
    by: str
    at: str  # ISO 8601, UTC, microseconds: events sort by it
    reason: str
    candidate_ap: float | None = None
    champion_ap: float | None = None
    candidate_saved_per_day: float | None = None  # cost saved a day on the gate's holdout
    champion_saved_per_day: float | None = None

    @property
    def why(self) -> str:
        """The reason without the "approved by alice: " a person's answer starts with (``by``)."""
        return self.reason.removeprefix(signed(self.kind, self.by))

    @property
    def moved(self) -> bool:
        """Whether the event moved ``@production``."""
        return self.kind in MOVES

    def as_json(self) -> str:
        """The tag value."""
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Event:
        """An event read back from its tag."""
        got: dict[str, Any] = json.loads(text)
        return cls(**{**got, "kind": Kind(got["kind"])})


def signed(kind: Kind, who: str) -> str:
    """How the reason of a person's answer starts: "approved by alice: "."""
    return f"{kind} by {who}: "


def actor(by: str | None = None) -> str:
    """Who acts: ``by`` when given, else the operating-system user."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "unknown"


def now() -> str:
    """The current time as events record it."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def from_decision(decision: Decision, kind: Kind, *, by: str) -> Event:
    """The event of a gate decision."""
    return Event(
        kind=kind,
        version=decision.candidate_version,
        previous=decision.champion_version,
        by=by,
        at=now(),
        reason=decision.reason,
        candidate_ap=decision.candidate_ap,
        champion_ap=decision.champion_ap,
        candidate_saved_per_day=decision.candidate_saved_per_day,
        champion_saved_per_day=decision.champion_saved_per_day,
    )


def record(client: MlflowClient, settings: Settings, event: Event) -> Event:
    """Add an event to the history (a new tag on its version)."""
    stamp = event.at.replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    key = f"{HISTORY}{stamp}-{secrets.token_hex(3)}"
    client.set_model_version_tag(settings.model_name, event.version, key, event.as_json())
    return event


def record_move(
    client: MlflowClient, settings: Settings, event: Event, *, again: bool = False
) -> Event | None:
    """Record an event that moved production; ``again``: production was that version already.

    Gating the version production serves moves nothing, so it is recorded only when the
    history's last move did not put that version there (the alias moved by hand, or a crash
    between the alias's move and its event), and then from the version that move left.
    """
    if not again:
        return record(client, settings, event)
    last = next((e for e in reversed(events(client, settings)) if e.moved), None)
    if last is not None and last.version == event.version:
        return None
    previous = last.version if last else None
    return record(client, settings, dataclasses.replace(event, previous=previous))


def events(client: MlflowClient, settings: Settings) -> list[Event]:
    """Every event of the model's history, oldest first."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name='{settings.model_name}'")
    except MlflowException:
        return []
    found = [
        (key, Event.from_json(value))
        for v in versions
        for key, value in (v.tags or {}).items()
        if key.startswith(HISTORY)
    ]
    return [event for _, event in sorted(found, key=lambda kv: (kv[1].at, kv[0]))]


def previous_production(history: list[Event], current: str | None) -> str | None:
    """The version production held before ``current`` became production (None: none).

    Promotions and approvals push a version; a rollback pops one: rolling back twice goes
    two versions back, not back and forth.
    """
    served: list[str] = []
    for event in history:
        if event.kind is Kind.ROLLED_BACK:
            if served:
                served.pop()
            if not served or served[-1] != event.version:
                served.append(event.version)
        elif event.moved:
            served.append(event.version)
    while served and served[-1] == current:
        served.pop()
    return served[-1] if served else None
