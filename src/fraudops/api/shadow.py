"""The shadow model in the API: loaded beside production, scoring after the answers are sent.

:class:`ShadowHolder` follows ``@shadow`` as the model holder follows ``@production`` (same
poll, same local copies), and holds nothing when no version carries it: no shadow, no cost.
:class:`ShadowScorer` takes a batch once its answers are settled and scores it later, in a
thread of its own (XGBoost lets go of the GIL, so the event loop goes on answering), on the
same feature rows production scored (the card histories computed once, for the batch), and
puts its rows in the inference log with ``role`` = ``shadow``: the transaction's key
(``schema.LOGGED_KEY``) and its own answers, since production's row of the same transaction
holds the inputs and their history (the log grows by a fraction of a row, not a row, per
shadowed transaction). A failure is logged and counted; no request ever sees it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudops.api.holder import LoadedModel, ModelHolder, Refresh
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PredictionLog
from fraudops.cardhistory.stores import HistoryStore
from fraudops.config import Settings
from fraudops.errors import redact
from fraudops.schema import LOGGED_KEY, SHADOW_ROLE
from fraudops.scoring import score_matrix

log = logging.getLogger(__name__)

SHADOW = "shadow"  # the registry alias (fraudops.shadow.SHADOW; the API does not import MLflow)
FLUSH_SECONDS = 0.25  # settled batches gathered for one shadow booster call
FLUSH_ROWS = 2048  # or this many transactions
BEHIND_CALLS = 4  # calls waiting for the shadow's thread beyond which batches are skipped
BEHIND_WARNING_SECONDS = 60.0  # skipped transactions are told in the log at most this often


class ShadowHolder(ModelHolder):
    """Holds the version ``@shadow`` points at, or None; never touches production's state."""

    def __init__(self, settings: Settings, *, metrics: Metrics, store: HistoryStore) -> None:
        super().__init__(
            settings.model_copy(update={"model_alias": SHADOW}), metrics=metrics, store=store
        )
        self.last_message: str | None = None

    async def start(self) -> None:
        """First poll, under the lock; no local copy: a shadow MLflow does not name is none."""
        await self.refresh()

    def _refresh(self, *, freeze: bool = True) -> Refresh:
        from fraudops import registry, tracking

        have = self.current.version if self.current else None
        try:
            client = tracking.connect(self.settings)
            named = registry.alias_version(client, self.settings.model_name, SHADOW) is not None
        except Exception:  # noqa: BLE001  (the poll below fails alike: keep what we have)
            named = self.current is not None
        if not named:
            if self.current is not None:
                log.info("shadow scoring stopped (was version %s)", have)
            self.current = None
            return Refresh(changed=have is not None, version=None, previous_version=have)
        return super()._refresh(freeze=freeze)

    def _swap(self, loaded: LoadedModel) -> None:
        # not production's gauges, not its local-copy pointer: a restart never serves a shadow
        was = self.current.version if self.current else "none"
        self.current = loaded
        log.info("shadow scoring with %s version %s (was %s)", loaded.name, loaded.version, was)

    def _failed(self, message: str, have: str | None, *, public: str) -> Refresh:
        message = redact(message)
        if message != self.last_message:
            log.warning("shadow: %s", message)
        self.last_message = message
        return Refresh(changed=False, version=have, error=message)


@dataclass
class _Batch:
    """A settled batch waiting for the shadow model: what production scored, as it had it."""

    model: LoadedModel
    values: Mapping[str, Sequence[Any]]  # the records' columns (``features.record_values``)
    matrix: np.ndarray  # the feature rows production scored


class ShadowScorer:
    """Gathers settled batches and scores them with the shadow model, beside the event loop.

    A booster call has a fixed cost (tens of rows' worth) that a batch of a few transactions
    pays almost whole: the shadow scores the batches settled within ``FLUSH_SECONDS`` (or
    ``FLUSH_ROWS`` transactions) in one call, in its thread, and logs them as one entry, back
    on the event loop. A shadow slower than the traffic never slows production: with
    ``BEHIND_CALLS`` calls waiting for its thread, new batches are skipped and counted
    (``fraudops_shadow_skipped_total``).
    """

    def __init__(self, holder: ShadowHolder, *, predictions: PredictionLog, metrics: Metrics):
        self.holder = holder
        self.predictions = predictions
        self.metrics = metrics
        self._pending: list[_Batch] = []
        self._rows = 0
        self._timer: asyncio.Handle | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._skipped = 0  # since the last warning
        self._warned_at = -math.inf
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudops-shadow")

    def add(self, values: Mapping[str, Sequence[Any]], matrix: np.ndarray) -> None:
        """Queue a batch whose answers are settled (no shadow: no cost)."""
        model = self.holder.current
        if model is None:
            return
        if self._pending and self._pending[0].model is not model:
            self._hand_over()  # a swap: each batch goes to the model it was queued for
        self._pending.append(_Batch(model, values, matrix))
        self._rows += len(matrix)
        if self._rows >= FLUSH_ROWS:
            self._hand_over()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._hand_over)

    async def flush(self) -> None:
        """Score what is queued now, and return once every call's rows are in the log."""
        self._hand_over()
        while self._calls:
            await asyncio.wait(list(self._calls))

    def close(self) -> None:
        """Let the thread go (after :meth:`flush`: nothing is waiting for it)."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _hand_over(self) -> None:
        """The queued batches to the shadow's thread, as one call (on the event loop)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batches, rows = self._pending, self._rows
        self._pending, self._rows = [], 0
        if not batches:
            return
        if len(self._calls) >= BEHIND_CALLS:  # the shadow cannot keep up: production first
            self._skip(batches[0].model, rows)
            return
        call = asyncio.get_running_loop().create_task(self._call(batches, rows))
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)

    def _skip(self, model: LoadedModel, rows: int) -> None:
        """Count the transactions the shadow will not score; say so in the log now and then."""
        self.metrics.shadow_skipped.inc(rows)
        self._skipped += rows
        now = time.monotonic()
        if now - self._warned_at >= BEHIND_WARNING_SECONDS:
            log.warning(
                "shadow version %s is behind the traffic: %d transactions not scored by it "
                "(production's answers are not affected; its shadow report will cover fewer)",
                model.version,
                self._skipped,
            )
            self._skipped, self._warned_at = 0, now

    async def _call(self, batches: list[_Batch], rows: int) -> None:
        """Score in the thread, log on the event loop (never raises)."""
        model = batches[0].model
        loop = asyncio.get_running_loop()
        try:
            values, proba, flags = await loop.run_in_executor(self._thread, _score, batches)
            self.predictions.add(
                values,
                proba,
                flags,
                model_name=model.name,
                model_version=model.version,
                source="api",
                role=SHADOW_ROLE,
            )
            self.metrics.shadow_rows.inc(rows)
        except Exception as exc:  # noqa: BLE001  (the answers were sent: count it, log it)
            self.metrics.shadow_errors.inc()
            log.warning(
                "shadow version %s failed on %d transactions: %s",
                model.version,
                rows,
                redact(str(exc)),
            )


def _score(batches: list[_Batch]) -> tuple[dict[str, list[Any]], np.ndarray, np.ndarray]:
    """In the shadow's thread: the batches' key columns and the shadow model's answers."""
    # the key only: production's rows of the same transactions hold the inputs
    values = {k: [v for b in batches for v in b.values[k]] for k in LOGGED_KEY}
    matrix = np.concatenate([b.matrix for b in batches])
    proba, flags = score_matrix(batches[0].model.scorer, matrix)
    return values, proba, flags
