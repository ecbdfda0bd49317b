"""Prometheus metrics of the API, and the ASGI middleware that times every request.

With several uvicorn workers, ``fraudops serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` so that
``/metrics`` adds up every worker's values (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
# a store lookup-and-update takes well under a millisecond
HISTORY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99)
SCORES_OBSERVED = 64  # per request: a large batch's distribution from an even sample


class Metrics:
    """The API's metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "fraudops_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "fraudops_http_request_duration_seconds",
            "Time to answer a request, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        scored = Counter(
            "fraudops_scored_transactions",
            "Transactions scored, by decision.",
            ["decision"],
            registry=reg,
        )
        self._scored_fraud = scored.labels("fraud")
        self._scored_legit = scored.labels("legit")
        loads = Counter(
            "fraudops_model_loads",
            "Attempts to load a model version, by outcome (a failure keeps the old model).",
            ["outcome"],
            registry=reg,
        )
        self._load_ok = loads.labels("success")
        self._load_failed = loads.labels("failure")
        self.scores = Histogram(
            "fraudops_fraud_probability",
            "Fraud probabilities given (at most 64 per request, evenly sampled).",
            buckets=SCORE_BUCKETS,
            registry=reg,
        )
        self.prediction_log_rows = Counter(
            "fraudops_prediction_log_rows",
            "Predictions committed to fraud.predictions.",
            registry=reg,
        )
        self.prediction_log_errors = Counter(
            "fraudops_prediction_log_errors",
            "Commits of the inference log that failed (the rows wait for the next one).",
            registry=reg,
        )
        self.prediction_log_dropped = Counter(
            "fraudops_prediction_log_dropped",
            "Predictions dropped because the lake was away too long (the buffer is bounded).",
            registry=reg,
        )
        self.prediction_log_pending = Gauge(
            "fraudops_prediction_log_pending",
            "Predictions waiting for the next commit.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.history_seconds = Histogram(
            "fraudops_card_history_seconds",
            "Time to record a batch's transactions in the card-history store and compute "
            "their features (one step per /predict batch).",
            buckets=HISTORY_BUCKETS,
            registry=reg,
        )
        self.batch_rows = Histogram(
            "fraudops_predict_batch_rows",
            "Transactions scored together in one /predict batch (concurrent requests gathered).",
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.history_errors = Counter(
            "fraudops_card_history_errors",
            "Requests refused (503) because the card-history store did not answer.",
            registry=reg,
        )
        self.poll_errors = Counter(
            "fraudops_model_poll_errors",
            "Polls of the registry alias that failed (e.g. MLflow unreachable).",
            registry=reg,
        )
        self.shadow_rows = Counter(
            "fraudops_shadow_rows",
            "Transactions the shadow model scored beside production (not answered, logged).",
            registry=reg,
        )
        self.shadow_skipped = Counter(
            "fraudops_shadow_skipped",
            "Transactions the shadow model did not score: it was behind the traffic.",
            registry=reg,
        )
        self.shadow_errors = Counter(
            "fraudops_shadow_errors",
            "Batches the shadow model failed to score (the answers were not affected).",
            registry=reg,
        )
        self.model_version = Gauge(
            "fraudops_model_version",
            "Registry version of the model being served (0: none).",
            registry=reg,
            multiprocess_mode="liveall",
        )
        self.model_loaded_at = Gauge(
            "fraudops_model_loaded_timestamp_seconds",
            "When the model being served was loaded.",
            registry=reg,
            multiprocess_mode="liveall",
        )

    def scored(self, flags: np.ndarray, proba: np.ndarray | None = None) -> None:
        """Count scored transactions and how many were flagged; observe their scores."""
        if proba is not None and len(proba):
            step = max(1, len(proba) // SCORES_OBSERVED)
            for value in proba[::step][:SCORES_OBSERVED].tolist():
                self.scores.observe(value)
        fraud = int(np.count_nonzero(flags))
        if fraud:
            self._scored_fraud.inc(fraud)
        if len(flags) > fraud:
            self._scored_legit.inc(len(flags) - fraud)

    def model_loaded(self, version: str, loaded_at: float) -> None:
        """Record a successful load."""
        self._load_ok.inc()
        self.model_version.set(float(version) if version.isdigit() else 0.0)
        self.model_loaded_at.set(loaded_at)

    def load_failed(self) -> None:
        """Record a failed load (the old model stays)."""
        self._load_failed.inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type (all workers in multiprocess mode)."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def worker_stopped() -> None:
        """Drop this worker's live gauges (multiprocess mode)."""
        if os.environ.get(MULTIPROC_ENV):
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsMiddleware:
    """Counts and times every request by route template (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count and time it once answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_label(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


def _route_label(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
