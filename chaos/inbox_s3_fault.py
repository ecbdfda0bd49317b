"""The S3 endpoint failing in the middle of a file.

An S3 inbox (its lake's warehouse in the same bucket, the catalog on PostgreSQL) reaches moto
through a fault-injecting TCP proxy (``_proxy.py``). One large file is dropped; once
``fraudops score-inbox`` has claimed it, at a random moment, the proxy starts resetting every
connection partway through a transfer, and keeps doing so until the run gives up: its S3
clients retry, and every retry is cut too. Read back straight from moto, not through the
proxy, the faulted run must have left nothing partial:

* the outbox holds all of the file's scored rows or none, ``fraud.scores`` all or none;
* the input is not in ``processed/`` (not marked done) and still in the inbox, in flight.

Then the endpoint heals and a second run finishes the file: lost, duplicated and errors are
counted as in the SIGKILL scenario (``_inbox.py``), plus every partial state found above.
"""

from __future__ import annotations

import json
import random
import time
from urllib.parse import urlsplit

from chaos._inbox import Dropped, Inbox, make_file
from chaos._proxy import FaultProxy
from chaos._report import Row
from chaos._scenario import main, say
from chaos._world import World
from fraudops.procs import wait_until
from tests.support.services import moto_s3


def run(world: World, rng: random.Random) -> list[Row]:
    with moto_s3() as s3:
        target = urlsplit(s3["endpoint"])
        assert target.hostname is not None
        assert target.port is not None
        proxy = FaultProxy(target.hostname, target.port, seed=rng.randrange(2**32))
        proxy.start()
        try:
            return [faulted(world, rng, s3, proxy)]
        finally:
            proxy.stop()


def faulted(world: World, rng: random.Random, s3: dict[str, str], proxy: FaultProxy) -> Row:
    work = world.workdir("inbox_s3_fault")
    catalog = world.database("scores_fault")
    inbox = Inbox(world, work, backend="s3", s3=s3, catalog_uri=catalog, s3_endpoint=proxy.endpoint)
    file = make_file("big.csv", rows=30_000 if world.quick else 100_000, seed=7)
    inbox.drop(file)
    proc = inbox.start()
    wait_until(
        lambda: "big.csv" in inbox.names("claimed") or proc.poll() is not None,
        what="the run to claim the file",
        timeout=120,
    )
    delay = rng.uniform(0, 0.5)
    time.sleep(delay)
    proxy.cutting.set()
    say(f"cutting S3 transfers {delay:.2f} s after the claim")
    code = proc.wait(timeout=300)
    proxy.cutting.clear()
    say(f"the faulted run exited with {code} after {proxy.cuts} cut connections")
    if code == 0:
        raise RuntimeError("the run got through the fault: nothing left to check")
    if not proxy.cuts:
        raise RuntimeError("no connection was cut: the fault was not injected")
    partial = partial_state(inbox, file)
    left = where(inbox, file)
    final = inbox.run()
    say(f"the run after the fault exited with {final}")
    counts = inbox.count([file])
    problems = partial + counts.problems + ([f"the run after exited {final}"] if final else [])
    return Row(
        scenario="inbox s3: endpoint failing mid-file",
        fault=f"S3 connections reset mid-transfer ({proxy.cuts} cut, retries cut too)",
        volume=counts.rows,
        unit="rows",
        lost=counts.lost,
        duplicated=counts.duplicated,
        errors=counts.errors + len(partial) + (1 if final else 0),
        notes=(
            f"cut from {delay:.2f} s after the claim; the faulted run exited {code} and left "
            f"the file in {left}; problems: {'; '.join(problems) or 'none'}"
        ),
    )


def partial_state(inbox: Inbox, file: Dropped) -> list[str]:
    """What a run that failed mid-file must not leave behind."""
    problems = []
    ids = set(file.ids)
    outbox = inbox.scored_ids()
    if outbox and (set(outbox) != ids or any(n > 1 for n in outbox.values())):
        problems.append(f"a partial outbox file ({len(outbox)} of {len(ids)} rows)")
    lake = set(inbox.scores()["transaction_id"].to_pylist())
    if lake and lake != ids:
        problems.append(f"a partial lake commit ({len(lake)} of {len(ids)} rows)")
    if file.name in inbox.names("processed"):
        problems.append("the input was marked done (moved to processed/)")
    if file.name not in inbox.names("claimed") + inbox.names("incoming"):
        problems.append("the input left the inbox")
    return problems


def where(inbox: Inbox, file: Dropped) -> str:
    """Where the faulted file stands (its folder and claim state), for the notes."""
    folders = [f for f in ("incoming", "claimed", "processed") if file.name in inbox.names(f)]
    raw = inbox.read(f"ledger/claims/{file.name}.json")
    state = json.loads(raw)["state"] if raw else "none"
    return f"{', '.join(folders) or 'no folder'} (claim state {state})"


if __name__ == "__main__":
    main(run)
