"""The ledger: what has been decided and done for each file, written before each step's effect.

A file in flight has a claim record (``ledger/claims/<name>.json``) whose state says which
step comes next; a finished file has a content record (``ledger/content/<sha256>.json``), so
the same bytes dropped again under any name are recognised. States move along
:data:`TRANSITIONS`, through :meth:`Ledger.advance`, forward except in one case::

    claimed -> scoring -> published -> committed      (scored)
            -> duplicate                              (same content as a scored file)
            -> quarantined   (also from scoring)      (not a CSV of transactions)
    scoring -> claimed                                (the file changed while it was read:
                                                       started again by the next run)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from fraudops.inbox.names import CLAIMS, CONTENT
from fraudops.inbox.storage import Storage


class ClaimState(enum.StrEnum):
    """Where a claimed file is on its way."""

    CLAIMED = "claimed"  # taken from incoming/; nothing decided yet
    SCORING = "scoring"  # content hash, output name and model version pinned
    PUBLISHED = "published"  # outbox files in place
    COMMITTED = "committed"  # rows in fraud.scores; the snapshot carries the content hash
    DUPLICATE = "duplicate"  # same bytes as a file already scored
    QUARANTINED = "quarantined"  # not a CSV of transactions


TRANSITIONS: dict[ClaimState, frozenset[ClaimState]] = {
    ClaimState.CLAIMED: frozenset(
        {ClaimState.SCORING, ClaimState.DUPLICATE, ClaimState.QUARANTINED}
    ),
    ClaimState.SCORING: frozenset(
        {ClaimState.PUBLISHED, ClaimState.QUARANTINED, ClaimState.CLAIMED}
    ),
    ClaimState.PUBLISHED: frozenset({ClaimState.COMMITTED}),
    ClaimState.COMMITTED: frozenset(),
    ClaimState.DUPLICATE: frozenset(),
    ClaimState.QUARANTINED: frozenset(),
}


class Outcome(enum.StrEnum):
    """How a file's run ended."""

    SCORED = "scored"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    MISSING = "missing"  # the claimed input disappeared before it was scored
    CHANGING = "changing"  # still being written: left for the next run
    FAILED = "failed"  # an error outside the file (storage, registry): tried again next run


def now() -> str:
    """The time as the ledger writes it (UTC, ISO-8601)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass
class Claim:
    """A file in flight (``ledger/claims/<name>.json``)."""

    name: str
    source: str  # identity of the incoming object that was claimed
    claimed_at: str
    claimed_identity: str | None = None  # identity in claimed/ when its content was hashed
    state: ClaimState = ClaimState.CLAIMED
    content_hash: str | None = None
    out: str | None = None  # stem of every output of this file
    model_name: str | None = None
    model_version: str | None = None
    history_snapshot_id: int | None = None  # fraud.transactions read for card histories
    scored_at: str | None = None
    rows_scored: int = 0
    rows_rejected: int = 0
    rejected_file: bool = False
    snapshot_id: int | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        self.state = ClaimState(self.state)

    @property
    def key(self) -> str:
        """Where the claim record lives."""
        return f"{CLAIMS}/{self.name}.json"


@dataclass(frozen=True)
class ContentRecord:
    """A finished file, by content (``ledger/content/<sha256>.json``)."""

    content_hash: str
    status: Outcome
    name: str
    out: str | None
    model_name: str | None = None
    model_version: str | None = None
    snapshot_id: int | None = None
    rows_scored: int = 0
    rows_rejected: int = 0
    reason: str | None = None
    finished_at: str | None = None


class InvalidTransition(RuntimeError):
    """A step tried to move a claim somewhere its state does not lead."""


class Ledger:
    """Claim and content records in an inbox's storage.

    ``guard`` runs before every write: a run that lost the inbox lock (its lease ran out while
    it was paused) must not write a record after the run that took the lock over finished the
    same file, or that record would bring the file back as in flight.
    """

    def __init__(self, store: Storage, *, guard: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.guard = guard

    def save(self, claim: Claim) -> None:
        """Write the claim record (atomically)."""
        self.guard()
        self.store.write_json(claim.key, asdict(claim))

    def advance(self, claim: Claim, state: ClaimState, **changes: Any) -> None:
        """The one transition: check it is allowed, apply the changes, record it."""
        if state not in TRANSITIONS[claim.state]:
            raise InvalidTransition(f"{claim.name}: {claim.state} cannot lead to {state}")
        for name, value in changes.items():
            if name not in _CLAIM_FIELDS:
                raise AttributeError(f"a claim has no field {name!r}")
            setattr(claim, name, value)
        claim.state = state
        self.save(claim)

    def forget(self, claim: Claim) -> None:
        """Drop a claim record that stands for no work (its file was finished)."""
        self.guard()
        self.store.delete(claim.key)

    def in_flight(self) -> list[Claim]:
        """Claim records a previous run left (in name order)."""
        claims = []
        for entry in sorted(self.store.list(CLAIMS), key=lambda e: e.name):
            if entry.kind != "file" or entry.name.startswith(".") or "/" in entry.name:
                continue  # a temporary file of an interrupted write
            record = self.store.read_json(f"{CLAIMS}/{entry.name}")
            if isinstance(record, dict):
                claims.append(Claim(**record))
        return claims

    def content(self, digest: str) -> ContentRecord | None:
        """The record of finished content, if this content was seen before."""
        record = self.store.read_json(f"{CONTENT}/{digest}.json")
        if not isinstance(record, dict):
            return None
        fields = {f.name for f in dataclasses.fields(ContentRecord)}
        return ContentRecord(**{k: v for k, v in record.items() if k in fields})

    def finish(self, claim: Claim, outcome: Outcome) -> None:
        """Record a scored or quarantined file by content, then drop its claim."""
        self.guard()
        if outcome in (Outcome.SCORED, Outcome.QUARANTINED):
            assert claim.content_hash is not None
            record = ContentRecord(
                content_hash=claim.content_hash,
                status=outcome,
                name=claim.name,
                out=claim.out,
                model_name=claim.model_name,
                model_version=claim.model_version,
                snapshot_id=claim.snapshot_id,
                rows_scored=claim.rows_scored,
                rows_rejected=claim.rows_rejected,
                reason=claim.reason,
                finished_at=now(),
            )
            self.store.write_json(f"{CONTENT}/{claim.content_hash}.json", asdict(record))
        self.store.delete(claim.key)


_CLAIM_FIELDS = frozenset(f.name for f in dataclasses.fields(Claim)) - {"name", "state"}
