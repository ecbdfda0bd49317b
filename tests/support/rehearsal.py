"""The stack rehearsal: docker-compose.yml's services, started natively on loopback.

There is no Docker engine where the tests run, so this reads docker-compose.yml (and the
Dockerfiles it builds) and starts each service the way its container would start:

* the command: the service's ``command``/``entrypoint``, else the image's ``CMD``/``ENTRYPOINT``;
  the official Airflow image's entrypoint rule (``bash``/``python`` run as given, anything else
  is an ``airflow`` sub-command);
* the environment: the image's ``ENV``, then the service's ``environment``, interpolated from a
  ``.env`` written by ``scripts/make_env.py`` from ``.env.example`` (fresh secrets, as
  ``make env`` does);
* the network: every ``http://service:port``, ``@service:port`` in a value points to
  127.0.0.1 and the port the native stand-in listens on; what listens on ``0.0.0.0:<port>``
  inside a container listens on ``127.0.0.1:<free port>`` here, because the processes share one
  network namespace (and this machine may run other Airflows on the default ports);
* the filesystem: files the Dockerfiles ``COPY`` map to the work tree, named volumes to folders
  shared by the services that mount them, anything else under ``/opt`` or ``/home`` to a
  private folder per service (its "container filesystem");
* start-up order: ``depends_on`` with its conditions (``service_healthy``,
  ``service_completed_successfully``).

Stand-ins, because the real thing cannot run here:

* ``postgres``: a throwaway cluster (tests/services.py); the scripts of ``postgres/init`` (the
  image's ``/docker-entrypoint-initdb.d``) run with the service's environment, the superuser
  gets ``POSTGRES_PASSWORD`` and TCP connections need a password (scram-sha-256), as in the
  official image;
* ``minio``: moto's S3 server. ``minio-init`` is replaced by creating the buckets that
  minio/init.sh creates, versioned where it enables versioning. moto accepts any key and has
  no MinIO admin API (users, policies), and its optional IAM checks ignore S3 condition keys,
  so the per-service keys and their least-privilege policies are not exercised here
  (tests/compose/test_minio_policies.py evaluates them statically);
* ``valkey``: Debian's ``redis-server`` (7.0, the protocol Valkey 8 speaks) with the service's
  password (``VALKEY_PASSWORD``), no append-only file; its healthcheck asks ``redis-cli``;
* ``prometheus`` and ``pushgateway``: Debian's binaries (Prometheus 2.42 and Pushgateway 1.5,
  older than the pinned images) with the service's flags; Prometheus gets prometheus/prometheus.yml
  with its targets pointed at the native services;
* ``grafana`` is not rehearsed: there is no Grafana binary for this machine. Its provisioning
  and dashboard are checked as files (tests/compose/test_observability.py), and every query of
  the dashboard runs against a real Prometheus in tests/integration/test_dashboard.py;
* the healthchecks: cheap probes while starting, then each compose healthcheck command is run
  once, translated like the rest, by the tests.

Rehearsal-only settings are few and named in ``REHEARSAL_ENV``, ``DOTENV_OVERRIDES`` and
``PIPELINE_SIZE``: smaller data so the whole scenario fits in minutes on two cores.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fraudops.procs import LOOPBACK, http_status, stop_groups
from tests.support import services as test_services
from tests.support.compose import (
    COMPOSE_FILE,
    ROOT,
    dockerfile_instructions,
    environment,
    interpolate,
    make_env,
)
from tests.support.dashboard import PROMETHEUS_CONFIG, load_yaml, local_config

VENV_BIN = Path(sys.executable).parent

# The data the DAGs generate and train on, for the rehearsal only (the pipeline's settings, read
# where the tasks run: with the LocalExecutor that is the scheduler).
PIPELINE_SIZE = {
    "FRAUDOPS_DAYS": "10",
    "FRAUDOPS_ROWS_PER_DAY": "3000",
    "FRAUDOPS_VALID_DAYS": "2",
    "FRAUDOPS_HOLDOUT_DAYS": "2",
    "FRAUDOPS_LABEL_MATURITY_DAYS": "3",
    "FRAUDOPS_PROMOTION_FLOOR": "0.1",
}
# .env values the rehearsal sets instead of make_env's: the API re-reads the alias every 2 s, so
# the model promoted by fraud_bootstrap is served within seconds.
DOTENV_OVERRIDES = {"API_MODEL_POLL_SECONDS": "2"}

# What the images FROM these bases bring that our Dockerfiles do not say.
BASE_IMAGES: dict[str, dict[str, Any]] = {
    "apache/airflow": {
        "env": {"AIRFLOW_HOME": "/opt/airflow"},
        "home": "/home/airflow",
        "workdir": "/opt/airflow",
    },
}
# Container ports that Airflow's components open by default, and the settings that move them.
AIRFLOW_PORTS = {
    8080: "AIRFLOW__API__PORT",
    8974: "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    8793: "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    8794: "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
}
# Healthchecks that start a whole Airflow CLI (seconds of CPU each): polled through the API's
# /api/v2/monitor/health while starting, run once by the tests.
MONITORED = {"airflow-dag-processor": "dag_processor", "airflow-triggerer": "triggerer"}
STAND_INS = {"postgres", "minio", "minio-init", "valkey"}
# Upstream images run natively from Debian's packages (make system-deps installs them).
NATIVE = {"prometheus": "prometheus", "pushgateway": "prometheus-pushgateway"}
NOT_REHEARSED = {"grafana"}  # no binary for this machine


class RehearsalError(RuntimeError):
    """The stack could not be started the way docker-compose.yml describes it."""


# --- reading the files -----------------------------------------------------------------------


def generate_dotenv(path: Path) -> dict[str, str]:
    """Write a ``.env`` like ``make env`` (scripts/make_env.py) does; return its values."""
    text, _ = make_env.render((ROOT / ".env.example").read_text(encoding="utf-8"))
    lines = []
    for line in text.splitlines():
        name = line.partition("=")[0]
        if name in DOTENV_OVERRIDES and not line.lstrip().startswith("#"):
            line = f"{name}={DOTENV_OVERRIDES[name]}"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    make_env.write_private(path, text)
    return dict(make_env.parse_dotenv(text))


def load_compose(dotenv: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml with YAML anchors merged and variables interpolated from ``dotenv``."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return interpolate(raw, dotenv)


@dataclass
class Image:
    """What a service's Dockerfile (final stage) says about how its container starts."""

    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)  # container path -> work tree path
    folders: list[str] = field(default_factory=list)  # created by RUN mkdir -p
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    workdir: str = "/"
    home: str = "/root"


