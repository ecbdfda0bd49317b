"""The model registry: register, compare on a fresh holdout, promote by alias, load.

This module, ``release`` (approve, roll back) and ``history`` write to the registry (with
its lock, :mod:`fraudops.gatelock`); each imports MLflow when a function first needs it.
Aliases, not the deprecated stages: ``@production`` is what the API serves; a candidate under
evaluation (or waiting for approval) carries ``@challenger``. :func:`promote` is the one
promotion entry point (CLI, DAGs, demo); :func:`should_promote` is its rule, a pure function.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops import history, tracking
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.gate import GATE, Decision, Score, decide
from fraudops.gatelock import gate_lock
from fraudops.schema import LABEL
from fraudops.scoring import FraudScorer, score_table
from fraudops.trainset import amounts, day_codes

if TYPE_CHECKING:  # MLflow (SciPy, pandas, Spark with it) loads when a function first needs it
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

CHALLENGER = "challenger"
GATE_ATTEMPTS = 5  # comparisons a gate makes while someone keeps moving production by hand
TAG = "fraudops."
# what `fraudops train` writes on every version it registers: without them the gate does not
# know what data made the version, and refuses it unread
LINEAGE = ("lake_table", "snapshot_id", "rows", "code_version", "run_id")


@dataclass(frozen=True)
class ProductionModel:
    """The version ``@production`` points at, with its run's metrics and lineage."""

    name: str
    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float]
    lineage: dict[str, str]
    snapshot_id: str | None
    decision: Decision | None
    description: str | None = None  # the model card (``modelcard``) when `train` registered it


def register(client: MlflowClient, settings: Settings, *, model_uri: str, run_id: str) -> str:
    """Register a logged model as a new version carrying the run's lineage tags; its number."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(settings.model_name)
    except MlflowException:
        client.create_registered_model(
            settings.model_name, description="Credit-card fraud classifier (XGBoost pyfunc)."
        )
    lineage = {k: v for k, v in client.get_run(run_id).data.tags.items() if k.startswith(TAG)}
    tags = {**lineage, f"{TAG}run_id": run_id}  # one write: never a version without them
    with tracking.unprinted():  # "already exists" (made above), "Created version": ours to say
        version = mlflow.register_model(model_uri, settings.model_name, tags=tags)
    return str(version.version)


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at; None if the model or the alias does not exist.

    Raises:
        MlflowException: any other failure (server unavailable, key refused): not "no version".
    """
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None  # MLflow's answers for an unknown model, for an unknown alias
        raise


def newest_version(client: MlflowClient, settings: Settings) -> str:
    """The highest version number of the model (:class:`FraudOpsError` if none is yet)."""
    versions = client.search_model_versions(f"name='{settings.model_name}'")
    if not versions:
        raise FraudOpsError(f"no version of {settings.model_name} yet: run `fraudops train`.")
    return str(max(int(v.version) for v in versions))


def missing_lineage(client: MlflowClient, settings: Settings, version: str) -> list[str]:
    """The training lineage tags a version lacks (none for a version ``train`` registered)."""
    tags = client.get_model_version(settings.model_name, version).tags or {}
    return [f"{TAG}{name}" for name in LINEAGE if not tags.get(f"{TAG}{name}")]


def score_version(settings: Settings, version: str, holdout: pa.Table) -> Score:
    """A registered version on a holdout, at its own threshold, from its native booster.

    Average precision, and the cost it saves a day (``false_alarm_cost`` per false alarm).
    The API scores the same way; the version's pickled pyfunc is never loaded here.
    """
    from fraudops.evaluation import evaluate  # scikit-learn: only where versions are compared

    scorer = load_scorer(settings, version)
    y = np.asarray(holdout[LABEL.name].to_numpy(), dtype=np.int32)
    proba, _ = score_table(scorer, holdout)
    metrics = evaluate(
        y,
        proba,
        scorer.threshold,
        days=day_codes(holdout),
        amount=amounts(holdout),
        false_alarm_cost=settings.false_alarm_cost,
    )
    return Score(metrics["average_precision"], metrics["cost_saved_per_day"])


def holdout_from_lake(settings: Settings, snapshot_id: int | None = None) -> tuple[pa.Table, int]:
    """The fresh holdout: the most recent ``holdout_days`` mature days, labelled at the cut-off."""
    from fraudops import lake

    catalog = lake.open_catalog(settings)
    pinned = lake.pin(catalog, snapshot_id=snapshot_id)
    labelled = lake.read_labelled(catalog, pinned, maturity_days=settings.label_maturity_days)
    day = pc.cast(labelled.table["event_ts"], pa.date32())
    days = sorted(pc.unique(day).to_pylist())[-settings.holdout_days :]
    holdout = labelled.table.filter(pc.is_in(day, value_set=pa.array(days, pa.date32())))
    return holdout, pinned.transactions


