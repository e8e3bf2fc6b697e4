"""``accord pir ...``: keyword PIR (build, sync, query), PSI with sums, and joint debt across lenders.

``build`` runs at the server alone; the other commands run once at every party of the job, each with
its own ``--me`` (and its own input), like ``accord psi``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError


def register(sub: Any) -> None:
    """Add ``accord pir`` and its subcommands to the top-level parser's subparsers."""
    pir = sub.add_parser("pir", help="keyword PIR against a large list, PSI with sums, joint debt across lenders")
    cmds = pir.add_subparsers(dest="pir_command", required=True)

    build = cmds.add_parser("build", help="server: encode its set once into its state directory (no network)")
    build.add_argument("--input", type=Path, required=True, help="the set with its labels (.csv or .parquet)")
    build.add_argument("--on", required=True, help="key column(s), comma-separated")
    build.add_argument("--labels", default="", help="label column(s) returned on a match, comma-separated")
    build.add_argument("--state", type=Path, required=True, help="the server's PIR state directory")
    build.add_argument("--capacity", type=int, default=None, help="queries the table answers before a rebuild")
    build.add_argument("--max-batch", type=int, default=None, help="most queries per run")
    build.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    build.set_defaults(func=_build)

    sync = cmds.add_parser("sync", help="server and client: copy the server's table to the client (once per build)")
    _connection(sync)
    sync.add_argument("--server", required=True, help="the party serving the table")
    sync.add_argument("--state", type=Path, required=True, help="this party's PIR state directory")
    sync.set_defaults(func=_sync)

    query = cmds.add_parser("query", help="server and client: look the client's keys up in the server's table")
    _connection(query)
    query.add_argument("--server", required=True, help="the party serving the table")
    query.add_argument("--state", type=Path, required=True, help="this party's PIR state directory")
    query.add_argument("--input", type=Path, default=None, help="client: the keys to look up")
    query.add_argument("--on", default=None, help="client: key column(s), comma-separated")
    query.add_argument("--output", type=Path, default=None, help="client: where the answers go (.csv/.parquet)")
    query.set_defaults(func=_query)

    total = cmds.add_parser("sum", help="both: the shared keys' count and the sum of one party's values over them")
    _connection(total)
    total.add_argument("--input", type=Path, required=True, help="this party's table")
    total.add_argument("--on", required=True, help="key column(s), comma-separated")
    total.add_argument("--values-party", required=True, help="the party whose --value column is summed")
    total.add_argument("--value", default=None, help="that party's integer column (e.g. cents)")
    total.add_argument("--to", required=True, help="receiving parties, comma-separated")
    total.add_argument("--epsilon", type=float, default=None, help="add DP noise with this ε (needs --bound)")
    total.add_argument("--delta", type=float, default=0.0, help="δ for (ε, δ)-DP (default 0: pure ε)")
    total.add_argument("--bound", type=int, default=None, help="DP: each key's total is clamped to [0, bound]")
    total.set_defaults(func=_sum)

    debt = cmds.add_parser("debt", help="asker and lenders: each applicant's total debt over all lenders")
    _connection(debt)
    debt.add_argument("--asker", required=True, help="the lender asking about its applicants")
    debt.add_argument("--input", type=Path, required=True, help="asker: applicants; lender: accounts")
    debt.add_argument("--on", required=True, help="key column(s), comma-separated")
    debt.add_argument("--amount", default=None, help="lender: the integer outstanding-amount column")
    debt.add_argument("--output", type=Path, default=None, help="asker: where the totals go")
    debt.set_defaults(func=_debt)


