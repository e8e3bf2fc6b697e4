"""Trusted execution: evidence verifications per second, and the credit-risk job through the TEE path.

    python -m benchmarks.tee [--quick] [--compare] [--json out.json]

Verification: the real SGX, TDX and SEV-SNP evidence of tests/vectors/tee at its pinned time, and
simulated evidence (parsing only). The job: two owners seal their tables, two key brokers serve over
loopback mTLS (threads of this process), and the runner attests with the simulation backend (INSECURE
SIMULATION: no hardware), obtains both keys, joins, fits logistic regression and seals the results.
Full mode uses the UCI credit-card split of benchmarks/credit_data.py; ``--quick`` the example tables.
``--compare`` also runs SecureBoost and secure LR (OT) on the UCI data as two processes
(benchmarks/credit_risk.py) so time, bytes and AUC sit side by side (with ``--quick``, at that
benchmark's quick size on synthetic rows). ``--json`` writes ``{"verify":
{"sgx", "tdx", "sev-snp", "simulated"} (per second), "tee-simulated-lr": {"seconds",
"attestation_seconds", "bytes", "sealed_bytes", "rows", "auc", "warning", "peak_rss_bytes"}}``, plus
``secureboost`` / ``lr-ot`` entries (``seconds``, ``bytes``, ``auc``, ``peak_rss_bytes``) with ``--compare``.
Peak memory is this process's (owners, brokers and runner are all in it) or, with ``--compare``, the
largest party process's.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, memory, options, party_memory, peak_rss_bytes, run_processes, write_json
from benchmarks.credit_risk import FULL, QUICK

VECTORS = ROOT / "tests" / "vectors" / "tee"


def _evidence() -> dict[str, tuple[Any, int]]:
    from accord.tee import Evidence, EvidenceKind
    from accord.tee.intel import collateral_from_json
    from accord.tee.simulated import SimulatedEnclave

    def read(name: str) -> bytes:
        return (VECTORS / name).read_bytes()

    snp_at = int(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
    return {
        "sgx": (Evidence(EvidenceKind.SGX, read("dcapqvl_sgx_quote"),
                         collateral_from_json(read("dcapqvl_sgx_quote_collateral.json"))), 1750334171),
        "tdx": (Evidence(EvidenceKind.TDX, read("dcapqvl_tdx_quote"),
                         collateral_from_json(read("dcapqvl_tdx_quote_collateral.json"))), 1750331763),
        "sev-snp": (Evidence(EvidenceKind.SEV_SNP, read("snp_milan_report.bin"), {"vcek": read("snp_milan_vcek.der")}),
                    snp_at),
        "simulated": (SimulatedEnclave(bytes(48)).evidence(bytes(64)), snp_at),
    }


def verification_rates(n: int) -> dict[str, float]:
    """Verifications per second per evidence kind (SEV-SNP's test report allows debug, accepted here)."""
    import logging

    from accord.tee import verify_evidence

    logging.getLogger("accord").setLevel(logging.ERROR)
    rates = {}
    for kind, (evidence, at) in _evidence().items():
        verify_evidence(evidence, at=at, allow_debug=True)
        start = time.perf_counter()
        for _ in range(n):
            verify_evidence(evidence, at=at, allow_debug=True)
        rates[kind] = n / (time.perf_counter() - start)
    return rates


def tee_job(tmp: Path, quick: bool) -> dict[str, Any]:
    """The credit-risk job through brokers and the simulated enclave; returns time, bytes and AUC."""
    from tests.procs import free_ports
    from tests.tee_setup import OWNERS, prepare

    from accord.enclave import EnclaveRunner, KeyBroker, load_tee_job, open_results
    from accord.enclave.transport import BrokerServer

    if not quick:
        from benchmarks.credit_data import BANK_COLUMNS, LABEL, PARTNER_COLUMNS, load_uci, split_parties

        bank, partner = split_parties(load_uci(Path.home() / ".cache" / "accord-benchmarks"))
        data = tmp / "data"
        data.mkdir()
        bank[["id", *BANK_COLUMNS, LABEL]].to_csv(data / "bank.csv", index=False)
        partner[["id", *PARTNER_COLUMNS]].to_csv(data / "partner.csv", index=False)
        import tests.tee_setup as setup

        setup.DATA = data
    ports = dict(zip(OWNERS, free_ports(len(OWNERS))))
    job_file, states = prepare(tmp, ports)  # logistic regression; policies approve this job's digest
    job = load_tee_job(job_file)
    servers = [BrokerServer(KeyBroker(states[o]).handlers(), key_pem=(tmp / "certs" / f"{o}.key").read_bytes(),
                            cert_pem=(tmp / "certs" / f"{o}.crt").read_bytes(),
                            trusted_clients=[(tmp / "certs" / "runner.crt").read_bytes()], listen=f"127.0.0.1:{p}")
               for o, p in ports.items()]
    try:
        start = time.perf_counter()
        result = EnclaveRunner(job).run()
        seconds = time.perf_counter() - start
    finally:
        for server in servers:
            server.stop()
    opened = open_results(result.output, "bank", bytes.fromhex((tmp / "keys" / "bank-results.key").read_text()))
    sealed = sum((tmp / "sealed" / f"{o}.sealed").stat().st_size for o in OWNERS)
    return {"seconds": seconds, "attestation_seconds": result.report["seconds"]["attestation_and_keys"],
            "bytes": result.report["bytes"]["sent"] + result.report["bytes"]["received"], "sealed_bytes": sealed,
            "rows": opened["rows"], "auc": opened["metrics"]["logistic_regression"]["auc"],
            "warning": "INSECURE SIMULATION", "peak_rss_bytes": peak_rss_bytes()}


def main() -> None:
    parser = options(__doc__)  # --quick: fewer repetitions, the small example tables
    parser.add_argument("--compare", action="store_true", help="also run SecureBoost and secure LR (slow)")
    args = parser.parse_args()
    figures: dict[str, dict[str, Any]] = {}
    rates = verification_rates(20 if args.quick else 200)
    for kind, rate in rates.items():
        print(f"verify {kind}: {rate:,.0f} per second")
    figures["verify"] = {k: round(v, 1) for k, v in rates.items()}
    with tempfile.TemporaryDirectory(prefix="accord-bench-tee-") as tmp:
        tee = tee_job(Path(tmp), args.quick)
    print(f"TEE (INSECURE SIMULATION) credit-risk LR: {tee['seconds']:.2f} s (attestation and keys "
          f"{tee['attestation_seconds']:.2f} s), {tee['bytes']:,} bytes with brokers, {tee['sealed_bytes']:,} "
          f"sealed bytes shipped, {tee['rows']} joined rows, test AUC {tee['auc']:.4f}; "
          f"{memory({'process': tee['peak_rss_bytes']})}")
    figures["tee-simulated-lr"] = tee
    if args.compare:
        for workload in ("secureboost", "lr-ot"):
            results = run_processes("benchmarks.credit_risk:party_main", ["bank", "partner"], {
                **(QUICK if args.quick else FULL), "data": "synthetic" if args.quick else "uci",
                "workload": workload, "lr": 0.3, "lr_step": 2.0})
            seconds = max(r["seconds"] for r in results.values())
            sent = sum(r["bytes"] for r in results.values())
            auc = results["bank"]["auc"]
            print(f"{workload}: {seconds:.1f} s, {sent / 2**20:.1f} MiB, test AUC {auc:.4f}; "
                  f"{memory({p: r['peak_rss_bytes'] for p, r in results.items()})}")
            figures[workload] = {"seconds": seconds, "bytes": sent, "auc": auc,
                                 "peak_rss_bytes": party_memory(results)["peak_rss_bytes"]}
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
