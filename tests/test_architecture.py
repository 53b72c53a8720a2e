"""The import graph of the package: no cycles, no upward arrows (DESIGN.md layout, issue 18).

Every ``import``/``from ... import`` of an ``inburgering`` module counts, also those inside
functions, so a lazy import cannot hide a cycle. Layers, from the bottom: the shared modules
(config, io, workflow, calendar, contracts, ...); the stages in data-flow order (cbs, synth,
prepare, process) and the engines (did, matching, heterogeneity); above them designs, primary,
disclosure, report and validation.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inburgering

PACKAGE = Path(inburgering.__file__).resolve().parent
STAGES = ("cbs", "synth", "prepare", "process")  # data-flow order: a stage imports only earlier
ENGINES = frozenset({"did", "matching", "heterogeneity"})
ABOVE = frozenset({"designs", "primary", "disclosure", "report", "validation"})
# Engines estimate from arrays and frames handed to them: no rule job, configuration or files.
ENGINE_FORBIDDEN = frozenset({"config", "workflow", "io", "calendar", "provenance"})
# contracts/tidy.py derives the allowed ``design`` values from designs/registry.py (a leaf module
# of plain data that imports nothing), so the design names are declared once; no file cycle.
ALLOWED_PACKAGE_PAIRS = frozenset({("contracts", "designs")})


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in the file)."""
    files = {module_name(path, package): path for path in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("inburgering"):
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    targets.add(child if child in files else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("inburgering"))
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def package_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for source, targets in graph.items():
        for target in targets:
            if top(source) != top(target):
                edges.setdefault((top(source), top(target)), []).append(f"{source} -> {target}")
    return edges


def violation(source: str, target: str) -> str | None:
    """Why an import from package ``source`` of package ``target`` breaks the layering."""
    if source in STAGES and target in STAGES and STAGES.index(target) > STAGES.index(source):
        return "a stage imports a later stage"
    if (source in STAGES or source in ENGINES) and target in ABOVE:
        return "a stage or engine imports a layer above it"
    if source in ENGINES and (target in STAGES or target in ABOVE or target in ENGINE_FORBIDDEN):
        return "an engine imports a stage, a design, configuration or file I/O"
    if target == "validation" and source != "validation":
        return "validation is imported by the layer it validates"
    return None


def test_no_import_cycles_between_modules():
    assert cycles(import_graph()) == []


def test_no_cycles_between_packages():
    edges = package_edges(import_graph())
    pairs = {tuple(sorted(pair)) for pair in edges if pair[::-1] in edges}
    unexpected = {pair: edges[pair] for pair in pairs - ALLOWED_PACKAGE_PAIRS}
    assert unexpected == {}


def test_no_upward_imports():
    found = {
        pair: arrows for pair, arrows in package_edges(import_graph()).items() if violation(*pair)
    }
    assert found == {}, {pair: (violation(*pair), arrows) for pair, arrows in found.items()}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "from inburgering.b import x\n", "b.py": "def f():\n    import inburgering.a\n"},
         [["inburgering.a", "inburgering.b"]]),
        ({"a.py": "from inburgering import b\n", "b.py": "x = 1\n"}, []),
    ],
)  # fmt: skip
def test_the_check_sees_lazy_cycles(tmp_path, files, expected):
    package = tmp_path / "inburgering"
    package.mkdir()
    for name, text in files.items():
        (package / name).write_text(text)
    assert cycles(import_graph(package)) == expected


def test_the_layer_rules_catch_upward_arrows():
    assert violation("prepare", "process") and violation("did", "designs")
    assert violation("matching", "config") and violation("designs", "validation")
    assert violation("synth", "cbs") is None and violation("validation", "did") is None
