"""Stack rehearsal: docker-compose.yml's services run natively, then `make smoke`'s scenario.

No Docker engine exists where the tests run. tests/stack/rehearsal.py reads docker-compose.yml
and the Dockerfiles and starts every service with its container's command and environment
(hosts mapped to 127.0.0.1 and free ports), PostgreSQL initialised by postgres/init, moto's S3
server in place of MinIO with minio/init.sh's buckets. Then scripts/smoke.py, the script behind
`make smoke`, runs against it: fraud_bootstrap through the Airflow REST API, POST /predict,
a CSV through the inbox and fraud_batch_score; Prometheus (Debian's, with the stack's
prometheus.yml) must then show the API and the figures the batch DAG pushed. Grafana is not
rehearsed: no binary exists for this machine.

Small data keeps the scenario within a few minutes on two cores: the scheduler (where the
LocalExecutor runs tasks) gets FRAUDOPS_DAYS=10, FRAUDOPS_ROWS_PER_DAY=3000,
FRAUDOPS_VALID_DAYS=2, FRAUDOPS_HOLDOUT_DAYS=2 and FRAUDOPS_PROMOTION_FLOOR=0.1
(``rehearsal.PIPELINE_SIZE``), and the .env sets API_MODEL_POLL_SECONDS=2 so the API serves
the promoted model within seconds (``rehearsal.DOTENV_OVERRIDES``). Everything else comes
from the files.

Run: ``pytest tests/stack -q`` (markers: integration, slow). Service logs stay in the test's
temporary folder (``logs/<service>.log``) and are printed when something fails.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import services as test_services
from tests.support.rehearsal import ROOT, Rehearsal, Stack, have_command, run_healthcheck

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMOKE = ROOT / "scripts" / "smoke.py"
SMOKE_TIMEOUT = 420  # seconds for the whole scenario (it bounds each of its own waits)


def _missing_prerequisite() -> str | None:
    """Why the rehearsal cannot run on this machine, or None."""
    try:
        test_services.pg_bin("initdb")
    except RuntimeError as exc:
        return str(exc)
    for module, extra in (("airflow", "airflow"), ("moto", "dev"), ("fastapi", "api")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (the fraudops[{extra}] extra)"
    for command in ("bash", "curl", "wget", "prometheus", "prometheus-pushgateway"):
        if not have_command(command):
            return f"{command} is not installed (make system-deps)"
    return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack, started once for this module and stopped afterwards."""
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(f"stack rehearsal: {reason}")
    # moto's server logs every request at INFO: keep failure reports to the services' logs
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    try:
        with Rehearsal(tmp_path_factory.mktemp("stack"), timeout=240).stack() as running:
            yield running
    finally:
        werkzeug.setLevel(level)


