"""A claimed file scored with what its claim pinned, on the settings' engine.

Scoring again gives the same rows: the model version and the lake snapshot the card
histories come from are the claim's, whichever engine runs (in-process, or Spark executors
with the same feature and scoring code).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from fraudops.cardhistory import sources
from fraudops.config import Settings
from fraudops.engine import Engine
from fraudops.inbox.checkfile import ReadProgress
from fraudops.inbox.failures import EngineFailure, LakeFailure, describe_failure
from fraudops.inbox.ledger import Claim
from fraudops.inbox.report import Stopwatch
from fraudops.inbox.scorefile import RemoteScoring, Staged, score_file
from fraudops.scoring import FraudScorer

log = logging.getLogger(__name__)
T = TypeVar("T")
LAKE_RETRY_SECONDS = 1.0  # one more try, on a fresh catalog: a database restart is brief


def score_claim(
    settings: Settings,
    claim: Claim,
    *,
    local: Path,
    scorer: FraudScorer,
    staging: Path,
    progress: ReadProgress | None = None,
    watch: Stopwatch | None = None,
) -> Staged:
    """Score the claimed file at ``local`` into ``staging`` (``watch`` times its steps)."""
    assert claim.model_version is not None
    spark = settings.engine is Engine.SPARK
    remote = _on_spark(settings, scorer, claim.history_snapshot_id) if spark else None
    return score_file(
        local,
        scorer=scorer,
        model_name=claim.model_name or settings.model_name,
        model_version=claim.model_version,
        staging=staging,
        chunk_rows=settings.inbox_chunk_rows,
        history=lake_history(settings, claim.history_snapshot_id),
        remote=remote,
        on_progress=progress,
        explain=settings.inbox_explain,
        watch=watch,
    )


def _on_spark(settings: Settings, scorer: FraudScorer, snapshot_id: int | None) -> RemoteScoring:
    """Scoring on Spark; its failures are the engine's (never the file's: it was validated)."""

    def run(valid: pa.Table) -> pa.Table:
        try:
            from fraudops.spark.score import spark_scoring  # pyspark: only when asked

            return spark_scoring(settings, scorer, snapshot_id=snapshot_id)(valid)
        except Exception as exc:
            raise EngineFailure(f"{exc.__class__.__name__}: {str(exc)[:300]}") from exc

    return run


def _twice(what: str, read: Callable[[], T]) -> T:
    """``read()``, once more after a pause if it fails; failing again, a :class:`LakeFailure`.

    A PostgreSQL restart under the catalog drops every connection, the one in use too: the
    second try gets a new one. A :class:`LakeFailure` leaves the file in flight for the next
    run (the lake's fault), where any other error while scoring would quarantine it.
    """
    for tries_left in (1, 0):
        try:
            return read()
        except Exception as exc:
            if not tries_left:
                raise LakeFailure(f"{what}: {describe_failure(exc)}") from exc
            log.warning("%s failed, once more: %s", what, describe_failure(exc))
            time.sleep(LAKE_RETRY_SECONDS)
    raise AssertionError("unreachable")


def lake_snapshot(settings: Settings) -> int | None:
    """The lake's transactions snapshot a claim pins its card histories to."""
    return _twice("the lake's snapshot", lambda: sources.lake_snapshot(settings))


def lake_history(
    settings: Settings, snapshot_id: int | None
) -> Callable[[pa.Table], pa.Table | None]:
    """The lake's card history at the claim's snapshot (its catalog opened again on failure)."""
    opened: list[Callable[[pa.Table], pa.Table | None]] = []

    def attempt(rows: pa.Table) -> pa.Table | None:
        if not opened:
            opened.append(sources.lake_history(settings, snapshot_id))
        try:
            return opened[0](rows)
        except Exception:
            opened.clear()
            raise

    return lambda rows: _twice("the lake's card history", lambda: attempt(rows))
