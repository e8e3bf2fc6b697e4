"""``accord sql``: answer an aggregate query over several parties' tables under their column policies.

Without ``--cluster`` every party of the catalog runs in this process (simulation); with it, each party
runs the same command with its own ``--me`` and sources, and the handshake checks that all hold the
same catalog, query and receiver.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError


def register(sub: Any) -> None:
    """Add the ``sql`` command to the top-level parser's subparsers."""
    cmd = sub.add_parser("sql", help="secure SQL: an aggregate query across parties' tables under column policies")
    cmd.add_argument("query", help="the SELECT statement")
    cmd.add_argument("--catalog", type=Path, required=True, help="catalog file: tables, owners, types, CCLs")
    cmd.add_argument("--to", required=True, help="the party that receives the answer")
    cmd.add_argument("--source", action="append", default=[], metavar="TABLE=PATH",
                     help="where a table's rows are (CSV, Parquet, SQLite path[#table], "
                     "postgresql://...[#table or #SELECT ...]); overrides the catalog")
    cmd.add_argument("--output", type=Path, default=None, help="the receiver writes the answer here (.csv/.parquet)")
    cmd.add_argument("--explain", action="store_true", help="print the plan and its leakage; run nothing")
    cmd.add_argument("--cluster", type=Path, default=None, help="production: cluster file; omit to simulate")
    cmd.add_argument("--me", default=None, help="production: this party's name")
    cmd.add_argument("--key", type=Path, default=None, help="this party's private key")
    cmd.add_argument("--timeout", type=float, default=None, help="seconds to wait for a silent peer")
    cmd.add_argument("--report", type=Path, default=None, help="write the job report as JSON here")
    cmd.add_argument("--dp-epsilon", type=float, default=None, help="noise every cell: the answer's total ε")
    cmd.add_argument("--dp-delta", type=float, default=0.0, help="with --dp-epsilon: δ (0: discrete Laplace)")
    cmd.add_argument("--ledger", action="append", default=[], metavar="DATASET=PATH",
                     help="with --dp-epsilon: this party's privacy ledger for a table it owns")
    cmd.set_defaults(func=_sql)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ConfigurationError(f"{flag} takes NAME=PATH, got {item!r}")
        out[name.lower()] = value
    return out


def _sql(args: argparse.Namespace) -> int:
    import accord
    import accord.sql
    from accord.sql import Catalog

    catalog = Catalog.load(args.catalog)
    if args.explain:
        print(accord.sql.explain(args.query, catalog, to=args.to).describe())
        return 0
    if (args.cluster is None) != (args.me is None):
        raise ConfigurationError("--cluster and --me go together (omit both to simulate every party here)")
    sources = _pairs(args.source, "--source")
    budget, ledgers = _privacy(args, catalog)
    if args.cluster is None:
        cluster = accord.Cluster.simulate(list(catalog.parties), job="sql", timeout=args.timeout or 600)
    else:
        digest = hashlib.sha256(f"{catalog.digest}|{args.query}|{args.to}".encode()).hexdigest()
        cluster = accord.Cluster.connect(args.cluster, me=args.me, job="sql", key=args.key, timeout=args.timeout,
                                         agree={"command": "sql", "query": digest})
    with cluster:
        answer = accord.sql.query(cluster, args.query, catalog, to=args.to, sources=sources, dp=budget,
                                  ledgers=ledgers)
        if answer.is_local:
            print(answer.get().to_string(index=False))
            if args.output is not None:
                answer.as_table().to_csv(args.output)
        report = cluster.report()
        print(report)
        if args.report is not None:
            args.report.write_text(json.dumps(report.to_dict(), indent=2))
    return 0


def _privacy(args: argparse.Namespace, catalog: Any) -> tuple[Any, dict[str, Any]]:
    if args.dp_epsilon is None:
        if args.ledger:
            raise ConfigurationError("--ledger goes with --dp-epsilon")
        return None, {}
    from accord.dp import Budget, Ledger

    ledgers = {}
    for table, path in _pairs(args.ledger, "--ledger").items():
        if table not in catalog.tables:
            raise ConfigurationError(f"--ledger names table {table!r}, which is not in the catalog")
        owner = catalog.tables[table].owner
        if args.me is not None and owner != args.me:
            raise ConfigurationError(f"--ledger {table}: the table belongs to {owner!r}, not to this party")
        ledgers[owner] = Ledger(path, table)
    if sys.stdout.isatty():
        print(f"DP answer: ε={args.dp_epsilon:g}, δ={args.dp_delta:g} over every cell", file=sys.stderr)
    return Budget(args.dp_epsilon, args.dp_delta), ledgers
