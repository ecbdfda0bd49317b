"""Connecting to MLflow tracking and registry from settings (one place, no import-time effects)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fraudops
from fraudops.config import Settings
from fraudops.errors import FraudOpsError, redact

if TYPE_CHECKING:  # MLflow loads on the first connect, not when a command or the API starts
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)
TRAINING_RUN = "fraudops.training_run"  # on a training's parent run (named for its data)
EXPERIMENT_KIND = "mlflow.experimentKind"  # which view the MLflow UI opens the experiment on
CUSTOM_MODEL = "custom_model_development"  # training runs, not the GenAI overview
# how long a failed training waits for the tracking server to record its runs as FAILED
FAILED_RUNS_PATIENCE = 600.0
# A long-running client of MLflow (the API) tries again at its next poll: MLflow's own
# defaults (7 retries, growing back-off, 120 s timeouts) would hold a poll, and every reload
# queued behind it, for about four minutes when the server dies mid-request.
SERVER_REQUESTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


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


def bound_requests() -> None:
    """Give this process's MLflow requests a short retry budget, unless the operator set one.

    For processes that stay up and ask again anyway (``fraudops serve``): a request to a dead
    tracking server then fails in a few seconds instead of minutes.
    """
    for name, value in SERVER_REQUESTS.items():
        os.environ.setdefault(name, value)


def connect(settings: Settings) -> MlflowClient:
    """Point MLflow at the settings' tracking/registry store and return a client."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = settings.tracking_url
    if uri.startswith("sqlite:"):
        settings.ensure_home()
        (settings.home_dir / "mlflow").mkdir(parents=True, exist_ok=True)
        create_sqlite_store(uri)
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def store_template() -> Path:
    """Where this installation keeps a new store at MLflow's latest schema (``make venv``)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    revision = _get_latest_schema_revision()  # type: ignore[no-untyped-call]
    return Path(sys.prefix) / "share" / "fraudops" / f"mlflow-store-{revision}.db"


def make_store_template() -> Path:
    """Create :func:`store_template` with MLflow's own migrations (at install time)."""
    template = store_template()
    template.parent.mkdir(parents=True, exist_ok=True)
    template.unlink(missing_ok=True)
    create_sqlite_store(f"sqlite:///{template}", from_template=False)
    return template


def create_sqlite_store(uri: str, *, from_template: bool = True) -> None:
    """Create a new SQLite tracking store in one step: MLflow's tables, at its latest schema.

    MLflow creates a store by running every migration it ever had, each statement a commit
    SQLite writes through to the disk (about a thousand). Here they run in a file of their own
    without waiting for the disk, which is written out once and then renamed into place: a
    store that exists is always complete. It keeps SQLite's write-ahead log (one sync a
    commit instead of three). An existing store is left as it is.

    An installation made by ``make venv`` holds such a new store, made once by the same
    migrations for the MLflow it installed (:func:`make_store_template`): a new store is then
    a copy of it, without the migrations' second of CPU.
    """
    import sqlalchemy

    path = Path(str(sqlalchemy.engine.make_url(uri).database or ""))
    if not path.name or path.exists():
        return
    part = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    part.unlink(missing_ok=True)
    template = store_template() if from_template else None
    try:
        if template is not None and template.exists():
            shutil.copyfile(template, part)
        else:
            _migrated(part)
        with part.open("rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(part, path)  # never over a store another process created meanwhile
        except FileExistsError:
            pass
    finally:
        for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
            leftover.unlink(missing_ok=True)


def _migrated(part: Path) -> None:
    """MLflow's migrations run into ``part``, unsynced, then everything in the file itself."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"sqlite:///{part}")

    @sqlalchemy.event.listens_for(engine, "connect")
    def _unsynced(conn: Any, _record: Any) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")

    try:
        _initialize_tables(engine)  # type: ignore[no-untyped-call]
        with engine.connect() as conn:  # everything into the file, then one sync
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def ensure_experiment(client: MlflowClient, settings: Settings) -> str:
    """The experiment id, creating the experiment (artifacts under home when embedded)."""
    exp = client.get_experiment_by_name(settings.experiment)
    if exp is not None:
        if exp.tags.get(EXPERIMENT_KIND) != CUSTOM_MODEL:
            client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, CUSTOM_MODEL)
        return str(exp.experiment_id)
    return str(
        client.create_experiment(
            settings.experiment,
            artifact_location=settings.artifact_location,
            tags={EXPERIMENT_KIND: CUSTOM_MODEL},
        )
    )


def training_run_name(tags: dict[str, str]) -> str:
    """What a training run trained on, as its name: the days and the lake snapshot."""
    return (
        f"{tags.get('fraudops.date_from')}..{tags.get('fraudops.date_to')} "
        f"@ snapshot {tags.get('fraudops.snapshot_id')}"
    )


@contextmanager
def unprinted() -> Iterator[None]:
    """Within: MLflow prints nothing of its own (lines it writes past its log level)."""
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM as stream

    was, stream.enabled = stream.enabled, False
    try:
        yield
    finally:
        stream.enabled = was


@contextmanager
def failed_runs_recorded(
    client: MlflowClient, uri: str, *, patience: float = FAILED_RUNS_PATIENCE
) -> Iterator[list[str]]:
    """Collect run ids; if the block fails, make sure the server records them FAILED.

    ``with mlflow.start_run()`` marks its run FAILED on the way out, but that needs the
    server: when it is down at that moment the mark is lost and the run shows RUNNING for
    ever. Here the runs still RUNNING are marked once the server answers again (within
    ``patience`` seconds), then the error goes on.
    """
    run_ids: list[str] = []
    try:
        yield run_ids
    except Exception:
        left = _fail_running(client, uri, run_ids, patience=patience)
        if left:
            log.warning("MLflow did not come back: runs %s stay RUNNING", ", ".join(left))
        raise


def _fail_running(
    client: MlflowClient, uri: str, run_ids: list[str], *, patience: float
) -> list[str]:
    """Mark the runs still RUNNING as FAILED once the server answers; the runs left over."""
    from mlflow.exceptions import MlflowException

    deadline = time.monotonic() + patience
    waiting = False
    while True:
        try:
            check_reachable(uri)
            break
        except FraudOpsError:
            if time.monotonic() > deadline:
                return run_ids
            if not waiting:
                log.warning("MLflow is unreachable: waiting up to %.0f s to end runs", patience)
                waiting = True
            time.sleep(2.0)
    left = []
    for run_id in dict.fromkeys(run_ids):
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, "FAILED")
        except MlflowException:
            left.append(run_id)
    return left


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


if __name__ == "__main__":  # make venv: the new store every embedded home starts from
    sys.stdout.write(f"{make_store_template()}\n")
