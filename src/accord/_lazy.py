"""Lazy package exports (PEP 562), so that importing one light module does not import everything.

``import accord.errors`` runs ``accord/__init__.py`` first; if that imported the runtime, it would
also load pandas, pyarrow, gmpy2, PyNaCl and gRPC. Instead each package ``__init__`` declares what it
exports and where it is defined, and a name is imported the first time it is used::

    __getattr__, __dir__ = exports(__name__, {"accord.runtime.cluster": ["Cluster", "Party"]})

A package keeps the same names under ``if TYPE_CHECKING:`` imports, so type checkers see real types.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def exports(package: str, modules: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, which exports ``modules[m]`` from each module ``m``.

    A name equal to the last part of its module (``{"accord.ml": ["ml"]}``) exports the submodule itself.
    """
    where = {name: module for module, names in modules.items() for name in names}

    def lookup(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = importlib.import_module(module)
        if module.rsplit(".", 1)[-1] != name:
            value = getattr(value, name)
        setattr(sys.modules[package], name, value)  # later lookups find it without calling this again
        return value

    def listing() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return lookup, listing
