"""The PostgreSQL of the Iceberg catalog restarted during a lake commit, and between two.

Each of the two cases below runs its own PostgreSQL cluster for the catalog of
``fraud.scores`` (the shared one carries MLflow), and a local inbox with its warehouse in a
folder; they run side by side.

* during a commit: the harness holds the row lock of ``fraud.scores`` in the catalog table,
  so the inbox's commit of its first file blocks inside its UPDATE; seen waiting in
  ``pg_stat_activity``, the run is paused and PostgreSQL restarted (``pg_ctl restart -m
  fast``: open sessions are cut, open transactions roll back), then the run resumes. That
  file may fail (the fault cut its commit) and is finished by the next run; the run's second
  file, committed after the restart, must not;
* between commits: a run commits a small file, starts a large one and is paused (SIGSTOP)
  while it scores; PostgreSQL is restarted and the run resumed: nothing was in flight, so
  nothing may fail.

Counted as in the SIGKILL scenario (``_inbox.py``), after a last run, plus every file that
failed although the restart was over before its commit began (errors).
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2

from chaos._inbox import Inbox, make_file
from chaos._report import Row
from chaos._scenario import main, say
from chaos._world import World
from fraudops import lake
from fraudops.procs import wait_until
from tests.support import services


def run(world: World, rng: random.Random) -> list[Row]:
    work = world.workdir("catalog_restart")
    with ThreadPoolExecutor(2) as pool:  # side by side, each on a cluster of its own
        during = pool.submit(on_own_cluster, during_commit, world, work / "during")
        between = pool.submit(on_own_cluster, between_commits, world, work / "between")
        return [during.result(), between.result()]


Phase = Callable[[World, Path, dict[str, Any], Path], Row]


def on_own_cluster(phase: Phase, world: World, work: Path) -> Row:
    """Run one phase with a PostgreSQL cluster of its own for its catalog."""
    with services.postgres_cluster(work / "pg") as pg:
        return phase(world, work, pg, Path(str(pg["base"])))


def _inbox(world: World, work: Path, pg: dict[str, Any], name: str) -> Inbox:
    uri = services.create_database(pg, name)
    inbox = Inbox(world, work, backend="local", catalog_uri=uri)
    lake.scores_table(lake.open_catalog(world.settings(**inbox.fields)))  # the table exists
    return inbox


def during_commit(world: World, work: Path, pg: dict[str, Any], base: Path) -> Row:
    inbox = _inbox(world, work, pg, "during")
    files = [make_file(f"{x}.csv", rows=5_000, seed=20 + i) for i, x in enumerate("ab")]
    for f in files:
        inbox.drop(f)
    holder = _connect(pg, "during")
    holder.cursor().execute(
        "SELECT 1 FROM iceberg_tables WHERE table_name = 'scores' FOR UPDATE"
    )  # a transaction stays open: the inbox's UPDATE of this row waits for it
    proc = inbox.start()
    try:
        wait_until(
            lambda: _blocked_commit(pg, "during") or proc.poll() is not None,
            what="the inbox's commit to wait on the row lock",
            timeout=120,
        )
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended ({proc.returncode}) before its commit blocked")
        # paused, so that its next commit starts only once PostgreSQL is back
        os.killpg(proc.pid, signal.SIGSTOP)
        say("the commit of a.csv waits inside its UPDATE: run paused, restarting PostgreSQL")
        services.restart_postgres(base, mode="fast")
        os.killpg(proc.pid, signal.SIGCONT)
        code = proc.wait(timeout=300)
    finally:
        holder.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = inbox.names("processed")
    say(f"the run exited with {code}; done: {done}")
    late = [f.name for f in files[1:] if f.name not in done]  # committed after the restart
    final = inbox.run()
    counts = inbox.count(files)
    problems = counts.problems + [f"{n} failed after the restart was over" for n in late]
    problems += [f"the last run exited {final}"] if final else []
    return Row(
        scenario="lake: PostgreSQL restart during a commit",
        fault="pg_ctl restart -m fast while a commit's UPDATE waits",
        volume=counts.rows,
        unit="rows",
        lost=counts.lost,
        duplicated=counts.duplicated,
        errors=counts.errors + len(late) + (1 if final else 0),
        notes=(
            f"the run cut mid-commit exited {code} with {done or 'nothing'} done; "
            f"problems: {'; '.join(problems) or 'none'}"
        ),
    )


def between_commits(world: World, work: Path, pg: dict[str, Any], base: Path) -> Row:
    inbox = _inbox(world, work, pg, "between")
    files = [make_file("c.csv", rows=2_000, seed=30), make_file("d.csv", rows=40_000, seed=31)]
    for f in files:
        inbox.drop(f)
    proc = inbox.start()
    try:
        wait_until(
            lambda: (
                "c.csv" in inbox.names("processed")
                and "d.csv" in inbox.names("claimed")
                or proc.poll() is not None
            ),
            what="c.csv committed and d.csv taken",
            timeout=120,
        )
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended ({proc.returncode}) before it could be paused")
        os.killpg(proc.pid, signal.SIGSTOP)
        say("c.csv committed, d.csv being scored: run paused, restarting PostgreSQL")
        services.restart_postgres(base, mode="fast")
        os.killpg(proc.pid, signal.SIGCONT)
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = inbox.names("processed")
    say(f"the run exited with {code}; done: {done}")
    late = [f.name for f in files if f.name not in done]
    final = inbox.run()
    counts = inbox.count(files)
    problems = counts.problems + [f"{n} failed after the restart was over" for n in late]
    problems += [f"the last run exited {final}"] if final else []
    return Row(
        scenario="lake: PostgreSQL restart between commits",
        fault="pg_ctl restart -m fast while the run scores (idle pool)",
        volume=counts.rows,
        unit="rows",
        lost=counts.lost,
        duplicated=counts.duplicated,
        errors=counts.errors + len(late) + (1 if code else 0) + (1 if final else 0),
        notes=(
            f"the run across the restart exited {code} with {done or 'nothing'} done; "
            f"problems: {'; '.join(problems) or 'none'}"
        ),
    )


def _connect(pg: dict[str, Any], database: str) -> Any:
    return psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname=database)


def _blocked_commit(pg: dict[str, Any], database: str) -> bool:
    """An UPDATE of the catalog table waiting on a lock (the inbox's commit, held)."""
    with _connect(pg, "postgres") as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND wait_event_type = 'Lock' AND query ILIKE 'UPDATE iceberg_tables%%'",
            (database,),
        )
        (n,) = cur.fetchone()
    conn.close()
    return bool(n)


if __name__ == "__main__":
    main(run)
