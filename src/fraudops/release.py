"""Production by hand: approve (or reject) the challenger the gate passed, roll back one step.

Both hold the gate lock (no gate runs meanwhile) and write their event to the history, so
``fraudops history`` tells who moved production, when and why. The API follows the alias
within its poll interval (``model_poll_seconds``).
"""

from __future__ import annotations

import dataclasses

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from fraudops import history, registry, shadow, tracking
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.gate import GATE, Decision
from fraudops.gatelock import gate_lock


def _waiting(client: MlflowClient, settings: Settings, version: str) -> Decision:
    """The gate's decision on the version waiting as ``@challenger``.

    Raises:
        FraudOpsError: the version is not the challenger waiting for approval.
    """
    name = settings.model_name
    waiting = registry.alias_version(client, name, registry.CHALLENGER)
    decision = Decision.from_tags(dict(client.get_model_version(name, version).tags or {}))
    if waiting is None or str(waiting.version) != version:
        have = f"version {waiting.version} is" if waiting else "no version is"
        raise FraudOpsError(
            f"version {version} is not waiting for approval ({have} {name}@"
            f"{registry.CHALLENGER}); only a version the gate passed can be approved"
        )
    if decision is None or not decision.promote:
        raise FraudOpsError(f"version {version} did not pass the gate; it cannot be approved")
    return decision


def approve(settings: Settings, version: str, *, by: str | None = None) -> history.Event:
    """Move production to the version the gate passed and left waiting as ``@challenger``.

    With ``shadow_days`` set, only once it has been in shadow that long and saved at least
    production's cost on the same live transactions (else a refusal in the history).

    Raises:
        FraudOpsError: the version is not the challenger waiting for approval, or its shadow
            period keeps it out.
    """
    client = tracking.connect(settings)
    name, version, who = settings.model_name, str(version), history.actor(by)
    with gate_lock(client, settings):
        decision = _waiting(client, settings, version)
        served = registry.alias_version(client, name, settings.model_alias)
        held = shadow.held(client, settings, version)
        if held is not None:  # the shadow period first: refused, and it stays @challenger
            refusal = history.from_decision(decision, history.Kind.REFUSED, by=who)
            reason = f"approval by {who} refused: {held}"
            previous = str(served.version) if served else None
            refusal = dataclasses.replace(refusal, reason=reason, previous=previous)
            history.record(client, settings, refusal)
            raise FraudOpsError(reason)
        client.set_registered_model_alias(name, settings.model_alias, version)
        client.delete_registered_model_alias(name, registry.CHALLENGER)
        shadow.promoted(client, settings, version, who)
        return _decided(client, settings, decision, history.Kind.APPROVED, who, served, None)


def reject(
    settings: Settings, version: str, *, by: str | None = None, reason: str | None = None
) -> history.Event:
    """Keep the version the gate passed out of production: it is no longer ``@challenger``.

    Raises:
        FraudOpsError: the version is not the challenger waiting for approval.
    """
    client = tracking.connect(settings)
    name, version, who = settings.model_name, str(version), history.actor(by)
    with gate_lock(client, settings):
        decision = _waiting(client, settings, version)
        served = registry.alias_version(client, name, settings.model_alias)
        client.delete_registered_model_alias(name, registry.CHALLENGER)
        return _decided(client, settings, decision, history.Kind.REJECTED, who, served, reason)


def _decided(
    client: MlflowClient,
    settings: Settings,
    decision: Decision,
    kind: history.Kind,
    who: str,
    served: ModelVersion | None,
    reason: str | None,
) -> history.Event:
    """Record a person's answer on the version's gate tags and in the history."""
    name, version = settings.model_name, decision.candidate_version
    verdict = "promoted" if kind is history.Kind.APPROVED else "rejected"
    event = history.Event(
        kind=kind,
        version=version,
        previous=str(served.version) if served else None,
        by=who,
        at=history.now(),
        reason=history.signed(kind, who) + (reason or f"the gate: {decision.reason}"),
        candidate_ap=decision.candidate_ap,
        champion_ap=decision.champion_ap,
        candidate_saved_per_day=decision.candidate_saved_per_day,
        champion_saved_per_day=decision.champion_saved_per_day,
    )
    for key, value in (
        ("awaiting_approval", "False"),
        ("promote", str(kind is history.Kind.APPROVED)),  # a rejected version reads refused
        ("decision", verdict),
        (f"{kind}_by", who),
        (f"{kind}_at", event.at),
    ):
        client.set_model_version_tag(name, version, f"{GATE}{key}", value)
    return history.record(client, settings, event)


def rollback(
    settings: Settings, *, by: str | None = None, reason: str | None = None
) -> history.Event:
    """Move production back to the version it held before the current one, in one step.

    Raises:
        FraudOpsError: there is no production version, or none before it.
    """
    client = tracking.connect(settings)
    name, alias, who = settings.model_name, settings.model_alias, history.actor(by)
    with gate_lock(client, settings):
        served = registry.alias_version(client, name, alias)
        if served is None:
            raise FraudOpsError(f"no {name}@{alias} to roll back")
        current = str(served.version)
        target = history.previous_production(history.events(client, settings), current)
        if target is None:
            raise FraudOpsError(
                f"{name}@{alias} is version {current} and the history has no version before it"
            )
        client.get_model_version(name, target)  # still registered: fails clearly if deleted
        client.set_registered_model_alias(name, alias, target)
        event = history.Event(
            kind=history.Kind.ROLLED_BACK,
            version=target,
            previous=current,
            by=who,
            at=history.now(),
            reason=reason or f"rolled back from version {current}",  # who: the event says
        )
        return history.record(client, settings, event)
