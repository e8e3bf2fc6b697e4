"""Secure SQL across parties: aggregate queries over several owners' tables, under column control lists.

``accord.sql.query(cluster, sql, catalog, to=...)`` parses the query (sqlglot), proves it against the
catalog's column policies (:mod:`accord.sql.ccl`), and runs it: each owner's local work in DuckDB,
joins by PSI, everything that mixes parties under MPC, and the answer to one receiving party. See
docs/sql.md.
"""

from accord.sql.api import explain, query
from accord.sql.catalog import Catalog
from accord.sql.ccl import Level

__all__ = ["Catalog", "Level", "explain", "query"]
