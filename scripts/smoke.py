"""Smoke test of a running FraudOps stack, end to end, through its public interfaces.

1. Airflow: a JWT from ``POST /auth/token`` for the admin (the FAB auth manager's login).
2. ``fraud_bootstrap``: unpaused and triggered through the REST API v2; waits for success.
3. The API: ``curl`` ``POST /predict`` with the API key; every transaction gets a probability.
4. The inbox: a CSV of freshly generated transactions (no label) uploaded to ``incoming/``.
5. ``fraud_batch_score``: triggered, waited for; ``outbox/<name>.scored.csv`` must hold one row
   per uploaded transaction, and the input must have left ``incoming/``.

Each step prints its title, then ``ok`` with its duration or ``FAILED`` with the reason; the first
failure ends the run with exit code 1. Every wait is bounded, and the whole run by ``--timeout``.

Settings come from the environment, then from ``--env-file`` (default ``.env``), so the stack's
own ``.env`` is enough on the host:

=========================================  ======================================================
``SMOKE_AIRFLOW_URL``                      default ``http://$BIND_ADDRESS:$AIRFLOW_PORT``
``SMOKE_API_URL``                          default ``http://$BIND_ADDRESS:$API_PORT``
``SMOKE_S3_ENDPOINT``                      else ``FRAUDOPS_S3_ENDPOINT`` (set in Airflow's
                                           containers); the stack does not publish the S3 API
``AIRFLOW_ADMIN_USERNAME`` / ``_PASSWORD``  the Airflow login
``API_KEYS``                               the first key is sent in ``X-API-Key``
``INBOX_UPLOAD_ACCESS_KEY`` / ``_SECRET_KEY``  the upload key: puts the CSV into ``incoming/``
                                           as people do (``SMOKE_UPLOAD_ACCESS_KEY`` /
                                           ``_SECRET_KEY`` win); never the MinIO root login
``AIRFLOW_S3_ACCESS_KEY`` / ``_SECRET_KEY``  the batch key: reads ``outbox/`` (else
                                           ``FRAUDOPS_S3_ACCESS_KEY`` / ``_SECRET_KEY``)
``FRAUDOPS_INBOX``                         default ``s3://inbox``
=========================================  ======================================================

``make smoke`` runs this file inside the ``airflow-scheduler`` container, which reaches every
service by name and has the package, ``boto3`` and ``curl``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

BOOTSTRAP_DAG = "fraud_bootstrap"
BATCH_DAG = "fraud_batch_score"
FINISHED = {"success", "failed"}
BROKEN = {"failed", "up_for_retry"}


class SmokeFailure(Exception):
    """A step failed; the message says what was expected and what came back."""


# --- settings --------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a dotenv file (comments and blank lines skipped, quotes removed)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


@dataclass(frozen=True)
class Config:
    """Where the stack answers and the logins the smoke test uses."""

    airflow_url: str
    airflow_user: str
    airflow_password: str
    api_url: str
    api_key: str
    s3_endpoint: str
    s3_region: str
    upload_key: tuple[str, str]
    batch_key: tuple[str, str]
    inbox_bucket: str
    inbox_prefix: str

    @classmethod
    def load(cls, env: Mapping[str, str]) -> Config:
        """Build the configuration from variables (see the module docstring)."""

        def get(*names: str, default: str | None = None) -> str:
            for name in names:
                if env.get(name):
                    return env[name]
            if default is None:
                raise SmokeFailure(f"set {' or '.join(names)} (in the environment or .env)")
            return default

        host = get("BIND_ADDRESS", default="127.0.0.1")
        airflow_url = get(
            "SMOKE_AIRFLOW_URL", default=f"http://{host}:{get('AIRFLOW_PORT', default='8080')}"
        )
        api_url = get("SMOKE_API_URL", default=f"http://{host}:{get('API_PORT', default='8000')}")
        try:
            s3_endpoint = get("SMOKE_S3_ENDPOINT", "FRAUDOPS_S3_ENDPOINT")
        except SmokeFailure:
            raise SmokeFailure(
                "no S3 endpoint: the stack keeps MinIO's S3 API on its own network, so run "
                "`make smoke` (it runs this inside the stack), or set SMOKE_S3_ENDPOINT"
            ) from None
        inbox = urlparse(get("FRAUDOPS_INBOX", default="s3://inbox"))
        if inbox.scheme != "s3":
            raise SmokeFailure(f"FRAUDOPS_INBOX must be an s3:// URL, not {inbox.geturl()!r}")
        return cls(
            airflow_url=airflow_url.rstrip("/"),
            airflow_user=get("AIRFLOW_ADMIN_USERNAME", default="admin"),
            airflow_password=get("AIRFLOW_ADMIN_PASSWORD"),
            api_url=api_url.rstrip("/"),
            api_key=get("API_KEYS").split(",")[0].strip(),
            s3_endpoint=s3_endpoint,
            s3_region=get("S3_REGION", "FRAUDOPS_S3_REGION", default="us-east-1"),
            upload_key=(
                get("SMOKE_UPLOAD_ACCESS_KEY", "INBOX_UPLOAD_ACCESS_KEY"),
                get("SMOKE_UPLOAD_SECRET_KEY", "INBOX_UPLOAD_SECRET_KEY"),
            ),
            batch_key=(
                get("AIRFLOW_S3_ACCESS_KEY", "FRAUDOPS_S3_ACCESS_KEY"),
                get("AIRFLOW_S3_SECRET_KEY", "FRAUDOPS_S3_SECRET_KEY"),
            ),
            inbox_bucket=inbox.netloc,
            inbox_prefix=inbox.path.strip("/"),
        )


# --- output and time -------------------------------------------------------------------------


class Clock:
    """The run's deadline: every wait takes the smaller of its own bound and what is left."""

    def __init__(self, total: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + total

    def left(self) -> float:
        """Seconds left in the whole run."""
        return self.end - time.monotonic()

    def bound(self, seconds: float) -> float:
        """A wait of at most ``seconds``, cut to the run's deadline."""
        return max(0.0, min(seconds, self.left()))

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.start


def say(message: str) -> None:
    """Print one progress line at once (the output is often a pipe)."""
    print(message, flush=True)  # noqa: T201


@contextmanager
def step(title: str) -> Iterator[None]:
    """Print ``title`` and how the step ended: ``ok`` with its duration, or ``FAILED``."""
    say(f"==> {title}")
    started = time.monotonic()
    try:
        yield
    except SmokeFailure as exc:
        say(f"    FAILED after {time.monotonic() - started:.1f}s: {exc}")
        raise
    say(f"    ok ({time.monotonic() - started:.1f}s)")


# --- HTTP ------------------------------------------------------------------------------------


def http_json(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """(status, decoded JSON or text) of one request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def wait_for(what: str, check: Any, *, clock: Clock, timeout: float, interval: float = 2.0) -> Any:
    """Call ``check()`` until it returns a truthy value; fail after ``timeout`` seconds.

    ``check`` may raise ``OSError`` (nothing listening yet): that counts as not yet.
    """
    deadline = time.monotonic() + clock.bound(timeout)
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError as exc:
            last = exc
        left = deadline - time.monotonic()
        if left <= 0:
            detail = f" (last error: {last})" if last else ""
            raise SmokeFailure(f"{what}: no success within {timeout:.0f}s{detail}")
        time.sleep(min(interval, left))


class Airflow:
    """The few REST API v2 calls the smoke test makes, with a JWT from ``/auth/token``."""

    def __init__(self, config: Config, clock: Clock, *, request_timeout: float = 30.0) -> None:
        self.url = config.airflow_url
        self.config = config
        self.clock = clock
        self.token = ""
        self.request_timeout = request_timeout

    def login(self) -> None:
        """Get a JWT for the admin user (the FAB auth manager's token endpoint)."""
        status, body = http_json(
            "POST",
            f"{self.url}/auth/token",
            body={"username": self.config.airflow_user, "password": self.config.airflow_password},
        )
        if status not in (200, 201) or not isinstance(body, dict) or "access_token" not in body:
            raise SmokeFailure(f"POST /auth/token answered {status}: {body}")
        self.token = body["access_token"]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One authenticated request to ``/api/v2``."""
        return http_json(
            method,
            f"{self.url}/api/v2{path}",
            body=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.request_timeout,
        )

    def expect(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        """An authenticated request that must answer one of ``ok``; returns the body."""
        status, answer = self.call(method, path, body)
        if status not in ok:
            raise SmokeFailure(f"{method} /api/v2{path} answered {status}: {answer}")
        return answer

    def wait_for_dag(self, dag_id: str, *, timeout: float) -> dict[str, Any]:
        """Wait until the DAG processor has parsed ``dag_id``; fail with any import errors."""

        def parsed() -> dict[str, Any] | None:
            status, body = self.call("GET", f"/dags/{quote(dag_id)}")
            return body if status == 200 else None

        try:
            return wait_for(f"DAG {dag_id} to be parsed", parsed, clock=self.clock, timeout=timeout)
        except SmokeFailure as exc:
            _, errors = self.call("GET", "/importErrors")
            found = [e for e in (errors or {}).get("import_errors", []) if isinstance(e, dict)]
            details = "; ".join(
                f"{e.get('filename')}: {e.get('stack_trace', '')[-300:]}" for e in found
            )
            raise SmokeFailure(f"{exc}; import errors: {details or 'none'}") from None

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG."""
        self.expect("PATCH", f"/dags/{quote(dag_id)}", {"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Start a manual run now; returns its run id."""
        body = {"logical_date": None, "conf": conf or {}, "note": "make smoke"}
        run = self.expect("POST", f"/dags/{quote(dag_id)}/dagRuns", body)
        return str(run["dag_run_id"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """Each task's state in one run (``none`` before the scheduler looks at it)."""
        body = self.expect("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances")
        return {ti["task_id"]: ti.get("state") or "none" for ti in body.get("task_instances", [])}

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float) -> None:
        """Wait until the run ends, printing each change of its tasks' states.

        A task that fails (even one Airflow will retry) gets the end of its log printed at once.
        A poll the API server does not answer in time (busy with the run it reports on) is
        tried again. Fails unless the run succeeds.
        """
        deadline = time.monotonic() + self.clock.bound(timeout)
        shown, reported = "", set()
        state, tasks = "queued", {}
        while time.monotonic() < deadline:
            try:
                run = self.expect("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}")
                tasks = self.task_states(dag_id, run_id)
            except OSError as exc:  # a timeout, a reset connection: not an answer yet
                say(f"    [{self.clock.elapsed():5.0f}s] no answer from Airflow ({exc}); again")
                time.sleep(min(3.0, max(0.0, deadline - time.monotonic())))
                continue
            state = run.get("state")
            states = ", ".join(f"{t}={s}" for t, s in tasks.items())
            if states != shown:
                say(f"    [{self.clock.elapsed():5.0f}s] {dag_id}: {states or state}")
                shown = states
            for task_id, task_state in tasks.items():
                if task_state in BROKEN and (task_id, task_state) not in reported:
                    reported.add((task_id, task_state))
                    self.print_log_tail(dag_id, run_id, task_id)
            if state in FINISHED:
                break
            time.sleep(3.0)
        if state == "success":
            return
        failed = sorted(t for t, s in tasks.items() if s in BROKEN | {"upstream_failed"})
        if state not in FINISHED:
            raise SmokeFailure(f"run {run_id} of {dag_id} still {state} after {timeout:.0f}s")
        raise SmokeFailure(f"run {run_id} of {dag_id} ended {state} (failed tasks: {failed})")

    def print_log_tail(self, dag_id: str, run_id: str, task_id: str, lines: int = 25) -> None:
        """Print the end of a task's latest log, to say why it failed."""
        path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
        status, ti = self.call("GET", path)
        tries = int((ti or {}).get("try_number") or 1) if status == 200 else 1
        status, body = self.call("GET", f"{path}/logs/{tries}?full_content=true")
        if status != 200 or not isinstance(body, dict):
            say(f"    (no log for {task_id}: {status})")
            return
        rendered = []
        for item in body.get("content") or []:
            if isinstance(item, dict):
                text = f"{item.get('level', '')} {item.get('event', '')}".strip()
                if item.get("error_detail"):
                    text += f" {json.dumps(item['error_detail'])[-1500:]}"
                rendered.append(text)
            else:
                rendered.append(str(item))
        say(f"    --- last lines of {task_id} (try {tries}) ---")
        for line in "\n".join(rendered).splitlines()[-lines:]:
            say(f"    | {line}")


# --- the scenario ----------------------------------------------------------------------------


def sample_transactions(rows: int) -> list[dict[str, Any]]:
    """``rows`` fresh transactions from the generator, without the label, JSON-ready.

    Seeded from the clock, so every run uploads a file with a new content hash (the inbox scores
    each content once).
    """
    from fraudops import datagen
    from fraudops.schema import FEATURE_INPUT_NAMES

    now = dt.datetime.now(dt.UTC)
    table = datagen.generate_day(now.date(), rows=max(rows, 100), seed=int(now.timestamp()))
    records = table.select(list(FEATURE_INPUT_NAMES)).slice(0, rows).to_pylist()
    prefix = f"smoke-{now:%Y%m%dT%H%M%S}"
    for i, record in enumerate(records):
        record["transaction_id"] = f"{prefix}-{i:04d}"
        ts = record["event_ts"]
        record["event_ts"] = ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return records


def to_csv(records: list[dict[str, Any]]) -> bytes:
    """A CSV with a header row; booleans as ``true``/``false``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(
            {k: str(v).lower() if isinstance(v, bool) else v for k, v in record.items()}
        )
    return out.getvalue().encode()


def curl_predict(config: Config, records: list[dict[str, Any]]) -> dict[str, Any]:
    """``curl`` ``POST /predict`` with the API key (read by curl from stdin, not argv)."""
    curl = shutil.which("curl")
    if curl is None:
        raise SmokeFailure("curl is not installed")
    header = f"X-API-Key: {config.api_key}"
    done = subprocess.run(
        [
            curl,
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--header",
            "@-",  # the key stays off the process list
            "--header",
            "Content-Type: application/json",
            "--data-binary",
            json.dumps(records),
            "--write-out",
            "\n%{http_code}",
            f"{config.api_url}/predict",
        ],
        input=header.encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise SmokeFailure(f"curl failed ({done.returncode}): {done.stderr.decode().strip()}")
    body, _, code = done.stdout.decode().rpartition("\n")
    if code != "200":
        raise SmokeFailure(f"POST /predict answered {code}: {body[:500]}")
    return json.loads(body)


def s3_client(config: Config, key: tuple[str, str]) -> Any:
    """A boto3 S3 client on the stack's endpoint with one key pair (path-style, as MinIO wants)."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=config.s3_endpoint,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        region_name=config.s3_region,
        config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def inbox_key(config: Config, *parts: str) -> str:
    """An object key under the inbox root."""
    return "/".join(p for p in (config.inbox_prefix, *parts) if p)


def run(config: Config, args: argparse.Namespace) -> None:
    """The whole scenario; raises ``SmokeFailure`` at the first failed step."""
    from botocore.exceptions import BotoCoreError, ClientError

    clock = Clock(args.timeout)
    airflow = Airflow(config, clock)

    with step(f"Airflow answers at {config.airflow_url}"):
        wait_for(
            "GET /api/v2/version",
            lambda: http_json("GET", f"{config.airflow_url}/api/v2/version", timeout=5)[0] == 200,
            clock=clock,
            timeout=args.wait,
        )

    with step(f"Airflow JWT for {config.airflow_user!r} (POST /auth/token)"):
        airflow.login()

    if args.skip_bootstrap:
        say(f"==> {BOOTSTRAP_DAG}: skipped (--skip-bootstrap)")
    else:
        with step(f"{BOOTSTRAP_DAG}: parsed, unpaused, triggered"):
            airflow.wait_for_dag(BOOTSTRAP_DAG, timeout=args.wait)
            airflow.set_paused(BOOTSTRAP_DAG, False)
            conf = {"days": args.days} if args.days else {}
            run_id = airflow.trigger(BOOTSTRAP_DAG, conf)
            say(f"    run {run_id}")
        bound = f"up to {args.bootstrap_timeout:.0f}s"
        with step(f"{BOOTSTRAP_DAG}: generate history, train, promote ({bound})"):
            airflow.wait_for_run(BOOTSTRAP_DAG, run_id, timeout=args.bootstrap_timeout)

    records = sample_transactions(args.rows)

    def model_loaded() -> dict[str, Any] | None:
        status, body = http_json("GET", f"{config.api_url}/health/ready", timeout=5)
        return body if status == 200 and isinstance(body, dict) else None

    with step(f"API ready with a model at {config.api_url}"):
        ready = wait_for("GET /health/ready", model_loaded, clock=clock, timeout=args.wait)
        say(f"    model version {ready.get('model_version')}")

    with step(f"curl POST /predict with {min(3, len(records))} transactions"):
        sent = records[:3]
        answer = curl_predict(config, sent)
        predictions = answer.get("predictions") or []
        if len(predictions) != len(sent):
            raise SmokeFailure(
                f"{len(sent)} transactions sent, {len(predictions)} predictions: {answer}"
            )
        for pred in predictions:
            p = pred.get("fraud_probability")
            if not isinstance(p, float | int) or not 0.0 <= p <= 1.0:
                raise SmokeFailure(f"no fraud_probability in [0, 1]: {pred}")
        say(
            f"    model {answer.get('model_name')} v{answer.get('model_version')}: "
            + ", ".join(f"{p['transaction_id']}={p['fraud_probability']:.4f}" for p in predictions)
        )

    name = f"{records[0]['transaction_id'].rsplit('-', 1)[0]}.csv"
    stem = name.removesuffix(".csv")
    incoming = inbox_key(config, "incoming", name)
    uploader = s3_client(config, config.upload_key)
    batch = s3_client(config, config.batch_key)

    with step(f"upload {len(records)} transactions to s3://{config.inbox_bucket}/{incoming}"):
        try:
            uploader.put_object(
                Bucket=config.inbox_bucket,
                Key=incoming,
                Body=to_csv(records),
                ContentType="text/csv",
            )
        except (BotoCoreError, ClientError) as exc:
            raise SmokeFailure(f"upload failed: {exc}") from None

    with step(f"{BATCH_DAG}: parsed, unpaused, triggered"):
        dag = airflow.wait_for_dag(BATCH_DAG, timeout=args.wait)
        was_paused = bool(dag.get("is_paused"))
        airflow.set_paused(BATCH_DAG, False)
        batch_run = airflow.trigger(BATCH_DAG)
        say(f"    run {batch_run}")
    try:
        with step(f"{BATCH_DAG}: score the inbox (up to {args.batch_timeout:.0f}s)"):
            airflow.wait_for_run(BATCH_DAG, batch_run, timeout=args.batch_timeout)
    finally:
        if was_paused:  # leave the nightly schedule as it was found
            airflow.set_paused(BATCH_DAG, True)

    with step(f"outbox holds {stem}.scored.csv with {len(records)} rows"):
        wanted = inbox_key(config, "outbox", f"{stem}.scored.csv")
        try:
            body = batch.get_object(Bucket=config.inbox_bucket, Key=wanted)["Body"].read()
        except ClientError as exc:
            raise SmokeFailure(f"cannot read s3://{config.inbox_bucket}/{wanted}: {exc}") from None
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        if len(rows) != len(records):
            raise SmokeFailure(f"{wanted} has {len(rows)} rows, {len(records)} were uploaded")
        scored_ids = {row.get("transaction_id") for row in rows}
        if scored_ids != {r["transaction_id"] for r in records}:
            raise SmokeFailure(f"{wanted} scores other transactions than the uploaded ones")
        left = batch.list_objects_v2(Bucket=config.inbox_bucket, Prefix=incoming).get("KeyCount", 0)
        if left:
            raise SmokeFailure(f"{incoming} is still in incoming/ after scoring")
        say(f"    columns: {', '.join(rows[0])}")

    say(f"smoke test passed in {clock.elapsed():.0f}s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="default: ./.env")
    parser.add_argument("--timeout", type=float, default=2400, help="whole run, seconds")
    parser.add_argument(
        "--bootstrap-timeout", type=float, default=1800, help="fraud_bootstrap's run, seconds"
    )
    parser.add_argument("--batch-timeout", type=float, default=600, help="the batch run, seconds")
    parser.add_argument(
        "--wait", type=float, default=180, help="services answering, DAGs parsed, model loaded"
    )
    parser.add_argument("--rows", type=int, default=25, help="transactions in the uploaded CSV")
    parser.add_argument(
        "--days", type=int, default=None, help="history days for fraud_bootstrap (its default)"
    )
    parser.add_argument(
        "--skip-bootstrap", action="store_true", help="reuse the model of an earlier run"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the smoke test; return the exit code."""
    args = parse_args(argv)
    env = dict(read_env_file(args.env_file)) if args.env_file.is_file() else {}
    env.update({k: v for k, v in os.environ.items() if v})  # the environment wins, as in Compose
    try:
        config = Config.load(env)
        run(config, args)
    except SmokeFailure as exc:
        say(f"smoke test FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        say("smoke test interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
