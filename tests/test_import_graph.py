"""The package has no import cycle: module-level imports between lipviz modules (including the
package ``__init__`` files that Python runs on the way) form a directed acyclic graph."""

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


def _top_level_imports(tree: ast.Module):
    """Imports executed at import time: the module body, and inside top-level if/try blocks."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            yield from (n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))


def import_graph() -> dict[str, set[str]]:
    """lipviz module -> lipviz modules it imports at import time (with their parent packages,
    except its own ancestors, whose ``__init__`` is already running)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        targets = set()
        for node in _top_level_imports(ast.parse(path.read_text())):
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
    assert "lipviz.bounds.registry" in graph["lipviz.layers.soc"]
    assert "lipviz.bounds" in graph["lipviz.layers.soc"]  # the package __init__ runs too


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_registries_import_nothing_else_of_lipviz():
    graph = import_graph()
    assert graph["lipviz.bounds.registry"] == {"lipviz.bounds.context"}
    assert graph["lipviz.bounds.context"] == set()
    assert graph["lipviz.state"] == set()
