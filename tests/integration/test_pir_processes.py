"""Keyword PIR, PSI-sum and joint debt between OS processes over loopback gRPC with mutual TLS, against pandas."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.procs import run_parties

pytestmark = pytest.mark.slow


def test_pir_and_psi_sum_between_processes(tmp_path):
    flagged = pd.DataFrame({"phone": [f"1380000{i:04d}" for i in range(500)], "risk": ["high", "low"] * 250})
    asked = pd.DataFrame({"phone": ["13800000007", "19999999999", "13800000010"]})
    viewers = pd.DataFrame({"id": [f"u{i}" for i in range(300)]})
    buyers = pd.DataFrame({"id": [f"u{i}" for i in range(200, 600)], "cents": range(400)})
    paths = {}
    for name, df in {"flagged": flagged, "asked": asked, "viewers": viewers, "buyers": buyers}.items():
        paths[name] = str(tmp_path / f"{name}.csv")
        df.to_csv(paths[name], index=False)
    state = {"telecom": str(tmp_path / "telecom-state"), "bank": str(tmp_path / "bank-state")}
    runs = run_parties(tmp_path, "tests.integration.pir_drivers:pir_driver", ["telecom", "bank"],
                       {**paths, "state": state})
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    bank = runs["bank"].result
    assert bank["matched"] == [True, False, True] and bank["risk"] == ["low", None, "high"]
    shared = buyers[buyers["id"].isin(set(viewers["id"]))]
    assert bank["measured"] == {"count": len(shared), "sum": int(shared["cents"].sum()), "noise": "none"}
    assert bank["query_bytes"] < 1_000  # one batch of 3 keys: a hello and 96 bytes of blinded elements
    assert runs["telecom"].result == {"answered": 1}


def test_joint_debt_with_three_lenders_between_processes(tmp_path):
    applicants = pd.DataFrame({"id": ["p1", "p2", "p3", "p9"]})
    books = {"lender1": pd.DataFrame({"id": ["p1", "p2", "p5"], "owed": [100, 200, 500]}),
             "lender2": pd.DataFrame({"id": ["p1", "p1", "p7"], "owed": [10, 20, 70]}),
             "lender3": pd.DataFrame({"id": ["p3", "p2"], "owed": [3000, 4000]})}
    paths = {"applicants": str(tmp_path / "applicants.csv")}
    applicants.to_csv(paths["applicants"], index=False)
    for name, df in books.items():
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    runs = run_parties(tmp_path, "tests.integration.pir_drivers:debt_driver", ["bank", *books],
                       {**paths, "books": {n: str(tmp_path / f"{n}.csv") for n in books}})
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    assert runs["bank"].result == {"id": ["p1", "p2", "p3", "p9"], "total": [130, 4200, 3000, 0]}
    assert all(runs[n].result == {"got": False} for n in books)
