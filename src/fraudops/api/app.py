"""The app factory: settings, the model holder and the inference log in the lifespan, routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import fraudops
from fraudops.api.auth import FailureThrottle, KeyRing, configured_keys
from fraudops.api.batching import PredictBatcher
from fraudops.api.docs import install_docs
from fraudops.api.explain import GIL_SWITCH_SECONDS
from fraudops.api.holder import ModelHolder
from fraudops.api.limits import BodyLimitMiddleware
from fraudops.api.metrics import Metrics, MetricsMiddleware
from fraudops.api.predlog import PredictionLog
from fraudops.api.routes import health, model, predict
from fraudops.api.schemas import parameter_error_items
from fraudops.api.shadow import ShadowHolder, ShadowScorer
from fraudops.cardhistory.stores import HistoryStore, open_store
from fraudops.config import Settings, get_settings
from fraudops.errors import redact
from fraudops.modelimports import scoring_environment

log = logging.getLogger(__name__)

DESCRIPTION = """Scores card transactions with the production fraud model
(`models:/fraud-detector@production` in MLflow), hot-swapped when the alias moves.

Send `X-API-Key` on `/predict*` and `/model*` (health and metrics are open). Bad input
gets a 422 that names each field at fault; oversize bodies a 413."""


async def _maintain(store: HistoryStore, every: float) -> None:
    """The card-history store's upkeep (SQLite: its checkpoints), in a thread, until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(store.maintain)
        except Exception as exc:  # a busy or damaged file: requests say so themselves
            log.warning("card-history store upkeep: %s", redact(str(exc)))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": parameter_error_items(errors)}, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; nothing is loaded until the lifespan starts.

    Raises:
        FraudOpsError: no API key is configured.
    """
    settings = settings or get_settings()
    scoring_environment()  # before the lifespan's threads and processes (see its docstring)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # the explaining thread's GIL (api.explain)
    keys, admin_keys = configured_keys(settings)
    metrics = Metrics()
    store = open_store(settings, serving=True)
    holder = ModelHolder(settings, metrics=metrics, store=store)
    predictions = PredictionLog(settings, metrics=metrics)
    shadow = ShadowHolder(settings, metrics=metrics, store=store)
    shadow_scorer = ShadowScorer(shadow, predictions=predictions, metrics=metrics)

    async def follow_shadow() -> None:  # off the start-up path: a shadow is never urgent
        await shadow.start()
        await shadow.poll_forever()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Processes first, from this thread: a process started while another thread adds
        # to the environment (MLflow and XGBoost do as they load) may read it mid-change
        # and die before it runs. Then the model's first load and the log's first flush's
        # one-time costs, side by side, before serving.
        predictions.start()
        await asyncio.gather(holder.start(), asyncio.to_thread(predictions.warm))
        tasks = [
            asyncio.create_task(holder.poll_forever(), name="fraudops-model-poller"),
            asyncio.create_task(follow_shadow(), name="fraudops-shadow-poller"),
            asyncio.create_task(predictions.run(), name="fraudops-inference-log"),
        ]
        if settings.feature_store_checkpoint_seconds > 0:
            every = settings.feature_store_checkpoint_seconds
            tasks.append(asyncio.create_task(_maintain(store, every), name="fraudops-store-upkeep"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await shadow_scorer.flush()  # the shadow's queued batches join the last commit
            shadow_scorer.close()
            await predictions.close()  # shutdown and SIGTERM: no buffered row is lost
            await asyncio.to_thread(predictions.stop)
            store.close()
            metrics.worker_stopped()

    app = FastAPI(
        title="FraudOps scoring API",
        version=fraudops.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from local files
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.predictions = predictions
    app.state.shadow = shadow
    app.state.shadow_scorer = shadow_scorer
    app.state.store = store
    app.state.batcher = PredictBatcher(
        store=store,
        metrics=metrics,
        predictions=predictions,
        max_rows=settings.batch_max_rows,
        max_wait_us=settings.batch_max_wait_us,
        shadow=shadow_scorer,
    )
    app.state.api_keys = KeyRing(keys)
    app.state.admin_keys = KeyRing(admin_keys)
    app.state.key_failures = FailureThrottle(limit=settings.api_key_failures, window=60.0)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # the last added middleware is the outermost: metrics see the 413s too
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        per_path={"/predict/csv": settings.max_csv_bytes},
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(predict.router)
    app.include_router(model.router)
    app.include_router(health.router)
    install_docs(app)
    return app
