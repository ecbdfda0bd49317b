"""Every query of the provisioned Grafana dashboard, run against a real Prometheus.

Grafana cannot run here (no Docker engine, no Debian package); what it would ask Prometheus
can. Debian's ``prometheus`` and ``prometheus-pushgateway`` (make system-deps) run with the
stack's prometheus/prometheus.yml: the same jobs, their targets at local ports, scraped every
second. Then, for real:

* the scoring API (``fraudops serve``) on the session's model, with its registry copied
  (v1 @production, v2 the same model, v3 broken): good ``/predict`` batches, a 422, a
  ``/predict/csv``, and reloads (to v2, a failure on v3, back to v1);
* a monitoring check (``fraudops.monitoring.monitor``) of v1 on ten replayed days of the lake,
  and an inbox run (``fraudops.inbox.score_inbox``) of a CSV with bad rows and a file that is
  not one, both pushing to the Pushgateway.

Then each target of grafana/dashboards/fraudops.json goes through ``/api/v1/query`` and must
return data. Grafana replaces its variables before it sends a query; here they get fixed values
(``tests.support.dashboard.GRAFANA_VARIABLES``): ``$__rate_interval`` 1m, ``$__interval`` 15s,
``$__range`` 1h, windows that hold samples for the whole test.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fraudops import generate, replay
from fraudops.config import Settings
from fraudops.csvio import to_csv_bytes
from fraudops.demo import SAMPLE_BAD_ROWS, sample_csv
from fraudops.inbox import score_inbox
from fraudops.monitoring import monitor
from fraudops.procs import free_port
from tests.support.api import (
    ADMIN,
    AUTH,
    RegistryCopy,
    as_json,
    copy_registry,
    served,
    transactions,
)
from tests.support.dashboard import (
    PROMETHEUS_CONFIG,
    Query,
    load_dashboard,
    load_yaml,
    local_config,
    queries,
    runnable,
)
from tests.support.inbox import put
from tests.support.services import (
    prometheus_query,
    prometheus_server,
    pushgateway_server,
)
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST, DAYS = dt.date(2026, 1, 1), 10  # the small lake's days (tests/support/settings.py)
AS_OF = FIRST + dt.timedelta(days=DAYS - 1)  # labels of its first week have matured by then
SCRAPED_WITHIN = 45.0  # seconds: Prometheus applies new targets after 5 s, then scrapes each 1 s


@dataclass(frozen=True)
class Scraped:
    """The running Prometheus, after the traffic, the check and the inbox run."""

    prometheus: str
    check_status: str


def _predict(http: httpx.Client, seed: int, rows: int = 50) -> None:
    resp = http.post("/predict", json=as_json(transactions(rows, seed=seed)))
    assert resp.status_code == 200, resp.text


def _reload(http: httpx.Client, registry: RegistryCopy, version: str, expected: int) -> None:
    registry.set_alias(version)
    resp = http.post("/model/reload", headers=ADMIN)
    assert resp.status_code == expected, resp.text


def _drive_traffic(url: str, registry: RegistryCopy) -> None:
    csv_body = to_csv_bytes(transactions(40, seed=21))
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        for seed in range(4):
            _predict(http, seed)
        bad = http.post("/predict", json={"transaction_id": "only-an-id"})
        assert bad.status_code == 422
        csv = http.post("/predict/csv", content=csv_body, headers={"Content-Type": "text/csv"})
        assert csv.status_code == 200, csv.text
        _reload(http, registry, "2", 200)  # a new version: loaded and swapped in
        _predict(http, 5, rows=30)
        _reload(http, registry, "3", 503)  # not a model: the load fails, v2 keeps serving
        _reload(http, registry, "1", 200)
        for seed in range(6, 9):
            _predict(http, seed)


@pytest.fixture(scope="module")
def observed(
    trained_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scraped]:
    base = tmp_path_factory.mktemp("dashboard")
    registry = copy_registry(trained_settings, base / "home")
    # the session's small lake again (seeded: the same days), so this test may write to it
    settings = make_settings(registry.home)
    generate.generate(settings)
    (base / "api-lake").mkdir()
    api = registry.settings(
        base / "serving-cache",
        catalog_uri=f"sqlite:///{base / 'api-lake' / 'catalog.db'}",  # its own inference log
        warehouse=(base / "api-lake" / "warehouse").as_uri(),
    )
    with (
        pushgateway_server(base / "pushgateway") as gateway,
        served(
            api,
            log=base / "serve.log",
            FRAUDOPS_MODEL_POLL_SECONDS="3600",  # the alias moves only through /model/reload
            FRAUDOPS_PREDICTION_LOG_SECONDS="1",
        ) as url,
    ):
        port = free_port()
        addresses = {
            "api:8000": url.removeprefix("http://"),
            "pushgateway:9091": gateway.removeprefix("http://"),
            "localhost:9090": f"127.0.0.1:{port}",  # Prometheus itself
        }
        # the stack's prometheus.yml: same jobs, every target local, scraped every second
        config = local_config(load_yaml(PROMETHEUS_CONFIG), addresses, interval="1s")
        with prometheus_server(config, base / "prometheus", port=port) as prometheus:
            _drive_traffic(url, registry)
            batch = settings.model_copy(update={"pushgateway_url": gateway})
            replay.replay(batch, start=FIRST, days=DAYS)
            check = monitor(batch, as_of=AS_OF, report=False)
            assert check.observed.matured_ap is not None, check.health.reasons
            assert check.observed.label_coverage is not None
            put(batch, "incoming/day.csv", sample_csv(rows=300))
            put(batch, "incoming/garbled.csv", b"\x00\x01\x02\xff not a CSV\n")
            summary = score_inbox(batch)
            assert (summary.rows_rejected, summary.files_quarantined) == (SAMPLE_BAD_ROWS, 1)
            yield Scraped(prometheus, check.health.status.value)


def _results(prometheus: str, expr: str) -> list[dict[str, Any]]:
    """The query's result once it has one, or the last empty answer after the wait."""
    deadline = time.monotonic() + SCRAPED_WITHIN
    while True:
        result = prometheus_query(prometheus, expr)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.mark.parametrize("query", queries(load_dashboard()), ids=lambda q: q.name)