def read_image(build: dict[str, Any] | str) -> Image:
    """Parse the Dockerfile a compose ``build`` names."""
    spec = {"context": build} if isinstance(build, str) else build
    context = (ROOT / spec.get("context", ".")).resolve()
    dockerfile = context / spec.get("dockerfile", "Dockerfile")
    instructions = dockerfile_instructions(dockerfile)
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    image = Image(base=instructions[last_from][1].split()[0].split(":")[0])
    if image.base in BASE_IMAGES:
        image = Image(base=image.base, **copy.deepcopy(BASE_IMAGES[image.base]))
    for keyword, args in instructions[last_from + 1 :]:
        if keyword == "ENV":
            for word in shlex.split(args):
                name, _, value = word.partition("=")
                image.env[name] = value
        elif keyword == "COPY":
            words = shlex.split(args)
            if any(w.startswith("--from") for w in words):
                continue
            *sources, dest = [w for w in words if not w.startswith("--")]
            for source in sources:
                src = context / source
                if src.is_dir():
                    image.copies[dest.rstrip("/")] = src
                elif dest.endswith("/") or len(sources) > 1:
                    image.copies[f"{dest.rstrip('/')}/{src.name}"] = src
                else:
                    image.copies[dest] = src
        elif keyword == "RUN":
            for found in re.findall(r"mkdir -p ([^&;|]+)", args):
                image.folders.extend(w for w in found.split() if w.startswith("/"))
            home = re.search(r"--home-dir (\S+)", args)
            if home:
                image.home = home.group(1)
        elif keyword == "WORKDIR":
            image.workdir = args
        elif keyword in ("ENTRYPOINT", "CMD"):
            argv: list[str] = json.loads(args) if args.startswith("[") else ["/bin/sh", "-c", args]
            if keyword == "ENTRYPOINT":
                image.entrypoint, image.cmd = argv, []  # as Docker: a new ENTRYPOINT resets CMD
            else:
                image.cmd = argv
    return image


