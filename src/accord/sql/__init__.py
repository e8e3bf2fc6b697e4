"""Secure SQL across parties: aggregate queries over several owners' tables, under column control lists.

``accord.sql.query(cluster, sql, catalog, to=...)`` parses the query (sqlglot), proves it against the
catalog's column policies (:mod:`accord.sql.ccl`), and runs it: each owner's local work in DuckDB,
joins by PSI, everything that mixes parties under MPC, and the answer to one receiving party. See
docs/sql.md.

sqlglot and DuckDB come with the optional extra ``pip install 'accord[sql]'``; without them importing
this package raises :class:`~accord.errors.UnsupportedError` saying so. Submodules load on first use
(:mod:`accord._lazy`).
"""

from importlib import util
from typing import TYPE_CHECKING

from accord._lazy import exports
from accord.errors import UnsupportedError

if TYPE_CHECKING:
    from accord.sql.api import explain, query
    from accord.sql.catalog import Catalog
    from accord.sql.ccl import Level

_MISSING = [name for name in ("sqlglot", "duckdb") if util.find_spec(name) is None]
if _MISSING:
    raise UnsupportedError(f"secure SQL needs sqlglot and DuckDB (not installed: {', '.join(_MISSING)}): "
                           "pip install 'accord[sql]'")

__all__ = ["Catalog", "Level", "explain", "query"]
__getattr__, __dir__ = exports(__name__, {
    "accord.sql.api": ["explain", "query"],
    "accord.sql.catalog": ["Catalog"],
    "accord.sql.ccl": ["Level"],
})
