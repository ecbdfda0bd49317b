"""What a run of the inbox tells: per file, in total, and as it goes (progress)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from fraudops.inbox.ledger import Outcome


@dataclass(frozen=True)
class FileReport:
    """What happened to one file in a run."""

    file: str
    status: Outcome
    rows_scored: int = 0
    rows_rejected: int = 0
    content_hash: str | None = None
    model_version: str | None = None
    snapshot_id: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    # wall seconds of each step this run took the file through (``Stopwatch.STEPS``)
    seconds: dict[str, float] = field(default_factory=dict)


class Stopwatch:
    """Where a file's time goes: wall seconds per step, added up over the run."""

    STEPS = (
        "claim",  # fetch and hash the file, pin the model and the lake's snapshot
        "validate",  # read and validate every row (rejected rows written)
        "lake_history",  # the lake's history of the file's cards; repeated ids
        "card_history",  # the card-history features
        "spark",  # instead of the three steps after it: features and scores on Spark
        "features",  # the model matrix
        "predict",  # the booster
        "outbox",  # the scored CSV written, the lake's rows made
        "publish",  # the outbox files published
        "lake_commit",  # fraud.scores and fraud.predictions
        "finish",  # the input moved to processed/ or quarantine/
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as ``name`` (added to earlier time of the same step)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        """The steps' seconds to the millisecond, in step order."""
        order = {name: i for i, name in enumerate(self.STEPS)}
        steps = sorted(self.seconds, key=lambda name: order.get(name, len(order)))
        return {name: round(self.seconds[name], 3) for name in steps}


@dataclass(frozen=True)
class InboxSummary:
    """The outcome of one ``score_inbox`` run."""

    inbox: str
    files: int  # files handled: scored, quarantined or duplicates
    rows_scored: int
    rows_rejected: int
    files_quarantined: int
    duplicates: int
    failed: int  # files left in flight by an error outside them; the next run finishes them
    seconds: float
    outbox: str
    reports: list[FileReport] = field(default_factory=list)

    @classmethod
    def of(
        cls, reports: list[FileReport], *, inbox: str, outbox: str, seconds: float
    ) -> InboxSummary:
        """The totals of a run's reports."""
        handled = (Outcome.SCORED, Outcome.QUARANTINED, Outcome.DUPLICATE)
        return cls(
            inbox=inbox,
            files=sum(1 for r in reports if r.status in handled),
            rows_scored=sum(r.rows_scored for r in reports),
            rows_rejected=sum(r.rows_rejected for r in reports),
            files_quarantined=sum(1 for r in reports if r.status == Outcome.QUARANTINED),
            duplicates=sum(1 for r in reports if r.status == Outcome.DUPLICATE),
            failed=sum(1 for r in reports if r.status == Outcome.FAILED),
            seconds=round(seconds, 3),
            outbox=outbox,
            reports=reports,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (a DAG task's return value, ``score-inbox --json``)."""
        return asdict(self)


@dataclass(frozen=True)
class InboxProgress:
    """Progress of the file being worked on."""

    file: str
    index: int  # 1-based position among the files of this run
    files: int
    done_bytes: int
    total_bytes: int
    status: str  # "reading" while it is scored, then the file's outcome


ProgressFn = Callable[[InboxProgress], None]
