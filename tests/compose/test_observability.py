"""Prometheus, the Pushgateway and Grafana in the stack: their services, config and dashboard.

Grafana cannot run here (no Docker engine, no Debian package), so its provisioning and the
dashboard are checked as files: the data source the dashboard names is the provisioned one,
every panel has queries, and every query names metrics and jobs that exist. The queries
themselves run against a real Prometheus in tests/integration/test_dashboard.py.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry

from fraudops import pushgateway
from fraudops.api.metrics import Metrics
from fraudops.inbox.report import InboxSummary
from fraudops.monitoring import Check, Health, HealthStatus, Observed, RetrainDecision
from tests.support.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    MissingVariableError,
    compose_command,
    environment,
    find_tool,
    image_repository,
    interpolate,
    make_env,
    read_env_file,
)
from tests.support.dashboard import (
    DASHBOARD,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    PROMETHEUS_CONFIG,
    data_panels,
    job_names,
    load_dashboard,
    load_yaml,
    metric_names,
    panels,
    queries,
    runnable,
    targets,
)

IMAGES = {
    "prometheus": "prom/prometheus",
    "pushgateway": "prom/pushgateway",
    "grafana": "grafana/grafana",
}
# The dashboard JSON's schemaVersion is the one the pinned Grafana writes (schemaversion/ in
# Grafana's source: 12.0 and 12.1 write 41). Moving the image means checking this first.
GRAFANA_SCHEMA_VERSION = {"12.0": 41, "12.1": 41}
# Panel types built into Grafana: nothing to install.
CORE_PANELS = {"timeseries", "stat", "gauge", "bargauge", "heatmap", "state-timeline", "table"}
# Grafana settings that would download plugins when the container starts.
PLUGIN_INSTALLS = ("GF_INSTALL_PLUGINS", "GF_PLUGINS_PREINSTALL", "GF_PLUGINS_PREINSTALL_SYNC")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(raw: dict[str, Any]) -> dict[str, Any]:
    env = {k: (v or f"test-{k.lower()}") for k, v in read_env_file(ENV_EXAMPLE).items()}
    return interpolate(raw, env)["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_yaml(PROMETHEUS_CONFIG)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    (source,) = load_yaml(DATASOURCES)["datasources"]
    return source  # type: ignore[no-any-return]


def container_ports(service: dict[str, Any]) -> set[int]:
    """Ports a service's container listens on, as its ``ports`` and ``expose`` say."""
    published = {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}
    return published | {int(p) for p in service.get("expose", [])}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of each bind mount from the repository (read-only)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        if source.startswith("./"):
            assert mode == ["ro"], f"{volume}: configuration is mounted read-only"
            found[target] = source
    return found


# --- the services ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_observability_images_are_pinned_releases(raw: dict[str, Any], name: str) -> None:
    repository, tag, digest = image_repository(raw["services"][name]["image"])
    assert repository == IMAGES[name]
    assert tag and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin a release, not {tag}"
    assert "build" not in raw["services"][name], f"{name}: the upstream image, not a build"


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("prometheus", "http://127.0.0.1:9090/-/ready"),
        ("pushgateway", "http://127.0.0.1:9091/-/ready"),
        ("grafana", "http://127.0.0.1:3000/api/health"),
    ],
)
def test_healthchecks_use_what_the_image_has(services: dict[str, Any], name: str, url: str) -> None:
    # The Prometheus images are busybox with wget and no curl; Grafana's image has wget too.
    # A plain GET: BusyBox builds may lack GNU options such as --tries, and --spider may send
    # HEAD, which the Pushgateway refuses (405).
    test = services[name]["healthcheck"]["test"]
    assert test == ["CMD", "wget", "-q", "-O", "/dev/null", url]


def test_prometheus_starts_after_the_pushgateway_and_grafana_after_prometheus(
    services: dict[str, Any],
) -> None:
    assert services["prometheus"]["depends_on"] == {"pushgateway": {"condition": "service_healthy"}}
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_prometheus_and_the_pushgateway_keep_their_data_in_volumes(
    services: dict[str, Any],
) -> None:
    prometheus = " ".join(services["prometheus"]["command"])
    assert "--storage.tsdb.path=/prometheus" in prometheus
    assert "prometheus-data:/prometheus" in services["prometheus"]["volumes"]
    assert "--persistence.file=/pushgateway/" in " ".join(services["pushgateway"]["command"])
    assert "pushgateway-data:/pushgateway" in services["pushgateway"]["volumes"]
    assert "grafana-data:/var/lib/grafana" in services["grafana"]["volumes"]


# --- Grafana: no default login, nothing fetched at run time ----------------------------------


