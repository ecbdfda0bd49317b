"""Two promotions at once: the alias must end on the better candidate.

``@production`` is put on the version trained on shuffled labels; then two real
``fraudops promote`` processes start together, one for the good version and one for the
weak one: both beat that champion, but only the good one may end up served. Each round is
read back from the registry:

* lost: a round whose alias does not end on the better candidate (the better promotion was
  lost), the better one being measured on the gate's own holdout when the world was made;
* duplicated: a round in which both gates recorded a promotion decided against the same
  champion (both moved the alias on one comparison: the race itself);
* errors: a promote process that failed, a gate that recorded no decision, a gate lock left
  in the registry after the rounds.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess

from chaos._report import Row
from chaos._scenario import main, say
from chaos._world import MODEL, World, fraudops_bin
from fraudops.procs import start_group, stop_groups

GATE = "fraudops.gate."


def run(world: World, rng: random.Random) -> list[Row]:
    work = world.workdir("promotions")
    client = world.client()
    champion = world.versions["shuffled"]
    candidates = [world.versions["good"], world.versions["weak"]]
    best = max(candidates, key=lambda v: world.holdout_saved[v])
    rounds = 2 if world.quick else 6
    lost = duplicated = errors = 0
    finals = []
    for r in range(rounds):
        client.set_registered_model_alias(MODEL, "production", champion)
        start = dt.datetime.now(dt.UTC).replace(microsecond=0)
        order = rng.sample(candidates, 2)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for version in order:
                argv = [fraudops_bin(), "promote", "--version", version]
                log = work / f"promote-{r}-v{version}.log"
                procs.append(start_group(argv, env=world.env(), log=log, cwd=work))
            codes = [p.wait(timeout=300) for p in procs]
        finally:
            stop_groups(procs)
        final = client.get_model_version_by_alias(MODEL, "production").version
        finals.append(final)
        decisions = {v: client.get_model_version(MODEL, v).tags for v in candidates}
        fresh = {
            v: tags
            for v, tags in decisions.items()
            if dt.datetime.fromisoformat(tags.get(f"{GATE}decided_at", "2000-01-01T00:00:00+00:00"))
            >= start
        }
        promoted = [tags for tags in fresh.values() if tags.get(f"{GATE}promote") == "True"]
        against = {tags.get(f"{GATE}champion_version") for tags in promoted}
        race = len(promoted) == 2 and len(against) == 1
        lost += final != best
        duplicated += race
        errors += sum(1 for c in codes if c) + (len(candidates) - len(fresh))
        say(
            f"round {r}: started {order}, exit codes {codes}, alias on {final}; promoted "
            f"{len(promoted)} against {sorted(map(str, against))}"
        )
    # a gate holds a lock (a registered model) while it runs: none may be left behind
    locks = client.search_registered_models(filter_string=f"name = '{MODEL}.gate-lock'")
    errors += len(locks)
    return [
        Row(
            scenario="registry: two concurrent promotions",
            fault=f"2 x fraudops promote at once, {rounds} rounds",
            volume=2 * rounds,
            unit="promotions",
            lost=lost,
            duplicated=duplicated,
            errors=errors,
            notes=(
                f"candidates v{candidates[0]} (holdout AP {world.holdout_ap[candidates[0]]:.3f}) "
                f"and v{candidates[1]} ({world.holdout_ap[candidates[1]]:.3f}) over champion "
                f"v{champion} ({world.holdout_ap[champion]:.3f}); alias ended on "
                f"{', '.join('v' + f for f in finals)}; gate locks left: {len(locks)}"
            ),
        )
    ]


if __name__ == "__main__":
    main(run)