def gate(
    client: MlflowClient,
    settings: Settings,
    *,
    version: str,
    holdout: pa.Table,
    holdout_snapshot_id: int | None = None,
    by: str | None = None,
) -> Decision:
    """Re-score candidate and current production on the same holdout; move the alias if it wins.

    Gates run one at a time (:func:`~fraudops.gatelock.gate_lock`): a second gate compares its
    candidate with what the first one left in production. The alias moves only if production
    still points at the champion compared against (a person may move it meanwhile), else it
    compares again. With ``manual_promotion`` or ``shadow_days`` a winner keeps ``@challenger``
    and waits for ``approve``. Every decision is an event of the history, with ``by``.
    """
    name, version = settings.model_name, str(version)
    missing = missing_lineage(client, settings, version)
    scores: dict[str, Score] = {}
    who = history.actor(by)
    waiting = False

    def score(of: str) -> Score:
        if of not in scores:
            scores[of] = score_version(settings, of, holdout)
        return scores[of]

    with gate_lock(client, settings):
        if not missing:
            client.set_registered_model_alias(name, CHALLENGER, version)
        try:
            for _ in range(GATE_ATTEMPTS):
                champion, serving = _served(client, settings, version)
                decision = decide(
                    version=version,
                    champion=champion,
                    serving=serving,
                    missing=missing,
                    score=score,
                    holdout=holdout,
                    holdout_snapshot_id=holdout_snapshot_id,
                    margin=settings.promotion_margin,
                    floor=settings.promotion_floor,
                )
                hold = settings.manual_promotion or settings.shadow_days > 0  # shadow first
                waiting = decision.promote and hold
                decision = dataclasses.replace(decision, awaiting_approval=waiting)
                for key, value in decision.as_tags().items():
                    client.set_model_version_tag(name, version, key, value)
                if not decision.promote:
                    history.record(client, settings, _event(decision, history.Kind.REFUSED, who))
                    return decision
                if waiting:
                    history.record(client, settings, _event(decision, history.Kind.AWAITING, who))
                    return decision
                if _served(client, settings, version)[0] == champion:
                    client.set_registered_model_alias(name, settings.model_alias, version)
                    event = _event(decision, history.Kind.PROMOTED, who)
                    history.record_move(client, settings, event, again=serving)
                    return decision
        finally:
            if not missing and not waiting:
                client.delete_registered_model_alias(name, CHALLENGER)
    raise FraudOpsError(
        f"{name}@{settings.model_alias} kept moving while version {version} was gated; "
        "run the promotion again"
    )


def _event(decision: Decision, kind: history.Kind, by: str) -> history.Event:
    return history.from_decision(decision, kind, by=by)


def _served(client: MlflowClient, settings: Settings, version: str) -> tuple[str | None, bool]:
    """(The version production points at unless it is ``version`` itself, whether it is)."""
    served = alias_version(client, settings.model_name, settings.model_alias)
    serving = served is not None and str(served.version) == version
    return (None if served is None or serving else str(served.version)), serving


def promote(settings: Settings, *, version: str | None = None, by: str | None = None) -> Decision:
    """Gate a version (default: the newest) on the lake's fresh holdout: THE promotion step."""
    client = tracking.connect(settings)
    version = version or newest_version(client, settings)
    holdout, snapshot_id = holdout_from_lake(settings)
    return gate(
        client, settings, version=version, holdout=holdout, holdout_snapshot_id=snapshot_id, by=by
    )


def production_model(client: MlflowClient, settings: Settings) -> ProductionModel | None:
    """The production version, its metrics, lineage and promotion decision (or None)."""
    mv = alias_version(client, settings.model_name, settings.model_alias)
    if mv is None:
        return None
    run = client.get_run(mv.run_id) if mv.run_id else None
    tags = dict(mv.tags or {})
    return ProductionModel(
        name=settings.model_name,
        alias=settings.model_alias,
        version=str(mv.version),
        run_id=mv.run_id,
        metrics=dict(run.data.metrics) if run else {},
        lineage={
            k.removeprefix(TAG): v
            for k, v in tags.items()
            if k.startswith(TAG) and not k.startswith((GATE, history.HISTORY))
        },
        snapshot_id=tags.get(f"{TAG}snapshot_id"),
        decision=Decision.from_tags(tags),
        description=mv.description or None,
    )


def last_decision(client: MlflowClient, settings: Settings) -> Decision | None:
    """The most recent gate decision on any version of the model."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name='{settings.model_name}'")
    except MlflowException:
        return None
    decided = [v for v in versions if f"{GATE}decided_at" in (v.tags or {})]
    if not decided:
        return None
    latest = max(decided, key=lambda v: v.tags[f"{GATE}decided_at"] + str(v.version).zfill(8))
    return Decision.from_tags(latest.tags)


def load_scorer(settings: Settings, version: str) -> FraudScorer:
    """The scorer (booster + threshold) of a registered version, from its artifacts.

    Only the native booster file and a JSON document are read: nothing is unpickled.
    """
    import mlflow.artifacts
    from mlflow.models import Model

    client = tracking.connect(settings)
    uri = client.get_model_version_download_uri(settings.model_name, version)
    with tempfile.TemporaryDirectory(prefix="fraudops-model-") as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=settings.tracking_url
            )
        )
        flavor = Model.load(str(local)).flavors["python_function"]
        return FraudScorer.load(local / flavor["artifacts"]["scorer"]["path"])


def load_production_scorer(settings: Settings) -> tuple[FraudScorer, str]:
    """The scorer that ``@production`` points at now, and its version."""
    mv = alias_version(tracking.connect(settings), settings.model_name, settings.model_alias)
    if mv is None:
        raise FraudOpsError(
            f"no {settings.model_name}@{settings.model_alias} model yet: run `fraudops demo` "
            "or train and promote one."
        )
    return load_scorer(settings, str(mv.version)), str(mv.version)