def test_grafana_has_no_default_password(raw: dict[str, Any]) -> None:
    env = environment(raw["services"]["grafana"])
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:?run make env}"
    assert env["GF_SECURITY_SECRET_KEY"] == "${GRAFANA_SECRET_KEY:?run make env}"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert not read_env_file(ENV_EXAMPLE)["GRAFANA_ADMIN_PASSWORD"]


@pytest.mark.parametrize("variable", ["GRAFANA_ADMIN_PASSWORD", "GRAFANA_SECRET_KEY"])
def test_compose_refuses_to_start_without_grafana_secrets(
    raw: dict[str, Any], variable: str, tmp_path: Path
) -> None:
    env = {k: (v or f"test-{k.lower()}") for k, v in read_env_file(ENV_EXAMPLE).items()}
    del env[variable]
    with pytest.raises(MissingVariableError, match=variable):
        interpolate(raw, env)
    command = compose_command()
    if command is None:
        return  # the interpolation above is the same rule Compose applies
    env_file = tmp_path / "stack.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    done = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode != 0
    assert variable in done.stderr and "run make env" in done.stderr


def test_make_env_generates_the_grafana_secrets(tmp_path: Path) -> None:
    out = tmp_path / ".env"
    assert make_env.main(["--example", str(ENV_EXAMPLE), "--output", str(out)]) == 0
    env = read_env_file(out)
    password, key = env["GRAFANA_ADMIN_PASSWORD"], env["GRAFANA_SECRET_KEY"]
    assert len(password) >= 24 and len(key) >= 24 and password != key
    assert env["GRAFANA_ADMIN_USERNAME"] == "admin"


def test_grafana_installs_no_plugin_and_calls_nowhere(services: dict[str, Any]) -> None:
    grafana = services["grafana"]
    env = environment(grafana)
    assert not [name for name in PLUGIN_INSTALLS if env.get(name)], "no plugin downloads"
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"  # Grafana 12 preinstalls otherwise
    for name in (
        "GF_PLUGINS_PLUGIN_ADMIN_ENABLED",
        "GF_ANALYTICS_REPORTING_ENABLED",
        "GF_ANALYTICS_CHECK_FOR_UPDATES",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES",
        "GF_NEWS_NEWS_FEED_ENABLED",
        "GF_SNAPSHOTS_EXTERNAL_ENABLED",
    ):
        assert env.get(name) == "false", name
    assert env["GF_SECURITY_DISABLE_GRAVATAR"] == "true"
    assert "command" not in grafana and "entrypoint" not in grafana


