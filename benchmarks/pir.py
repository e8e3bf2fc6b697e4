"""Keyword PIR, PSI-sum and joint debt between processes over loopback mTLS: seconds, bytes, peak memory.

    python -m benchmarks.pir [--quick] [--workload pir|sum|debt|all] [--pir-n 1000000] [--sum-n 100000]
                             [--debt-accounts 1000000] [--lenders 3] [--json out.json]

pir: the telecom builds a table of ``--pir-n`` phone numbers with 32-byte labels (offline: time, file
size, peak memory), the bank downloads it once (sync), then asks 1 and 1,000 numbers (half of them
listed); online time is measured at the bank from the start of ``accord.pir.query`` to its end.
sum: PSI-sum of ``--sum-n`` x ``--sum-n`` ids with 50 % overlap, the sum revealed to the ids party.
debt: 1,000 applicants (``--quick``: 100) against ``--debt-accounts`` accounts at each of ``--lenders``.
Peak memory is each process's maximum resident set size. Figures come from the machine this runs on.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from accord.runtime import Context, protocol
from benchmarks.common import human_bytes, run_processes, write_json


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phones(start: int, stop: int) -> list[str]:
    return [f"1{i:010d}" for i in range(start, stop)]


@protocol("bench.barrier", threat_model="none: a timing barrier", leakage="nothing")
def _barrier(ctx: Context) -> None:
    ctx.exchange(None, "ready", timeout=14_400)


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
                   label_bytes=summary["label_bytes"], security=summary["security"], build_peak_mib=_peak_mib())
        del table
    cluster.run(_barrier, {p: () for p in cluster.names})  # the bank waits here while the telecom builds
    start = time.perf_counter()
    accord.pir.sync(cluster, server="telecom", client="bank", state=state)
    out["sync_seconds"] = time.perf_counter() - start
    out["sync_bytes"] = cluster.report().runs[-1].costs[me].bytes_received
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
    out["peak_mib"] = _peak_mib()
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
    return {"seconds": seconds, "bytes_sent": costs.bytes_sent, "rounds": costs.rounds, "peak_mib": _peak_mib()}


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
            "rounds": costs.rounds, "peak_mib": _peak_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--workload", choices=("pir", "sum", "debt", "all"), default="all")
    parser.add_argument("--pir-n", type=int, default=None, help="phone numbers in the table (default 1e6)")
    parser.add_argument("--sum-n", type=int, default=None, help="ids per party for PSI-sum (default 1e5)")
    parser.add_argument("--debt-accounts", type=int, default=None, help="accounts per lender (default 1e6)")
    parser.add_argument("--lenders", type=int, default=3, help="lenders in the joint-debt query (default 3)")
    parser.add_argument("--json", default=None, help="write figures here")
    args = parser.parse_args()
    figures: dict[str, dict[str, Any]] = {}
    settings = {"timeout": 7200}
    if args.workload in ("pir", "all"):
        n = args.pir_n or (20_000 if args.quick else 1_000_000)
        with tempfile.TemporaryDirectory(prefix="accord-pir-bench-") as tmp:
            state = {"telecom": f"{tmp}/telecom", "bank": f"{tmp}/bank"}
            r = run_processes("benchmarks.pir:pir_party", ["telecom", "bank"], {"n": n, "state": state},
                              timeout=14_400, settings=settings)
        t, b = r["telecom"], r["bank"]
        print(f"PIR table of {n} keys, {t['label_bytes']}-byte labels: build {t['build_seconds']:.1f} s, "
              f"{human_bytes(t['table_bytes'])}, peak {t['build_peak_mib']:.0f} MiB; sync {b['sync_seconds']:.2f} s")
        for count in (1, 1000):
            q = b[f"query{count}"]
            print(f"  query of {count}: {q['seconds'] * 1000:.1f} ms at the bank, bank sent {q['bytes_sent']} B, "
                  f"received {q['bytes_received']} B, {q['rounds']} rounds")
        print(f"  peak memory: telecom {t['peak_mib']:.0f} MiB, bank {b['peak_mib']:.0f} MiB; {t['security']}")
        figures[f"pir_{n}"] = {"build_seconds": t["build_seconds"], "table_bytes": t["table_bytes"],
                               "build_peak_mib": t["build_peak_mib"], "sync_seconds": b["sync_seconds"],
                               "sync_bytes": b["sync_bytes"], "query1": b["query1"], "query1000": b["query1000"],
                               "server_query1": t["query1"], "server_query1000": t["query1000"],
                               "peak_mib": {"telecom": t["peak_mib"], "bank": b["peak_mib"]}}
    if args.workload in ("sum", "all"):
        n = args.sum_n or (2_000 if args.quick else 100_000)
        r = run_processes("benchmarks.pir:sum_party", ["platform", "advertiser"], {"n": n}, settings=settings)
        seconds = max(x["seconds"] for x in r.values())
        print(f"PSI-sum {n} x {n} (50 % overlap): {seconds:.2f} s, sent " +
              ", ".join(f"{p} {human_bytes(x['bytes_sent'])}" for p, x in r.items()) +
              f"; peak {max(x['peak_mib'] for x in r.values()):.0f} MiB")
        figures[f"psi_sum_{n}"] = {"seconds": seconds, "bytes": sum(x["bytes_sent"] for x in r.values()),
                                   "rounds": max(x["rounds"] for x in r.values()),
                                   "peak_mib": {p: x["peak_mib"] for p, x in r.items()}}
    if args.workload in ("debt", "all"):
        accounts = args.debt_accounts or (20_000 if args.quick else 1_000_000)
        applicants = 100 if args.quick else 1000
        parties = ["bank", *(f"lender{k}" for k in range(1, args.lenders + 1))]
        r = run_processes("benchmarks.pir:debt_party", parties, {"accounts": accounts, "applicants": applicants},
                          settings=settings)
        seconds = max(x["seconds"] for x in r.values())
        print(f"joint debt, {applicants} applicants x {args.lenders} lenders x {accounts} accounts: {seconds:.2f} s, "
              f"bank received {human_bytes(r['bank']['bytes_received'])}, each lender sent about "
              f"{human_bytes(r['lender1']['bytes_sent'])}; peak {max(x['peak_mib'] for x in r.values()):.0f} MiB")
        figures[f"joint_debt_{args.lenders}x{accounts}"] = {
            "seconds": seconds, "bytes": sum(x["bytes_sent"] for x in r.values()),
            "rounds": max(x["rounds"] for x in r.values()), "peak_mib": {p: x["peak_mib"] for p, x in r.items()}}
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
