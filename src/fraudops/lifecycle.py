"""The lifecycle steps, as the CLI and the DAGs call them: generate, train, promote, status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraudops import datagen, lake
from fraudops.config import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GenerateResult:
    """What a generate step wrote."""

    days: list[str]
    rows: int
    fraud_rows: int
    snapshot_id: int


def generate(
    settings: Settings,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    rows_per_day: int | None = None,
    on_day: Callable[[dt.date], None] | None = None,
) -> GenerateResult:
    """Generate days of transactions and overwrite those days in the lake (idempotent)."""
    start = start or settings.start_date
    n_days = days if days is not None else settings.days
    wanted = [start + dt.timedelta(days=i) for i in range(n_days)]
    tables = []
    for day in wanted:
        tables.append(
            datagen.generate_day(
                day,
                rows=rows_per_day or settings.rows_per_day,
                seed=settings.seed,
                fraud_rate=settings.fraud_rate,
                drift_from=settings.drift_from,
            )
        )
        if on_day:
            on_day(day)
    data = pa.concat_tables(tables)
    table = lake.transactions_table(lake.open_catalog(settings))
    snapshot_id = lake.write_days(table, data, wanted)
    return GenerateResult(
        days=[d.isoformat() for d in wanted],
        rows=data.num_rows,
        fraud_rows=int(pc.sum(data["is_fraud"]).as_py()),
        snapshot_id=snapshot_id,
    )


@dataclass(frozen=True)
class TrainAndRegisterResult:
    """A trained sweep and the registry version its best run became."""

    parent_run_id: str
    best_run_id: str
    version: str
    snapshot_id: int
    metrics: dict[str, float]
    holdout_metrics: dict[str, float]


def train_and_register(
    settings: Settings,
    *,
    snapshot_id: int | None = None,
    progress: Progress | None = None,
) -> TrainAndRegisterResult:
    """Run the sweep on a pinned snapshot and register the best run as a new version."""
    from fraudops import registry, tracking, train

    result = train.train_sweep(settings, snapshot_id=snapshot_id, progress=progress)
    client = tracking.connect(settings)
    mv = registry.register(client, settings, model_uri=result.model_uri, run_id=result.best_run_id)
    return TrainAndRegisterResult(
        parent_run_id=result.parent_run_id,
        best_run_id=result.best_run_id,
        version=str(mv.version),
        snapshot_id=result.snapshot_id,
        metrics=result.metrics,
        holdout_metrics=result.holdout_metrics,
    )


def promote(settings: Settings, *, version: str | None = None) -> dict[str, Any]:
    """Apply the promotion gate to a version (default: the newest) on the lake's fresh holdout."""
    from fraudops import registry, tracking
    from fraudops.errors import FraudOpsError

    client = tracking.connect(settings)
    if version is None:
        versions = client.search_model_versions(f"name='{settings.model_name}'")
        if not versions:
            raise FraudOpsError(f"no version of {settings.model_name} yet: run `fraudops train`.")
        version = str(max(int(v.version) for v in versions))
    holdout, snapshot_id = registry.holdout_from_lake(settings)
    decision = registry.promote_if_better(
        client, settings, version=version, holdout=holdout, holdout_snapshot_id=snapshot_id
    )
    return asdict(decision)


GATE_SUMMARY_KEYS = (
    "promote",
    "reason",
    "candidate_version",
    "candidate_ap",
    "champion_version",
    "champion_ap",
)


def train_step(settings: Settings, *, snapshot_id: int, progress: Progress | None = None) -> str:
    """Train on a pinned snapshot and register (the DAGs' ``train`` task); returns the version."""
    say = progress or (lambda _msg: None)
    result = train_and_register(settings, snapshot_id=snapshot_id, progress=say)
    say(
        f"registered version {result.version} from run {result.best_run_id} "
        f"(holdout AP {result.holdout_metrics['average_precision']:.4f})"
    )
    return result.version


def promote_step(
    settings: Settings, *, version: str, progress: Progress | None = None
) -> dict[str, Any]:
    """Apply the gate and report it in one line (the DAGs' ``promote`` task)."""
    decision = promote(settings, version=version)
    verdict = "PROMOTED" if decision["promote"] else "REJECTED"
    (progress or (lambda _msg: None))(f"gate: {verdict} version {version}: {decision['reason']}")
    return {k: decision[k] for k in GATE_SUMMARY_KEYS}


def status(settings: Settings) -> dict[str, Any]:
    """Lake table state and the production model (version, metrics, lineage, last decision)."""
    from fraudops import registry, tracking

    table = lake.transactions_table(lake.open_catalog(settings))
    client = tracking.connect(settings)
    return {
        "lake": lake.table_status(table).as_dict(),
        "production": registry.production_summary(client, settings),
        "last_decision": registry.last_decision(client, settings),
        "tracking_uri": settings.tracking_url,
    }
