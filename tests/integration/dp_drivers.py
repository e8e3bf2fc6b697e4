"""Drivers for the two-process DP tests (run by tests/procs.py inside Cluster.connect)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import accord
from accord.dp import Budget, Ledger


def dp_count_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """A DP intersection count, charged to this party's own ledger; returns what this process saw."""
    first, second = cluster.names[:2]
    mine = pd.DataFrame({"id": [str(k) for k in args["keys"][me]]})
    tables = {p: cluster.party(p).put(mine) if p == me else cluster.party(p).remote_table() for p in (first, second)}
    ledger = Ledger(args["ledgers"][me], f"{me}-customers", cap=Budget(args["cap"]))
    out = accord.psi.count(tables[first], tables[second], on="id", to=args["to"],
                           dp=Budget(args["epsilon"]), ledgers={me: ledger})
    report = cluster.report().to_dict()
    return {"count": out.get() if out.is_local else None, "privacy": report["privacy"],
            "spent": ledger.spent()}


def dp_histogram_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """A joint histogram: bank's band one-hot times partner's count, summed under shares, noised, opened."""
    bank, partner = cluster.parties("bank", "partner")
    spu = cluster.mpc(["bank", "partner"], mode="ot")
    bands = np.array(args["bands"], dtype=np.int64)
    onehot = spu.share(bank.put(np.eye(int(bands.max()) + 1, dtype=np.int64)[bands]) if me == "bank"
                       else bank.remote_table())
    late = spu.share(partner.put(np.array(args["late"], dtype=np.int64)) if me == "partner"
                     else partner.remote_table())
    hist = spu.run(lambda o, v: (o * v.reshape(-1, 1)).sum(axis=0), onehot, late)
    out = spu.reveal(hist, to="bank", dp=Budget(args["epsilon"]), sensitivity=args["sensitivity"])
    return {"hist": out.get().tolist() if out.is_local else None}