def test_grafana_reads_the_provisioning_and_the_dashboard_from_the_repository(
    services: dict[str, Any],
) -> None:
    grafana = mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == "./grafana/provisioning"
    (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert grafana[provider["options"]["path"]] == "./grafana/dashboards"
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    home = environment(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


# --- Prometheus: what it scrapes -------------------------------------------------------------


def test_prometheus_reads_the_config_of_the_repository(services: dict[str, Any]) -> None:
    prometheus = services["prometheus"]
    assert mounts(prometheus)["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_scrape_targets_are_the_stack_services(
    config: dict[str, Any], services: dict[str, Any]
) -> None:
    assert targets(config) == {
        "fraudops-api": ["api:8000"],
        "pushgateway": ["pushgateway:9091"],
        "prometheus": ["localhost:9090"],
    }
    for job, addresses in targets(config).items():
        for address in addresses:
            host, port = address.rsplit(":", 1)
            service = "prometheus" if host == "localhost" else host
            assert int(port) in container_ports(services[service]), f"{job}: {address}"


def test_pushed_figures_keep_the_job_their_push_named(config: dict[str, Any]) -> None:
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["pushgateway"].get("honor_labels") is True
    assert jobs["fraudops-api"].get("metrics_path", "/metrics") == "/metrics"
    assert not {pushgateway.MONITOR_JOB, pushgateway.INBOX_JOB} & set(jobs)


def test_batch_jobs_push_to_the_stack_pushgateway(services: dict[str, Any]) -> None:
    # Monitoring checks and inbox runs run as Airflow tasks, in the scheduler (LocalExecutor).
    url = environment(services["airflow-scheduler"])["FRAUDOPS_PUSHGATEWAY_URL"]
    host, port = url.removeprefix("http://").split(":")
    assert host in services and int(port) in container_ports(services[host])


def test_prometheus_config_passes_promtool() -> None:
    promtool = find_tool("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian's prometheus package; make system-deps)")
    done = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- Grafana: the data source and the dashboard ----------------------------------------------


def test_datasource_is_the_stack_prometheus(
    datasource: dict[str, Any], config: dict[str, Any]
) -> None:
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["uid"] and datasource["isDefault"] is True
    # $__rate_interval is derived from it: it must be the scrape interval
    assert datasource["jsonData"]["timeInterval"] == config["global"]["scrape_interval"]


def test_dashboard_is_grafana_json_for_the_pinned_grafana(
    dashboard: dict[str, Any], raw: dict[str, Any]
) -> None:
    _, tag, _ = image_repository(raw["services"]["grafana"]["image"])
    assert tag
    minor = ".".join(tag.split(".")[:2])
    assert minor in GRAFANA_SCHEMA_VERSION, f"look up the schemaVersion Grafana {tag} writes"
    assert dashboard["schemaVersion"] == GRAFANA_SCHEMA_VERSION[minor]
    assert dashboard["uid"] == "fraudops" and dashboard["title"] == "FraudOps"
    assert dashboard["id"] is None  # provisioning assigns it
    assert dashboard["templating"]["list"] == []  # one stack: no variables to pick


def test_every_panel_has_a_description_and_queries_of_the_provisioned_datasource(
    dashboard: dict[str, Any], datasource: dict[str, Any]
) -> None:
    shown = data_panels(dashboard)
    assert len(shown) >= 20
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    source = {"type": "prometheus", "uid": datasource["uid"]}
    for panel in shown:
        title = panel["title"]
        assert panel["type"] in CORE_PANELS, f"{title}: {panel['type']} is not built in"
        assert len(panel.get("description", "")) > 20, f"{title}: say what it shows"
        assert panel["datasource"] == source, title
        assert panel["targets"], f"{title}: no query"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), title
        for target in panel["targets"]:
            assert target["datasource"] == source, title
            assert target.get("expr", "").strip(), f"{title} [{target['refId']}]: no expr"


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_the_dashboard_shows_what_operators_need(dashboard: dict[str, Any]) -> None:
    exprs = " ".join(query.expr for query in queries(dashboard))
    for needed in (
        "rate(fraudops_http_requests_total",  # request rate by route, errors by status
        "histogram_quantile(0.5,",
        "histogram_quantile(0.99,",
        'status=~"4..|5.."',
        "fraudops_fraud_probability_bucket",  # the score distribution
        "fraudops_model_version",  # the served version
        "fraudops_model_loads_total",  # reloads
        "fraudops_prediction_log_rows_total",
        "fraudops_inbox_run_rows",  # scored and rejected rows per run
        'fraudops_inbox_run_files{job="fraudops_inbox",outcome="quarantined"}',
        "fraudops_model_health",
        "by (feature) (fraudops_feature_psi",  # drift per feature
        "fraudops_score_psi",
        "fraudops_matured_average_precision",
        "fraudops_holdout_average_precision",
        "fraudops_label_coverage",
    ):
        assert needed in exprs, needed


def _exposed_names(registry: CollectorRegistry) -> set[str]:
    return {sample.name for family in registry.collect() for sample in family.samples}


def test_every_query_names_metrics_and_jobs_that_exist(
    dashboard: dict[str, Any], config: dict[str, Any]
) -> None:
    metrics = Metrics()
    metrics.scored(np.array([True, False]), np.array([0.9, 0.1]))
    metrics.model_loaded("1", 0.0)
    metrics.load_failed()
    metrics.requests.labels("POST", "/predict", "200").inc()
    metrics.latency.labels("/predict").observe(0.01)
    day = dt.date(2026, 3, 1)
    check = Check(
        as_of=day,
        model_name="fraud-detector",
        model_version="1",
        observed=Observed(day, day, 1, {"amount": 0.1}, 0.1, 1, 1, 0.5, 0.5, 0.6, 0.6, 0.5),
        health=Health(HealthStatus.HEALTHY, ["within limits"]),
        run_id="x",
        report="",
        checked_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        retrain=RetrainDecision(False, "healthy: no retraining"),
    )
    summary = InboxSummary(
        inbox="x", files=1, rows_scored=1, rows_rejected=0, files_quarantined=0,
        duplicates=0, failed=0, seconds=1.0, outbox="x",
    )  # fmt: skip
    known = (
        _exposed_names(metrics.registry)
        | _exposed_names(pushgateway.check_registry(check))
        | _exposed_names(pushgateway.inbox_registry(summary))
        | {"up"}
    )
    jobs = job_names(config) | {pushgateway.MONITOR_JOB, pushgateway.INBOX_JOB}
    for query in queries(dashboard):
        expr = runnable(query.expr)
        unknown = metric_names(expr) - known
        assert not unknown, f"{query.name}: no such metric {sorted(unknown)}"
        for job in re.findall(r'job=~?"([^"]+)"', expr):
            assert set(job.split("|")) <= jobs, f"{query.name}: job {job}"
