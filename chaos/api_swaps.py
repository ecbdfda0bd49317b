"""The API under load through two hot swaps and a SIGTERM.

``fraudops serve`` answers four client threads (one transaction per request, a client
mistake every eighth) while ``@production`` moves from version 1 to 2 to 3; then a long
``/predict/csv`` request is started and the server gets SIGTERM. Ground truth is what the
clients got back:

* lost: a transaction sent before the SIGTERM without a 200 naming it (the CSV request too);
* duplicated: a transaction answered twice, or an answer naming one nobody sent;
* errors: any other non-200 for a valid transaction, anything but a 4xx for a mistake, an
  answer from an older version after a newer one on the same client, a server that does not
  exit by itself after the drain.

After the SIGTERM a request may be refused (connection refused, or closed before any byte of
an answer): the server stopped taking work, as a drain should; an answer cut halfway is an
error.
"""

from __future__ import annotations

import random
import threading
import time

from chaos._api import Answer, ApiServer, Load, csv_probe, describe, dump, tally, versions_in_order
from chaos._report import Row
from chaos._scenario import main
from chaos._world import MODEL, World
from fraudops.procs import wait_until


def run(world: World, rng: random.Random) -> list[Row]:
    work = world.workdir("api_swaps")
    client = world.client()
    order = [world.versions[r] for r in ("good", "weak", "shuffled")]
    client.set_registered_model_alias(MODEL, "production", order[0])
    per_version = 60 if world.quick else 400
    probe_rows = 50_000
    server = ApiServer(world, work, name="serve")
    load = Load(server.url, tag="swap", threads=4, stop_on_refusal=True)
    probe: list[Answer] = []
    try:
        server.start()
        load.start()
        for i, version in enumerate(order):
            if i:
                client.set_registered_model_alias(MODEL, "production", version)
            wait_until(
                lambda v=version: load.seen(v) >= per_version,  # type: ignore[misc]
                what=f"{per_version} answers from version {version}",
                timeout=120,
            )
        started = threading.Event()
        worker = threading.Thread(
            target=lambda: probe.append(csv_probe(server.url, rows=probe_rows, started=started))
        )
        worker.start()
        assert started.wait(60)
        # the upload in a worker's hands (it takes ~0.7 s to answer): work in flight. Sooner,
        # the connection may still wait in the kernel's accept queue, and uvicorn, closing its
        # socket at the SIGTERM, resets those (seen once under load: a known limit of the
        # server, not of the drain this scenario checks)
        time.sleep(rng.uniform(0.15, 0.3))
        sigterm_at = time.monotonic()
        server.sigterm()
        exit_code = server.wait(timeout=60)
        worker.join(120)
        answers = load.finish()
    finally:
        load.stop.set()
        server.stop()
    if not probe:
        raise RuntimeError("the /predict/csv request never returned")
    everything = answers + probe
    dump(everything, work / "answers.jsonl", since=sigterm_at)
    t = tally(everything, refusals_after=sigterm_at)
    back = versions_in_order(answers, order)
    drained = [a for a in answers if a.sent < sigterm_at and a.sent + a.seconds > sigterm_at]
    after = [a for a in answers if a.sent >= sigterm_at]
    refused = sum(a.refused for a in after)
    probe_inflight = probe[0].sent + probe[0].seconds > sigterm_at
    if not drained and not probe_inflight:
        raise RuntimeError("nothing was in flight at the SIGTERM: the drain was not exercised")
    # uvicorn ends by re-raising SIGTERM: -15 is a clean exit after the drain
    clean_exit = exit_code in (0, -15)
    seen = {v: sum(a.version == v for a in answers) for v in order}
    notes = (
        f"answers per version {seen}; {len(drained)} requests + the {probe_rows:,}-row CSV "
        f"({'in flight' if probe_inflight else 'done before'} at the SIGTERM, "
        f"{probe[0].seconds:.1f} s) answered during the drain; after the SIGTERM "
        f"{len(after) - refused} answered, {refused} refused; exit code {exit_code}; "
        f"problems: {describe(t)}"
    )
    if back:
        notes += f"; {back} answers from an older version after a newer one"
    return [
        Row(
            scenario="api: 2 hot swaps + SIGTERM under load",
            fault="alias moved twice, then SIGTERM with requests in flight",
            volume=t.requests,
            unit="requests",
            lost=t.lost,
            duplicated=t.duplicated,
            errors=t.errors + back + (0 if clean_exit else 1),
            notes=notes,
        )
    ]


if __name__ == "__main__":
    main(run)
