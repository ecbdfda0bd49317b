"""The model registry: register, compare on a fresh holdout, promote by alias.

This is the only module that writes to the registry. Aliases, not the deprecated stages:
``@production`` is what the API serves; a candidate under evaluation carries ``@challenger``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from fraudops import lake
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.evaluation import evaluate
from fraudops.model import FraudScorer, to_model_frame
from fraudops.schema import LABEL

CHALLENGER = "challenger"
TAG = "fraudops."
GATE = "fraudops.gate."  # decision tags on a version


@dataclass(frozen=True)
class Decision:
    """The outcome of the promotion gate for one candidate version."""

    promote: bool
    reason: str
    candidate_version: str
    candidate_ap: float
    champion_version: str | None
    champion_ap: float | None
    holdout_rows: int
    holdout_snapshot_id: int | None
    holdout_days: str
    decided_at: str

    def as_tags(self) -> dict[str, str]:
        """The decision as registry tags on the candidate version."""
        return {
            f"{GATE}decision": "promoted" if self.promote else "rejected",
            **{f"{GATE}{k}": "" if v is None else str(v) for k, v in asdict(self).items()},
        }


def should_promote(
    candidate: float, champion: float | None, *, margin: float, floor: float
) -> tuple[bool, str]:
    """The gate: at least as good as the champion (less ``margin``) and above ``floor``."""
    if not np.isfinite(candidate) or candidate < floor:
        return False, f"candidate AP {candidate:.4f} is below the floor {floor:.4f}"
    if champion is None:
        return True, f"no production model yet; candidate AP {candidate:.4f} >= floor {floor:.4f}"
    if candidate + margin >= champion:
        return True, (
            f"candidate AP {candidate:.4f} >= champion AP {champion:.4f} - margin {margin:.4f}"
        )
    return False, f"candidate AP {candidate:.4f} < champion AP {champion:.4f} - margin {margin:.4f}"


def register(
    client: MlflowClient, settings: Settings, *, model_uri: str, run_id: str
) -> ModelVersion:
    """Register a logged model as a new version, carrying the run's lineage tags."""
    import mlflow

    try:
        client.get_registered_model(settings.model_name)
    except MlflowException:
        client.create_registered_model(
            settings.model_name, description="Credit-card fraud classifier (XGBoost pyfunc)."
        )
    version = mlflow.register_model(model_uri, settings.model_name)
    run = client.get_run(run_id)
    for key, value in run.data.tags.items():
        if key.startswith(TAG):
            client.set_model_version_tag(settings.model_name, version.version, key, value)
    client.set_model_version_tag(settings.model_name, version.version, f"{TAG}run_id", run_id)
    return version


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, or None."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def score_version(settings: Settings, version: str, holdout: pa.Table) -> float:
    """Average precision of a registered version on a holdout, through its pyfunc."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
    y = np.asarray(holdout[LABEL.name].to_numpy(), dtype=np.int32)
    out = model.predict(to_model_frame(holdout))
    proba = np.asarray(out["fraud_probability"], dtype=np.float64)
    return evaluate(y, proba, 0.5)["average_precision"]


def holdout_from_lake(settings: Settings, snapshot_id: int | None = None) -> tuple[pa.Table, int]:
    """The fresh holdout: the most recent ``holdout_days`` of the lake at a snapshot."""
    table = lake.transactions_table(lake.open_catalog(settings))
    snap = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
    if snap is None:
        raise FraudOpsError("the lake is empty: run `fraudops generate` first.")
    days = lake.snapshot_days(table, snap.snapshot_id)[-settings.holdout_days :]
    return lake.read_transactions(table, snapshot_id=snap.snapshot_id, days=days), snap.snapshot_id


def promote_if_better(
    client: MlflowClient,
    settings: Settings,
    *,
    version: str,
    holdout: pa.Table,
    holdout_snapshot_id: int | None = None,
) -> Decision:
    """Re-score candidate and current production on the same holdout; move the alias if it wins."""
    name = settings.model_name
    client.set_registered_model_alias(name, CHALLENGER, version)
    champion = alias_version(client, name, settings.model_alias)
    champion_version = champion.version if champion and champion.version != version else None
    candidate_ap = score_version(settings, version, holdout)
    champion_ap = score_version(settings, champion_version, holdout) if champion_version else None
    promote, reason = should_promote(
        candidate_ap, champion_ap, margin=settings.promotion_margin, floor=settings.promotion_floor
    )
    ts = pc.cast(holdout["event_ts"], pa.date32())
    days = f"{pc.min(ts).as_py()}..{pc.max(ts).as_py()}" if holdout.num_rows else ""
    decision = Decision(
        promote=promote,
        reason=reason,
        candidate_version=str(version),
        candidate_ap=round(candidate_ap, 6),
        champion_version=champion_version,
        champion_ap=None if champion_ap is None else round(champion_ap, 6),
        holdout_rows=holdout.num_rows,
        holdout_snapshot_id=holdout_snapshot_id,
        holdout_days=days,
        decided_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    for key, value in decision.as_tags().items():
        client.set_model_version_tag(name, version, key, value)
    if promote:
        client.set_registered_model_alias(name, settings.model_alias, version)
    client.delete_registered_model_alias(name, CHALLENGER)
    return decision


def production_summary(client: MlflowClient, settings: Settings) -> dict[str, Any] | None:
    """Production version, its metrics, lineage snapshot and promotion decision (or None)."""
    mv = alias_version(client, settings.model_name, settings.model_alias)
    if mv is None:
        return None
    run = client.get_run(mv.run_id) if mv.run_id else None
    tags = dict(mv.tags or {})
    return {
        "name": settings.model_name,
        "alias": settings.model_alias,
        "version": mv.version,
        "run_id": mv.run_id,
        "metrics": dict(run.data.metrics) if run else {},
        "lineage": {
            k.removeprefix(TAG): v
            for k, v in tags.items()
            if k.startswith(TAG) and not k.startswith(GATE)
        },
        "snapshot_id": tags.get(f"{TAG}snapshot_id"),
        "decision": _decision_tags(tags),
    }


def last_decision(client: MlflowClient, settings: Settings) -> dict[str, str] | None:
    """The most recent gate decision on any version of the model."""
    try:
        versions = client.search_model_versions(f"name='{settings.model_name}'")
    except MlflowException:
        return None
    decided = [v for v in versions if f"{GATE}decided_at" in (v.tags or {})]
    if not decided:
        return None
    latest = max(decided, key=lambda v: v.tags[f"{GATE}decided_at"] + str(v.version).zfill(8))
    return _decision_tags(latest.tags)


def _decision_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix(GATE): v for k, v in tags.items() if k.startswith(GATE)}


def load_scorer(settings: Settings, version: str) -> FraudScorer:
    """The scorer (booster + threshold) of a registered version, from its pyfunc artifacts."""
    import mlflow.artifacts
    from mlflow.models import Model

    from fraudops.tracking import connect

    client = connect(settings)
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
    from fraudops.tracking import connect

    mv = alias_version(connect(settings), settings.model_name, settings.model_alias)
    if mv is None:
        raise FraudOpsError(
            f"no {settings.model_name}@{settings.model_alias} model yet: run `fraudops demo` "
            "or train and promote one."
        )
    return load_scorer(settings, str(mv.version)), str(mv.version)
