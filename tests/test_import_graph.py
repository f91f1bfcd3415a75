"""The package has no import cycle: imports between lipviz modules (including the package
``__init__`` files that Python runs on the way) form a directed acyclic graph.

Imports inside functions count too: a function-level import hides a cycle from Python's import
machinery, not from the design. Optional third-party imports inside functions are fine (they are
not lipviz modules, so they are not in the graph)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in (ROOT / "lipviz").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return mods


def _imports(tree: ast.Module, function_level: bool):
    """The module's import statements: every one (``function_level``), or only those executed
    at import time (the module body, and inside top-level if/try blocks)."""
    if function_level:
        yield from (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
        return
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            yield from (n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))


def import_graph(function_level: bool = True) -> dict[str, set[str]]:
    """lipviz module -> lipviz modules it imports (with their parent packages, except its own
    ancestors, whose ``__init__`` is already running); with ``function_level=False`` only the
    imports executed when the module is imported."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        targets = set()
        for node in _imports(ast.parse(path.read_text()), function_level):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "lipviz"}
                continue
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "lipviz":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                targets.add(sub if sub in mods else target)
        for target in list(targets):
            parts = target.split(".")
            for k in range(2, len(parts)):
                parent = ".".join(parts[:k])
                if not (name == parent or name.startswith(parent + ".")):
                    targets.add(parent)
        graph[name] = {t for t in targets if t in mods and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_layers_importing_the_bounds():
    graph = import_graph()
    assert "lipviz.bounds.registry" in graph["lipviz.layers.soc._layer"]
    assert "lipviz.bounds" in graph["lipviz.layers.soc._layer"]  # the package __init__ runs too


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_function_level_imports_are_in_the_graph():
    # lipviz.cli imports the batch package inside a function (a fast --help); the graph sees it
    assert "lipviz.batch" in import_graph()["lipviz.cli._main"]
    assert "lipviz.batch" not in import_graph(function_level=False)["lipviz.cli._main"]


def test_the_registries_import_nothing_else_of_lipviz():
    graph = import_graph()
    assert graph["lipviz.bounds.registry"] == {"lipviz.bounds.context"}
    assert graph["lipviz.bounds.context"] == set()
    assert graph["lipviz.state"] == set()


def test_private_names_stay_inside_their_package():
    """``from X import _name`` and imports of a ``_module`` only between modules of one package
    (a door's implementation modules share their helpers; nothing outside reaches in)."""
    crossings = []
    for name, (path, is_pkg) in _modules().items():
        package = name if is_pkg else name.rsplit(".", 1)[0]
        for node in _imports(ast.parse(path.read_text()), function_level=True):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            if node.level > 1:  # outside this module's own package
                private = [
                    a.name for a in node.names if a.name.startswith("_") and a.name[1] != "_"
                ]
                private += [p for p in (node.module or "").split(".") if p.startswith("_")]
                if private:
                    crossings.append(f"{name}: {'.' * node.level}{node.module} {private}")
    assert not crossings, crossings
    assert package  # the walk saw modules
