"""Package ``__init__`` files export lazily (accord._lazy): every declared name resolves to its definition."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
LAZY = sorted(p for p in (SRC / "accord").rglob("__init__.py") if "exports(__name__" in p.read_text())


def _typing_imports(tree: ast.Module) -> dict[str, str]:
    """Each name imported under ``if TYPE_CHECKING:`` and the module it comes from."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                found.update({alias.name: stmt.module for alias in stmt.names})
    return found


def test_the_lazy_packages_are_found():
    assert {p.parent.name for p in LAZY} >= {"accord", "runtime", "he", "mpc", "ml", "psi", "pipeline"}


@pytest.mark.parametrize("init", LAZY, ids=lambda p: ".".join(p.parent.relative_to(SRC).parts))
def test_declared_names_resolve_to_their_definitions(init):
    package = ".".join(init.parent.relative_to(SRC).parts)
    tree = ast.parse(init.read_text())
    typing_names = _typing_imports(tree)
    exported = next(ast.literal_eval(n.value) for n in tree.body
                    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "__all__")
    assert set(typing_names) == set(exported) - {"__version__"}
    module = importlib.import_module(package)
    for name, source in typing_names.items():
        try:
            expected = importlib.import_module(f"{source}.{name}")
        except ModuleNotFoundError:
            expected = getattr(importlib.import_module(source), name)
        assert getattr(module, name) is expected, f"{package}.{name}"
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'not_exported'"):
        _ = module.not_exported
