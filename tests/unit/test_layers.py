"""Imports point downward, folder by folder, and the module import graph has no cycle (docs/architecture.md).

Every top-level module or folder of ``src/accord`` is one layer, package ``__init__`` files included.
A module may import its own folder and lower layers; folders of one layer do not import each other.
Imports inside functions and under ``if TYPE_CHECKING:`` count like any other: they are where cycles
hide. The exceptions are listed module by module, with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "accord"
# Lowest first. Folders (or top-level modules) in one entry share a layer and may not import each other.
LAYERS = [
    ("errors", "_lazy"),              # _lazy: the lazy exports of package __init__ files (stdlib only)
    ("math",),
    ("crypto",),
    ("governance",),                  # signed, hash-chained audit entries and signed job approvals
    ("he", "tee"),                    # HE schemes; TEE evidence, sealing, wrapping: no network
    ("dp",),                          # DP samplers, accounting, ledgers: local, no network
    ("net", "data"),
    ("runtime",),
    ("correlations",),                # OT now, silent OT / VOLE next: shared by PSI and MPC
    ("mpc", "devices", "fl"),         # secure computation, the HE device, horizontal learning: protocols and APIs
    ("psi",),                         # PSI protocols (DP cardinality counts on the MPC layer's binary protocols)
    ("pir",),                         # keyword PIR and joint lookups: built on PSI's key encoding and MPC
    ("ml", "sql"),                    # vertical learning; secure SQL (PSI joins, MPC aggregates, DuckDB)
    ("enclave",),                     # TEE brokers and the enclave runner (uses ml for the plaintext job)
    ("__init__",),                    # the package facade: `import accord` re-exports the driver API
    ("pipeline",),                    # job files are written against that public API
    ("node",),                        # a party's node: policies, approvals, audit log, console; runs pipelines
    ("cli",),
    ("__main__",),                    # python -m accord runs the CLI
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
# Upward imports allowed in exactly these modules, never at module level (they would be cycles at import).
EXCEPTIONS = {
    # Cluster.he(...) / Cluster.mpc(...): the documented driver API builds the device or session in the
    # method, and names its return type under TYPE_CHECKING.
    "runtime/cluster.py": {"accord.devices.he", "accord.mpc.session"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists()


def _imports(path: Path) -> Iterator[tuple[str, str, int]]:
    """``(imported module, where, line)`` for every ``accord`` import in a file; ``where`` is "module",
    "function" or "type-checking"."""
    tree = ast.parse(path.read_text())

    def walk(node: ast.AST, where: str) -> Iterator[tuple[str, str, int]]:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = "function" if where == "module" else where
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = "type-checking"
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "accord":
                        yield alias.name, inner, child.lineno
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.split(".")[0] == "accord":
                for alias in child.names:   # `from accord.mpc import approximations` imports a module
                    full = f"{child.module}.{alias.name}"
                    yield (full if _exists(full) else child.module), inner, child.lineno
            yield from walk(child, inner)

    yield from walk(tree, "module")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _files() -> Iterator[tuple[Path, str]]:
    """Every source file and its layer's name (its top folder, or a top-level module's stem)."""
    for path in sorted(SRC.rglob("*.py")):
        yield path, path.relative_to(SRC).parts[0].removesuffix(".py")


def test_every_folder_has_a_layer():
    missing = {own for _, own in _files() if own not in LEVEL}
    assert not missing, f"add {sorted(missing)} to LAYERS"


def test_imports_point_downward():
    offences: set[str] = set()
    used: set[tuple[str, str]] = set()
    for path, own in _files():
        rel = path.relative_to(SRC).as_posix()
        for target, where, line in _imports(path):
            folder = _layer(target)
            if folder == own or LEVEL[folder] < LEVEL[own]:
                continue
            if target in EXCEPTIONS.get(rel, ()) and where != "module":
                used.add((rel, target))
                continue
            offences.add(f"{rel}:{line} imports {target} ({where}; layer {folder!r} is not below {own!r})")
    assert not offences, "imports that do not point down:\n" + "\n".join(sorted(offences))
    stale = {(rel, t) for rel, targets in EXCEPTIONS.items() for t in targets} - used
    assert not stale, f"exceptions no longer needed: {sorted(stale)}"


def test_no_import_cycles():
    """Executed imports (module and function level, not TYPE_CHECKING) form an acyclic graph of modules,
    once the listed facades (which import their own caller's module back) are set aside."""
    graph: dict[str, set[str]] = {}
    for path, _ in _files():
        allowed = EXCEPTIONS.get(path.relative_to(SRC).as_posix(), set())
        graph[_module_name(path)] = {t for t, where, _ in _imports(path) if where != "type-checking"} - allowed
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
