"""The rules between zkboot's packages that docs/architecture.md states: no import cycle, the
clients and the ensemble kept to their own, typer only in the front ends, and podsim never
importing zkboot.  Imports are read from the sources (module level and inside functions alike)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a.b`` when that is a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


ZKBOOT = modules("zkboot")
GRAPH = {name: {other for other in imports(path) if other in ZKBOOT and other != name} for name, path in ZKBOOT.items()}


def package(name: str) -> str:
    """zkboot.client.fourlw -> zkboot.client; zkboot.errors -> zkboot.errors."""
    return ".".join(name.split(".")[:2])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert cycles(GRAPH) == []


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for name, others in GRAPH.items():
        packages.setdefault(package(name), set()).update(package(o) for o in others if package(o) != package(name))
    assert cycles(packages) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def imported_by(prefix: str) -> set[str]:
    return {other for name, others in GRAPH.items() if name.startswith(prefix) for other in others}


def test_the_clients_import_only_the_errors() -> None:
    outside = {name for name in imported_by("zkboot.client.") if not name.startswith("zkboot.client")}
    assert outside == {"zkboot.errors"}


def test_the_ensemble_imports_neither_the_start_pipeline_nor_health() -> None:
    assert {n for n in imported_by("zkboot.ensemble.") if n.startswith(("zkboot.start", "zkboot.health"))} == set()


def test_only_the_front_ends_import_typer() -> None:
    users = {name for name, path in ZKBOOT.items() if any(i.split(".")[0] == "typer" for i in imports(path))}
    assert users and all(name.startswith("zkboot.cli.") for name in users), users


def test_podsim_never_imports_zkboot() -> None:
    offenders = {name for name, path in modules("podsim").items() if any(i.startswith("zkboot") for i in imports(path))}
    assert offenders == set()
