"""The ``accord`` operator command: demo, certificates, and production PSI between processes."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from accord.errors import AccordError, ConfigurationError
from accord.runtime import allocator

# Where job-file outputs go when --out-dir is not given (default: the job file's directory).
OUT_DIR_ENV = "ACCORD_OUT_DIR"


class Terminated(BaseException):
    """SIGTERM arrived: unwinds the job like Ctrl-C does, so peers are told and nothing partial is left."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated(f"terminated by signal {signal.Signals(signum).name}")


if TYPE_CHECKING:   # the commands import these lazily, so that `accord --help` starts fast
    from accord.pipeline import JobSpec
    from accord.pipeline.workloads import WorkloadSpec
    from accord.runtime import Cluster, PartyObject, PartyTable


class ProgressBar:
    """A one-line progress bar on stderr for long local steps (silent when stderr is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0
        self._label = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and label == self._label and now - self._last < 0.2:
            return
        self._last, self._label = now, label
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label:<40.40} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class ProgressFile:
    """The latest progress as a small JSON file, replaced atomically at most five times a second."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = 0.0

    def __call__(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        partial = self.path.with_name(self.path.name + ".new")
        partial.write_text(json.dumps({"step": label, "done": done, "total": total, "at": time.time()}))
        os.replace(partial, self.path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``accord`` command; returns the process exit status."""
    allocator.tune()  # the command owns its process: see accord.runtime.allocator
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        # gRPC's C core logs every failed TLS handshake and reconnect to stderr, and reads this setting once,
        # when grpc is imported (commands import it later); accord reports those failures itself.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.func(args) or 0)
    except AccordError as exc:
        _stop_workers()
        print(f"accord: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _stop_workers()
        print("accord: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        _stop_workers()
        print("accord: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_workers() -> None:
    """Kill the worker processes of a job that failed or was stopped (their results are not wanted)."""
    workers = sys.modules.get("accord.he.workers")  # loaded only if the job used homomorphic encryption
    if workers is not None:
        workers.stop_all_pools()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accord", description="Compute across organisations on data that "
                                     "stays with its owner.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, including gRPC's own")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="two parties in simulation: align their customer tables with PSI")
    demo.add_argument("--rows", type=int, default=2000, help="rows per party (default 2000)")
    demo.add_argument("--out", type=Path, default=None, help="directory for inputs and outputs (default: temp)")
    demo.set_defaults(func=_demo)

    certs = sub.add_parser("certs", help="create a party's private key and certificate for mutual TLS")
    certs.add_argument("--party", action="append", required=True, help="party name (repeat for several)")
    certs.add_argument("--out", type=Path, default=Path("certs"), help="directory (default ./certs)")
    certs.add_argument("--cluster", type=Path, default=None,
                       help="also write a cluster file listing these parties on loopback (for trying it out)")
    certs.add_argument("--base-port", type=int, default=50051, help="first port for --cluster (default 50051)")
    certs.set_defaults(func=_certs)

    psi = sub.add_parser("psi", help="production PSI: run once at each party with its own --me and --input")
    psi.add_argument("--cluster", type=Path, required=True, help="cluster file (parties, addresses, certificates)")
    psi.add_argument("--me", required=True, help="this party's name in the cluster file")
    psi.add_argument("--with", dest="peer", default=None, help="the other party (default: the only other one)")
    psi.add_argument("--input", type=Path, required=True, help="this party's table (.csv or .parquet)")
    psi.add_argument("--on", required=True, help="key column(s), comma-separated")
    psi.add_argument("--output", type=Path, default=None,
                     help="where this party's result goes (.csv/.parquet; its directory is created if missing)")
    psi.add_argument("--mode", choices=("join", "semi", "count"), default="join",
                     help="join: inner join rows at both (default); semi: own matching rows; count: size only")
    psi.add_argument("--to", default=None, help="receiving parties, comma-separated (default: both)")
    psi.add_argument("--key", type=Path, default=None, help="this party's private key (default: from cluster file)")
    psi.add_argument("--job", default="psi", help="job name; every party must pass the same (default 'psi')")
    psi.add_argument("--timeout", type=float, default=None, help="seconds to wait for a silent peer")
    psi.add_argument("--report", type=Path, default=None, help="write the job report as JSON here")
    psi.add_argument("--protocol", choices=("auto", "rr22", "kkrt", "ecdh"), default="auto",
                     help="auto (default: the fastest for --mode: rr22 for join and semi, ecdh for count), rr22 "
                          "(silent VOLE), kkrt (OT-based) or ecdh; every party must pass the same")
    psi.add_argument("--threads", type=int, default=None,
                     help="threads for ECDH curve arithmetic (default: all cores); selects ecdh under auto")
    psi.set_defaults(func=_psi)

    for name, helptext in (("run", "train and evaluate the models of a job file (all parties, or --me)"),
                           ("score", "score new rows with a job's saved models")):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("job", type=Path, help="job file (YAML)")
        cmd.add_argument("--cluster", type=Path, default=None, help="production: cluster file; omit to simulate")
        cmd.add_argument("--me", default=None, help="production: this party's name")
        cmd.add_argument("--key", type=Path, default=None, help="this party's private key")
        cmd.add_argument("--timeout", type=float, default=None, help="seconds to wait for a silent peer")
        cmd.add_argument("--report", type=Path, default=None, help="write the job report as JSON here")
        cmd.add_argument("--out-dir", type=Path, default=None,
                         help=f"directory the job file's output paths must stay inside (default: ${OUT_DIR_ENV}, "
                              "else the job file's directory)")
        cmd.add_argument("--input", type=Path, default=None,
                         help="this party's input, replacing the job file's (needs --me; not part of the job digest)")
        cmd.add_argument("--output", type=Path, default=None,
                         help="this party's output directory, replacing the job file's (needs --me)")
        cmd.add_argument("--state-dir", type=Path, default=None,
                         help="this party's state directory (privacy-budget ledgers; default: $ACCORD_STATE_DIR, "
                              "else ~/.local/state/accord)")
        cmd.add_argument("--approval", type=Path, default=None,
                         help="production: this party's signed approval of the job file (from its node, `accord "
                              "node`); every party must then present one, checked by the peers before any protocol")
        cmd.add_argument("--progress-file", type=Path, default=None,
                         help="keep the latest progress (step, done, total) in this JSON file (for a node console)")
        if name == "score":
            cmd.add_argument("--scores", type=Path, default=None,
                             help="the label holder's scores file, replacing the job file's (needs --me)")
            cmd.add_argument("--model", action="append", default=None,
                             help="score with this model of the job only, e.g. secureboost (repeat for several; "
                                  "default: every model)")
            cmd.add_argument("--memory", type=_size, default=None,
                             help="score in batches within this much memory per party, e.g. 4G (bucketed PSI, "
                                  "then batch by batch; every party must pass it; see docs/operations.md)")
            cmd.add_argument("--batch-rows", type=int, default=None,
                             help="with --memory: rows per scoring batch instead of the size the bound sets "
                                  "(the parties use the smaller of theirs)")
            cmd.add_argument("--workers", type=int, default=1,
                             help="with --memory: align with this many PSI buckets at once, in worker processes "
                                  "(the parties use the smaller of theirs)")
            cmd.add_argument("--ray-address", default=None,
                             help="with --memory and --me: run the alignment's buckets on this party's Ray cluster "
                                  "('auto', 'host:6379', 'ray://host:10001', or 'local' to start one here for the "
                                  "job; needs accord[ray]; see docs/operations.md)")
        cmd.set_defaults(func=_run if name == "run" else _score)

    from accord.cli import audit, dp, fl, node, pir
    from accord.cli.sql import register as register_sql
    from accord.cli.tee import register as register_tee

    dp.register(sub)
    pir.register(sub)
    register_sql(sub)
    register_tee(sub)
    fl.register(sub)
    node.register(sub)
    audit.register(sub)
    return parser


def _demo(args: argparse.Namespace) -> int:
    import accord
    from accord.cli.demo_data import write_demo_tables

    workdir = args.out or Path(tempfile.mkdtemp(prefix="accord-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bank_csv, partner_csv = write_demo_tables(workdir, args.rows)
    print(f"accord demo: bank holds {bank_csv}, partner holds {partner_csv} ({args.rows} customers each)")
    with accord.Cluster.simulate(["bank", "partner"], job="demo") as cluster:
        cluster.progress = ProgressBar(sys.stderr.isatty())
        bank, partner = cluster.parties("bank", "partner")
        a = bank.read_csv(bank_csv)
        b = partner.read_csv(partner_csv)
        a2, b2 = accord.psi.align(a, b, on="customer_id")
        a2.to_csv(workdir / "bank_aligned.csv")
        b2.to_csv(workdir / "partner_aligned.csv")
        print(f"\nPSI joined {len(a2)} shared customers; neither party saw the other's other customers.\n")
        print(cluster.report())
    return 0


def _certs(args: argparse.Namespace) -> int:
    from accord.net.tls import fingerprint, write_party_certificate
    from accord.runtime.launcher import write_cluster_file

    if args.cluster is not None and args.cluster.exists():
        raise ConfigurationError(f"{args.cluster} already exists; not overwriting it")
    certificates = {}
    for party in args.party:
        key_path, cert_path = certificates[party] = write_party_certificate(party, args.out)
        print(f"{party}: key {key_path} (keep private), certificate {cert_path} (share with peers)")
        print(f"  fingerprint {fingerprint(cert_path.read_bytes())}")
    if args.cluster is not None:
        ports = [args.base_port + i for i in range(len(certificates))]
        write_cluster_file(args.cluster, certificates, ports, timeout=120, connect_timeout=10)
        print(f"cluster file {args.cluster} lists {', '.join(certificates)} on loopback")
    return 0


def _psi(args: argparse.Namespace) -> int:
    import accord
    from accord.pipeline.prepare import agree

    on = [c.strip() for c in args.on.split(",") if c.strip()]
    peer = _psi_peer(args)
    shared = {"command": "psi", "protocol": args.protocol, "mode": args.mode, "keys": len(on)}
    with accord.Cluster.connect(args.cluster, me=args.me, job=args.job, key=args.key, timeout=args.timeout,
                                agree=shared) as cluster:
        cluster.progress = ProgressBar(sys.stderr.isatty())
        first, second = [p for p in cluster.names if p in (args.me, peer)]
        to = [t.strip() for t in args.to.split(",")] if args.to else [first, second]
        mine = agree(cluster, [first, second], "psi", lambda me: _psi_start(args, me, peer, on, to))[args.me]
        tables = {p: cluster.party(p).put(mine) if p == args.me else cluster.party(p).remote_table()
                  for p in (first, second)}
        a, b = tables[first], tables[second]
        result: PartyObject
        chosen = accord.psi.choose_protocol(args.mode, args.protocol, args.threads)
        how = "chosen automatically; pin one with --protocol" if args.protocol == "auto" else "as requested"
        print(f"{args.me}: PSI protocol {chosen} ({how})")
        if args.mode == "join":
            result = dict(zip((first, second), accord.psi.align(a, b, on=on, protocol=chosen,
                                                                threads=args.threads)))[args.me]
        elif args.mode == "semi":
            out = accord.psi.intersect(a, b, on=on, to=to, protocol=chosen, threads=args.threads)
            result = out if not isinstance(out, tuple) else dict(zip((first, second), out))[args.me]
        else:
            counts = accord.psi.count(a, b, on=on, to=to, protocol=chosen, threads=args.threads)
            result = counts if not isinstance(counts, tuple) else dict(zip((first, second), counts))[args.me]
        if result.owner != args.me:
            print(f"{args.me}: this party receives no result (only the set sizes)")
        elif args.mode == "count":
            print(f"{args.me}: the intersection holds {result.get()} distinct keys")
        else:
            rows = cast("PartyTable", result)   # join and semi modes give this party's table
            rows.to_csv(args.output)
            print(f"{args.me}: {len(rows)} rows written to {args.output}")
        report = cluster.report()
        print(report)
        if args.report is not None:
            args.report.write_text(json.dumps(report.to_dict(), indent=2))
    return 0


def _psi_peer(args: argparse.Namespace) -> str:
    """The other party, from the cluster file, checked before connecting so mistakes fail at once."""
    from accord.runtime.config import load_cluster_config

    names = list(load_cluster_config(args.cluster).parties)
    if args.me not in names:
        raise ConfigurationError(f"party {args.me!r} is not in cluster file {args.cluster}; it lists {sorted(names)}")
    peers = [p for p in names if p != args.me]
    if args.peer == args.me:
        raise ConfigurationError(f"--with names this party ({args.me!r}) itself; name the other party, one of {peers}")
    peer = args.peer or (peers[0] if len(peers) == 1 else None)
    if peer is None or peer not in peers:
        raise ConfigurationError(f"name the other party with --with (one of {peers})")
    return peer


def _psi_start(args: argparse.Namespace, me: str, peer: str, on: list[str], to: list[str]) -> object:
    """This party's checks before the PSI: options, output location and input; returns its table."""
    from accord.data.tables import read_table
    from accord.pipeline.checks import InputProblems, key_problems
    from accord.pipeline.outputs import check_output_file

    if not to or any(t not in (me, peer) for t in to):
        raise ConfigurationError(f"--to must name {me!r}, {peer!r} or both, got {to}")
    if args.protocol in ("kkrt", "rr22") and (args.mode == "count" or args.threads is not None):
        raise ConfigurationError(f"--protocol {args.protocol} cannot count privately (use ecdh or auto) and takes "
                                 "no --threads")
    if args.mode == "join" and len(to) != 2:
        raise ConfigurationError("--mode join gives both parties the join; use --mode semi for one receiver")
    if args.mode != "count" and me in to:
        if args.output is None:
            raise ConfigurationError("--output is required to store this party's result")
        check_output_file(args.output, me)
    table = read_table(args.input, party=me)
    problems = key_problems(table, on, me)
    if problems:
        raise InputProblems(problems, party=me, source=str(args.input))
    return table


def _job(args: argparse.Namespace, command: str) -> JobSpec | WorkloadSpec:
    """The job file with this party's own settings (flags and environment; not part of the job digest)."""
    from accord.pipeline.job import LocalSettings, load_job
    from accord.runtime.config import load_cluster_config

    if args.cluster is None and args.me is not None:
        raise ConfigurationError("--me needs --cluster (without a cluster file every party is simulated here)")
    if args.cluster is not None and args.me is None:
        raise ConfigurationError("--cluster needs --me: the name of the party this process is")
    out_dir = args.out_dir or (Path(os.environ[OUT_DIR_ENV]) if os.environ.get(OUT_DIR_ENV) else None)
    names = tuple(load_cluster_config(args.cluster).parties) if args.cluster is not None else None
    if command == "run":
        local = LocalSettings(out_dir=out_dir, input=args.input, output=args.output, state_dir=args.state_dir,
                              cluster=names)
    else:
        local = LocalSettings(out_dir=out_dir, score_input=args.input, output=args.output, scores=args.scores,
                              state_dir=args.state_dir, cluster=names)
    return load_job(args.job, me=args.me, local=local)


def _job_cluster(args: argparse.Namespace, spec: JobSpec | WorkloadSpec) -> Cluster:
    import accord

    if args.cluster is None:
        if args.approval is not None:
            raise ConfigurationError("--approval needs --cluster and --me: approvals are checked between parties")
        return accord.Cluster.simulate(spec.participants, job=spec.name, timeout=args.timeout or 600)
    gate = None
    if args.approval is not None:
        from accord.governance.approval import ApprovalGate, parse_approval

        try:
            approval = parse_approval(args.approval.read_bytes(), args.me)
        except OSError as exc:
            raise ConfigurationError(f"cannot read approval {args.approval}: {exc.strerror}") from None
        gate = ApprovalGate(approval, spec.sha256, args.command)
    agree = {"command": args.command, "job_file": spec.digest}
    if getattr(args, "memory", None) is not None:  # batched scoring runs other protocols: both or neither
        agree["scoring"] = "batched"
    return accord.Cluster.connect(args.cluster, me=args.me, job=spec.name, key=args.key, timeout=args.timeout,
                                  agree=agree, approvals=gate)


def _progress(args: argparse.Namespace) -> ProgressBar | ProgressFile:
    return ProgressFile(args.progress_file) if args.progress_file else ProgressBar(sys.stderr.isatty())


def _run(args: argparse.Namespace) -> int:
    from accord.pipeline import JobSpec, run_workload, train_job

    spec = _job(args, "run")
    if not isinstance(spec, JobSpec):  # a lookup job: PIR, PSI-sum or joint debt
        with _job_cluster(args, spec) as cluster:
            cluster.progress = _progress(args)
            result = run_workload(cluster, spec)
            if result:
                print(f"{spec.kind}: {json.dumps(result)}")
            _finish(cluster, args)
        return 0
    with _job_cluster(args, spec) as cluster:
        cluster.progress = _progress(args)
        summary = train_job(cluster, spec)
        for kind, metrics in summary.items():
            print(f"{kind}: test AUC {metrics['auc']:.4f}, KS {metrics['ks']:.4f}, Gini {metrics['gini']:.4f}, "
                  f"precision {metrics['precision']:.3f} / recall {metrics['recall']:.3f} at {metrics['threshold']}")
            if "note" in metrics:
                print(f"{kind}: note: {metrics['note']}")
        _finish(cluster, args)
    return 0


def _score(args: argparse.Namespace) -> int:
    from accord.pipeline import JobSpec, score_job

    for option, value in (("--batch-rows", args.batch_rows), ("--workers", args.workers != 1 or None),
                          ("--ray-address", args.ray_address)):
        if value is not None and args.memory is None:
            raise ConfigurationError(f"{option} needs --memory (batched scoring)")
    spec = _job(args, "score")
    if not isinstance(spec, JobSpec):
        raise ConfigurationError(f"job file {args.job} is a {spec.kind} job: it has nothing to score")
    with _job_cluster(args, spec) as cluster:
        cluster.progress = _progress(args)
        rows = score_job(cluster, spec, args.model, memory=args.memory, batch=args.batch_rows, workers=args.workers,
                         ray_address=args.ray_address)
        if rows is not None:
            print(f"{spec.label_party}: scored {rows} rows with {', '.join(args.model or [k for k, _ in spec.models])}"
                  f"; scores in {spec.score[spec.label_party].output}")
        _finish(cluster, args)
    return 0


def _size(text: str) -> int:
    """A size in bytes, with an optional K, M or G suffix (powers of 1024): ``4G``, ``512M``."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = (text[:-1], units[text[-1].upper()]) if text[-1:].upper() in units else (text, 1)
    try:
        return int(float(number) * unit)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 512M or bytes)") from None


def _finish(cluster: Cluster, args: argparse.Namespace) -> None:
    report = cluster.report()
    print(report)
    if args.report is not None:
        args.report.write_text(json.dumps(report.to_dict(), indent=2))


if __name__ == "__main__":
    sys.exit(main())
