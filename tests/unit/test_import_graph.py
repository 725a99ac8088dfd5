"""The import graph holds the layers of docs/ARCHITECTURE.md (issue 12).

Read from the source with ``ast`` (no import side effects): every ``import`` counts, including
those inside functions, except those under ``if TYPE_CHECKING:``. Importing ``a.b.c`` also
imports the packages ``a.b`` and ``a``. The contracts:

- ``facts`` imports nothing of the grader and nothing with effects;
- results, scoring and inspection never reach the sandbox package, even through other modules;
- the sandbox never reaches an inspector, the checks or the pipeline.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import repograder

PACKAGE = Path(repograder.__file__).parent
SANDBOX = "repograder.sandbox"

# results, scoring and inspection: pure layers (docs/ARCHITECTURE.md, "Layers")
PURE = (
    "repograder.facts",
    "repograder.model",
    "repograder.report",
    "repograder.rubric",
    "repograder.checks",
    "repograder.fixes",
    "repograder.feedback",
    "repograder.detect",
    "repograder.detect_files",
    "repograder.detect_conda",
    "repograder.detect_projects",
    "repograder.envparse",
    "repograder.envpython",
    "repograder.envhash",
    "repograder.platpkgs",
    "repograder.syslibs",
    "repograder.readme",
    "repograder.readme_walk",
    "repograder.readme_commands",
    "repograder.readme_annotations",
    "repograder.readme_sources",
    "repograder.readme_translate",
    "repograder.comments",
    "repograder.paper",
    "repograder.paper_find",
    "repograder.paper_measure",
    "repograder.paper_checks",
    "repograder.nbrender",
    "repograder.childproc",
)
# What the sandbox must never import: the inspectors, the checks, the stages that drive it.
INSPECTORS = (
    "repograder.detect",
    "repograder.detect_files",
    "repograder.detect_conda",
    "repograder.detect_projects",
    "repograder.envparse",
    "repograder.envpython",
    "repograder.readme",
    "repograder.readme_walk",
    "repograder.readme_commands",
    "repograder.readme_annotations",
    "repograder.readme_sources",
    "repograder.comments",
    "repograder.paper",
    "repograder.paper_find",
    "repograder.paper_measure",
    "repograder.paper_checks",
    "repograder.notebooks",
    "repograder.nbrender",
    "repograder.childproc",
    "repograder.runner",
    "repograder.checks",
    "repograder.rubric",
    "repograder.pipeline",
    "repograder.grading",
    "repograder.stages",
)
# Known edges left out of the graph, each with why (like import-linter's ignore_imports).
IGNORED: Mapping[tuple[str, str], str] = {}
ALLOWED_IN_FACTS = {"__future__", "dataclasses", "enum", "pathlib"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """Every module ``module`` imports (absolute names; ``from x import y`` gives x and x.y)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts}
    files = {m: p for m, p in files.items() if not m.startswith("repograder.data")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets: set[str] = set()
        for name in _imports(tree, module, path.name == "__init__.py"):
            # the module itself (or the package of an imported name) and its parent packages
            while name and name not in files:
                name = name.rpartition(".")[0]
            while name:
                if name != module and (module, name) not in IGNORED:
                    targets.add(name)
                name = name.rpartition(".")[0]
        graph[module] = targets
    return graph


GRAPH = _graph()


def _within(module: str, roots: Iterable[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def _path_to(start: str, forbidden: tuple[str, ...]) -> list[str] | None:
    """The shortest import chain from ``start`` to a module in ``forbidden`` (None if none)."""
    came: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for nxt in sorted(GRAPH.get(here, ())):
            if nxt in came:
                continue
            came[nxt] = here
            if _within(nxt, forbidden):
                chain = [nxt]
                back: str | None = here
                while back is not None:
                    chain.append(back)
                    back = came[back]
                return chain[::-1]
            queue.append(nxt)
    return None


def test_the_graph_is_read() -> None:
    # guards the test itself: a reader that finds no edges would pass every contract
    assert "repograder.facts" in GRAPH["repograder.checks.base"]
    assert "repograder.sandbox.base" in GRAPH["repograder.runner"]
    assert len(GRAPH) > 50


def test_facts_imports_nothing_with_effects() -> None:
    tree = ast.parse((PACKAGE / "facts.py").read_text(encoding="utf-8"))
    top = {name.split(".")[0] for name in _imports(tree, "repograder.facts", False)}
    assert top <= ALLOWED_IN_FACTS, top - ALLOWED_IN_FACTS


@pytest.mark.parametrize(
    "module", sorted(m for m in GRAPH if _within(m, PURE) and not _within(m, (SANDBOX,)))
)
def test_results_scoring_and_inspection_never_reach_the_sandbox(module: str) -> None:
    chain = _path_to(module, (SANDBOX,))
    assert chain is None, " -> ".join(chain or [])


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _within(m, (SANDBOX,))))
def test_the_sandbox_never_reaches_an_inspector(module: str) -> None:
    chain = _path_to(module, INSPECTORS)
    assert chain is None, " -> ".join(chain or [])


def test_a_forbidden_edge_is_found() -> None:
    """The checker itself: an edge added to the graph is reported with its chain."""
    GRAPH["repograder.facts"].add("repograder.sandbox.base")
    try:
        assert _path_to("repograder.rubric", (SANDBOX,)) is not None
    finally:
        GRAPH["repograder.facts"].discard("repograder.sandbox.base")
