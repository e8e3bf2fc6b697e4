"""Driver functions for keyword PIR, PSI-sum and joint debt between processes (see tests/procs.py)."""

from __future__ import annotations

from typing import Any

import accord


def _table(cluster: accord.Cluster, me: str, party: str, path: str) -> accord.PartyTable:
    return cluster.party(party).read_csv(path, dtype={"phone": str, "id": str}) if party == me \
        else cluster.party(party).remote_table()


def pir_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """The telecom builds its table, the bank syncs and queries it; then both run PSI-sum on other tables."""
    state = args["state"]
    flagged = _table(cluster, me, "telecom", args["flagged"])
    accord.pir.build(flagged, on="phone", labels=["risk"], state=state["telecom"])
    accord.pir.sync(cluster, server="telecom", client="bank", state=state)
    asked = _table(cluster, me, "bank", args["asked"])
    found = accord.pir.query(asked, on="phone", server="telecom", state=state)
    viewers, buyers = _table(cluster, me, "bank", args["viewers"]), _table(cluster, me, "telecom", args["buyers"])
    measured = accord.pir.intersection_sum(viewers, buyers, on="id", value="cents", to="bank")
    report = cluster.report().to_dict()["protocols"]
    if me == "bank":
        rows = found.to_pandas()
        return {"matched": rows["matched"].tolist(), "risk": rows["risk"].tolist(), "measured": measured.get(),
                "query_bytes": report["pir.query"]["costs"]["bank"]["bytes_sent"]}
    return {"answered": report["pir.query"]["runs"]}


def debt_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """The bank asks every lender for its applicants' total debt."""
    applicants = _table(cluster, me, "bank", args["applicants"])
    books = [_table(cluster, me, lender, args["books"][lender]) for lender in args["books"]]
    out = accord.pir.joint_debt(applicants, books, on="id", amount="owed")
    if me != "bank":
        return {"got": out.is_local}
    rows = out.to_pandas()
    return {"id": rows["id"].tolist(), "total": rows["total_debt"].tolist()}
