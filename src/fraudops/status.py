"""What ``fraudops status`` shows: the lake table and the production model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fraudops import lake, registry, tracking
from fraudops.config import Settings
from fraudops.gate import Decision


@dataclass(frozen=True)
class Status:
    """The lake's transactions table, the production model and the last gate decision."""

    lake: lake.TableStatus
    production: registry.ProductionModel | None
    last_decision: Decision | None
    tracking_uri: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``fraudops status --json``)."""
        return dataclasses.asdict(self)


def status(settings: Settings) -> Status:
    """Read the lake table's state and the registry's production model."""
    table = lake.transactions_table(lake.open_catalog(settings))
    client = tracking.connect(settings)
    return Status(
        lake=lake.table_status(table),
        production=registry.production_model(client, settings),
        last_decision=registry.last_decision(client, settings),
        tracking_uri=settings.tracking_url,
    )
