"""The stack's observability files as the tests read them: Prometheus' config, Grafana's
provisioning and the dashboard, and the dashboard's queries made runnable outside Grafana."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.compose import ROOT

PROMETHEUS_CONFIG = ROOT / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "fraudops.yml"
DASHBOARD = GRAFANA / "dashboards" / "fraudops.json"

# Grafana fills these in before it sends a query; outside Grafana they get fixed values. Windows
# long enough that a counter scraped every second has samples in them for the whole test.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included (row headers too)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that show data: all but the row headers, which only group the others."""
    return [panel for panel in panels(dashboard) if panel.get("type") != "row"]


@dataclass(frozen=True)
class Query:
    """One target of one panel: where it is, and its PromQL."""

    panel: str
    ref_id: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.panel} [{self.ref_id}]"


def queries(dashboard: dict[str, Any]) -> list[Query]:
    """Every target's expression, in the dashboard's order."""
    return [
        Query(panel["title"], target.get("refId", "?"), target.get("expr", ""))
        for panel in data_panels(dashboard)
        for target in panel.get("targets", [])
    ]


def runnable(expr: str, values: dict[str, str] = GRAFANA_VARIABLES) -> str:
    """An expression with Grafana's variables replaced by ``values``; no variable may remain."""
    for name in sorted(values, key=len, reverse=True):  # $__range_ms before $__range, etc.
        expr = expr.replace(name, values[name])
    if "$" in expr:
        raise ValueError(f"a variable without a value for the test: {expr}")
    return expr


def job_names(config: dict[str, Any]) -> set[str]:
    return {job["job_name"] for job in config["scrape_configs"]}


def targets(config: dict[str, Any]) -> dict[str, list[str]]:
    """Job name -> its static targets (``host:port``)."""
    return {
        job["job_name"]: [t for group in job.get("static_configs", []) for t in group["targets"]]
        for job in config["scrape_configs"]
    }


def local_config(
    config: dict[str, Any], addresses: dict[str, str], *, interval: str | None = None
) -> dict[str, Any]:
    """The stack's config with every target at its local address (and another interval).

    Raises:
        KeyError: a target of the stack's config has no local address.
    """
    local = copy.deepcopy(config)
    if interval:
        local.setdefault("global", {}).update(
            scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval
        )
    for job in local["scrape_configs"]:
        for group in job.get("static_configs", []):
            group["targets"] = [addresses[target] for target in group["targets"]]
    return local


METRIC = re.compile(r"\b(fraudops_[a-z0-9_]+|up)\b(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (ours, and Prometheus' ``up``)."""
    without_labels = re.sub(r"\{[^}]*\}", "{}", expr)  # label values are not names
    return set(METRIC.findall(without_labels)) - {"by", "le"}
