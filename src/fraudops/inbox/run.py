"""A pass over an inbox: resume what a killed run left, then take each new file once.

One file's failure never stops the others: a file that breaks the reading code is
quarantined (see :mod:`fraudops.inbox.driver`), an error outside the file leaves it in
flight and is reported as ``failed``, and the next run finishes it. Only losing the lock
stops a run: another run owns the inbox then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fraudops import pushgateway
from fraudops.config import Settings
from fraudops.errors import Fenced
from fraudops.inbox.driver import InboxRun
from fraudops.inbox.failures import StillChanging, describe_failure
from fraudops.inbox.ledger import Claim, Outcome
from fraudops.inbox.names import INCOMING, OUTBOX, Verdict, classify, unsafe_name
from fraudops.inbox.report import FileReport, InboxSummary, ProgressFn
from fraudops.inbox.storage import LockLost, open_storage

log = logging.getLogger(__name__)


def _isolated(run: InboxRun, name: str, step: Callable[[], None]) -> None:
    """Run one file's work; its failure is reported, and the pass goes on."""
    try:
        step()
    except (LockLost, Fenced):
        raise
    except StillChanging:
        reason = "the file changed while it was read; it stays claimed for the next run"
        run.reports.append(FileReport(name, Outcome.CHANGING, reason=reason))
        run.tell(name, Outcome.CHANGING)
    except Exception as exc:  # noqa: BLE001  (reported; the next run tries again)
        log.exception("inbox: %s failed; it stays in flight for the next run", name)
        run.reports.append(FileReport(name, Outcome.FAILED, reason=describe_failure(exc)))
        run.tell(name, Outcome.FAILED)


def score_inbox(settings: Settings, *, progress: ProgressFn | None = None) -> InboxSummary:
    """Score every new CSV in the inbox once; finish what a killed run left half done."""
    t0 = time.perf_counter()
    store = open_storage(settings)
    try:
        store.ensure()
        with store.lock(lease_seconds=settings.inbox_lock_seconds) as lock:
            run = InboxRun(settings, store, lock, progress)
            claims = run.ledger.in_flight()
            run.total = len(claims)
            for claim in claims:  # first what a killed run left in flight
                run.index += 1
                lock.refresh()
                _isolated(run, claim.name, _bind(run.resume, claim))
            entries = sorted(store.list(INCOMING), key=lambda e: e.name)
            plan = [(entry, *classify(entry)) for entry in entries]
            run.total += sum(1 for _, verdict, _ in plan if verdict != Verdict.LEAVE)
            for entry, verdict, reason in plan:
                if verdict == Verdict.LEAVE:
                    continue
                run.index += 1
                lock.refresh()
                if verdict == Verdict.TAKE:
                    _isolated(run, entry.name, lambda e=entry: run.take(e))  # type: ignore[misc]
                else:
                    run.quarantine_unsafe(entry, reason or "refused")
    finally:
        store.close()
    summary = InboxSummary.of(
        run.reports,
        inbox=store.url,
        outbox=store.location(OUTBOX),
        seconds=time.perf_counter() - t0,
    )
    pushgateway.push(settings, pushgateway.INBOX_JOB, pushgateway.inbox_registry(summary))
    return summary


def _bind(fn: Callable[[Claim], None], claim: Claim) -> Callable[[], None]:
    return lambda: fn(claim)


def drop_file(settings: Settings, name: str, data: bytes) -> str:
    """Put a file into ``incoming/`` in one atomic step; returns where it is."""
    problem = unsafe_name(name)
    if problem or not name.lower().endswith(".csv"):
        raise ValueError(f"not a plain *.csv name: {name!r}")
    store = open_storage(settings)
    try:
        store.ensure()
        store.write_bytes(f"{INCOMING}/{name}", data)
        return store.location(f"{INCOMING}/{name}")
    finally:
        store.close()
