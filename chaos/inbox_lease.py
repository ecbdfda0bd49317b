"""A run that outlives its lease: paused past the S3 lock's expiry while another run finishes.

On an S3 inbox with a 10-second lease (``FRAUDOPS_INBOX_LOCK_SECONDS``, its minimum), run A
claims a large file and is frozen with SIGSTOP at a random moment of its work (a VM pause, a
stuck node). Once the lease has expired by the clock, run B takes the lock over and scores
the file. Then A is resumed with SIGCONT and runs on with its stale idea of the inbox; the
fencing token must keep it from committing or publishing anything twice. Counted as in the
SIGKILL scenario (``_inbox.py``) once A has exited and a third run has followed (it must
find nothing to do or report); A must not report success.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import time

from chaos._inbox import Inbox, make_file
from chaos._report import Row
from chaos._scenario import main, say
from chaos._world import World
from fraudops.procs import wait_until
from tests.support.services import moto_s3

LEASE = 10


def run(world: World, rng: random.Random) -> list[Row]:
    with moto_s3() as s3:
        return [outlived(world, rng, s3)]


def outlived(world: World, rng: random.Random, s3: dict[str, str]) -> Row:
    work = world.workdir("inbox_lease")
    catalog = world.database("scores_lease")
    inbox = Inbox(world, work, backend="s3", s3=s3, catalog_uri=catalog, inbox_lock_seconds=LEASE)
    file = make_file("late.csv", rows=30_000 if world.quick else 60_000, seed=11)
    inbox.drop(file)
    a = inbox.start()
    try:
        wait_until(
            lambda: "late.csv" in inbox.names("claimed") or a.poll() is not None,
            what="run A to claim the file",
            timeout=120,
        )
        delay = rng.uniform(0, 0.8)
        time.sleep(delay)
        if a.poll() is not None:
            raise RuntimeError(f"run A ended ({a.returncode}) before it could be paused")
        os.killpg(a.pid, signal.SIGSTOP)
        say(f"run A paused {delay:.2f} s after its claim")
        wait_until(lambda: _expired(inbox), what="the lease to expire", timeout=LEASE * 3)
        b = inbox.run()
        say(f"run B took the lock over and exited with {b}")
        os.killpg(a.pid, signal.SIGCONT)
        code_a = a.wait(timeout=300)
        say(f"run A resumed and exited with {code_a}")
    finally:
        if a.poll() is None:
            os.killpg(a.pid, signal.SIGKILL)
            a.wait(timeout=30)
    c = inbox.run()  # the next scheduled run finds nothing left to do
    told = [f"{r['file']} {r['status']}" for r in inbox.last_report()["reports"]]
    say(f"run C exited with {c}, reported {told or 'nothing'}")
    counts = inbox.count([file])
    problems = list(counts.problems)
    errors = counts.errors
    if c != 0 or told:
        problems.append(f"the next run exited {c} and reported {told}")
        errors += 1
    if b != 0:
        problems.append(f"run B exited {b}")
        errors += 1
    if code_a == 0:
        problems.append("run A reported success after losing its lock")
        errors += 1
    return Row(
        scenario="inbox s3: run outlives its lease",
        fault=f"SIGSTOP past a {LEASE} s lease; another run takes over; SIGCONT",
        volume=counts.rows,
        unit="rows",
        lost=counts.lost,
        duplicated=counts.duplicated,
        errors=errors,
        notes=(
            f"A paused {delay:.2f} s after its claim, exited {code_a} once resumed; B exited "
            f"{b}, C {c}; problems: {'; '.join(problems) or 'none'}"
        ),
    )


def _expired(inbox: Inbox) -> bool:
    raw = inbox.read(".lock")
    if raw is None:
        return False
    expires = dt.datetime.fromisoformat(json.loads(raw)["expires_at"])
    return expires < dt.datetime.now(dt.UTC)


if __name__ == "__main__":
    main(run)