def as_argv(value: list[str] | str | None) -> list[str] | None:
    """A compose ``command``/``entrypoint``: the list form, or a string split like a shell."""
    if value is None:
        return None
    return list(value) if isinstance(value, list) else shlex.split(value)


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the short list form means ``service_started``)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def start_order(services: dict[str, Any]) -> list[str]:
    """Services in an order where every dependency comes first (Kahn, ties by name)."""
    deps = {name: set(depends_on(svc)) for name, svc in services.items()}
    order: list[str] = []
    while deps:
        ready = sorted(name for name, wanted in deps.items() if wanted <= set(order))
        if not ready:
            raise RehearsalError(f"dependency cycle among {sorted(deps)}")
        order.extend(ready)
        for name in ready:
            del deps[name]
    return order


# --- translating a container's view to this machine ------------------------------------------


@dataclass
class Translation:
    """Host names, ports and paths of one service's container, as seen natively."""

    endpoints: dict[tuple[str, int], int]  # (service, container port) -> loopback port
    own_ports: dict[int, int]  # this container's ports -> loopback port
    paths: dict[str, Path]  # container path prefix -> native path
    rootfs: Path  # stand-in for the rest of the container's filesystem

    def url(self, text: str) -> str:
        """Point ``//service:port`` and ``@service:port`` at loopback; own ports too."""

        def other(m: re.Match[str]) -> str:
            key = (m["host"], int(m["port"]))
            if key not in self.endpoints:
                return m.group(0)
            return f"{LOOPBACK}:{self.endpoints[key]}"

        def own(m: re.Match[str]) -> str:
            port = int(m["port"])
            return f"{LOOPBACK}:{self.own_ports[port]}" if port in self.own_ports else m.group(0)

        hosts = "|".join(sorted({re.escape(h) for h, _ in self.endpoints}, key=len, reverse=True))
        # a port ends the authority part: a password after "user:" is followed by more text
        pattern = rf"(?:(?<=//)|(?<=@))(?P<host>{hosts}):(?P<port>\d+)(?=[/?#\s]|$)"
        text = re.sub(pattern, other, text)
        return re.sub(r"\b(?:localhost|127\.0\.0\.1|0\.0\.0\.0):(?P<port>\d+)\b", own, text)

    def path(self, text: str) -> str:
        """A container path (or ``--opt=path``) as the native path standing in for it."""
        prefix, sep, value = text.rpartition("=") if text.startswith("--") else ("", "", text)
        if not value.startswith("/"):
            return text
        for container in sorted(self.paths, key=len, reverse=True):
            if value == container or value.startswith(container.rstrip("/") + "/"):
                native = str(self.paths[container]) + value[len(container.rstrip("/")) :]
                return f"{prefix}{sep}{native}"
        if value.startswith(("/opt/", "/home/", "/data", "/var/lib/")):
            return f"{prefix}{sep}{self.rootfs}{value}"
        return text

    def value(self, text: str) -> str:
        """An environment value or argument: URLs and paths translated."""
        return self.path(self.url(text))

    def args(self, argv: list[str]) -> list[str]:
        """Arguments translated; ``0.0.0.0`` becomes loopback, own ports after ``--port``."""
        out: list[str] = []
        for i, arg in enumerate(argv):
            arg = self.value(arg)
            if arg == "0.0.0.0" or arg.endswith("=0.0.0.0"):
                arg = arg[: -len("0.0.0.0")] + LOOPBACK
            port = re.fullmatch(r"(?P<flag>--port=)?(?P<port>\d+)", arg)
            if port and (port["flag"] or (i and argv[i - 1] == "--port")):
                number = int(port["port"])
                arg = f"{port['flag'] or ''}{self.own_ports.get(number, number)}"
            out.append(arg)
        return out


# --- processes -------------------------------------------------------------------------------


