"""Run the API with uvicorn: ``fraudops serve`` and the end of ``fraudops demo``."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fraudops.api import protocol
from fraudops.api.auth import configured_keys, key_file
from fraudops.api.metrics import MULTIPROC_ENV
from fraudops.config import Settings
from fraudops.procs import start_group, stop_groups
from fraudops.schema import EXAMPLE_TRANSACTION
from fraudops.tracking import bound_requests

APP_FACTORY = "fraudops.api:create_app"
WORKER_START_SECONDS = 120


def log_config() -> dict[str, Any]:
    """Uvicorn's logging, plus the ``fraudops`` loggers (model loads and swaps) at INFO."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["fraudops"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    access_log: bool = False,
) -> None:
    """Serve until interrupted; several workers each load the model (settings from env).

    With one worker the app is built from ``settings`` in this process; with more, each
    worker builds it from the environment, and Prometheus adds up all workers' metrics.
    """
    import uvicorn

    configured_keys(settings)  # fail here with one clear message, not in every worker
    bound_requests()  # the workers inherit it: a poll of a dead MLflow fails in seconds
    protocol.configure(settings)
    n = workers or settings.api_workers
    options: dict[str, Any] = {
        "host": host or settings.api_host,
        "port": port or settings.api_port,
        "log_config": log_config(),
        "access_log": access_log,
        "timeout_graceful_shutdown": 20,
        "http": protocol.GuardedHttpToolsProtocol,
        "limit_concurrency": settings.api_max_concurrency,
        # a spawned worker answers uvicorn's health pings only once it has imported the app;
        # on a busy host that takes longer than uvicorn's 5 s, and every worker was killed
        # and respawned, forever
        "timeout_worker_healthcheck": WORKER_START_SECONDS,
    }
    if n == 1:
        from fraudops.api import create_app

        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once stopped
            uvicorn.run(create_app(settings), **options)
        return
    own_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_dir = tempfile.mkdtemp(prefix="fraudops-prometheus-")
        os.environ[MULTIPROC_ENV] = own_dir
    try:
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(APP_FACTORY, factory=True, workers=n, **options)
    finally:
        if own_dir:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(own_dir, ignore_errors=True)


def demo_key(settings: Settings) -> str:
    """A shell expression giving a client key for the printed ``curl`` line.

    Uses FRAUDOPS_API_KEYS when set; otherwise generates a key once and keeps it in
    ``home/api-key`` (mode 600), where the API finds it.
    """
    if settings.api_keys:
        return "${FRAUDOPS_API_KEYS%%,*}"
    path = key_file(settings)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return f"$(cat {shlex.quote(str(path))})"


def curl_example(settings: Settings, *, port: int, key: str) -> str:
    """A ready-to-run ``curl`` scoring the example transaction (written under home)."""
    body = settings.home_dir / "example-transaction.json"
    body.write_text(json.dumps(EXAMPLE_TRANSACTION, indent=2) + "\n")
    return (
        f'curl -s -H "X-API-Key: {key}" -H "Content-Type: application/json" '
        f"-d @{shlex.quote(str(body))} http://127.0.0.1:{port}/predict"
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def mlflow_ui(settings: Settings, *, port: int) -> Iterator[str]:
    """The MLflow UI on the embedded store (a subprocess, stopped on exit); yields its URL.

    With a tracking server configured, that server is the UI and nothing is started.
    """
    uri = settings.tracking_url
    if uri.startswith(("http://", "https://")):
        yield uri
        return
    log_path = settings.home_dir / "mlflow-ui.log"
    exe = str(Path(sys.executable).with_name("mlflow"))
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [exe, "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1"]  # a local UI for one person: one worker, not four
    proc = start_group(cmd, env=env, log=log_path)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default action that would
    # end this process before the finally below, leaving the UI running: exit cleanly instead
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_groups([proc], grace=15.0)
