"""Airflow on the embedded defaults: its environment, admin login and processes.

``fraudops airflow`` runs Airflow 3 next to the CLI's state: ``AIRFLOW_HOME`` is
``$FRAUDOPS_HOME/airflow`` (SQLite metadata database, logs, generated config), the DAGs are
the repository's ``airflow/dags`` and every task sees the same ``FRAUDOPS_*`` settings as the
command that started it. The tests start Airflow through the same functions.

Nothing here imports Airflow: its components run as ``python -m airflow`` subprocesses.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import NoDecode

from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.procs import LOOPBACK, start_group, stop_groups

ADMIN = "admin"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
# Component -> its command. Task logs are files in AIRFLOW_HOME that the api-server reads, so
# the scheduler's log server (port 8793 on every interface) is not needed. The triggerer only
# serves deferrable tasks, which the FraudOps DAGs do not use: it is optional.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler", "--skip-serve-logs"),
    "dag-processor": ("dag-processor",),
}
TRIGGERER = {"triggerer": ("triggerer", "--skip-serve-logs")}


def airflow_home(settings: Settings) -> Path:
    """``AIRFLOW_HOME`` of the local Airflow: a folder under ``FRAUDOPS_HOME``."""
    return settings.home_dir / "airflow"


def dags_folder(settings: Settings) -> Path:
    """The DAG files: ``FRAUDOPS_DAGS_FOLDER``, else ``airflow/dags`` of this checkout."""
    if settings.dags_folder is not None:
        folder = settings.dags_folder.expanduser().resolve()
    else:  # src/fraudops/airflow_local.py -> the repository root
        folder = Path(__file__).resolve().parents[2] / "airflow" / "dags"
    if not any(folder.glob("fraud_*.py")):
        raise FraudOpsError(
            f"no FraudOps DAG files in {folder}: set FRAUDOPS_DAGS_FOLDER to the "
            "repository's airflow/dags folder."
        )
    return folder


def password_file(home: Path) -> Path:
    """Where the simple auth manager reads its passwords (its default name in ``home``)."""
    return home / "simple_auth_manager_passwords.json.generated"


def admin_password(home: Path) -> str:
    """The admin's password, generated into the passwords file on first use."""
    path = password_file(home)
    try:
        passwords = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        passwords = {}
    if ADMIN not in passwords:
        passwords[ADMIN] = secrets.token_urlsafe(12)
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(passwords, fh)
    return str(passwords[ADMIN])


def _env_value(value: Any, *, comma_list: bool) -> str:
    """A setting as the environment spells it, secrets in clear (the child must read them)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list | tuple):
        items = [_env_value(item, comma_list=True) for item in value]
        return ",".join(items) if comma_list else json.dumps(items)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def fraudops_env(settings: Settings) -> dict[str, str]:
    """The settings as ``FRAUDOPS_*`` variables: tasks see what this process sees (``.env`` too)."""
    env = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is not None:
            # lists marked NoDecode are comma-separated in the environment, others JSON
            comma_list = NoDecode in type(settings).model_fields[name].metadata
            env[f"FRAUDOPS_{name.upper()}"] = _env_value(value, comma_list=comma_list)
    env["FRAUDOPS_HOME"] = str(settings.home_dir)  # absolute: tasks may run in another folder
    return env


def airflow_env(
    settings: Settings,
    *,
    host: str = LOOPBACK,
    port: int = 8080,
    home: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of every Airflow process: embedded defaults, overridable by ``AIRFLOW__*``.

    Args:
        settings: The FraudOps settings the tasks must see.
        host: Interface the api-server listens on.
        port: Port of the api-server (UI, REST API and the tasks' execution API).
        home: ``AIRFLOW_HOME`` (default: under ``FRAUDOPS_HOME``).
        base: Environment to start from (default: this process's).
    """
    home = (home or airflow_home(settings)).resolve()
    defaults = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # two task slots: training uses the cores itself, Airflow only needs to hand them out
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(home)),
    }
    required = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(settings)),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{_client_host(host)}:{port}/execution/",
        **fraudops_env(settings),
    }
    return {**defaults, **(os.environ if base is None else base), **required}


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    return LOOPBACK if host in ("0.0.0.0", "::", "") else host


