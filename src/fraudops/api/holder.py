"""The model holder: loads the production model, keeps a local copy, swaps new versions in.

A request takes ``holder.current`` once and scores with that object until it has answered, so
a swap (one reference assignment) never changes the model under an in-flight request. Loads
run in a worker thread, off the request path; a failed load keeps the model being served.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np

from fraudops.api.cache import META_FILE, SCORER_FOLDER, ModelCache
from fraudops.api.metrics import Metrics
from fraudops.cardhistory import VERSION as HISTORY_VERSION
from fraudops.cardhistory.stores import HistoryStore
from fraudops.config import Settings
from fraudops.errors import FraudOpsError, redact
from fraudops.features import FEATURE_NAMES
from fraudops.modelcard import operating_point
from fraudops.modelimports import import_model_libraries
from fraudops.scoring import FraudScorer

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)


class StoreNotFilled(FraudOpsError):
    """The card-history store was not filled for the features the model needs."""


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready to score, with what ``GET /model`` reports about it."""

    name: str
    version: str
    alias: str
    run_id: str | None
    snapshot_id: str | None
    metrics: dict[str, float | None]
    lineage: dict[str, str]
    decision: dict[str, Any] | None
    loaded_at: dt.datetime
    source: str  # "mlflow", or "cache" when MLflow was unreachable
    scorer: FraudScorer = field(repr=False)
    card: str | None = field(default=None, repr=False)  # the version's model card (markdown)

    @property
    def threshold(self) -> float:
        """The decision threshold of this version."""
        return self.scorer.threshold

    def info(self) -> dict[str, Any]:
        """Everything but the scorer, for ``GET /model``."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "snapshot_id": self.snapshot_id,
            "threshold": self.threshold,
            "metrics": self.metrics,
            "operating_point": operating_point(self.metrics, self.lineage, self.threshold),
            "lineage": self.lineage,
            "decision": self.decision,
            "loaded_at": self.loaded_at,
            "source": self.source,
        }


@dataclass(frozen=True)
class Refresh:
    """The outcome of one poll of the alias."""

    changed: bool
    version: str | None
    previous_version: str | None = None
    error: str | None = None


def _finite(metrics: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        number = float(value)
        out[key] = number if math.isfinite(number) else None
    return out


def serving_scorer(folder: Path) -> FraudScorer:
    """A scorer for the request path: one XGBoost thread, warmed up by one prediction."""
    scorer = FraudScorer.load(folder, nthread=1)
    scorer.predict_proba(np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32))
    return scorer


class ModelHolder:
    """Holds the model being served and replaces it when the registry alias moves."""

    def __init__(self, settings: Settings, *, metrics: Metrics, store: HistoryStore) -> None:
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.cache = ModelCache(settings.serving_cache_dir / settings.model_name)
        self.current: LoadedModel | None = None
        self.last_error: str | None = None  # for the log and the key holders (no secrets)
        self.public_reason = "loading the model"  # for the open endpoints: no internals
        self._lock = asyncio.Lock()

    # -- async API (the app's event loop) ---------------------------------------------------

    async def start(self) -> None:
        """First load: the alias from MLflow, else the local copy; never raises."""
        await anyio.to_thread.run_sync(self._start)

    async def refresh(self) -> Refresh:
        """Poll the alias once; load and swap in a new version (in a worker thread)."""
        async with self._lock:
            return await anyio.to_thread.run_sync(self._refresh)

    async def poll_forever(self) -> None:
        """Refresh every ``model_poll_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.model_poll_seconds)
            await self.refresh()

    # -- blocking work (worker threads) -----------------------------------------------------

    def _start(self) -> None:
        import_model_libraries()
        self._refresh(freeze=False)
        if self.current is None:
            self._load_cached()
        # the model and the imports it pulled in stay for the life of the process: keep them
        # out of the collector's full passes, which otherwise pause requests for 100+ ms
        gc.collect()
        gc.freeze()

    def _refresh(self, *, freeze: bool = True) -> Refresh:
        name, alias = self.settings.model_name, self.settings.model_alias
        current = self.current
        have = current.version if current else None
        # MLflow is imported here, in the first load's worker thread: importing the app (and a
        # `fraudops` command) stays free of it and of what it pulls in (pandas, SciPy, Spark)
        from fraudops import registry, tracking

        try:
            client = tracking.connect(self.settings)
            version = registry.alias_version(client, name, alias)
        except Exception as exc:  # unreachable, auth, store errors: keep serving what we have
            self.metrics.poll_errors.inc()
            return self._failed(
                f"cannot read {name}@{alias} from MLflow: {exc}",
                have,
                public="the model registry cannot be read (the API's log says why)",
            )
        if version is None:
            message = f"no version of {name} carries the alias @{alias} yet"
            return self._failed(message, have, public=message)
        if current and current.version == str(version.version) and current.run_id == version.run_id:
            if current.source != "mlflow":
                self.current = replace(current, source="mlflow")
            self._recovered()
            return Refresh(changed=False, version=have)
        try:
            loaded = self._load_from_registry(client)
        except StoreNotFilled as exc:  # the operator's move, and nothing secret in it
            self.metrics.load_failed()
            return self._failed(str(exc), have, public=str(exc))
        except Exception as exc:  # any failure to load keeps the old model
            self.metrics.load_failed()
            return self._failed(
                f"loading {name} version {version.version} failed: {exc}",
                have,
                public=f"{name} version {version.version} did not load (the API's log says why)",
            )
        self._swap(loaded)
        if freeze:  # a swap while serving: no full collection here, it would pause requests
            gc.freeze()
        self._recovered()
        return Refresh(changed=True, version=loaded.version, previous_version=have)

    def _load_from_registry(self, client: MlflowClient) -> LoadedModel:
        from fraudops import registry

        production = registry.production_model(client, self.settings)
        if production is None:
            raise FraudOpsError("the alias was removed while loading")
        version = production.version
        decision = production.decision
        meta = {
            "name": production.name,
            "version": version,
            "alias": production.alias,
            "run_id": production.run_id,
            "snapshot_id": production.snapshot_id,
            "metrics": _finite(production.metrics),
            "lineage": production.lineage,
            "decision": dataclasses.asdict(decision) if decision else None,
            "card": production.description,
        }
        folder = self.cache.lookup(version, production.run_id) or self.cache.store(
            version,
            meta=meta,
            fill=lambda dest: registry.load_scorer(self.settings, version).save(dest),
        )
        return self._build(folder, meta, source="mlflow")

    def _load_cached(self) -> None:
        folder = self.cache.current()
        if folder is None:
            log.warning(
                "no local copy of a model in %s: not ready until one loads", self.cache.root
            )
            return
        try:
            meta = json.loads((folder / META_FILE).read_text())
            loaded = self._build(folder, meta, source="cache")
        except Exception as exc:  # a damaged copy: stay unready, the poller keeps trying
            self.metrics.load_failed()
            log.warning("the local copy in %s did not load: %s", folder, exc)
            return
        self._swap(loaded)
        log.warning("serving the local copy of version %s until MLflow answers", loaded.version)

    def _build(self, folder: Path, meta: dict[str, Any], *, source: str) -> LoadedModel:
        scorer = serving_scorer(folder / SCORER_FOLDER)  # refuses other feature definitions
        held = self.store.version()
        if held != HISTORY_VERSION:
            raise StoreNotFilled(
                f"version {meta['version']} needs {HISTORY_VERSION} card histories and the "
                f"store holds {held or 'none'}: run `fraudops features backfill`"
            )
        return LoadedModel(
            name=meta["name"],
            version=str(meta["version"]),
            alias=meta["alias"],
            run_id=meta.get("run_id"),
            snapshot_id=meta.get("snapshot_id"),
            metrics=meta.get("metrics") or {},
            lineage=meta.get("lineage") or {},
            decision=meta.get("decision") or None,
            loaded_at=dt.datetime.now(dt.UTC),
            source=source,
            scorer=scorer,
            card=meta.get("card"),
        )

    def _swap(self, loaded: LoadedModel) -> None:
        previous = self.current
        self.current = loaded  # the swap: requests already running keep their reference
        self.metrics.model_loaded(loaded.version, loaded.loaded_at.timestamp())
        try:
            self.cache.mark_current(loaded.version)
            self.cache.prune()
        except OSError as exc:
            log.warning("could not update the local model copies: %s", exc)
        log.info(
            "serving %s version %s from %s (was %s)",
            loaded.name,
            loaded.version,
            loaded.source,
            previous.version if previous else "none",
        )

    def _failed(self, message: str, have: str | None, *, public: str) -> Refresh:
        message = redact(message)  # an exception may quote a URL with its password
        if message != self.last_error:  # once per distinct problem, not every poll
            suffix = f"; still serving version {have}" if have else "; no model loaded"
            log.warning("%s%s", message, suffix)
        self.last_error = message
        self.public_reason = public
        return Refresh(changed=False, version=have, error=message)

    def _recovered(self) -> None:
        if self.last_error is not None:
            log.info("model registry reachable again")
        self.last_error = None
        self.public_reason = "loading the model"
