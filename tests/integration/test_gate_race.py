"""Two gates at once: the alias must end on the better candidate.

Both gates used to compare their candidate with the champion they read at the start and
then move the alias: the weaker one, finishing last, replaced the better one that had just
been promoted (found by ``make chaos``: registry: two concurrent promotions). Checking the
alias again just before moving it only narrowed that window; the test holds the weaker gate
between that check and its move while the stronger one finishes.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from fraudops import registry, tracking
from fraudops.config import Settings
from fraudops.gate import Decision, Score
from tests.support.settings import make_settings

pytestmark = pytest.mark.slow

AP = {"1": 0.5, "2": 0.6, "3": 0.9}  # champion, weak candidate, strong candidate
HOLD = 5.0  # seconds a gate is held at most (a serialised gate never gets what it waits for)


@pytest.fixture
def three_versions(tmp_path: Path) -> Settings:
    """An embedded registry: versions 1, 2, 3 of the model, @production on version 1."""
    settings = make_settings(tmp_path / "home")
    client = tracking.connect(settings)
    client.create_registered_model(settings.model_name)
    for _ in AP:
        client.create_model_version(settings.model_name, source=str(tmp_path))
    client.set_registered_model_alias(settings.model_name, "production", "1")
    return settings


def test_the_weaker_of_two_concurrent_promotions_does_not_replace_the_stronger(
    three_versions: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = three_versions
    weak_started, weak_checked, strong_done = (threading.Event() for _ in range(3))
    reads: Counter[str] = Counter()
    real_served = registry._served

    def served(client: object, s: Settings, version: str) -> tuple[str | None, bool]:
        me = threading.current_thread().name
        reads[me] += 1
        if me == "strong" and reads[me] == 2:  # just before moving the alias ...
            weak_checked.wait(HOLD)  # ... once the weak gate has checked it too
        found = real_served(client, s, version)  # type: ignore[arg-type]
        if me == "weak":
            weak_started.set()
            if reads[me] == 2:  # checked: production is still version 1; move only once
                weak_checked.set()  # the strong gate is done
                strong_done.wait(HOLD)
        return found

    monkeypatch.setattr(registry, "_served", served)
    # the stronger version saves more a day too
    monkeypatch.setattr(
        registry, "score_version", lambda _s, v, _h: Score(AP[str(v)], 1_000 * AP[str(v)])
    )
    monkeypatch.setattr(registry, "missing_lineage", lambda *_args: [])
    holdout = pa.table({"event_ts": pa.array([], pa.timestamp("us", tz="UTC"))})
    client = tracking.connect(settings)
    decisions: dict[str, Decision] = {}

    def gate(version: str) -> None:
        decisions[version] = registry.gate(client, settings, version=version, holdout=holdout)

    weaker = threading.Thread(target=gate, args=("2",), name="weak")
    stronger = threading.Thread(target=gate, args=("3",), name="strong")
    weaker.start()
    assert weak_started.wait(60)
    stronger.start()
    stronger.join(60)
    strong_done.set()
    weaker.join(60)

    production = registry.alias_version(client, settings.model_name, "production")
    assert production is not None
    assert str(production.version) == "3"
    assert decisions["3"].promote
    promoted_against = [d.champion_version for d in decisions.values() if d.promote]
    assert len(promoted_against) == len(set(promoted_against))  # never two on one comparison
    assert registry.alias_version(client, settings.model_name, registry.CHALLENGER) is None
