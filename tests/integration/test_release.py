"""Rollback, approval and the history of ``@production``, against a real ``mlflow server``.

One scenario on one registry: versions promoted, one refused, a rollback, a candidate that
waits for a person's approval, and the history that tells it all back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudops import generate, history, registry, release, tracking, train
from fraudops.cli import app
from fraudops.config import Settings, get_settings
from fraudops.errors import FraudOpsError
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, mlflow_uri: str
) -> tuple[Settings, train.TrainResult]:
    """A lake and one trained model on the server, to register as many versions as needed."""
    root: Path = tmp_path_factory.mktemp("release")
    s = make_settings(
        root / "home", tracking_uri=mlflow_uri, model_name="release-detector", promotion_floor=0.0
    )
    generate.generate(s)
    return s, train.train_sweep(s, configs=train.SWEEP[:1])


def _register(s: Settings, trained: train.TrainResult) -> str:
    client = tracking.connect(s)
    return registry.register(client, s, model_uri=trained.model_uri, run_id=trained.best_run_id)


def _production(s: Settings) -> str:
    mv = registry.alias_version(tracking.connect(s), s.model_name, s.model_alias)
    assert mv is not None
    return str(mv.version)


def test_rollback_then_history_then_approval(home: tuple[Settings, train.TrainResult]):
    s, trained = home
    client = tracking.connect(s)
    v1, v2, v3 = (_register(s, trained) for _ in range(3))

    assert registry.promote(s, version=v1, by="ci").promote
    assert registry.promote(s, version=v2, by="ci").promote  # the same model: as good
    strict = s.model_copy(update={"promotion_floor": 0.999})
    refused = registry.promote(strict, version=v3, by="ci")
    assert not refused.promote and _production(s) == v2

    back = release.rollback(s, by="risk-officer", reason="alerts doubled overnight")
    assert (back.version, back.previous) == (v1, v2)
    assert _production(s) == v1
    with pytest.raises(FraudOpsError, match="no version before"):
        release.rollback(s, by="risk-officer")  # v1 was the first production version

    found = history.events(client, s)
    assert [(e.kind, e.version, e.previous) for e in found] == [
        (history.Kind.PROMOTED, v1, None),
        (history.Kind.PROMOTED, v2, v1),
        (history.Kind.REFUSED, v3, v2),
        (history.Kind.ROLLED_BACK, v1, v2),
    ]
    assert [e.by for e in found] == ["ci", "ci", "ci", "risk-officer"]
    assert found[2].reason == refused.reason and "floor" in found[2].reason
    assert found[2].candidate_ap == refused.candidate_ap and found[2].champion_ap is not None
    assert found[3].reason == "alerts doubled overnight"
    assert [e.at for e in found] == sorted(e.at for e in found)
    # the history tags are not the version's lineage (GET /model shows that)
    prod = registry.production_model(client, s)
    assert prod is not None and not any(k.startswith("history.") for k in prod.lineage)

    # manual promotion: the gate passes v4 and production waits for a person
    manual = s.model_copy(update={"manual_promotion": True})
    v4 = _register(s, trained)
    waiting = registry.promote(manual, version=v4, by="ci")
    assert waiting.promote and waiting.awaiting_approval
    assert waiting.verdict == "awaiting approval"
    assert _production(s) == v1
    challenger = registry.alias_version(client, s.model_name, registry.CHALLENGER)
    assert challenger is not None and str(challenger.version) == v4
    with pytest.raises(FraudOpsError, match="not waiting for approval"):
        release.approve(manual, v3, by="alice")

    result = CliRunner().invoke(
        app, ["approve", v4, "--by", "alice"], env=_env(s), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert _production(s) == v4
    assert registry.alias_version(client, s.model_name, registry.CHALLENGER) is None
    tags = client.get_model_version(s.model_name, v4).tags
    assert tags["fraudops.gate.approved_by"] == "alice"
    assert tags["fraudops.gate.decision"] == "promoted"

    listed = CliRunner().invoke(app, ["history", "--json"], env=_env(s))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["kind"], r["version"], r["by"]) for r in rows[-2:]] == [
        ("awaiting-approval", v4, "ci"),
        ("approved", v4, "alice"),
    ]
    assert rows[-1]["previous"] == v1 and "alice" in rows[-1]["reason"]
    # one step back from the approved version: the version before it
    assert release.rollback(s, by="bob").version == v1

    # a person may also turn the gate's winner down: production stays
    v5 = _register(s, trained)
    assert registry.promote(manual, version=v5, by="ci").awaiting_approval
    result = CliRunner().invoke(
        app, ["reject", v5, "--by", "carol", "--reason", "wait for Monday"], env=_env(s)
    )
    assert result.exit_code == 0, result.output
    assert _production(s) == v1
    assert registry.alias_version(client, s.model_name, registry.CHALLENGER) is None
    last = history.events(client, s)[-1]
    assert (last.kind, last.version, last.by) == (history.Kind.REJECTED, v5, "carol")
    assert "wait for Monday" in last.reason
    decision = registry.last_decision(client, s)
    assert decision is not None and decision.verdict == "rejected"


def _env(s: Settings) -> dict[str, str]:
    get_settings.cache_clear()  # the commands read these, not a settings object cached before
    return {
        "FRAUDOPS_HOME": str(s.home_dir),
        "FRAUDOPS_TRACKING_URI": s.tracking_url,
        "FRAUDOPS_MODEL_NAME": s.model_name,
    }