def _connection(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--cluster", type=Path, required=True, help="cluster file (parties, addresses, certificates)")
    cmd.add_argument("--me", required=True, help="this party's name in the cluster file")
    cmd.add_argument("--key", type=Path, default=None, help="this party's private key (default: from cluster file)")
    cmd.add_argument("--job", default="pir", help="job name; every party must pass the same (default 'pir')")
    cmd.add_argument("--timeout", type=float, default=None, help="seconds to wait for a silent peer")
    cmd.add_argument("--report", type=Path, default=None, help="write the job report as JSON here")


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _build(args: argparse.Namespace) -> int:
    import accord
    from accord.data.tables import read_table
    from accord.pir import params

    table = read_table(args.input, party="server", dtype=str)
    with accord.Cluster.simulate(["server", "nobody"], job="pir-build") as cluster:
        summary = accord.pir.build(cluster.party("server").put(table), on=_columns(args.on),
                                   labels=_columns(args.labels), state=args.state,
                                   capacity=args.capacity or params.DEFAULT_CAPACITY,
                                   max_batch=args.max_batch or params.DEFAULT_MAX_BATCH, threads=args.threads).get()
    print(json.dumps(summary, indent=2))
    return 0


def _connect(args: argparse.Namespace, **agreed: str | int) -> Any:
    import accord

    return accord.Cluster.connect(args.cluster, me=args.me, job=args.job, key=args.key, timeout=args.timeout,
                                  agree={"command": f"pir {args.pir_command}", **agreed})


def _finish(cluster: Any, args: argparse.Namespace) -> None:
    report = cluster.report()
    print(report)
    if args.report is not None:
        args.report.write_text(json.dumps(report.to_dict(), indent=2))


def _sync(args: argparse.Namespace) -> int:
    import accord

    with _connect(args, server=args.server) as cluster:
        client = _other(cluster, args.server)
        out = accord.pir.sync(cluster, server=args.server, client=client,
                              state={args.server: args.state, client: args.state})  # each uses its own entry
        if out.is_local:
            print(f"{args.me}: copy of {args.server}'s table {out.get()['table_id'][:16]} "
                  f"({out.get()['received']} bytes received)")
        _finish(cluster, args)
    return 0


def _query(args: argparse.Namespace) -> int:
    import accord
    from accord.data.tables import read_table
    from accord.pir.protocol import client_copy

    if args.me != args.server:  # the client's own mistakes stop it before it waits for the server
        if args.input is None or args.on is None or args.output is None:
            raise ConfigurationError("the client passes --input, --on and --output")
        if not client_copy(args.state, args.server).exists():
            raise ConfigurationError(f"no copy of {args.server!r}'s table in {args.state}: run `accord pir sync` first")
    with _connect(args, server=args.server) as cluster:
        client = _other(cluster, args.server)
        party = cluster.party(client)
        asked = party.put(read_table(args.input, party=client, dtype=str)) if party.is_local else party.remote_table()
        out = accord.pir.query(asked, on=_columns(args.on or ""), server=args.server,
                               state={args.server: args.state, client: args.state})
        if out.is_local:
            out.to_csv(args.output)
            print(f"{args.me}: {int(out.to_pandas()['matched'].sum())} of {len(out)} keys matched; "
                  f"answers written to {args.output}")
        _finish(cluster, args)
    return 0


def _sum(args: argparse.Namespace) -> int:
    import accord
    from accord.data.tables import read_table
    from accord.dp import Budget

    dp = None if args.epsilon is None else Budget(args.epsilon, args.delta)
    with _connect(args, values=args.values_party, to=args.to, epsilon=str(args.epsilon), bound=str(args.bound)) \
            as cluster:
        ids_party = _other(cluster, args.values_party)
        tables = {p: cluster.party(p).put(read_table(args.input, party=p, dtype={c: str for c in _columns(args.on)}))
                  if p == args.me
                  else cluster.party(p).remote_table() for p in (ids_party, args.values_party)}
        out = accord.pir.intersection_sum(tables[ids_party], tables[args.values_party], on=_columns(args.on),
                                          value=args.value or "", to=_columns(args.to), dp=dp, bound=args.bound)
        if args.me in _columns(args.to):
            result = out.get() if out.owner == args.me else None
            print(f"{args.me}: {json.dumps(result)}" if result else f"{args.me}: result at {out.owner}")
        _finish(cluster, args)
    return 0


def _debt(args: argparse.Namespace) -> int:
    import accord
    from accord.data.tables import read_table

    with _connect(args, asker=args.asker) as cluster:
        if args.asker not in cluster.names:
            raise ConfigurationError(f"--asker {args.asker!r} is not in the cluster file")
        if args.me == args.asker and args.output is None:
            raise ConfigurationError("the asker passes --output")
        tables = {p: cluster.party(p).put(read_table(args.input, party=p, dtype={c: str for c in _columns(args.on)}))
                  if p == args.me else cluster.party(p).remote_table() for p in cluster.names}
        lenders = [tables[p] for p in cluster.names if p != args.asker]
        out = accord.pir.joint_debt(tables[args.asker], lenders, on=_columns(args.on), amount=args.amount or "")
        if out.is_local:
            out.to_csv(args.output)
            print(f"{args.me}: totals of {len(out)} applicants written to {args.output}")
        _finish(cluster, args)
    return 0


def _other(cluster: Any, party: str) -> str:
    if party not in cluster.names:
        raise ConfigurationError(f"party {party!r} is not in the cluster file; it lists {list(cluster.names)}")
    others = [p for p in cluster.names if p != party]
    if len(others) != 1:
        raise ConfigurationError(f"this command runs between two parties; the cluster file lists {list(cluster.names)}")
    return others[0]