@dataclass
class Process:
    """A service's native process (its own process group) and where its output goes."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it in a new session, output to its log file."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def exited(self) -> int | None:
        """The exit code, or None while it runs."""
        return None if self.popen is None else self.popen.poll()


def stop_all(processes: list[Process], *, grace: float = 20.0) -> None:
    """Stop every process group (newest first), SIGKILL what is left after ``grace``."""
    stop_groups([p.popen for p in reversed(processes) if p.popen is not None], grace=grace)


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file ('' if it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def http_ok(url: str, *, timeout: float = 3.0) -> bool:
    """Whether a GET answers 2xx."""
    status = http_status(url, timeout=timeout)
    return status is not None and 200 <= status < 300


# --- the stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    """The running rehearsal: what the tests and the smoke scenario need to reach it."""

    base: Path
    dotenv: dict[str, str]
    env_file: Path
    compose: dict[str, Any]
    postgres: dict[str, Any]
    s3: dict[str, str]
    urls: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    healthchecks: dict[str, list[str]] = field(default_factory=dict)

    def logs(self, lines: int = 30) -> str:
        """The end of every service's log, for a failure message."""
        parts = []
        for name, proc in self.processes.items():
            parts.append(f"----- {name} (exit {proc.exited()}) {proc.log}\n{tail(proc.log, lines)}")
        return "\n".join(parts)

    def smoke_env(self) -> dict[str, str]:
        """Environment for scripts/smoke.py: the .env, plus where the services answer here."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FRAUDOPS"))}
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        env.update(
            SMOKE_AIRFLOW_URL=self.urls["airflow"],
            SMOKE_API_URL=self.urls["api"],
            SMOKE_S3_ENDPOINT=self.s3["endpoint"],
        )
        return env


class Rehearsal:
    """Starts docker-compose.yml's services natively; ``stack()`` is the context manager."""

    def __init__(self, base: Path, *, timeout: float = 240.0) -> None:
        self.base = base
        self.timeout = timeout
        self.volumes = base / "volumes"
        self.logdir = base / "logs"
        self.airflow_ports: dict[int, int] = {}

    # -- stand-ins ----------------------------------------------------------------------------

    def start_postgres(self, service: dict[str, Any], pg: dict[str, Any], sockets: Path) -> None:
        """Run postgres/init like the image's entrypoint, then require passwords over TCP."""
        import psycopg2

        env = environment(service)
        mounts = [v for v in service.get("volumes", []) if "/docker-entrypoint-initdb.d" in v]
        init_dir = ROOT / mounts[0].split(":")[0] if mounts else None
        run_env = {
            **os.environ,
            **env,
            "POSTGRES_USER": str(pg["user"]),
            "PGHOST": str(sockets),
            "PGPORT": str(pg["port"]),
            "PATH": f"{Path(test_services.pg_bin('psql')).parent}:{os.environ['PATH']}",
        }
        for script in sorted(init_dir.iterdir()) if init_dir else []:
            if script.suffix == ".sh":
                argv = ["bash", str(script)]
            elif script.suffix == ".sql":
                argv = ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-U", pg["user"]]
                argv += ["--dbname", "postgres", "-f", str(script)]
            else:
                raise RehearsalError(f"postgres/init: no rehearsal for {script.name}")
            done = subprocess.run(argv, env=run_env, capture_output=True, text=True, check=False)
            (self.logdir / "postgres-init.log").write_text(done.stdout + done.stderr)
            if done.returncode != 0:
                raise RehearsalError(f"{script.name} failed:\n{done.stdout}{done.stderr}")
        conn = psycopg2.connect(
            host=str(sockets), port=pg["port"], user=pg["user"], dbname="postgres"
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            # The image: the superuser's password is POSTGRES_PASSWORD; local socket trusted,
            # every TCP connection authenticated (POSTGRES_HOST_AUTH_METHOD=scram-sha-256).
            cur.execute(f'ALTER ROLE "{pg["user"]}" PASSWORD %s', (env["POSTGRES_PASSWORD"],))
            cur.execute("SHOW hba_file")
            hba = Path(cur.fetchone()[0])
            hba.write_text(
                "local all all trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
                "host all all ::1/128 scram-sha-256\n"
            )
            cur.execute("SELECT pg_reload_conf()")
        conn.close()

    def create_buckets(self, service: dict[str, Any], s3: dict[str, str]) -> list[str]:
        """minio-init's buckets and their versioning (read from the script it runs), on moto."""
        import boto3

        script = (ROOT / "minio" / "init.sh").read_text(encoding="utf-8")
        found = re.search(r"for bucket in ([\w\s-]+); do", script)
        if not found:
            raise RehearsalError("minio/init.sh: no `for bucket in ...` loop to read buckets from")
        buckets = found.group(1).split()
        env = environment(service)
        # moto accepts any key; the root key is the one minio-init uses.
        client = boto3.client(
            "s3",
            endpoint_url=s3["endpoint"],
            aws_access_key_id=env["MINIO_ROOT_USER"],
            aws_secret_access_key=env["MINIO_ROOT_PASSWORD"],
            region_name=s3["region"],
        )
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        for bucket in re.findall(r"^mcq version enable fraudops/([\w-]+)", script, re.M):
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        return buckets

    # -- native processes ---------------------------------------------------------------------

    def process_for(self, name: str, service: dict[str, Any], tr: Translation) -> Process:
        """The argv, environment and folder of a service's container, translated."""
        image = read_image(service["build"])
        env = {
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LANG": "C.UTF-8",
            "HOME": tr.path(image.home),
            # Docker sets the container's host name; Airflow's `jobs check` healthchecks use it.
            "HOSTNAME": socket.gethostname(),
        }
        for key, value in image.env.items():
            if key != "PATH":  # the image's venv is this interpreter's
                env[key] = tr.value(value)
        for key, value in environment(service).items():
            env[key] = tr.value(value)
        entrypoint = as_argv(service.get("entrypoint")) or image.entrypoint
        command = as_argv(service.get("command")) or image.cmd
        if image.base == "apache/airflow":
            env.update(self.airflow_env(tr))
            if name == "airflow-scheduler":
                env.update(PIPELINE_SIZE)
            # The official image's entrypoint: bash/python commands run as given, any other
            # command is an `airflow` sub-command.
            argv = command if command[0] in ("bash", "python") else ["airflow", *command]
        else:
            argv = [*entrypoint, *command]
        argv = tr.args(argv)
        for folder in [image.home, image.workdir, *image.folders]:
            Path(tr.path(folder)).mkdir(parents=True, exist_ok=True)
        return Process(name, argv, env, Path(tr.path(image.workdir)), self.logdir / f"{name}.log")

    def native_process(self, name: str, service: dict[str, Any], tr: Translation) -> Process:
        """An upstream image's program from Debian's package, with the service's flags."""
        binary = shutil.which(NATIVE[name])
        if binary is None:
            raise RehearsalError(f"{NATIVE[name]} is not installed (make system-deps)")
        argv = [binary, *tr.args(as_argv(service.get("command")) or [])]
        if name == "prometheus":
            # the mounted prometheus.yml, its targets (service:port) at the native addresses
            addresses = {
                f"{svc}:{port}": f"{LOOPBACK}:{native}"
                for (svc, port), native in tr.endpoints.items()
            }
            addresses.update({f"localhost:{p}": f"{LOOPBACK}:{n}" for p, n in tr.own_ports.items()})
            config = self.base / "prometheus.yml"
            config.write_text(yaml.safe_dump(local_config(load_yaml(PROMETHEUS_CONFIG), addresses)))
            argv = [
                f"--config.file={config}" if a.startswith("--config.file=") else a for a in argv
            ]
        (port,) = tr.own_ports.values()
        argv.append(f"--web.listen-address={LOOPBACK}:{port}")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        return Process(name, argv, env, tr.rootfs, self.logdir / f"{name}.log")

    def airflow_env(self, tr: Translation) -> dict[str, str]:
        """Settings Airflow derives from the image's layout, made explicit natively."""
        env = {
            # the image's /opt/airflow/dags and /opt/airflow/logs (the shared airflow-logs volume)
            "AIRFLOW__CORE__DAGS_FOLDER": tr.path("/opt/airflow/dags"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": tr.path("/opt/airflow/logs"),
            "AIRFLOW__API__HOST": LOOPBACK,
        }
        for container_port, setting in AIRFLOW_PORTS.items():
            env[setting] = str(self.airflow_ports[container_port])
        return env

    def translation(
        self,
        name: str,
        service: dict[str, Any],
        endpoints: dict[tuple[str, int], int],
        volumes: dict[str, Any],
    ) -> Translation:
        """Paths of the image and volumes; ports this service's container listens on."""
        image = read_image(service["build"]) if "build" in service else Image()
        paths: dict[str, Path] = dict(image.copies)
        for mount in service.get("volumes", []):
            source, _, rest = mount.partition(":")
            target = rest.split(":")[0]
            if source in volumes:
                paths[target] = self.volumes / source
                paths[target].mkdir(parents=True, exist_ok=True)
            else:
                paths[target] = (ROOT / source).resolve()
        own = {port: native for (svc, port), native in endpoints.items() if svc == name}
        if image.base == "apache/airflow":
            own.update(self.airflow_ports)
        return Translation(endpoints, own, paths, self.base / "rootfs" / name)

    def healthcheck(self, service: dict[str, Any], tr: Translation) -> list[str] | None:
        """The compose healthcheck command, translated (None without one)."""
        test = (service.get("healthcheck") or {}).get("test")
        if not test or test[0] == "NONE":
            return None
        if test[0] == "CMD-SHELL":
            return ["sh", "-c", tr.url(test[1])]
        return [tr.url(a) for a in test[1:]]

    # -- the whole stack ----------------------------------------------------------------------

    @contextmanager
    def stack(self) -> Iterator[Stack]:
        """Start every service in dependency order; stop them all on exit, even on failure."""
        self.logdir.mkdir(parents=True, exist_ok=True)
        env_file = self.base / ".env"
        dotenv = generate_dotenv(env_file)
        compose = load_compose(dotenv)
        # services behind a profile (the Spark cluster) are not part of `make up`
        services: dict[str, Any] = {
            name: svc
            for name, svc in compose["services"].items()
            if name not in NOT_REHEARSED and not svc.get("profiles")
        }
        built = {n for n, s in services.items() if "build" in s}
        unknown = set(services) - STAND_INS - set(NATIVE) - built
        if unknown:
            raise RehearsalError(f"no way to rehearse services without a build: {sorted(unknown)}")
        with ExitStack() as cleanup:
            pg = cleanup.enter_context(test_services.postgres_cluster(self.base / "pg"))
            s3 = cleanup.enter_context(test_services.moto_s3())
            moto_port = int(s3["endpoint"].rsplit(":", 1)[1])
            valkey_url = cleanup.enter_context(
                test_services.redis_server(self.base / "valkey", password=dotenv["VALKEY_PASSWORD"])
            )
            valkey_port = int(valkey_url.rsplit(":", 1)[1].split("/")[0])
            endpoints = {
                ("valkey", 6379): valkey_port,
                ("postgres", 5432): int(pg["port"]),
                ("minio", 9000): moto_port,
                ("mlflow", 5000): test_services.free_port(),
                ("airflow-apiserver", 8080): test_services.free_port(),
                ("api", 8000): test_services.free_port(),
                ("pushgateway", 9091): test_services.free_port(),
                ("prometheus", 9090): test_services.free_port(),
            }
            # One setting per port, shared by every Airflow component, as their one config is.
            self.airflow_ports = {port: test_services.free_port() for port in AIRFLOW_PORTS}
            self.airflow_ports[8080] = endpoints[("airflow-apiserver", 8080)]
            urls = {
                "airflow": f"http://{LOOPBACK}:{endpoints[('airflow-apiserver', 8080)]}",
                "mlflow": f"http://{LOOPBACK}:{endpoints[('mlflow', 5000)]}",
                "api": f"http://{LOOPBACK}:{endpoints[('api', 8000)]}",
                "scheduler_health": f"http://{LOOPBACK}:{self.airflow_ports[8974]}/health",
                "prometheus": f"http://{LOOPBACK}:{endpoints[('prometheus', 9090)]}",
                "pushgateway": f"http://{LOOPBACK}:{endpoints[('pushgateway', 9091)]}",
            }
            stack = Stack(self.base, dotenv, env_file, compose, pg, s3, urls)
            volumes = compose.get("volumes") or {}
            for name, service in services.items():
                tr = self.translation(name, service, endpoints, volumes)
                check = self.healthcheck(service, tr)
                if check:
                    stack.healthchecks[name] = check
                if name in NATIVE:
                    stack.processes[name] = self.native_process(name, service, tr)
                elif name not in STAND_INS:
                    stack.processes[name] = self.process_for(name, service, tr)
            stack.healthchecks.pop("minio", None)  # moto stands in for MinIO
            if "valkey" in stack.healthchecks:  # redis-server stands in for Valkey
                cli = f"redis-cli -h {LOOPBACK} -p {valkey_port}"
                stack.healthchecks["valkey"] = [
                    "sh",
                    "-c",
                    f'REDISCLI_AUTH="{dotenv["VALKEY_PASSWORD"]}" {cli} ping | grep -q PONG',
                ]
            if "postgres" in stack.healthchecks:
                pg_bin = Path(test_services.pg_bin("pg_isready")).parent
                stack.healthchecks["postgres"] = [
                    str(pg_bin / "pg_isready"),
                    *stack.healthchecks["postgres"][1:],
                    f"--port={pg['port']}",
                ]
            cleanup.callback(stop_all, list(stack.processes.values()))
            try:
                self._start(stack, services)
            except BaseException as exc:
                raise RehearsalError(f"{exc}\n{stack.logs()}") from exc
            yield stack

    def _start(self, stack: Stack, services: dict[str, Any]) -> None:
        """Start services as soon as their dependencies' conditions hold (bounded)."""
        state: dict[str, str] = {}  # name -> started | healthy | completed
        deadline = time.monotonic() + self.timeout
        pending = start_order(services)
        while pending or any(s == "started" for s in state.values()):
            if time.monotonic() > deadline:
                waiting = {n: s for n, s in state.items() if s == "started"}
                raise RehearsalError(
                    f"not healthy within {self.timeout:.0f}s: {waiting or pending}"
                )
            for name in list(pending):
                wanted = depends_on(services[name])
                if all(self._met(state.get(dep), cond) for dep, cond in wanted.items()):
                    pending.remove(name)
                    state[name] = self._launch(name, stack, services[name])
            for name, current in state.items():
                if current == "started":
                    state[name] = self._probe(name, stack)
            time.sleep(0.5)

    @staticmethod
    def _met(state: str | None, condition: str) -> bool:
        if condition == "service_completed_successfully":
            return state == "completed"
        if condition == "service_healthy":
            return state in ("healthy", "completed")
        return state is not None

    def _launch(self, name: str, stack: Stack, service: dict[str, Any]) -> str:
        if name == "postgres":
            self.start_postgres(service, stack.postgres, self.base / "pg")
            return "healthy"
        if name in ("minio", "valkey"):
            return "healthy"  # moto and redis-server are already serving
        if name == "minio-init":
            self.create_buckets(service, stack.s3)
            return "completed"
        stack.processes[name].start()
        return "started"

    def _probe(self, name: str, stack: Stack) -> str:
        """One cheap readiness check of a started service; raise if it died."""
        proc = stack.processes[name]
        code = proc.exited()
        one_shot = (stack.compose["services"][name].get("restart") or "no") == "no"
        if one_shot:
            if code is None:
                return "started"
            if code == 0:
                return "completed"
            raise RehearsalError(f"{name} exited with {code}:\n{tail(proc.log)}")
        if code is not None:
            raise RehearsalError(f"{name} exited with {code}:\n{tail(proc.log)}")
        checks: dict[str, Callable[[], bool]] = {
            "mlflow": lambda: http_ok(f"{stack.urls['mlflow']}/health"),
            "airflow-apiserver": lambda: http_ok(f"{stack.urls['airflow']}/api/v2/version"),
            "airflow-scheduler": lambda: http_ok(stack.urls["scheduler_health"]),
            "api": lambda: http_ok(f"{stack.urls['api']}/health/live"),
            "prometheus": lambda: http_ok(f"{stack.urls['prometheus']}/-/ready"),
            "pushgateway": lambda: http_ok(f"{stack.urls['pushgateway']}/-/ready"),
        }
        if name in MONITORED:
            return "healthy" if airflow_component_healthy(stack, MONITORED[name]) else "started"
        if name not in checks:
            raise RehearsalError(f"no readiness probe for {name}")
        return "healthy" if checks[name]() else "started"


def airflow_component_healthy(stack: Stack, component: str) -> bool:
    """Whether /api/v2/monitor/health reports a component's heartbeat as healthy."""
    try:
        with urllib.request.urlopen(
            f"{stack.urls['airflow']}/api/v2/monitor/health", timeout=3
        ) as r:
            body = json.load(r)
    except (OSError, ValueError):
        return False
    return (body.get(component) or {}).get("status") == "healthy"


def run_healthcheck(
    stack: Stack, name: str, *, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run a service's compose healthcheck once, in that service's environment."""
    env = stack.processes[name].env if name in stack.processes else dict(os.environ)
    return subprocess.run(
        stack.healthchecks[name],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def have_command(name: str) -> bool:
    """Whether an executable is on PATH."""
    return shutil.which(name) is not None
