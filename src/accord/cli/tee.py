"""``accord tee ...``: verify evidence, seal datasets, run a key broker, run a job in an enclave, open results."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError


def register(sub: Any) -> None:
    """Add the ``tee`` command and its subcommands to the top-level parser's subparsers."""
    tee = sub.add_parser("tee", help="trusted execution: verify evidence, seal data, key brokers, enclave jobs")
    cmds = tee.add_subparsers(dest="tee_command", required=True)

    verify = cmds.add_parser("verify", help="verify SGX/TDX/SEV-SNP evidence offline at a given time")
    verify.add_argument("evidence", type=Path, help="quote or attestation report (raw bytes)")
    verify.add_argument("--kind", choices=("sgx", "tdx", "sev-snp", "simulated"), default=None,
                        help="evidence kind (default: sgx/tdx from the quote header, else sev-snp)")
    verify.add_argument("--collateral", type=Path, default=None, help="Intel collateral JSON (PCCS / dcap-qvl format)")
    verify.add_argument("--vcek", type=Path, default=None, help="SEV-SNP: the chip's VCEK certificate")
    verify.add_argument("--ask", type=Path, default=None, help="SEV-SNP: the ASK (default: the shipped one)")
    verify.add_argument("--at", required=True, help="verification time: unix seconds, ISO 8601, or 'now'")
    verify.add_argument("--allow-debug", action="store_true", help="accept debug enclaves (never in production)")
    verify.set_defaults(func=_verify)

    seal = cmds.add_parser("seal", help="seal a CSV dataset under a fresh key kept in the owner's state directory")
    seal.add_argument("--owner", required=True)
    seal.add_argument("--dataset", required=True, help="dataset name (policies and jobs refer to it)")
    seal.add_argument("--input", type=Path, required=True)
    seal.add_argument("--state", type=Path, required=True, help="the owner's broker state directory")
    seal.add_argument("--output", type=Path, required=True, help="the sealed file to ship to the enclave host")
    seal.set_defaults(func=_seal)

    keygen = cmds.add_parser("keygen", help="create a result recipient's X25519 key pair (PREFIX.key, PREFIX.pub)")
    keygen.add_argument("prefix", type=Path)
    keygen.set_defaults(func=_keygen)

    broker = cmds.add_parser("broker", help="serve the owner's key broker (gRPC over mutual TLS) until stopped")
    broker.add_argument("--state", type=Path, required=True, help="state directory with policy.yaml and keys/")
    broker.add_argument("--cert", type=Path, required=True, help="the owner's certificate (from `accord certs`)")
    broker.add_argument("--key", type=Path, required=True, help="the owner's private key")
    broker.add_argument("--trust", type=Path, action="append", required=True,
                        help="certificate of an enclave host allowed to connect (repeat for several)")
    broker.add_argument("--listen", default="127.0.0.1:7001", help="host:port (default 127.0.0.1:7001)")
    broker.set_defaults(func=_broker)

    run = cmds.add_parser("run", help="run a TEE job file: obtain keys from every broker, fit, seal results")
    run.add_argument("job", type=Path)
    run.add_argument("--timeout", type=float, default=30.0, help="seconds per broker call (default 30)")
    run.set_defaults(func=_run)

    opener = cmds.add_parser("open", help="open a job's sealed results as a named recipient")
    opener.add_argument("output", type=Path, help="the job's output directory")
    opener.add_argument("--recipient", required=True)
    opener.add_argument("--key", type=Path, required=True, help="the recipient's private key (PREFIX.key)")
    opener.set_defaults(func=_open)

    measure = cmds.add_parser("measure", help="print the simulated measurement of this runner and a job's digest")
    measure.add_argument("--job", type=Path, default=None)
    measure.set_defaults(func=_measure)


def _time(value: str) -> int:
    if value == "now":
        return int(datetime.now(timezone.utc).timestamp())
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"--at must be unix seconds, ISO 8601 or 'now', got {value!r}") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


def _read(path: Path | None, what: str) -> bytes:
    if path is None:
        raise ConfigurationError(f"{what} is required for this kind of evidence")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from None


def _verify(args: argparse.Namespace) -> int:
    from accord.tee import Evidence, EvidenceKind, verify_evidence
    from accord.tee.intel import collateral_from_json

    blob = _read(args.evidence, "evidence")
    kind = args.kind or ("tdx" if blob[4:8] == b"\x81\0\0\0" else "sgx" if blob[:2] in (b"\3\0",) else "sev-snp")
    if kind in ("sgx", "tdx"):
        collateral = collateral_from_json(_read(args.collateral, "--collateral"))
    elif kind == "sev-snp":
        collateral = {"vcek": _read(args.vcek, "--vcek"), **({"ask": _read(args.ask, "--ask")} if args.ask else {})}
    else:
        collateral = {}
    claims = verify_evidence(Evidence(EvidenceKind(kind), blob, collateral), at=_time(args.at),
                             allow_debug=args.allow_debug)
    print(json.dumps({"verified": True, **claims.summary()}, indent=2))
    return 0


def _seal(args: argparse.Namespace) -> int:
    from accord.enclave.owner import seal_dataset

    size = seal_dataset(args.state, args.owner, args.dataset, args.input, args.output)
    print(f"{args.owner}: sealed {size} bytes of {args.input} as dataset {args.dataset!r} into {args.output}; "
          f"its key stays in {args.state / 'keys'}")
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from accord.enclave.owner import write_recipient_keys

    private, public = write_recipient_keys(args.prefix)
    print(f"private key {private} (keep it), public key {public} (name it in job files and policies)")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from accord.enclave.broker import KeyBroker
    from accord.enclave.transport import BrokerServer

    broker = KeyBroker(args.state)
    server = BrokerServer(broker.handlers(), key_pem=_read(args.key, "--key"), cert_pem=_read(args.cert, "--cert"),
                          trusted_clients=[_read(p, "--trust") for p in args.trust], listen=args.listen)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    warning = " (policy allows INSECURE SIMULATION evidence)" if broker.policy.allow_simulation else ""
    print(f"broker of {broker.owner} listening on port {server.port}{warning}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


def _run(args: argparse.Namespace) -> int:
    from accord.enclave import EnclaveRunner, load_tee_job

    result = EnclaveRunner(load_tee_job(args.job), timeout=args.timeout).run()
    if "warning" in result.report:
        print(result.report["warning"], file=sys.stderr)
    print(json.dumps(result.report, indent=2))
    print(f"sealed results in {result.output} for {', '.join(result.report['recipients'])}")
    return 0


def _open(args: argparse.Namespace) -> int:
    from accord.enclave import open_results

    try:
        private = bytes.fromhex(_read(args.key, "--key").decode().strip())
    except ValueError:
        raise ConfigurationError(f"{args.key} does not hold a hex private key") from None
    results = open_results(args.output, args.recipient, private)
    print(json.dumps({"job": results["job"], "rows": results["rows"], "metrics": results["metrics"]}, indent=2))
    return 0


def _measure(args: argparse.Namespace) -> int:
    from accord.enclave.backends import code_measurement

    print(f"simulated measurement: {code_measurement().hex()}")
    if args.job is not None:
        from accord.enclave import load_tee_job

        print(f"job digest: {load_tee_job(args.job).digest}")
    return 0
