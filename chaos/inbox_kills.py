"""SIGKILL ``fraudops score-inbox`` at random moments, on a local inbox and on S3.

Each round drops new files (the first round also the same bytes again under another name),
starts a real ``fraudops score-inbox`` and SIGKILLs it at a random moment after it took the
inbox lock: while it hashes, scores, publishes, moves or commits. A run that ends before its
moment narrows the draws that follow to the length it took. Rounds go on until the wanted
number of runs was killed (one with --quick); then one run goes to the end, and the outbox
and ``fraud.scores`` are read back (see ``_inbox.py``):

* lost: a transaction of a dropped file missing from the outbox or from ``fraud.scores``;
* duplicated: a transaction there more than once (the twin file must not be scored again);
* errors: a file not in ``processed/``, anything left in flight or quarantined, a row nobody
  dropped, a final run that does not succeed.

The S3 inbox keeps its lake like the stack does: the catalog on PostgreSQL, the warehouse in
the bucket; the local inbox like the embedded default (SQLite, a folder).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from chaos._inbox import Dropped, Inbox, make_file
from chaos._report import Row
from chaos._scenario import main, say
from chaos._world import World
from fraudops.procs import wait_until
from tests.support.services import moto_s3


def run(world: World, rng: random.Random) -> list[Row]:
    seeds = [rng.randrange(2**32) for _ in range(2)]
    with moto_s3() as s3, ThreadPoolExecutor(2) as pool:  # the two inboxes side by side
        local = pool.submit(kills, world, random.Random(seeds[0]), "local", None)
        remote = pool.submit(kills, world, random.Random(seeds[1]), "s3", s3)
        return [local.result(), remote.result()]


def kills(world: World, rng: random.Random, backend: str, s3: dict[str, str] | None) -> Row:
    work = world.workdir(f"inbox_kills_{backend}")
    catalog = world.database("scores_kills") if backend == "s3" else None
    inbox = Inbox(world, work, backend=backend, s3=s3, catalog_uri=catalog)
    wanted = 1 if world.quick else 6
    rows = 10_000 if world.quick else 20_000
    window = 1.5 if backend == "local" else 3.0  # about the length of a run's work, at first
    files: list[Dropped] = []
    moments = []
    r = 0
    while len(moments) < wanted:
        if r >= wanted + 4:
            raise RuntimeError(f"only {len(moments)} of {r} runs lasted until their SIGKILL")
        new = [make_file(f"r{r}-{x}.csv", rows=rows, seed=100 * r + i) for i, x in enumerate("ab")]
        if r == 0:
            new.append(Dropped("r0-twin.csv", new[0].data, new[0].ids))
        for f in new:
            inbox.drop(f)
        files += new
        epoch = inbox.lock_epoch()
        proc = inbox.start()
        wait_until(
            lambda e=epoch, p=proc: inbox.lock_epoch() > e or p.poll() is not None,  # type: ignore[misc]
            what="the run to take the inbox lock",
            timeout=120,
        )
        locked = time.monotonic()
        delay = rng.uniform(0, window)
        try:
            code = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            moments.append(f"{delay:.2f}")
            say(f"{backend}: round {r}: SIGKILL {delay:.2f} s after the lock")
        else:  # its work was shorter than the draw: aim within the length seen
            took = time.monotonic() - locked
            window = min(window, 0.9 * took)
            say(f"{backend}: round {r}: the run ended ({code}) {took:.2f} s after the lock")
        r += 1
    code = inbox.run()
    say(f"{backend}: the last run exited with {code}")
    counts = inbox.count(files)
    problems = counts.problems + ([f"the last run exited with {code}"] if code else [])
    return Row(
        scenario=f"inbox {backend}: SIGKILL at random moments",
        fault=f"{len(moments)} x SIGKILL of score-inbox",
        volume=counts.rows,
        unit="rows",
        lost=counts.lost,
        duplicated=counts.duplicated,
        errors=counts.errors + (1 if code else 0),
        notes=(
            f"{len(files)} files; {len(moments)} of {r} runs SIGKILLed "
            f"({', '.join(moments)} s after taking the lock), then one run to the end; "
            f"problems: {'; '.join(problems) or 'none'}"
        ),
    )


if __name__ == "__main__":
    main(run)
