"""The shadow model in the API: loaded beside production, scoring after the answers are sent.

:class:`ShadowHolder` follows ``@shadow`` as the model holder follows ``@production`` (same
poll, same local copies), and holds nothing when no version carries it: no shadow, no cost.
:func:`score_in_shadow` runs once a batch's answers are settled (scheduled on the event
loop, so no response waits for it), on the same feature rows production scored (the card
histories computed once, for the batch), and puts its rows in the inference log with
``role`` = ``shadow``. A failure is logged and counted; no request ever sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fraudops.api.holder import LoadedModel, ModelHolder, Refresh
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PredictionLog
from fraudops.cardhistory.stores import HistoryStore
from fraudops.config import Settings
from fraudops.errors import redact
from fraudops.features import build_features, columns_from_records
from fraudops.scoring import score_matrix

log = logging.getLogger(__name__)

SHADOW = "shadow"  # the registry alias (fraudops.shadow.SHADOW; the API does not import MLflow)


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


def score_in_shadow(
    shadow: LoadedModel,
    records: Sequence[Any],
    history: Mapping[str, np.ndarray],
    matrix: np.ndarray | None,
    *,
    predictions: PredictionLog,
    metrics: Metrics,
) -> None:
    """Score a settled batch with the shadow model and log its rows (never raises)."""
    try:
        if matrix is None:
            matrix = build_features(columns_from_records(records, history))
        proba, flags = score_matrix(shadow.scorer, matrix)
        predictions.add(
            records,
            proba,
            flags,
            history=history,
            model_name=shadow.name,
            model_version=shadow.version,
            source="api",
            role=SHADOW,
        )
        metrics.shadow_rows.inc(len(records))
    except Exception as exc:  # noqa: BLE001  (the answers were sent: count it, log it)
        metrics.shadow_errors.inc()
        log.warning(
            "shadow version %s failed on %d transactions: %s",
            shadow.version,
            len(records),
            redact(str(exc)),
        )
