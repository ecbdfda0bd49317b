"""What the online executor needs from a store: each card's recent transactions.

A store keeps, per card, the transactions of the last ``HORIZON`` (plus a day, for late
arrivals) as :data:`Event` tuples. The API records each transaction it scores and, in the
same atomic step, reads the card's transactions before it; a transaction id already stored
for the card is not stored again (a retried request counts once). Backfill loads the lake's
recent transactions in bulk. A store records the feature definition version it was filled
for: a model trained on another definition is refused.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from fraudops.cardhistory.definition import HORIZON, US
from fraudops.errors import FraudOpsError

# card_id, event time (integer microseconds, UTC), transaction_id, amount, latitude,
# longitude, merchant_id
Event = tuple[str, int, str, float, float, float, str]

KEEP = HORIZON + 86_400 * US  # what a store keeps behind a card's latest transaction

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class StoreUnavailable(FraudOpsError):
    """The store did not answer: no feature can be computed (the API answers 503)."""


class HistoryStore(abc.ABC):
    """Where each card's recent transactions live between requests."""

    url: str  # where it is (credentials redacted), for messages

    @abc.abstractmethod
    def record_and_fetch(self, events: Sequence[Event]) -> list[list[Event]]:
        """Store each event in turn; for each, its card's events in ``[ts - HORIZON, ts)``.

        An event is stored once per card and transaction id; the events of this call before
        it are included. Atomic per event: two writers never lose one another's events.
        """

    @abc.abstractmethod
    def fetch(self, cards: Iterable[str], *, since: int, until: int) -> list[Event]:
        """The stored events of ``cards`` with a time in ``[since, until)`` (read only)."""

    @abc.abstractmethod
    def load(self, events: Iterable[Event]) -> int:
        """Store events in bulk (backfill, new lake days); events stored (new ones)."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget every event and the version."""

    @abc.abstractmethod
    def version(self) -> str | None:
        """The feature definition version the store was filled for (None: never)."""

    @abc.abstractmethod
    def set_version(self, version: str) -> None:
        """Record the definition version the store now holds."""

    @abc.abstractmethod
    def stats(self) -> dict[str, int]:
        """``cards`` and ``events`` stored."""

    def maintain(self) -> None:  # noqa: B027  (optional)
        """Upkeep kept off the request path; the API runs it every few seconds in a thread."""

    def close(self) -> None:  # noqa: B027  (optional)
        """Release connections."""
