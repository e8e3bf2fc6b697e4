"""Driver functions the integration tests run in separate processes (see tests/procs.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pandas as pd

import accord


def psi_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """Align this party's CSV with the other's; write the result; report rows and costs."""
    first, second = cluster.names[:2]
    tables = {p: cluster.party(p).read_csv(args["inputs"][p]) if p == me else cluster.party(p).remote_table()
              for p in (first, second)}
    mode = args.get("mode", "join")
    protocol = args.get("protocol", "ecdh")
    print("PSI-START", flush=True)
    if mode == "join":
        out = dict(zip((first, second), accord.psi.align(tables[first], tables[second], on=args["on"],
                                                         protocol=protocol)))[me]
    elif mode == "semi":
        res = accord.psi.intersect(tables[first], tables[second], on=args["on"], to=args["to"], protocol=protocol)
        out = res if not isinstance(res, tuple) else dict(zip((first, second), res))[me]
    else:
        res = accord.psi.count(tables[first], tables[second], on=args["on"], to=args["to"], protocol=protocol)
        out = res if not isinstance(res, tuple) else dict(zip((first, second), res))[me]
    if out.owner != me:
        return {"received": False}
    if mode == "count":
        return {"received": True, "count": out.get()}
    out.to_csv(args["outputs"][me])
    costs = cluster.report().to_dict()["protocols"][f"psi.{protocol}"]["costs"][me]
    return {"received": True, "rows": len(out.get()), "costs": costs}


def echo_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> Any:
    """Exchange a value with every peer (used by transport tests)."""
    from tests.integration.protocols import exchange_values

    return cluster.run(exchange_values, {p: (args["value"] + p,) for p in cluster.names})[me].get()


def read_frame(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str)


def kkrt_costs_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """A small KKRT join; returns this party's measured costs per operation and its printed report."""
    first, second = cluster.names[:2]
    keys = {first: range(300), second: range(150, 600)}
    tables = {p: cluster.party(p).put(pd.DataFrame({"id": [f"k{i}" for i in keys[p]]})) if p == me
              else cluster.party(p).remote_table() for p in (first, second)}
    accord.psi.align(tables[first], tables[second], on="id", protocol="kkrt")
    entry = cluster.report().to_dict()["protocols"]["psi.kkrt"]
    return {"costs": entry["costs"][me], "ops": {op: pp[me] for op, pp in entry["ops"].items()},
            "text": str(cluster.report())}


def stall_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> None:
    """Fail at party ``args["fail"]``; elsewhere start a long-lived child process and never return (launcher tests)."""
    if me == args.get("fail"):
        raise RuntimeError(f"a bug in the driver at {me}")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"CHILD {child.pid}", flush=True)
    time.sleep(600)


def bucketed_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """Bucketed join of this party's file with the other's (``accord.psi.join_files``); returns the summary."""
    first, second = cluster.names[:2]
    inputs = {p: args["inputs"][p] if p == me else None for p in (first, second)}
    outputs = {p: args["outputs"][p] if p == me else None for p in (first, second)}
    print("BUCKETS-START", flush=True)
    summary = accord.psi.join_files(cluster, inputs, outputs, args["on"], run=args["run"], buckets=args["buckets"],
                                    state_dir=args["state_dirs"][me], workers=args.get("workers", 1),
                                    ray_address=args.get("ray_address"))
    return dict(summary[me].get())
