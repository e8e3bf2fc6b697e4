"""Wiretap: what each party receives during a secure-SQL query is what the plan declares, and nothing more."""

from __future__ import annotations

import numpy as np

import accord
import accord.sql
from accord.sql import messages
from tests.protocol.wiretap import leaves, tap
from tests.sql_cases import PARTIES, catalog, oracle, same, tables

SQL = "SELECT b.h, COUNT(*), SUM(a.x) FROM a JOIN b ON a.id = b.id JOIN c ON c.id = a.id GROUP BY b.h"
DECLARED = {"sql.sizes", "sql.reindex", "sql.keys"}   # strict grants: no sql.groups (the partition stays at pb)


def _family(key: str) -> str:
    return key.split("/")[0] if key.startswith("sql.") else key.split(".")[0]


def _words(received: list, prefix: str) -> list[np.ndarray]:
    """The 64-bit arrays of ``prefix`` messages (ring elements), as signed integers."""
    return [a.view(np.int64) for key, msg in received if key.startswith(prefix) for a in leaves(msg)
            if isinstance(a, np.ndarray) and a.dtype in (np.uint64, np.int64)]


def test_each_party_receives_only_declared_messages(monkeypatch):
    data = tables(21)
    seen = {p: tap(monkeypatch, p) for p in PARTIES}
    with accord.Cluster.simulate(list(PARTIES), timeout=120) as cluster:
        pa, pb, pc = cluster.parties(*PARTIES)
        sources = {"a": pa.put(data["a"]), "b": pb.put(data["b"]), "c": pc.put(data["c"])}
        got = accord.sql.query(cluster, SQL, catalog(strict=True), to="pa", sources=sources).get()
        report = str(cluster.report())
    assert same(got, oracle(data, SQL), False)
    for declared in ("[sql.sizes]", "[sql.reindex]", "[sql.keys]", "distinct values of its keys among b.h"):
        assert declared in report                                      # threat model, leakage and plan in the report
    for party, received in seen.items():
        families = {_family(key) for key, _ in received}
        assert families <= {"psi", "mpc", *DECLARED}, (party, families)
        assert ("sql.keys" in families) is (party == "pa")          # only the receiver gets (padded) keys
        shares = np.concatenate([w.ravel() for w in _words(received, "mpc.")])
        assert np.mean(np.abs(shares) < 2 ** 40) < 0.01, party        # ring shares and masked openings look uniform
        opened = [a for key, msg in received if "/reveal" in key for a in leaves(msg) if isinstance(a, np.ndarray)]
        if party != "pa":                                              # the overflow guard is all others open
            assert opened and all(a.shape == (1,) for a in opened), party
        for key, msg in received:
            if key.startswith("sql.sizes"):
                assert isinstance(msg, int)
            if key.startswith("sql.reindex"):
                assert isinstance(msg, int) or (party == "pb" and msg.dtype == np.int64)   # pb joined before pc
    keys = [msg for key, msg in seen["pa"] if key.startswith("sql.keys")]
    plain = messages.pack_texts([b"\x03" + h.encode() for h in sorted(set(data["b"]["h"]))], keys[0].shape[1])
    assert not ({tuple(r) for r in keys[0].tolist()} & {tuple(r) for r in plain.tolist()})   # padded, not plain
