"""DP answers: every cell noised under the shares, owners' ledgers charged first, unsupported shapes refused."""

from __future__ import annotations

import pandas as pd
import pytest

import accord
import accord.sql
from accord.dp import Budget, Ledger
from accord.errors import InputError, PrivacyBudgetExceeded, UnsupportedError
from tests.sql_cases import catalog

SQL = "SELECT COUNT(*) AS n, SUM(b.y) AS s, AVG(b.y) AS m FROM a JOIN b ON a.id = b.id WHERE b.y > 2"


def _data(unique: bool = True) -> dict[str, pd.DataFrame]:
    ids = list(range(200))
    return {"a": pd.DataFrame({"id": ids, "g": ["x"] * 200, "x": [1] * 200, "d": ["1.50"] * 200}),
            "b": pd.DataFrame({"id": ids if unique else [0] * 200, "h": ["p"] * 200, "y": [i % 10 for i in ids]}),
            "c": pd.DataFrame({"id": [0], "z": [0]})}


def _query(cluster, data, **kw):
    pa, pb = cluster.parties("pa", "pb")
    return accord.sql.query(cluster, kw.pop("sql", SQL), catalog(), to="pa",
                            sources={"a": pa.put(data["a"]), "b": pb.put(data["b"])}, **kw).get()


def test_cells_are_noised_and_ledgers_charged(tmp_path):
    ledger = Ledger(tmp_path / "b.sqlite", "b", cap=Budget(10.0))
    with accord.Cluster.simulate(["pa", "pb"]) as cluster:
        out = _query(cluster, _data(), dp=Budget(3.0), ledgers={"pb": ledger})
        report = cluster.report().to_dict()
    exact_n, exact_s = 140, sum(y for y in (i % 10 for i in range(200)) if y > 2)
    # Four cells at ε = 0.75 each, sensitivities 1, 100 (y's max_abs) and 1: two Laplace draws per cell.
    assert abs(out["n"][0] - exact_n) < 40 and abs(out["s"][0] - exact_s) < 4000
    assert 2 < out["m"][0] < 11        # exact 6.5: a sum of scale 133 draws over a count near 140
    assert 0 < ledger.spent() <= 3.0 + 1e-9
    assert report["privacy"] and report["privacy"][0]["dataset"] == "b"
    assert any("noise draw per computing party" in note for note in report["notes"])


def test_an_exhausted_ledger_refuses_before_any_data_is_read(tmp_path):
    ledger = Ledger(tmp_path / "b.sqlite", "b", cap=Budget(1.0))
    with accord.Cluster.simulate(["pa", "pb"]) as cluster, pytest.raises(PrivacyBudgetExceeded):
        _query(cluster, _data(), dp=Budget(2.0), ledgers={"pb": ledger})
    assert ledger.spent() == 0
    assert not any(run.spec.name.startswith("psi") for run in cluster.report().runs)


def test_grouped_or_duplicated_answers_are_refused():
    with accord.Cluster.simulate(["pa", "pb"]) as cluster:
        with pytest.raises(UnsupportedError, match="without GROUP BY"):
            _query(cluster, _data(), sql="SELECT a.g, COUNT(*) FROM a JOIN b ON a.id = b.id GROUP BY a.g",
                   dp=Budget(1.0))
        with pytest.raises(UnsupportedError, match=r"COUNT\(DISTINCT b.y\): a DP answer counts distinct join keys"):
            _query(cluster, _data(), sql="SELECT COUNT(DISTINCT b.y) FROM a JOIN b ON a.id = b.id", dp=Budget(1.0))
        with pytest.raises(InputError, match="at most one row per join key"):
            _query(cluster, _data(unique=False), dp=Budget(1.0))
