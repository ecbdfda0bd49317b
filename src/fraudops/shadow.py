"""Shadow challengers: a version the gate passed scores live traffic beside production.

``@shadow`` is a registry alias, next to ``@production`` and ``@challenger``: the API loads
the version it points at and scores every batch of ``/predict`` with it too, after the
answers are settled, logging its rows to ``fraud.predictions`` (``role`` = ``shadow``).
Starting and stopping are events of the history. With ``shadow_days`` set, a challenger is
promoted only after that long in shadow, and only if it saved at least production's cost
on the same live transactions (:mod:`fraudops.shadowreport`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fraudops import history, registry, tracking
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.gate import Decision
from fraudops.gatelock import gate_lock

if TYPE_CHECKING:  # MLflow loads when a function first needs it
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

SHADOW = "shadow"


def start(settings: Settings, version: str, *, by: str | None = None) -> history.Event:
    """Put a version the gate passed in shadow (it replaces the one there, if any).

    Raises:
        FraudOpsError: the version did not pass the offline gate, or is production already.
    """
    client = tracking.connect(settings)
    name, version, who = settings.model_name, str(version), history.actor(by)
    with gate_lock(client, settings):
        decision = Decision.from_tags(dict(client.get_model_version(name, version).tags or {}))
        if decision is None or not decision.promote:
            raise FraudOpsError(
                f"version {version} did not pass the offline gate (`fraudops promote`): "
                "only a version that passed can be put in shadow"
            )
        served = registry.alias_version(client, name, settings.model_alias)
        if served is not None and str(served.version) == version:
            raise FraudOpsError(f"version {version} is {name}@{settings.model_alias} already")
        was = registry.alias_version(client, name, SHADOW)
        client.set_registered_model_alias(name, SHADOW, version)
        if was is not None and str(was.version) != version:
            _record(
                client,
                settings,
                history.Kind.SHADOW_STOPPED,
                str(was.version),
                served,
                who,
                f"shadow stopped by {who}: version {version} replaces it",
            )
        return _record(
            client,
            settings,
            history.Kind.SHADOW_STARTED,
            version,
            served,
            who,
            f"shadow started by {who}; the gate: {decision.reason}",
            decision,
        )


def stop(settings: Settings, *, by: str | None = None, reason: str | None = None) -> history.Event:
    """Stop shadow scoring: no version carries ``@shadow`` any more.

    Raises:
        FraudOpsError: no version is in shadow.
    """
    client = tracking.connect(settings)
    name, who = settings.model_name, history.actor(by)
    with gate_lock(client, settings):
        was = registry.alias_version(client, name, SHADOW)
        if was is None:
            raise FraudOpsError(f"no version of {name} is in shadow (@{SHADOW})")
        client.delete_registered_model_alias(name, SHADOW)
        served = registry.alias_version(client, name, settings.model_alias)
        why = f"shadow stopped by {who}" + (f": {reason}" if reason else "")
        return _record(
            client, settings, history.Kind.SHADOW_STOPPED, str(was.version), served, who, why
        )


def promoted(client: MlflowClient, settings: Settings, version: str, who: str) -> None:
    """The version in shadow became production: it leaves ``@shadow`` (in the history too)."""
    name = settings.model_name
    was = registry.alias_version(client, name, SHADOW)
    if was is not None and str(was.version) == version:
        client.delete_registered_model_alias(name, SHADOW)
        served = registry.alias_version(client, name, settings.model_alias)
        _record(
            client,
            settings,
            history.Kind.SHADOW_STOPPED,
            version,
            served,
            who,
            f"shadow ended: version {version} was promoted by {who}",
        )


def current(settings: Settings) -> str:
    """The version ``@shadow`` points at.

    Raises:
        FraudOpsError: no version is in shadow.
    """
    found = registry.alias_version(tracking.connect(settings), settings.model_name, SHADOW)
    if found is None:
        raise FraudOpsError(f"no version of {settings.model_name} is in shadow: name one")
    return str(found.version)


def days_in_shadow(events: list[history.Event], version: str, now: dt.datetime) -> float:
    """How long the version's latest stretch in shadow lasted, or lasts so far (days)."""
    began: dt.datetime | None = None
    ended: dt.datetime | None = None
    for event in events:
        if event.version != version:
            continue
        if event.kind is history.Kind.SHADOW_STARTED:
            began, ended = dt.datetime.fromisoformat(event.at), None
        elif event.kind is history.Kind.SHADOW_STOPPED and began is not None:
            ended = dt.datetime.fromisoformat(event.at)
    if began is None:
        return 0.0
    return ((ended or now) - began).total_seconds() / 86_400


def held(client: MlflowClient, settings: Settings, version: str) -> str | None:
    """Why the shadow period keeps the version out of production (None: it may go)."""
    if settings.shadow_days <= 0:
        return None
    days = days_in_shadow(history.events(client, settings), version, dt.datetime.now(dt.UTC))
    if days < settings.shadow_days:
        return (
            f"version {version} has been in shadow {days:.2f} of the {settings.shadow_days:g} "
            f"days required (`fraudops shadow start {version}`)"
        )
    from fraudops.shadowreport import compare  # the lake: only when the period is met

    report = compare(settings, version)
    if report.shadow is None or report.production is None:
        return f"the shadow report cannot compare yet: {report.verdict}"
    saved, against = report.shadow.cost_saved_per_day, report.production.cost_saved_per_day
    if saved < against:
        return (
            f"in shadow version {version} saved {saved:,.2f} a day < production's "
            f"{against:,.2f} on the same {report.matured:,} matured transactions"
        )
    return None


def _record(
    client: MlflowClient,
    settings: Settings,
    kind: history.Kind,
    version: str,
    served: ModelVersion | None,
    who: str,
    reason: str,
    decision: Decision | None = None,
) -> history.Event:
    event = history.Event(
        kind=kind,
        version=version,
        previous=str(served.version) if served is not None else None,
        by=who,
        at=history.now(),
        reason=reason,
        candidate_ap=decision.candidate_ap if decision else None,
        champion_ap=decision.champion_ap if decision else None,
        candidate_saved_per_day=decision.candidate_saved_per_day if decision else None,
        champion_saved_per_day=decision.champion_saved_per_day if decision else None,
    )
    return history.record(client, settings, event)
