"""Overload: far more connections than the API takes; fast 503s, nothing hangs, it recovers.

``fraudops serve`` runs with ``FRAUDOPS_API_MAX_CONCURRENCY=8``. Two steady clients send
transactions; then a burst of many more clients arrives, each on its own connection; then the
burst stops. uvicorn counts open connections and running requests against the limit and
answers the rest with a 503 that closes the connection; every client sends a refused
transaction again after a short back-off, so each one ends answered or lost. Ground truth is
what the clients got back:

* lost: a transaction never answered with a 200 naming it, even after the burst;
* duplicated: a transaction answered twice, or an answer naming one nobody sent;
* errors: a 5xx other than the overload's 503, a request with no answer at all (a hang or a
  cut connection), anything but a 4xx or 503 for a client mistake, and any non-200 for a
  steady client once the first request after the burst has been answered (recovered).
"""

from __future__ import annotations

import random
import statistics
import time

from chaos._api import Answer, ApiServer, Load, describe, dump, tally
from chaos._report import Row
from chaos._scenario import main
from chaos._world import MODEL, World
from fraudops.procs import wait_until

LIMIT = 8


def run(world: World, rng: random.Random) -> list[Row]:
    work = world.workdir("api_overload")
    world.client().set_registered_model_alias(MODEL, "production", world.versions["good"])
    burst_threads = 24 if world.quick else 64
    phase = 1.5 if world.quick else 4.0
    server = ApiServer(world, work, name="serve", api_max_concurrency=LIMIT)
    steady = Load(server.url, tag="steady", threads=2, retry_503=True, timeout=20)
    burst = Load(server.url, tag="burst", threads=burst_threads, retry_503=True, timeout=20)
    try:
        server.start()
        steady.start()
        time.sleep(phase)
        burst.start()
        wait_until(
            lambda: sum(a.status == 503 for a in burst.answers) >= 100,
            what="the burst to be refused with 503",
            timeout=60,
        )
        time.sleep(phase + rng.uniform(0, 1))
        burst_answers = burst.finish(timeout=120)  # each burst client finishes its transaction
        burst_end = time.monotonic()
        wait_until(
            lambda: any(a.sent > burst_end and a.status == 200 for a in steady.answers),
            what="a steady client answered after the burst",
            timeout=60,
        )
        recovered = min(a.sent for a in steady.answers if a.sent > burst_end and a.status == 200)
        time.sleep(phase)
        steady_answers = steady.finish()
    finally:
        steady.stop.set()
        burst.stop.set()
        server.stop()
    answers = steady_answers + burst_answers
    dump(answers, work / "answers.jsonl", since=burst_end)
    t = tally(answers, allow_503=True)
    # other failures are counted by the tally; a 503 once recovered is an error here
    late = [a for a in steady_answers if a.sent >= recovered and a.status == 503]
    refusals = [a for a in answers if a.status == 503]
    if not refusals:
        raise RuntimeError("no request was refused: the API was never overloaded")
    notes = (
        f"{burst_threads + 2} clients against a limit of {LIMIT}: {len(refusals):,} fast 503s "
        f"({_ms(refusals)}), {sum(a.status == 200 for a in answers):,} answered 200 "
        f"({_ms([a for a in answers if a.status == 200])}); first answer "
        f"{recovered - burst_end:.2f} s after the burst, then {len(late)} 503s for steady "
        f"clients; problems: {describe(t)}"
    )
    return [
        Row(
            scenario="api: overload",
            fault=f"{burst_threads} extra clients on a {LIMIT}-connection limit",
            volume=t.requests,
            unit="requests",
            lost=t.lost,
            duplicated=t.duplicated,
            errors=t.errors + len(late),
            notes=notes,
        )
    ]


def _ms(answers: list[Answer]) -> str:
    times = sorted(a.seconds * 1000 for a in answers)
    if not times:
        return "none"
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return f"median {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.0f} ms"


if __name__ == "__main__":
    main(run)
