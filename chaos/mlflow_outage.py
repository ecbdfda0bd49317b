"""MLflow down: at the API's start, at a reload, and killed (SIGKILL) in the middle of training.

The scenario runs its own ``mlflow server`` on the shared backend (the same registry), so it
can SIGKILL and restart it; the alias is moved through the shared server meanwhile, as
another part of the platform would.

* down at start: an API fills its local copy and stops; a second API starts while its MLflow
  is down (nothing answers on its port) and answers three client threads from the copy;
* down at reload, and mid-training: MLflow comes back and the alias moves (the API swaps);
  ``fraudops train`` starts against it; at a random moment of the sweep MLflow is killed
  again. ``POST /model/reload`` must answer 503 while every prediction still answers 200;
  the alias moves while the API cannot see it; once the trainer has given up MLflow comes
  back, and the API swaps again;
* the training, read back from the server: no run of it may be left RUNNING (lost), none
  registered twice (duplicated); it must not have registered a version or moved the alias,
  and the trainer must have failed (errors otherwise). Its MLflow client gets a short retry
  budget (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=1``), so "down longer than its retries" takes
  seconds here, not the default four minutes.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from chaos._api import (
    ADMIN,
    Answer,
    ApiServer,
    Load,
    describe,
    dump,
    tally,
    versions_in_order,
)
from chaos._report import Row
from chaos._scenario import main, say
from chaos._world import MODEL, World, fraudops_bin
from fraudops.procs import start_group, stop_groups, wait_until
from tests.support.services import MlflowServer

OUTAGE_SECONDS = 8  # far longer than the trainer's shortened retries (about 1 s a request)


def run(world: World, rng: random.Random) -> list[Row]:
    work = world.workdir("mlflow_outage")
    mlflow = world.mlflow_instance(work / "mlflow.log")
    shared = world.client()
    order = [world.versions[r] for r in ("good", "weak", "shuffled")]
    shared.set_registered_model_alias(MODEL, "production", order[0])
    n = 100 if world.quick else 500
    # the first API fills its local copy from the shared server (the same registry); the
    # second one's MLflow is down when it starts: nothing answers on that port yet
    first = ApiServer(world, work, name="serve-1")
    api = ApiServer(world, work, name="serve-2", tracking_uri=mlflow.uri)
    load = Load(api.url, tag="outage", threads=3, pace=0.005)
    trainer = None
    try:
        try:
            first.start()  # loads version 1 from MLflow and keeps a local copy
        finally:
            first.stop()
        say("the API filled its local copy; starting another while its MLflow is down")
        api.start()  # MLflow is down: ready only if the local copy is served
        load.start()
        wait_until(lambda: load.seen(order[0]) >= n, what="answers while MLflow is down")
        say("answered from the local copy; starting mlflow server")
        restarted = time.monotonic()
        mlflow.start()
        shared.set_registered_model_alias(MODEL, "production", order[1])
        wait_until(lambda: load.seen(order[1]) >= n, what="the swap once MLflow is back")
        training = Training(world, work, mlflow)
        trainer = training.start()
        wait_until(training.running, what="the sweep's first run", timeout=120)
        time.sleep(rng.uniform(0.2, 2.0))
        if trainer.poll() is not None:
            raise RuntimeError("the training ended before MLflow was killed")
        say("SIGKILL mlflow server mid-training and while serving; POST /model/reload")
        mlflow.kill()
        killed = time.monotonic()
        with httpx.Client(base_url=api.url, headers=ADMIN, timeout=60) as admin:
            reload = admin.post("/model/reload").status_code
        shared.set_registered_model_alias(MODEL, "production", order[2])  # unseen for now
        seen = load.seen(order[1])
        wait_until(
            lambda: (
                load.seen(order[1]) >= seen + n
                and (trainer.poll() is not None or time.monotonic() - killed > OUTAGE_SECONDS)
            ),
            what="answers during the outage, and the trainer giving up",
            timeout=OUTAGE_SECONDS + 120,
        )
        say(f"restarting mlflow server (trainer exit code {trainer.poll()})")
        mlflow.start()
        wait_until(lambda: load.seen(order[2]) >= n, what="the swap after the outage")
        code = trainer.wait(timeout=600)
        say(f"trainer exit code {code}")
        answers = load.finish()
    finally:
        load.stop.set()
        api.stop()
        if trainer is not None:
            stop_groups([trainer])
        mlflow.stop()
    dump(answers, work / "answers.jsonl", since=restarted)
    return [
        *api_rows(answers, restarted, order, reload),
        training.row(code, alias_expected=order[2]),
    ]


def api_rows(answers: list[Answer], restarted: float, order: list[str], reload: int) -> list[Row]:
    at_start = tally([a for a in answers if a.sent < restarted])
    at_reload = tally([a for a in answers if a.sent >= restarted])
    back = versions_in_order(answers, order)
    seen_by = {v: sum(a.version == v for a in answers) for v in order}
    return [
        Row(
            scenario="api: MLflow down at start",
            fault="API started while its mlflow server is down",
            volume=at_start.requests,
            unit="requests",
            lost=at_start.lost,
            duplicated=at_start.duplicated,
            errors=at_start.errors,
            notes=f"served the local copy of version {order[0]}; problems: {describe(at_start)}",
        ),
        Row(
            scenario="api: MLflow down at reload",
            fault="SIGKILL mlflow server while serving; reload; alias moved meanwhile",
            volume=at_reload.requests,
            unit="requests",
            lost=at_reload.lost,
            duplicated=at_reload.duplicated,
            errors=at_reload.errors + back + (reload != 503),
            notes=(
                f"POST /model/reload during the outage: {reload}; answers per version "
                f"{seen_by}; {back} from an older version after a newer one; "
                f"problems: {describe(at_reload)}"
            ),
        ),
    ]


class Training:
    """``fraudops train`` against the scenario's MLflow, read back from the shared server."""

    def __init__(self, world: World, work: Path, mlflow: MlflowServer) -> None:
        self.world, self.work, self.mlflow = world, work, mlflow
        self.shared = world.client()
        self.experiment = self.shared.get_experiment_by_name("fraud-detection").experiment_id
        self.since = int(time.time() * 1000)

    def start(self) -> subprocess.Popen[bytes]:
        env = self.world.env(tracking_uri=self.mlflow.uri)
        env.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="1", MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1")
        self.since = int(time.time() * 1000)
        argv = [fraudops_bin(), "train"]
        return start_group(argv, env=env, log=self.work / "train.log", cwd=self.work)

    def running(self) -> bool:
        return bool(_runs(self.shared, self.experiment, self.since, status="RUNNING"))

    def row(self, code: int, *, alias_expected: str) -> Row:
        if code == 0:
            raise RuntimeError("the trainer succeeded: MLflow was not down long enough to fail it")
        runs = _runs(self.shared, self.experiment, self.since)
        if not runs:
            raise RuntimeError("no run of the training was found on the server")
        ids = {r.info.run_id for r in runs}
        statuses = Counter(r.info.status for r in runs)
        versions = [
            v for v in self.shared.search_model_versions(f"name='{MODEL}'") if v.run_id in ids
        ]
        twice = sum(n - 1 for n in Counter(v.run_id for v in versions).values())
        names = Counter((r.data.tags.get("mlflow.parentRunId"), r.info.run_name) for r in runs)
        twice += sum(n - 1 for n in names.values())
        alias = self.shared.get_model_version_by_alias(MODEL, "production").version
        problems = []
        if alias != alias_expected:
            problems.append(f"alias on {alias}, not {alias_expected}")
        if versions:
            problems.append(f"a failed training registered {len(versions)} version(s)")
        return Row(
            scenario="train: MLflow killed mid-training",
            fault=f"SIGKILL mlflow server mid-sweep, down {OUTAGE_SECONDS}+ s",
            volume=len(runs),
            unit="runs",
            lost=statuses.get("RUNNING", 0),
            duplicated=twice,
            errors=len(problems),
            notes=(
                f"trainer exit code {code}; run states read back {dict(statuses)}; alias on "
                f"{alias}; problems: {'; '.join(problems) or 'none'}"
            ),
        )


def _runs(client: Any, experiment: str, since: int, status: str | None = None) -> list[Any]:
    """Runs of the experiment started since ``since`` (ms), read from the server."""
    query = f"attributes.start_time >= {since}"
    if status:
        query += f" and attributes.status = '{status}'"
    return list(client.search_runs([experiment], filter_string=query, max_results=1000))


if __name__ == "__main__":
    main(run)
