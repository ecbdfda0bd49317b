"""One file's way through the ledger's states: claim, decide, score, commit, finish.

Each file's claim record is written before the step's effect is made visible (see
:mod:`fraudops.inbox.ledger`), and every step can be repeated, so a run killed at any point
and run again leaves each file's rows in the outbox and in the lake exactly once.

A file that breaks the reading or scoring code in any way is quarantined with the reason;
errors outside the file (storage, registry, lake) leave it in flight for the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from fraudops.config import Settings
from fraudops.csvio import header_problem
from fraudops.inbox.checkfile import ReadProgress
from fraudops.inbox.claimscore import lake_snapshot, score_claim
from fraudops.inbox.failures import OutsideFailure, StillChanging, content_error, describe
from fraudops.inbox.lakerows import commit_file, file_hash
from fraudops.inbox.ledger import Claim, ClaimState, Ledger, Outcome, now
from fraudops.inbox.models import Scorers
from fraudops.inbox.names import CLAIMED, INCOMING, OUTBOX, PROCESSED, QUARANTINE
from fraudops.inbox.outputs import (
    claim_report,
    out_name,
    quarantine_unsafe,
    write_duplicate_note,
    write_error_report,
)
from fraudops.inbox.report import FileReport, InboxProgress, ProgressFn, Stopwatch
from fraudops.inbox.scorefile import Staged
from fraudops.inbox.storage import Entry, InboxLock, LockLost, Storage
from fraudops.scoring import FraudScorer

if TYPE_CHECKING:  # the lake (pyiceberg, SQLAlchemy, pandas): imported with the first file
    from pyiceberg.table import Table

FINAL = {
    ClaimState.COMMITTED: (PROCESSED, Outcome.SCORED),
    ClaimState.DUPLICATE: (PROCESSED, Outcome.DUPLICATE),
    ClaimState.QUARANTINED: (QUARANTINE, Outcome.QUARANTINED),
}


class InboxRun:
    """One pass over an inbox, holding its lock."""

    def __init__(
        self, settings: Settings, store: Storage, lock: InboxLock, progress: ProgressFn | None
    ) -> None:
        self.settings = settings
        self.store = store
        self.ledger = Ledger(store, guard=lock.check)
        self.lock = lock
        self.progress = progress
        self.reports: list[FileReport] = []
        self.scorers = Scorers(settings)
        self._table: Table | None = None
        # a scored file's predictions, held from scoring to its lake commit in this run
        self.predictions: dict[str, list[pa.Table]] = {}
        self.watches: dict[str, Stopwatch] = {}  # each file's steps in this run
        self.index = 0
        self.total = 0

    # the lake ---------------------------------------------------------------------------
    @property
    def table(self) -> Table:
        """``fraud.scores``, opened once per run."""
        if self._table is None:
            from fraudops import lake

            self._table = lake.scores_table(lake.open_catalog(self.settings))
        return self._table

    # reports ------------------------------------------------------------------------------
    def tell(self, name: str, status: str, done: int = 0, total: int = 0) -> None:
        """Report progress on the file being worked on."""
        if self.progress is not None:
            self.progress(InboxProgress(name, self.index, self.total, done, total, status))

    def report(self, claim: Claim, status: Outcome) -> None:
        """Record the outcome of a claimed file, with the seconds of its steps in this run."""
        report = claim_report(self.store, claim, status)
        watch = self.watches.pop(claim.name, None)
        if watch is not None:
            report = dataclasses.replace(report, seconds=watch.rounded())
        self.reports.append(report)
        self.tell(claim.name, status)

    # entries of incoming/ -----------------------------------------------------------------
    def quarantine_unsafe(self, entry: Entry, reason: str) -> None:
        """Move an entry we must not read to quarantine under a made-up safe name."""
        self.reports.append(quarantine_unsafe(self.store, entry, reason))
        self.tell(entry.name, Outcome.QUARANTINED)

    def take(self, entry: Entry) -> None:
        """Claim a new file (record first, then move) and work on it."""
        claim = Claim(name=entry.name, source=entry.identity, claimed_at=now())
        self.ledger.save(claim)
        self.store.move(f"{INCOMING}/{entry.name}", f"{CLAIMED}/{entry.name}")
        self.work(claim)

    def resume(self, claim: Claim) -> None:
        """Finish a file a previous run left in flight."""
        src, inc = f"{CLAIMED}/{claim.name}", f"{INCOMING}/{claim.name}"
        left = self.store.stat(inc)
        if left is not None and left.identity == claim.source:  # the claim move was cut short
            if self.store.exists(src):
                self.store.delete(inc)  # the copy in claimed/ is this same object
            else:
                self.store.move(inc, src)
        if self.store.exists(src):
            self.work(claim)
            return
        final = FINAL.get(claim.state)
        if final and self.store.exists(f"{final[0]}/{claim.out}.csv"):  # cut after the last move
            self.ledger.finish(claim, final[1])
            self.report(claim, final[1])
            return
        done = self.ledger.content(claim.content_hash) if claim.content_hash else None
        if done is not None and done.name == claim.name:
            # finished by another run; a run that had lost the lock wrote this claim after
            # that (paused between its lock check and the write): nothing is in flight
            self.ledger.forget(claim)
            return
        claim.reason = "the claimed input disappeared before it was scored"
        self.ledger.finish(claim, Outcome.MISSING)
        self.report(claim, Outcome.MISSING)

    # the steps ----------------------------------------------------------------------------
    @property
    def fence_key(self) -> str:
        """The table property holding the newest token of this inbox's lock."""
        return "fraudops.inbox-fence." + hashlib.sha256(self.store.url.encode()).hexdigest()[:16]

    def work(self, claim: Claim) -> None:
        """Drive one claimed file to its end state; each step is safe to repeat."""
        watch = self.watches.setdefault(claim.name, Stopwatch())
        while claim.state not in FINAL:
            step, timed = {
                ClaimState.CLAIMED: (self.decide, "claim"),
                ClaimState.SCORING: (self.score, None),  # its own steps: score_file's
                ClaimState.PUBLISHED: (self.commit, "lake_commit"),
            }[claim.state]
            if timed is None:
                step(claim)
            else:
                with watch.step(timed):
                    step(claim)
        with watch.step("finish"):
            self.finish(claim)
        self.report(claim, FINAL[claim.state][1])

    def finish(self, claim: Claim) -> None:
        """A file at its end state: its notes written, its input moved, its claim closed."""
        folder, outcome = FINAL[claim.state]
        src = f"{CLAIMED}/{claim.name}"
        assert claim.content_hash is not None
        if claim.state == ClaimState.DUPLICATE:
            write_duplicate_note(self.store, claim, self.ledger.content(claim.content_hash))
        elif claim.state == ClaimState.QUARANTINED:
            write_error_report(self.store, claim)
        self.store.move(src, f"{folder}/{claim.out}.csv")
        self.ledger.finish(claim, outcome)

    def decide(self, claim: Claim) -> None:
        """``claimed``: hash the content, name the outputs, pin the model (or refuse)."""
        src = f"{CLAIMED}/{claim.name}"
        local = self.store.fetch(src)
        seen = self.store.stat(src)
        digest = file_hash(local)
        out = out_name(self.store, claim.name, digest)
        identity = seen.identity if seen else None
        prior = self.ledger.content(digest)
        if prior is not None and prior.status == Outcome.SCORED:
            reason = f"same content as {prior.name}, already scored"
            self.ledger.advance(
                claim, ClaimState.DUPLICATE, content_hash=digest, out=out, reason=reason
            )
        elif problem := content_error(header_problem, local):
            self.ledger.advance(
                claim, ClaimState.QUARANTINED, content_hash=digest, out=out, reason=problem
            )
        else:
            _, version = self.scorers.get(None)
            self.ledger.advance(
                claim,
                ClaimState.SCORING,
                content_hash=digest,
                out=out,
                claimed_identity=identity,
                model_name=self.settings.model_name,
                model_version=version,
                # card histories from this snapshot: scoring again gives the same rows
                history_snapshot_id=lake_snapshot(self.settings),
                scored_at=now(),
            )

    def score(self, claim: Claim) -> None:
        """``scoring``: score into staging, publish the outbox files."""
        assert claim.model_version is not None
        scorer, _ = self.scorers.get(claim.model_version)
        local = self.store.fetch(f"{CLAIMED}/{claim.name}")
        total = local.stat().st_size

        def on_progress(done: int) -> None:
            self.lock.refresh()
            self.tell(claim.name, "reading", done, total)

        try:
            staged = self._score(claim, local, scorer, on_progress, self.watches.get(claim.name))
        except (LockLost, OutsideFailure):
            raise
        except Exception as exc:  # noqa: BLE001  (whatever this file does to the code)
            self.ledger.advance(
                claim,
                ClaimState.QUARANTINED,
                reason=describe(exc),
                model_name=None,
                model_version=None,
                scored_at=None,
            )
            return
        now_seen = self.store.stat(f"{CLAIMED}/{claim.name}")
        if now_seen is None or now_seen.identity != claim.claimed_identity:
            # still being written (a copy in place): start again once the writer is done
            self.ledger.advance(claim, ClaimState.CLAIMED, claimed_identity=None)
            raise StillChanging(claim.name)
        with self.watches.setdefault(claim.name, Stopwatch()).step("publish"):
            self.store.publish(staged.scored, f"{OUTBOX}/{claim.out}.scored.csv")
            if staged.rejected is not None:
                self.store.publish(staged.rejected, f"{OUTBOX}/{claim.out}.rejected.csv")
        self.ledger.advance(
            claim,
            ClaimState.PUBLISHED,
            rows_scored=staged.rows_scored,
            rows_rejected=staged.rows_rejected,
            rejected_file=staged.rejected is not None,
        )
        self.predictions[claim.name] = staged.predictions

    def commit(self, claim: Claim) -> None:
        """``published``: the file's rows into ``fraud.scores`` and ``fraud.predictions``.

        Each append is committed once per content (a rerun finds it); both come from the
        predictions scoring left in memory, or, in a run that resumes a killed one, from
        scoring the claimed file again with what its claim pinned.
        """
        from fraudops import lake

        snapshot_id = None
        staged = self.predictions.pop(claim.name, None)
        if claim.rows_scored:
            staged = staged if staged is not None else self.scored_again(claim)
            fence = lake.Fence(self.fence_key, self.lock.token, self.lock.check)
            predictions = lake.predictions_table(lake.open_catalog(self.settings))
            snapshot_id = commit_file(self.table, predictions, staged, claim, fence)
        self.ledger.advance(claim, ClaimState.COMMITTED, snapshot_id=snapshot_id)

    def scored_again(self, claim: Claim) -> list[pa.Table]:
        """The file's predictions, scored again with its pinned model and history."""
        local = self.store.fetch(f"{CLAIMED}/{claim.name}")
        assert claim.model_version is not None
        scorer, _ = self.scorers.get(claim.model_version)
        return self._score(claim, local, scorer).predictions

    def _score(
        self,
        claim: Claim,
        local: Path,
        scorer: FraudScorer,
        progress: ReadProgress | None = None,
        watch: Stopwatch | None = None,
    ) -> Staged:
        """Score a claimed file with what its claim pinned: scoring again gives the same rows."""
        staging = self.store.staging
        return score_claim(
            self.settings,
            claim,
            local=local,
            scorer=scorer,
            staging=staging,
            progress=progress,
            watch=watch,
        )
