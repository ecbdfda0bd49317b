"""Two gates at once: the alias must end on the better candidate.

Both gates used to compare their candidate with the champion they read at the start and
then move the alias: the weaker one, finishing last, replaced the better one that had just
been promoted (found by ``make chaos``: registry: two concurrent promotions).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

from fraudops import registry, tracking
from fraudops.config import Settings
from fraudops.gate import Decision
from tests.support.settings import make_settings

pytestmark = pytest.mark.slow

AP = {"1": 0.5, "2": 0.6, "3": 0.9}  # champion, weak candidate, strong candidate


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
    both_read_the_champion = threading.Barrier(2, timeout=60)
    strong_done = threading.Event()
    per_thread = threading.local()

    def score(_settings: Settings, version: str, _holdout: pa.Table) -> float:
        version = str(version)  # the store answers numbers
        if version == "1" and not getattr(per_thread, "scored_champion", False):
            per_thread.scored_champion = True
            both_read_the_champion.wait()  # both gates compare against version 1 ...
            if threading.current_thread().name == "weak":
                assert strong_done.wait(60)  # ... and the weak one moves on last
        return AP[version]

    monkeypatch.setattr(registry, "score_version", score)
    monkeypatch.setattr(registry, "missing_lineage", lambda *_args: [])
    holdout = pa.table({"event_ts": pa.array([], pa.timestamp("us", tz="UTC"))})
    decisions: dict[str, Decision] = {}
    client = tracking.connect(settings)

    def gate(version: str) -> None:
        decisions[version] = registry.gate(client, settings, version=version, holdout=holdout)

    strong = threading.Thread(target=gate, args=("3",), name="strong")
    weaker = threading.Thread(target=gate, args=("2",), name="weak")
    weaker.start()
    strong.start()
    strong.join(60)
    strong_done.set()
    weaker.join(60)

    production = registry.alias_version(client, settings.model_name, "production")
    assert production is not None
    assert str(production.version) == "3"
    assert decisions["3"].promote
    assert not decisions["2"].promote
    assert decisions["2"].champion_version == "3"  # decided against what was served then
