"""Secure-SQL drivers run as separate processes (one per party) over gRPC with mutual TLS."""

from __future__ import annotations

from typing import Any

import accord
import accord.sql
from accord.sql import Catalog


def sql_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> Any:
    """Each party supplies only its own table; every party runs the same queries; the receiver reports answers."""
    catalog = Catalog.from_dict(args["catalog"])
    sources = {name: path for name, path in args["sources"].items() if catalog.tables[name].owner == me}
    answers = []
    for sql in args["queries"]:
        out = accord.sql.query(cluster, sql, catalog, to=args["to"], sources=sources)
        answers.append(out.get().to_json(orient="split") if out.is_local else None)
    return {"answers": answers, "notes": [n for n in cluster.report().notes if n.startswith("sql:")]}