def _airflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def migrate(env: Mapping[str, str]) -> None:
    """Create or upgrade the metadata database (``airflow db migrate``); idempotent."""
    if importlib.util.find_spec("airflow") is None:
        raise FraudOpsError("Airflow is not installed: pip install 'fraudops[airflow]'.")
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        _airflow("db", "migrate"), env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise FraudOpsError(f"airflow db migrate failed ({done.returncode}):\n{tail}")


@dataclass
class LocalAirflow:
    """A running local Airflow: where to reach it and its processes."""

    url: str
    username: str
    password: str
    home: Path
    dags_folder: Path
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def check(self) -> None:
        """Raise if a component has exited, with the end of its log."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = self.logs / f"{name}.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise FraudOpsError(
                    f"Airflow {name} exited with {proc.returncode}; last lines of {log}:\n{tail}"
                )

    def health(self) -> dict[str, str | None]:
        """Component states from ``/api/v2/monitor/health`` (empty while the API is down)."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as resp:
                body = json.load(resp)
        except (OSError, ValueError):
            return {}
        return {name: (info or {}).get("status") for name, info in body.items()}


def wait_ready(airflow: LocalAirflow, *, timeout: float = 180.0, triggerer: bool = False) -> None:
    """Wait until the API answers and the scheduler and DAG processor heartbeat."""
    wanted = ["metadatabase", "scheduler", "dag_processor", *(["triggerer"] if triggerer else [])]
    deadline = time.monotonic() + timeout
    health: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        airflow.check()
        health = airflow.health()
        if all(health.get(name) == "healthy" for name in wanted):
            return
        time.sleep(1.0)
    raise FraudOpsError(
        f"Airflow was not ready within {timeout:.0f} s (health: {health or 'no answer'}); "
        f"see the logs in {airflow.logs}"
    )


@contextmanager
def run_airflow(
    settings: Settings,
    *,
    host: str = LOOPBACK,
    port: int = 8080,
    triggerer: bool = False,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 180.0,
) -> Iterator[LocalAirflow]:
    """Migrate the database, start the components, wait until ready; stop them on exit.

    Each component runs in its own session with its output in ``$AIRFLOW_HOME/logs/<name>.log``,
    so a Ctrl-C in the terminal reaches only this process, which then stops them in order.
    """
    env = dict(env or airflow_env(settings, host=host, port=port))
    home = Path(env["AIRFLOW_HOME"])
    password = admin_password(home)
    migrate(env)
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow = LocalAirflow(
        url=f"http://{_client_host(env['AIRFLOW__API__HOST'])}:{env['AIRFLOW__API__PORT']}",
        username=ADMIN,
        password=password,
        home=home,
        dags_folder=Path(env["AIRFLOW__CORE__DAGS_FOLDER"]),
        logs=logs,
    )
    # SIGTERM (e.g. from a process manager) unwinds like Ctrl-C, so the components are stopped
    trap = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if trap else None
    try:
        commands = {**COMPONENTS, **(TRIGGERER if triggerer else {})}
        for name, command in commands.items():
            airflow.processes[name] = start_group(
                _airflow(*command), env=env, log=logs / f"{name}.log"
            )
        wait_ready(airflow, timeout=ready_timeout, triggerer=triggerer)
        yield airflow
    finally:
        stop_groups(airflow.processes.values(), grace=30.0)
        if trap:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_forever(airflow: LocalAirflow) -> None:
    """Block until Ctrl-C or SIGTERM (then return), or raise if a component dies."""
    try:
        while True:
            airflow.check()
            time.sleep(1.0)
    except KeyboardInterrupt:
        return
