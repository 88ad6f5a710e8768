"""Issue 10: the package's shape, checked from its source (ast, no imports run).

(a) no import cycle among the package's modules at module level (imports under
``if TYPE_CHECKING:`` and inside functions do not run at import time and are ignored);
(b) exactly one module outside the sandbox (``satusehat_async/sandbox/``, the fake server,
and ``satusehat_async/testing/``) uses aiohttp's client;
(c) size limits — no module over 400 lines, no function over 60 — for every module;
(d) no import-ordering tricks (``# noqa: E402``, ``isort: skip``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "satusehat_async"
ROOT = PACKAGE.parent

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Every module of the package is held to the size limits.
FINISHED = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py"))

THE_AIOHTTP_BACKEND = "satusehat_async.http.aiohttp_backend"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


SOURCES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt], *, descend_functions: bool) -> Iterator[ast.stmt]:
    """Import statements that run: TYPE_CHECKING blocks skipped, functions optionally."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _imports(node.body, descend_functions=descend_functions)
            yield from _imports(node.orelse, descend_functions=descend_functions)
        elif isinstance(node, (ast.Try, ast.With, ast.AsyncWith)):
            for block in ("body", "orelse", "finalbody"):
                yield from _imports(getattr(node, block, []), descend_functions=descend_functions)
            for handler in getattr(node, "handlers", []):
                yield from _imports(handler.body, descend_functions=descend_functions)
        elif isinstance(node, ast.ClassDef):
            yield from _imports(node.body, descend_functions=descend_functions)
        elif descend_functions and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _imports(node.body, descend_functions=True)


def _targets(module: str, node: ast.stmt) -> Iterator[str]:
    """The package modules an import statement loads (explicit names only)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        package = module if SOURCES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        yield candidate if candidate in SOURCES else base


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in SOURCES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = set()
        for node in _imports(tree.body, descend_functions=False):
            edges.update(t for t in _targets(module, node) if t in SOURCES and t != module)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_checker_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_at_module_level() -> None:
    graph = import_graph()
    assert graph["satusehat_async.client"]  # the parser does see imports
    assert find_cycle(graph) is None


def _uses_aiohttp_client(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _imports(tree.body, descend_functions=True):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "aiohttp"]
            if any(name != "aiohttp.web" for name in names):
                return True
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiohttp":
            server_side = node.module == "aiohttp.web" or all(a.name == "web" for a in node.names)
            if not server_side:
                return True
    return False


def test_exactly_one_module_uses_aiohttps_client() -> None:
    users = [
        module
        for module, path in SOURCES.items()
        if not module.startswith(("satusehat_async.testing", "satusehat_async.sandbox"))
        and _uses_aiohttp_client(path)
    ]
    assert users == [THE_AIOHTTP_BACKEND]


@pytest.mark.parametrize("relative", FINISHED)
def test_finished_modules_keep_to_the_size_limits(relative: str) -> None:
    path = ROOT / relative
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_no_import_ordering_tricks() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "noqa: E402" in (text := path.read_text(encoding="utf-8")) or "isort: skip" in text
    )
    assert offenders == []
