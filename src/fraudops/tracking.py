"""Connecting to MLflow tracking and registry from settings (one place, no import-time effects)."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

from mlflow.tracking import MlflowClient

import fraudops
from fraudops.config import Settings
from fraudops.errors import FraudOpsError, redact


def check_reachable(uri: str, *, timeout: float = 5.0) -> None:
    """Fail with one clear message when an ``http(s)://`` tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as resp:
            resp.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FraudOpsError(
            f"the MLflow tracking server at {redact(uri)} is unreachable ({reason}); start it "
            "or set FRAUDOPS_TRACKING_URI to a server that runs."
        ) from exc


def connect(settings: Settings) -> MlflowClient:
    """Point MLflow at the settings' tracking/registry store and return a client."""
    import mlflow

    uri = settings.tracking_url
    if uri.startswith("sqlite:"):
        settings.ensure_home()
        (settings.home_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, settings: Settings) -> str:
    """The experiment id, creating the experiment (artifacts under home when embedded)."""
    exp = client.get_experiment_by_name(settings.experiment)
    if exp is not None:
        return str(exp.experiment_id)
    return str(
        client.create_experiment(settings.experiment, artifact_location=settings.artifact_location)
    )


@lru_cache
def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    version = fraudops.__version__
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}" if sha else version
