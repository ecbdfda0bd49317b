"""Real services for the tests, started in subprocesses/threads and cleaned up afterwards.

* PostgreSQL: a throwaway cluster (initdb + pg_ctl) in a temp folder; as root it runs as the
  ``postgres`` system user, because the server refuses to run as root.
* S3: moto's S3 server (``ThreadedMotoServer``) on loopback stands in for MinIO, which has no
  binary for these machines.
* MLflow: ``mlflow server`` as a subprocess, backed by the PostgreSQL cluster.
* Prometheus and its Pushgateway: Debian's ``prometheus`` and ``prometheus-pushgateway``
  binaries (make system-deps installs them), storage in a temp folder.
* Redis, for the card-history store the stack runs on Valkey: Debian's ``redis-server``
  (make system-deps installs it), memory only.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from fraudops.procs import free_port, start_group, stop_groups, wait_http, wait_until

__all__ = [
    "MlflowServer",
    "create_database",
    "free_port",
    "mlflow_server",
    "moto_s3",
    "postgres_cluster",
    "prometheus_query",
    "prometheus_server",
    "pushgateway_server",
    "redis_server",
    "restart_postgres",
]


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make system-deps installs it)")
    return found


def _server_user(base: Path) -> tuple[str, list[str]]:
    """The user the server runs as, and the command prefix that runs a program as that user.

    As root it is the ``postgres`` system user (created if missing), who must reach ``base``.
    """
    if os.getuid() != 0:
        return pwd.getpwuid(os.getuid()).pw_name, []
    user = "postgres"
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        pw = pwd.getpwnam(user)
    if base.stat().st_uid != pw.pw_uid:
        os.chown(base, pw.pw_uid, pw.pw_gid)
        base.chmod(0o755)
        for parent in base.parents:  # the server user must reach its folder
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    return user, ["runuser", "-u", user, "--"]


def pg_ctl(base: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``pg_ctl`` on the cluster in ``base`` as its server user (output to its log)."""
    _, run_as = _server_user(base)
    argv = [*run_as, pg_bin("pg_ctl"), "-D", str(base / "data"), "-l", str(base / "server.log")]
    return subprocess.run([*argv, *args], check=True, capture_output=True)


def restart_postgres(base: Path, *, mode: str = "fast") -> None:
    """Restart the cluster in ``base`` (``fast``: open sessions are cut, then it comes back)."""
    pg_ctl(base, "-m", mode, "-w", "-t", "60", "restart")


@contextmanager
def postgres_cluster(base: Path) -> Iterator[dict[str, str | int]]:
    """A running PostgreSQL cluster on loopback; yields host, port, user and its folder."""
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    user, run_as = _server_user(base)
    port = free_port()
    subprocess.run(
        [
            *run_as,
            pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            user,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    pg_ctl(
        base,
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200",
        "start",
    )
    try:
        yield {"host": "127.0.0.1", "port": port, "user": user, "base": str(base)}
    finally:
        subprocess.run(
            [*run_as, pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )


def create_database(pg: dict[str, str | int], name: str) -> str:
    """Create a database; return its SQLAlchemy URI (psycopg2)."""
    import psycopg2

    conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"postgresql+psycopg2://{pg['user']}@{pg['host']}:{pg['port']}/{name}"


@contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """moto's S3 server on loopback (stand-in for MinIO); yields endpoint and keys."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield {
            "endpoint": f"http://127.0.0.1:{port}",
            "access_key": "testing",
            "secret_key": "testing",
            "region": "us-east-1",
        }
    finally:
        server.stop()


def s3_client(endpoint: dict[str, str]) -> Any:
    """A boto3 S3 client for an endpoint from :func:`moto_s3`."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint["endpoint"],
        aws_access_key_id=endpoint["access_key"],
        aws_secret_access_key=endpoint["secret_key"],
        region_name=endpoint["region"],
    )


class MlflowServer:
    """``mlflow server`` in a subprocess that can be killed and started again on its port."""

    def __init__(self, backend_uri: str, artifacts: Path, *, log: Path) -> None:
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = log
        mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
        self.argv = [mlflow_bin, "server", "--backend-store-uri", backend_uri]
        self.argv += ["--artifacts-destination", artifacts.as_uri(), "--serve-artifacts"]
        self.argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 120) -> None:
        """Start the server and wait until it answers."""
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = start_group(self.argv, env=env, log=self.log)
        wait_http(f"{self.uri}/health", timeout=timeout, proc=self.proc)

    def kill(self) -> None:
        """SIGKILL the server and its workers (as a crash or the OOM killer would)."""
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what is left."""
        if self.proc is not None:
            stop_groups([self.proc], grace=20)
            self.proc = None


@contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, *, log: Path) -> Iterator[str]:
    """``mlflow server`` in a subprocess; yields its http URI."""
    log.unlink(missing_ok=True)
    server = MlflowServer(backend_uri, artifacts, log=log)
    try:
        server.start()
        yield server.uri
    finally:
        server.stop()


def prometheus_bin(name: str) -> str:
    """A binary of Debian's prometheus or prometheus-pushgateway package."""
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed (make system-deps installs it)")
    return found


@contextmanager
def pushgateway_server(base: Path) -> Iterator[str]:
    """A Prometheus Pushgateway on loopback; yields its http URL."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [prometheus_bin("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}"]
    proc = start_group(argv, log=base / "pushgateway.log", cwd=base)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", timeout=30, proc=proc, ready=lambda s: s == 200)
        yield url
    finally:
        stop_groups([proc], grace=5)


@contextmanager
def prometheus_server(
    config: dict[str, Any], base: Path, *, port: int | None = None
) -> Iterator[str]:
    """Prometheus on loopback with ``config`` (a prometheus.yml as data); yields its URL."""
    import yaml

    base.mkdir(parents=True, exist_ok=True)
    config_file = base / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = port or free_port()
    argv = [
        prometheus_bin("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    proc = start_group(argv, log=base / "prometheus.log", cwd=base)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", timeout=60, proc=proc, ready=lambda s: s == 200)
        yield url
    finally:
        stop_groups([proc], grace=10)


@contextmanager
def redis_server(base: Path, *, password: str | None = None) -> Iterator[str]:
    """Debian's redis-server on loopback, nothing saved to disk; yields its URL (database 0).

    The settings, a password included, go in a config file: nothing secret on a command line.
    """
    import redis

    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server is not installed (make system-deps installs it)")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [f"port {port}", "bind 127.0.0.1", 'save ""', "appendonly no", f'dir "{base}"']
    if password:
        lines.append(f'requirepass "{password}"')
    config = base / "redis.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config.chmod(0o600)
    log = base / "redis.log"
    proc = start_group([binary, str(config)], log=log, cwd=base)
    url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}; see {log}")
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        wait_until(answers, what=f"redis-server on port {port}", timeout=30)
        yield url
    finally:
        client.close()
        stop_groups([proc], grace=5)


def prometheus_query(url: str, expr: str) -> list[dict[str, Any]]:
    """The result of an instant query through Prometheus' HTTP API (``/api/v1/query``).

    Raises:
        RuntimeError: Prometheus refused the query (a syntax error, an unknown function).
    """
    body = urllib.parse.urlencode({"query": expr}).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query", data=body, timeout=10) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as exc:  # 400/422: the query itself is wrong
        answer = json.load(exc)
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr}: {answer.get('errorType')}: {answer.get('error')}")
    return answer["data"]["result"]  # type: ignore[no-any-return]
