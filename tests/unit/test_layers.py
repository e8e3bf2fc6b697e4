"""Imports point downward only: a lower layer never imports a higher one (see docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "accord"
# Lower number = lower layer. A module may import its own layer or lower ones.
LAYERS = {
    "errors": 0, "math": 1, "crypto": 2, "he": 2, "net": 3, "data": 3, "runtime": 4,
    "correlations": 5, "devices": 5, "mpc": 5, "psi": 5, "ml": 6, "pipeline": 6, "cli": 7,
}
# Thin facades that let drivers write cluster.mpc(...) / cluster.he(...) (see docs/architecture.md).
ALLOWED = {("runtime", "mpc"), ("runtime", "devices")}
# Modules that sit above their folder's layer because they are protocols (they talk through a Context):
# the HE device is the HE layer's driver API; OT is the interactive part of the crypto layer.
MODULE_LAYERS: dict[str, int] = {}


def _layer(module: str) -> int | None:
    """The layer of an imported ``accord.*`` module (module-level overrides first), or ``None``."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "accord" or parts[1] not in LAYERS:
        return None
    path = "/".join(parts[1:]) + ".py"
    return MODULE_LAYERS.get(path, LAYERS[parts[1]])


def test_imports_point_downward():
    offences = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own in ("__init__", "__main__"):
            continue
        assert own in LAYERS, f"{rel}: add its folder to LAYERS"
        level = MODULE_LAYERS.get(rel.as_posix(), LAYERS[own])
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                target = _layer(name)
                if target is not None and target > level and (own, name.split(".")[1]) not in ALLOWED:
                    offences.append(f"{rel} imports {name}")
    assert not offences, "upward imports:\n" + "\n".join(offences)