def test_every_dashboard_query_returns_data(observed: Scraped, query: Query) -> None:
    result = _results(observed.prometheus, runnable(query.expr))
    assert result, f"{query.name}: no data for {runnable(query.expr)}"


def _values(prometheus: str, expr: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in _results(prometheus, expr)}


def test_the_figures_are_those_of_what_happened(observed: Scraped) -> None:
    prom = observed.prometheus
    assert _values(prom, 'max(fraudops_model_version{job="fraudops-api"})', "") == {"": 1.0}
    loads = _values(prom, "sum by (outcome) (fraudops_model_loads_total)", "outcome")
    assert loads == {"success": 3.0, "failure": 1.0}  # start (v1), v2, back to v1; v3 failed
    statuses = _values(prom, "sum by (status) (fraudops_http_requests_total)", "status")
    assert {"200", "422", "503"} <= set(statuses)
    rows = _values(prom, 'fraudops_inbox_run_rows{job="fraudops_inbox"}', "outcome")
    assert rows == {"scored": 300.0 - SAMPLE_BAD_ROWS, "rejected": float(SAMPLE_BAD_ROWS)}
    files = _values(prom, 'fraudops_inbox_run_files{job="fraudops_inbox"}', "outcome")
    assert files["quarantined"] == 1.0 and files["scored"] == 1.0
    verdict = _values(prom, 'fraudops_model_health{job="fraudops_monitor"} == 1', "status")
    assert verdict == {observed.check_status: 1.0}
    psi = _values(prom, 'fraudops_feature_psi{job="fraudops_monitor"}', "feature")
    assert len(psi) >= 10 and all(value >= 0 for value in psi.values())
