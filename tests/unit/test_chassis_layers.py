"""The chassis's modules form layers: no import cycle among them (issue 24).

The graph is read from the source, not from what Python happens to import: every
``import`` and ``from … import`` of a rescue_chassis module counts, wherever it
stands (module level, inside a function, under ``if TYPE_CHECKING``), since an
import moved into a function to dodge a cycle still is one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rescue_chassis

PACKAGE = "rescue_chassis"
ROOT = Path(rescue_chassis.__file__).parent


def modules(package_dir: Path) -> dict[str, Path]:
    """Each module of the package at ``package_dir`` by dotted name, with its file."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The chassis modules ``module`` imports, each with the packages Python runs
    on the way to it (importing ``a.b.c`` runs ``a.b``'s ``__init__`` first)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from .y import z
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets.add(source)
            # from package import submodule
            targets.update(f"{source}.{alias.name}" for alias in node.names)
    found: set[str] = set()
    for target in targets:
        if target != PACKAGE and not target.startswith(PACKAGE + "."):
            continue
        parts = target.split(".")
        for n in range(2, len(parts) + 1):
            name = ".".join(parts[:n])
            # Its own packages are already being imported when a module runs.
            if name in known and name != module and not module.startswith(name + "."):
                found.add(name)
    return found


def import_graph(package_dir: Path = ROOT) -> dict[str, set[str]]:
    found = modules(package_dir)
    return {module: imported(module, path, set(found)) for module, path in found.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, …, a], or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_chassis():
    graph = import_graph()
    assert {"rescue_chassis.app", "rescue_chassis.settings", "rescue_chassis.auth"} <= set(graph)
    assert "rescue_chassis.settings" in graph["rescue_chassis.app"]


def test_the_graph_counts_imports_hidden_in_functions_and_type_checking(tmp_path):
    package = tmp_path / "rescue_chassis"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from rescue_chassis import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.c import X\n"
    )
    (package / "sub" / "__init__.py").write_text("from .c import X\n")
    (package / "sub" / "c.py").write_text("import rescue_chassis.sub\nfrom .. import a\n")
    graph = import_graph(package)
    assert graph == {
        "rescue_chassis": set(),
        "rescue_chassis.a": {"rescue_chassis.b"},
        "rescue_chassis.b": {"rescue_chassis.sub", "rescue_chassis.sub.c"},
        "rescue_chassis.sub": {"rescue_chassis.sub.c"},
        "rescue_chassis.sub.c": {"rescue_chassis.a"},  # its own package is already running
    }
    assert find_cycle(graph) == [
        "rescue_chassis.a",
        "rescue_chassis.b",
        "rescue_chassis.sub",
        "rescue_chassis.sub.c",
        "rescue_chassis.a",
    ]


def test_the_chassis_imports_form_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in the chassis: " + " → ".join(cycle or ())
