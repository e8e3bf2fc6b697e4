"""``accord node ...``: create a node's configuration, add operators and datasets, serve the console."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError, UnsupportedError


def register(sub: Any) -> None:
    """Add the ``node`` command and its subcommands to the top-level parser's subparsers."""
    node = sub.add_parser("node", help="a party's node: datasets, column policies, job approval, audit log, console")
    cmds = node.add_subparsers(dest="node_command", required=True)

    init = cmds.add_parser("init", help="write a node configuration file")
    init.add_argument("--party", required=True)
    init.add_argument("--cluster", type=Path, required=True, help="the cluster file (as for `accord run`)")
    init.add_argument("--listen", default="127.0.0.1:8443", help="console address (default 127.0.0.1:8443)")
    init.add_argument("--peer", action="append", default=[], help="NAME=https://host:port of a peer's node")
    init.add_argument("--database", default=None, help="SQLAlchemy URL (default sqlite in the state directory)")
    init.add_argument("--out", type=Path, required=True, help="the configuration file to write")
    init.set_defaults(func=_init)

    serve = cmds.add_parser("serve", help="run the node (console and peer API over TLS) until stopped")
    serve.add_argument("--config", type=Path, required=True)
    serve.set_defaults(func=_serve)

    console = cmds.add_parser("console", help="open the node's console in a web browser")
    console.add_argument("--config", type=Path, required=True)
    console.set_defaults(func=_console)

    user = cmds.add_parser("user", help="add an operator, or set a new password")
    user.add_argument("name")
    user.add_argument("--config", type=Path, required=True)
    user.add_argument("--password-env", default=None, help="read the password from this environment variable")
    user.set_defaults(func=_user)

    dataset = cmds.add_parser("dataset", help="register a dataset (schema and row count) with its column policy")
    dataset.add_argument("name")
    dataset.add_argument("--config", type=Path, required=True)
    source = dataset.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", default=None)
    source.add_argument("--parquet", default=None)
    source.add_argument("--sql", default=None, help="a SQLAlchemy database URL (with --table)")
    dataset.add_argument("--table", default=None, help="the table of --sql")
    dataset.add_argument("--policy", type=Path, default=None, help="column policy YAML (default: every column never)")
    dataset.set_defaults(func=_dataset)

    approval = cmds.add_parser("approval", help="write this party's signed approval of a job (for accord run)")
    approval.add_argument("digest", help="the job file's SHA-256")
    approval.add_argument("--config", type=Path, required=True)
    approval.add_argument("--out", type=Path, required=True)
    approval.set_defaults(func=_approval)


NODE_EXTRA = ("fastapi", "uvicorn", "sqlalchemy", "argon2", "jinja2", "multipart")


def require_node_extra() -> None:
    """Stop with the install command when the node's optional dependencies are missing."""
    import importlib.util

    missing = [name for name in NODE_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UnsupportedError(f"accord node needs {', '.join(missing)}: pip install 'accord[node]'")


def _node(args: argparse.Namespace) -> Any:
    require_node_extra()
    from accord.node.config import load_node_config
    from accord.node.service import Node

    return Node(load_node_config(args.config))


def _init(args: argparse.Namespace) -> int:
    import yaml

    if args.out.exists():
        raise ConfigurationError(f"{args.out} already exists; not overwriting it")
    peers = dict(p.split("=", 1) for p in args.peer if "=" in p)
    if len(peers) != len(args.peer):
        raise ConfigurationError("--peer takes NAME=https://host:port")
    raw: dict[str, Any] = {"party": args.party, "cluster": os.path.relpath(args.cluster.resolve(),
                                                                           args.out.resolve().parent),
                           "listen": args.listen, "state": f"{args.party}-state", "peers": peers}
    if args.database:
        raw["database"] = args.database
    args.out.write_text(yaml.safe_dump(raw, sort_keys=False))
    from accord.node.config import load_node_config

    load_node_config(args.out)  # check it now, not at the first start
    print(f"wrote {args.out}; add an operator with `accord node user NAME --config {args.out}`")
    return 0


def _serve(args: argparse.Namespace) -> int:
    require_node_extra()
    from accord.node.config import load_node_config
    from accord.node.server import serve

    serve(load_node_config(args.config))
    return 0


def _console(args: argparse.Namespace) -> int:
    import webbrowser

    from accord.node.config import load_node_config

    config = load_node_config(args.config)
    url = f"https://{config.host}:{config.port}/"
    cert = config.cluster.parties[config.party].cert_path
    print(f"{config.party}'s console: {url} (the certificate is the party's own, {cert})")
    webbrowser.open(url)
    return 0


def _user(args: argparse.Namespace) -> int:
    require_node_extra()  # before asking for a password
    from accord.node.auth import add_user

    password = os.environ.get(args.password_env, "") if args.password_env else None
    if password is None:
        if not sys.stdin.isatty():
            raise ConfigurationError("no terminal to ask for the password: use --password-env VAR")
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            raise ConfigurationError("the passwords differ")
    node = _node(args)
    with node.store.write() as conn:
        add_user(conn, args.name, password)
        node.store.audit(conn, "operator set", user=args.name)
    print(f"operator {args.name} can log in to {node.party}'s node")
    return 0


def _dataset(args: argparse.Namespace) -> int:
    import yaml

    from accord.node import datasets
    from accord.node.policy import parse_policy

    raw = None
    if args.policy is not None:
        try:
            raw = yaml.safe_load(args.policy.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read policy {args.policy}: {exc}") from None
    policy = parse_policy(raw, f"policy {args.policy}")
    kind, location = next((k, v) for k, v in (("csv", args.csv), ("parquet", args.parquet), ("sql", args.sql)) if v)
    node = _node(args)
    with node.store.write() as conn:
        found = datasets.register(conn, node.party, args.name, kind, location, args.table, policy)
        node.store.audit(conn, "dataset registered", dataset=args.name, kind=kind, rows=found.rows,
                         columns=list(found.columns), policy=policy.to_dict())
    print(f"{node.party}: dataset {args.name} ({found.rows} rows, {len(found.columns)} columns) registered")
    return 0


def _approval(args: argparse.Namespace) -> int:
    node = _node(args)
    approval = node.approvals(args.digest)[node.party]
    args.out.write_bytes(approval.to_wire())
    print(f"{node.party}'s approval of {approval.job!r} written to {args.out}; pass it to `accord run --approval`")
    return 0
