"""Keyword PIR, PSI-sum and joint debt between processes over loopback mTLS: seconds, bytes, peak memory.

    python -m benchmarks.pir [--quick] [--workload pir|sum|debt|all] [--pir-n 1000000] [--sum-n 100000]
                             [--debt-accounts 1000000] [--lenders 3] [--json out.json]

pir: the telecom builds a table of ``--pir-n`` phone numbers with 32-byte labels (offline: time, file
size, peak memory), the bank downloads it once (sync), then asks 1 and 1,000 numbers (half of them
listed); online time is measured at the bank from the start of ``accord.pir.query`` to its end.
sum: PSI-sum of ``--sum-n`` x ``--sum-n`` ids with 50 % overlap, the sum revealed to the ids party.
debt: 1,000 applicants (``--quick``: 100) against ``--debt-accounts`` accounts at each of ``--lenders``.
Peak memory is each process's maximum resident set size. Figures come from the machine this runs on.

``--json`` writes, besides ``seconds``, ``bytes``, ``rounds`` and ``peak_rss_bytes`` (benchmarks/common.py):
``pir_build_<n>`` (``bytes``: the table file; ``security``: the parameters' statement), ``pir_sync_<n>``,
``pir_query1_<n>`` and ``pir_query1000_<n>`` (seconds at the bank; ``server_seconds``: the telecom's
time in the call, including its wait for the bank; ``bytes_sent``, ``bytes_received`` at the bank),
``psi_sum_<n>``, ``joint_debt_<lenders>x<accounts>`` (``applicants``), and, when ``openmined.psi`` is
installed, ``peer_openmined_query<count>_<n>`` (OpenMined PSI's server setup and one online exchange in
one process: ``setup_seconds``, ``setup_bytes``, ``bytes`` of request and response).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (
    barrier,
    human_bytes,
    memory,
    options,
    party_memory,
    peak_rss_bytes,
    run_processes,
    write_json,
)

SETTINGS = {"timeout": 7200}


def _phones(start: int, stop: int) -> list[str]:
    return [f"1{i:010d}" for i in range(start, stop)]


def pir_party(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import accord

    n, state = args["n"], args["state"]
    out: dict[str, Any] = {}
    if me == "telecom":
        labels = np.random.default_rng(1).integers(0, 16, (n, 30)).astype(np.uint8)  # 30 hex digits: 32-byte labels
        table = pd.DataFrame({"phone": _phones(0, n), "label": ["".join("0123456789abcdef"[d] for d in row)
                                                                 for row in labels]})
        start = time.perf_counter()
        summary = accord.pir.build(cluster.party(me).put(table), on="phone", labels=["label"],
                                   state=state["telecom"]).get()
        out.update(build_seconds=time.perf_counter() - start, table_bytes=summary["bytes"],
                   label_bytes=summary["label_bytes"], security=summary["security"],
                   build_peak_rss_bytes=peak_rss_bytes())
        del table
    barrier(cluster)  # the bank waits here while the telecom builds
    start = time.perf_counter()
    accord.pir.sync(cluster, server="telecom", client="bank", state=state)
    out["sync_seconds"] = time.perf_counter() - start
    sync_costs = cluster.report().runs[-1].costs[me]
    out["sync_bytes"], out["sync_rounds"] = sync_costs.bytes_received, sync_costs.rounds
    for count in (1, 1000):
        half = count // 2
        asked = _phones(n - half, n - half + count)  # ``half`` listed numbers, the rest not
        handle = (cluster.party("bank").put(pd.DataFrame({"phone": asked})) if me == "bank"
                  else cluster.party("bank").remote_table())
        start = time.perf_counter()
        result = accord.pir.query(handle, on="phone", server="telecom", state=state)
        seconds = time.perf_counter() - start
        costs = cluster.report().runs[-1].costs[me]
        out[f"query{count}"] = {"seconds": seconds, "bytes_sent": costs.bytes_sent,
                                "bytes_received": costs.bytes_received, "rounds": costs.rounds}
        if me == "bank" and int(result.to_pandas()["matched"].sum()) != min(half, count):
            raise SystemExit(f"query of {count}: wrong number of matches")
    return out


def sum_party(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import accord

    n = args["n"]
    start_id = 0 if me == "platform" else n // 2
    df = pd.DataFrame({"id": [f"u{i:09d}" for i in range(start_id, start_id + n)]})
    if me == "advertiser":
        df["cents"] = np.arange(n, dtype=np.int64) % 10_000
    tables = {p: cluster.party(p).put(df) if p == me else cluster.party(p).remote_table()
              for p in ("platform", "advertiser")}
    start = time.perf_counter()
    out = accord.pir.intersection_sum(tables["platform"], tables["advertiser"], on="id", value="cents", to="platform")
    seconds = time.perf_counter() - start
    costs = cluster.report().runs[-1].costs[me]
    if me == "platform":
        expected = int((np.arange(n - n // 2, dtype=np.int64) % 10_000).sum())
        if out.get()["count"] != n - n // 2 or out.get()["sum"] != expected:
            raise SystemExit(f"PSI-sum wrong: {out.get()}")
    return {"seconds": seconds, "bytes_sent": costs.bytes_sent, "rounds": costs.rounds}


def debt_party(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import accord

    lenders = [p for p in cluster.names if p != "bank"]
    if me == "bank":
        df = pd.DataFrame({"id": [f"p{i:09d}" for i in range(0, 2 * args["applicants"], 2)]})
    else:
        k = lenders.index(me)
        df = pd.DataFrame({"id": [f"p{i:09d}" for i in range(k, k + args["accounts"])],
                           "owed": np.full(args["accounts"], 100 + k, dtype=np.int64)})
    tables = {p: cluster.party(p).put(df) if p == me else cluster.party(p).remote_table() for p in cluster.names}
    start = time.perf_counter()
    out = accord.pir.joint_debt(tables["bank"], [tables[p] for p in lenders], on="id", amount="owed")
    seconds = time.perf_counter() - start
    costs = cluster.report().runs[-1].costs[me]
    if me == "bank":
        got = out.to_pandas()["total_debt"].to_numpy()
        index = np.arange(0, 2 * args["applicants"], 2)
        expected = sum(np.where((index >= k) & (index < k + args["accounts"]), 100 + k, 0) for k in range(len(lenders)))
        if not np.array_equal(got, expected):
            raise SystemExit("joint debt totals wrong")
    return {"seconds": seconds, "bytes_sent": costs.bytes_sent, "bytes_received": costs.bytes_received,
            "rounds": costs.rounds}


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--workload", choices=("pir", "sum", "debt", "all"), default="all")
    parser.add_argument("--pir-n", type=int, default=None, help="phone numbers in the table (default 1e6)")
    parser.add_argument("--sum-n", type=int, default=None, help="ids per party for PSI-sum (default 1e5)")
    parser.add_argument("--debt-accounts", type=int, default=None, help="accounts per lender (default 1e6)")
    parser.add_argument("--lenders", type=int, default=3, help="lenders in the joint-debt query (default 3)")
    args = parser.parse_args()
    figures: dict[str, dict[str, Any]] = {}
    if args.workload in ("pir", "all"):
        figures.update(_pir(args.pir_n or (20_000 if args.quick else 1_000_000)))
    if args.workload in ("sum", "all"):
        figures.update(_sum(args.sum_n or (2_000 if args.quick else 100_000)))
    if args.workload in ("debt", "all"):
        figures.update(_debt(args.debt_accounts or (20_000 if args.quick else 1_000_000), 100 if args.quick else 1000,
                             args.lenders))
    write_json(args.json, figures)


def _pir(n: int) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="accord-pir-bench-") as tmp:
        state = {"telecom": f"{tmp}/telecom", "bank": f"{tmp}/bank"}
        r = run_processes("benchmarks.pir:pir_party", ["telecom", "bank"], {"n": n, "state": state},
                          timeout=14_400, settings=SETTINGS)
    t, b = r["telecom"], r["bank"]
    print(f"PIR table of {n} keys, {t['label_bytes']}-byte labels: build {t['build_seconds']:.1f} s, "
          f"{human_bytes(t['table_bytes'])}, peak {t['build_peak_rss_bytes'] / 2**20:.0f} MiB; "
          f"sync {b['sync_seconds']:.2f} s")
    figures = {f"pir_build_{n}": {"seconds": t["build_seconds"], "bytes": t["table_bytes"], "rounds": 0,
                                  "peak_rss_bytes": t["build_peak_rss_bytes"], "security": t["security"]},
               f"pir_sync_{n}": {"seconds": b["sync_seconds"], "bytes": b["sync_bytes"], "rounds": b["sync_rounds"],
                                 **party_memory(r)}}
    for count in (1, 1000):
        q, sq = b[f"query{count}"], t[f"query{count}"]
        print(f"  query of {count}: {q['seconds'] * 1000:.1f} ms at the bank ({sq['seconds'] * 1000:.1f} ms at the "
              f"telecom), bank sent {q['bytes_sent']} B, received {q['bytes_received']} B, {q['rounds']} rounds")
        figures[f"pir_query{count}_{n}"] = {"seconds": q["seconds"], "server_seconds": sq["seconds"],
                                            "bytes": q["bytes_sent"] + q["bytes_received"],
                                            "bytes_sent": q["bytes_sent"], "bytes_received": q["bytes_received"],
                                            "rounds": q["rounds"], **party_memory(r)}
    print(f"  {memory({p: x['peak_rss_bytes'] for p, x in r.items()})}; {t['security']}")
    figures.update(_openmined(n))
    return figures


def _openmined(n: int) -> dict[str, dict[str, Any]]:
    """OpenMined PSI beside accord's PIR when ``openmined.psi`` is installed (``pip install openmined.psi``).

    Its server/client protocol is the nearest installable peer: ECDH over P-256 with the server's
    encrypted set compressed offline (a Golomb-compressed set, false-positive rate 1e-9 per query set),
    membership only (no labels), one process with no network, so its online time has no round trip.
    """
    try:
        import private_set_intersection.python as omp
    except ImportError:
        print("  OpenMined PSI: not installed (pip install openmined.psi), skipped")
        return {}
    listed = _phones(0, n)
    figures: dict[str, dict[str, Any]] = {}
    for count in (1, 1000):
        half = count // 2
        asked = _phones(n - half, n - half + count)
        server, client = omp.server.CreateWithNewKey(True), omp.client.CreateWithNewKey(True)
        start = time.perf_counter()
        setup = server.CreateSetupMessage(1e-9, count, listed, omp.DataStructure.GCS)  # depends on the query count
        setup_seconds = time.perf_counter() - start
        start = time.perf_counter()
        request = client.CreateRequest(asked)
        response = server.ProcessRequest(request)
        matched = client.GetIntersection(setup, response)
        seconds = time.perf_counter() - start
        if len(matched) != min(half, count):
            raise SystemExit(f"OpenMined PSI, query of {count}: wrong number of matches")
        sizes = [len(m.SerializeToString()) for m in (setup, request, response)]
        print(f"  OpenMined PSI {omp.__version__} (P-256, GCS, no labels, one process), query of {count}: setup "
              f"{setup_seconds:.1f} s, {human_bytes(sizes[0])}; online {seconds * 1000:.1f} ms, "
              f"request {sizes[1]} B, response {sizes[2]} B")
        figures[f"peer_openmined_query{count}_{n}"] = {
            "seconds": seconds, "setup_seconds": setup_seconds, "setup_bytes": sizes[0],
            "bytes": sizes[1] + sizes[2], "rounds": 1, "peak_rss_bytes": peak_rss_bytes(), "version": omp.__version__}
    return figures


def _sum(n: int) -> dict[str, dict[str, Any]]:
    r = run_processes("benchmarks.pir:sum_party", ["platform", "advertiser"], {"n": n}, settings=SETTINGS)
    seconds = max(x["seconds"] for x in r.values())
    print(f"PSI-sum {n} x {n} (50 % overlap): {seconds:.2f} s, sent " +
          ", ".join(f"{p} {human_bytes(x['bytes_sent'])}" for p, x in r.items()) +
          f"; {memory({p: x['peak_rss_bytes'] for p, x in r.items()})}")
    return {f"psi_sum_{n}": {"seconds": seconds, "bytes": sum(x["bytes_sent"] for x in r.values()),
                             "rounds": max(x["rounds"] for x in r.values()), **party_memory(r)}}


def _debt(accounts: int, applicants: int, lenders: int) -> dict[str, dict[str, Any]]:
    parties = ["bank", *(f"lender{k}" for k in range(1, lenders + 1))]
    r = run_processes("benchmarks.pir:debt_party", parties, {"accounts": accounts, "applicants": applicants},
                      settings=SETTINGS)
    seconds = max(x["seconds"] for x in r.values())
    print(f"joint debt, {applicants} applicants x {lenders} lenders x {accounts} accounts: {seconds:.2f} s, "
          f"bank received {human_bytes(r['bank']['bytes_received'])}, each lender sent about "
          f"{human_bytes(r['lender1']['bytes_sent'])}; {memory({p: x['peak_rss_bytes'] for p, x in r.items()})}")
    return {f"joint_debt_{lenders}x{accounts}": {"seconds": seconds, "bytes": sum(x["bytes_sent"] for x in r.values()),
                                                 "rounds": max(x["rounds"] for x in r.values()),
                                                 "applicants": applicants, **party_memory(r)}}


if __name__ == "__main__":
    main()