def _request(
    method: str, url: str, *, auth: tuple[str, str] | None = None, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def test_postgres_has_one_login_and_database_per_service(stack: Stack) -> None:
    import psycopg2

    env = stack.compose["services"]["postgres"]["environment"]
    roles = {
        key.removeprefix("POSTGRES_").removesuffix("_PASSWORD").lower(): value
        for key, value in env.items()
        if key.startswith("POSTGRES_") and key.endswith("_PASSWORD") and key != "POSTGRES_PASSWORD"
    }
    assert set(roles) == {"airflow", "mlflow", "lake"}
    pg = {"host": "127.0.0.1", "port": stack.postgres["port"], "connect_timeout": 5}
    for role, password in roles.items():
        psycopg2.connect(**pg, user=role, password=password, dbname=role).close()
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(**pg, user=role, password=password + "x", dbname=role)
        for other in set(roles) - {role}:
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                psycopg2.connect(**pg, user=role, password=password, dbname=other)


def test_mlflow_requires_a_login_and_proxies_artifacts_to_s3(stack: Stack) -> None:
    import boto3

    url = stack.urls["mlflow"]
    search = f"{url}/api/2.0/mlflow/experiments/search"
    body = {"max_results": 10}
    admin = (stack.dotenv["MLFLOW_ADMIN_USERNAME"], stack.dotenv["MLFLOW_ADMIN_PASSWORD"])
    trainer = ("airflow", stack.dotenv["MLFLOW_AIRFLOW_PASSWORD"])
    reader = ("api", stack.dotenv["MLFLOW_API_PASSWORD"])
    assert _request("POST", search, body=body)[0] == 401
    assert _request("POST", search, body=body, auth=(admin[0], "not-the-password"))[0] == 401
    for login in (admin, trainer, reader):
        assert _request("POST", search, body=body, auth=login)[0] == 200, login[0]

    # An artifact uploaded through the server (clients hold no S3 key) lands in the mlflow bucket.
    status, created = _request(
        "POST",
        f"{url}/api/2.0/mlflow/experiments/create",
        body={"name": f"rehearsal-{time.time_ns()}"},
        auth=trainer,
    )
    assert status == 200, created
    status, run = _request(
        "POST",
        f"{url}/api/2.0/mlflow/runs/create",
        body={"experiment_id": created["experiment_id"]},
        auth=trainer,
    )
    assert status == 200, run
    artifact_uri = run["run"]["info"]["artifact_uri"]
    assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
    path = f"{artifact_uri.removeprefix('mlflow-artifacts:/')}/hello.txt"
    req = urllib.request.Request(
        f"{url}/api/2.0/mlflow-artifacts/artifacts/{path}", data=b"hello", method="PUT"
    )
    req.add_header(
        "Authorization", "Basic " + base64.b64encode(":".join(trainer).encode()).decode()
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3["endpoint"],
        aws_access_key_id=stack.dotenv["MLFLOW_S3_ACCESS_KEY"],
        aws_secret_access_key=stack.dotenv["MLFLOW_S3_SECRET_KEY"],
        region_name=stack.s3["region"],
    )
    assert s3.get_object(Bucket="mlflow", Key=path)["Body"].read() == b"hello"


def _airflow_token(stack: Stack, user: str, password: str) -> tuple[int, Any]:
    return _request(
        "POST", f"{stack.urls['airflow']}/auth/token", body={"username": user, "password": password}
    )


def _airflow_call(stack: Stack, token: str, method: str, path: str, body: Any = None) -> int:
    req = urllib.request.Request(
        f"{stack.urls['airflow']}/api/v2{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_airflow_uses_fab_logins_from_env_and_refuses_a_wrong_password(stack: Stack) -> None:
    env = stack.processes["airflow-apiserver"].env
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".FabAuthManager")
    for role in ("ADMIN", "VIEWER"):
        user = stack.dotenv[f"AIRFLOW_{role}_USERNAME"]
        status, answer = _airflow_token(stack, user, stack.dotenv[f"AIRFLOW_{role}_PASSWORD"])
        assert status == 201 and answer["access_token"], (role, answer)
        assert _airflow_token(stack, user, "not-the-password")[0] == 401, role
    assert _airflow_token(stack, "nobody", "not-the-password")[0] == 401
    assert _request("GET", f"{stack.urls['airflow']}/api/v2/dags")[0] == 401


def test_airflow_viewer_reads_dags_but_cannot_trigger_or_unpause_them(stack: Stack) -> None:
    user, password = (
        stack.dotenv["AIRFLOW_VIEWER_USERNAME"],
        stack.dotenv["AIRFLOW_VIEWER_PASSWORD"],
    )
    token = _airflow_token(stack, user, password)[1]["access_token"]
    dag = "/dags/fraud_bootstrap"
    deadline = time.monotonic() + 90  # the dag-processor's first parse
    while _airflow_call(stack, token, "GET", dag) != 200 and time.monotonic() < deadline:
        time.sleep(2)
    assert _airflow_call(stack, token, "GET", dag) == 200
    assert _airflow_call(stack, token, "GET", "/dags") == 200
    run = {"logical_date": None, "conf": {}}
    assert _airflow_call(stack, token, "POST", f"{dag}/dagRuns", run) == 403
    assert _airflow_call(stack, token, "PATCH", dag, {"is_paused": False}) == 403


def test_inbox_bucket_is_versioned_as_minio_init_makes_it(stack: Stack) -> None:
    # The smoke scenario below then scores its CSV in a versioned inbox, as the stack does.
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3["endpoint"],
        aws_access_key_id=stack.dotenv["MINIO_ROOT_USER"],
        aws_secret_access_key=stack.dotenv["MINIO_ROOT_PASSWORD"],
        region_name=stack.s3["region"],
    )
    assert s3.get_bucket_versioning(Bucket="inbox").get("Status") == "Enabled"


def test_every_compose_healthcheck_passes(stack: Stack) -> None:
    assert set(stack.healthchecks) >= {
        "postgres",
        "mlflow",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "api",
        "prometheus",
        "pushgateway",
        "valkey",
    }
    failed = {}
    for name in sorted(stack.healthchecks):
        done = run_healthcheck(stack, name)
        if done.returncode != 0:
            failed[name] = (
                f"{stack.healthchecks[name]} -> {done.returncode}: {done.stdout}{done.stderr}"
            )
    assert not failed, failed


def test_make_smoke_scenario_passes(stack: Stack) -> None:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(SMOKE),
                "--env-file",
                str(stack.env_file),
                "--timeout",
                str(SMOKE_TIMEOUT - 20),
                "--bootstrap-timeout",
                "300",
                "--batch-timeout",
                "120",
                "--wait",
                "90",
            ],
            env=stack.smoke_env(),
            cwd=stack.base,
            capture_output=True,
            text=True,
            timeout=SMOKE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout if isinstance(exc.stdout, str) else ""
        pytest.fail(f"smoke did not finish in {SMOKE_TIMEOUT}s:\n{partial}\n{stack.logs()}")
    output = done.stdout + done.stderr
    print(output)  # shown with -s or -rA: each step's line and its timing
    assert done.returncode == 0, (
        f"smoke failed after {time.monotonic() - started:.0f}s:\n{output}\n{stack.logs(40)}"
    )
    assert "smoke test passed" in done.stdout


def test_prometheus_sees_the_api_and_what_the_batch_dag_pushed(stack: Stack) -> None:
    # After the smoke scenario: the API has scored and logged predictions to the lake, and
    # fraud_batch_score, run in the scheduler, pushed its run's figures to the Pushgateway.
    # Only the last run's figures are kept there: the unpaused DAG's scheduled run may come
    # after the smoke's and find the inbox empty, so the figures must exist, not be > 0.
    expected = {
        "the API is scraped": 'up{job="fraudops-api"} == 1',
        "the inference log committed": 'fraudops_prediction_log_rows_total{job="fraudops-api"} > 0',
        "the inbox run was pushed": 'fraudops_inbox_run_rows{job="fraudops_inbox"}',
        "when it ended": 'fraudops_inbox_last_run_timestamp_seconds{job="fraudops_inbox"}',
    }
    missing = dict(expected)
    deadline = time.monotonic() + 90  # the stack scrapes every 15 s
    while missing and time.monotonic() < deadline:
        for what, expr in list(missing.items()):
            if test_services.prometheus_query(stack.urls["prometheus"], expr):
                del missing[what]
        time.sleep(2)
    assert not missing, f"{missing}\n{stack.logs(20)}"
