"""``accord fl serve`` and ``accord fl client``: a federated job as separate processes over mutual TLS.

The aggregator listens; each client dials out (no listening port) with its own certificate, which the
job file lists. Both read the same job file (see :mod:`accord.fl.job`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from accord.errors import ConfigurationError, InputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``accord fl ...`` on the main parser's subcommands."""
    fl = sub.add_parser("fl", help="horizontal federated learning: an aggregator and clients that dial out to it")
    cmds = fl.add_subparsers(dest="fl_command", required=True)
    serve = cmds.add_parser("serve", help="run the aggregator of a federated job")
    serve.add_argument("job", type=Path, help="FL job file (YAML)")
    serve.add_argument("--checkpoint", type=Path, default=None, help="save the global model here each round and "
                       "resume from it after a restart")
    serve.add_argument("--out", type=Path, default=None, help="write the final model parameters (.npz)")
    serve.add_argument("--report", type=Path, default=None, help="write the round history as JSON")
    serve.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the clients to connect")
    serve.add_argument("--min-clients", type=int, default=None, help="start once this many are connected "
                       "(default: every client in the job file)")
    serve.set_defaults(func=_serve)
    client = cmds.add_parser("client", help="run one client of a federated job")
    client.add_argument("job", type=Path, help="FL job file (YAML)")
    client.add_argument("--me", required=True, help="this client's name in the job file")
    client.add_argument("--data", type=Path, required=True, help="this client's rows (.csv): features and the label")
    client.add_argument("--key", type=Path, required=True, help="this client's private key")
    client.add_argument("--ledger-dir", type=Path, default=None, help="privacy ledger folder (default: state dir)")
    client.add_argument("--connect-timeout", type=float, default=120.0, help="seconds to keep retrying an "
                        "unreachable aggregator (it may be restarting from its checkpoint)")
    client.set_defaults(func=_client)


def _serve(args: argparse.Namespace) -> int:
    from accord.fl.grpc_server import GRPCPool
    from accord.fl.job import FLJob
    from accord.fl.server import Aggregator

    job = FLJob.load(args.job)
    if job.aggregator_key is None:
        raise ConfigurationError(f"{args.job}: aggregator.key is needed to serve")
    pool = GRPCPool(job.address, key_pem=_read(job.aggregator_key), cert_pem=_read(job.aggregator_cert),
                    clients=[_read(p) for p in job.clients.values()], run=job.name)
    try:
        pool.wait_for_clients(args.min_clients or len(job.clients), args.wait)
        agg = Aggregator(pool, job.strategy, job.model.initial(), rounds=job.rounds, secure=job.secure, dp=job.dp,
                         checkpoint_path=args.checkpoint, timeout=job.timeout, job=job.name)
        history = agg.run()
    finally:
        pool.close()
    for record in history.rounds:
        extra = f", ε={record['epsilon']:.3g}" if "epsilon" in record else ""
        print(f"round {record['round']}: {record.get('survivors', 0)}/{record['sampled']} clients, "
              f"{record.get('bytes', 0)} bytes, {record.get('seconds', 0):.2f} s{extra}")
    for item in history.declarations:
        print(f"{item['protocol']}: threat model: {item['threat_model']}; leakage: {item['leakage']}")
    if args.out is not None:
        np.savez(args.out, *agg.params)
        print(f"model written to {args.out}")
    if args.report is not None:
        args.report.write_text(json.dumps({"rounds": history.rounds, "declarations": history.declarations,
                                           "stopped_early": history.stopped_early}, indent=2, default=str))
    return 0


def _client(args: argparse.Namespace) -> int:
    from accord.fl.client import ClientApp
    from accord.fl.grpc_client import connect
    from accord.fl.job import FLJob
    from accord.fl.models import ModelClient

    job = FLJob.load(args.job)
    if args.me not in job.clients:
        raise ConfigurationError(f"{args.job} lists no client {args.me!r} (clients: {sorted(job.clients)})")
    x, y = _load_rows(args.data, job.label, job.model.features, args.me)
    on_join = None
    if job.dp is not None:
        from accord.dp.budget import Budget
        from accord.dp.ledger import Ledger, ledger_path
        from accord.fl.dp import ledger_charger

        if job.dp_cap is None:
            raise ConfigurationError(f"{args.job}: dp.cap must give the per-dataset budget {{epsilon, delta}}")
        cap = Budget(*job.dp_cap)
        on_join = ledger_charger(lambda cid: Ledger(ledger_path(cid, args.ledger_dir), cid, cap=cap))
    app = ClientApp(lambda cid: ModelClient(job.model, x, y), on_join=on_join)
    answered = connect(job.address, app, me=args.me, key_pem=_read(args.key), cert_pem=_read(job.clients[args.me]),
                       aggregator_cert_pem=_read(job.aggregator_cert), idle_timeout=max(600.0, 4 * job.timeout),
                       connect_timeout=args.connect_timeout)
    print(f"{args.me}: job {job.name!r} finished after {answered} instructions")
    return 0


def _load_rows(path: Path, label: str, features: int, me: str) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}", party=me) from None
    if label not in table.columns:
        raise InputError(f"{path} has no label column {label!r}", party=me, field=label)
    x = table.drop(columns=[label])
    if x.shape[1] != features:
        raise InputError(f"{path} has {x.shape[1]} feature columns, the job's model expects {features}", party=me)
    bad = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c]) or x[c].isna().any()]
    if bad:
        raise InputError(f"{path}: column {bad[0]!r} is not numeric or has missing values", party=me, field=bad[0])
    return x.to_numpy(np.float32), table[label].to_numpy(np.int64)


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
