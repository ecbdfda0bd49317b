"""What ``fraudops status`` shows: the lake table, the production model and its shadow."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fraudops import lake, registry, tracking
from fraudops.config import Settings
from fraudops.gate import Decision
from fraudops.shadow import SHADOW


@dataclass(frozen=True)
class Status:
    """The lake's table, the production model, the version in shadow, the last decision."""

    lake: lake.TableStatus
    production: registry.ProductionModel | None
    last_decision: Decision | None
    tracking_uri: str
    shadow_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``fraudops status --json``)."""
        return dataclasses.asdict(self)


def status(settings: Settings) -> Status:
    """Read the lake table's state and the registry's production model and shadow."""
    table = lake.transactions_table(lake.open_catalog(settings))
    client = tracking.connect(settings)
    shadow = registry.alias_version(client, settings.model_name, SHADOW)
    return Status(
        lake=lake.table_status(table),
        production=registry.production_model(client, settings),
        last_decision=registry.last_decision(client, settings),
        tracking_uri=settings.tracking_url,
        shadow_version=None if shadow is None else str(shadow.version),
    )
