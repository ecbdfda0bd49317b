"""The package stays easy to find one's way in: small modules, no import cycle, a true README.

These read the source files; nothing is imported or run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "fraudops"
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Package modules a module imports, at any level (module, function, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}: relative import (the package imports absolutely)"
            base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {m for m in found if m in known and m != name}


def test_no_module_is_over_300_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules: {long}"


def test_the_package_has_no_import_cycle() -> None:
    mods = modules()
    graph = {name: imports(path, name, set(mods)) for name, path in mods.items()}
    state: dict[str, str] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + "."):  # a package's __init__ exporting its submodules
                continue
            if state.get(nxt) == "open":
                cycle.extend([*path, node, nxt])
                return True
            if nxt not in state and visit(nxt, [*path, node]):
                return True
        state[node] = "done"
        return False

    for name in sorted(graph):
        if name not in state and visit(name, []):
            break
    assert not cycle, " -> ".join(cycle)


def layout_in_readme() -> set[str]:
    """Paths below src/fraudops/ in the README's layout tree (two spaces per level)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    tree = section.split("```", 2)[1]
    paths: set[str] = set()
    stack: list[str] = []
    for line in tree.splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if not match or not match[2].endswith((".py", "/")):
            continue
        depth = len(match[1]) // 2
        stack = [*stack[:depth], match[2]]
        paths.add("".join(stack))
    inside = (p.removeprefix("src/fraudops/") for p in paths if p.startswith("src/fraudops/"))
    return {p for p in inside if p}


def test_the_readme_layout_names_every_module_and_only_those() -> None:
    on_disk = set()
    for path in PACKAGE.rglob("*"):
        if "__pycache__" in path.parts or path.name in ("__init__.py", "__main__.py"):
            continue
        if path.is_dir() or path.suffix == ".py":
            rel = path.relative_to(PACKAGE).as_posix()
            on_disk.add(rel + "/" if path.is_dir() else rel)
    listed = layout_in_readme()
    assert listed == on_disk, (
        f"in the README only: {sorted(listed - on_disk)}; on disk only: {sorted(on_disk - listed)}"
    )
