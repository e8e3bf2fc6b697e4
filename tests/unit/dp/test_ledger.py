"""The budget ledger: caps enforced before computing, transactional under concurrency and crashes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from accord.crypto.random import Rng
from accord.dp import Budget, Ledger, PrivateTable
from accord.dp.accounting import DiscreteLaplaceCost
from accord.dp.ledger import ledger_path
from accord.errors import ConfigurationError, InputError, PrivacyBudgetExceeded


def _ledger(tmp_path, cap=Budget(1.0), dataset="customers"):
    return Ledger(tmp_path / f"{dataset}.sqlite", dataset, cap=cap)


def test_charges_until_the_cap_then_refuses(tmp_path):
    ledger = _ledger(tmp_path)
    for i in range(4):
        ledger.charge(DiscreteLaplaceCost(4.0), release=f"r{i}")  # ε = 0.25 each
    assert ledger.spent() == pytest.approx(1.0)
    with pytest.raises(PrivacyBudgetExceeded, match="customers"):
        ledger.charge(DiscreteLaplaceCost(100.0), release="r4")
    assert len(ledger.charges()) == 4 and ledger.remaining() == pytest.approx(0.0)


def test_a_release_id_is_charged_once(tmp_path):
    ledger = _ledger(tmp_path)
    ledger.charge(DiscreteLaplaceCost(10.0), release="job1/1")
    with pytest.raises(ConfigurationError, match="already charged"):
        ledger.charge(DiscreteLaplaceCost(10.0), release="job1/1")
    assert ledger.spent() == pytest.approx(0.1)


def test_private_table_charges_before_reading_and_refuses_without_computing(tmp_path):
    ledger = _ledger(tmp_path, Budget(0.5))
    table = PrivateTable(pd.DataFrame({"age": [30, 40, 50]}), "customers", ledger=ledger, rng=Rng(seed=b"t"))
    table.sum("age", bounds=(0, 100), budget=Budget(0.4))
    with pytest.raises(PrivacyBudgetExceeded):
        table.count(Budget(0.2))
    assert len(table.releases) == 1 and len(ledger.charges()) == 1
    with pytest.raises(InputError, match="'agee'"):  # a typo costs nothing
        table.sum("agee", bounds=(0, 100), budget=Budget(0.05))
    bad = PrivateTable(pd.DataFrame({"age": [30, None]}), "customers", ledger=ledger)
    with pytest.raises(InputError, match="missing"):
        bad.sum("age", bounds=(0, 100), budget=Budget(0.05))
    assert len(ledger.charges()) == 1


def test_survives_reopening_and_checks_dataset_and_cap(tmp_path):
    _ledger(tmp_path).charge(DiscreteLaplaceCost(2.0), release="a")
    again = Ledger(tmp_path / "customers.sqlite", "customers")
    assert again.spent() == pytest.approx(0.5) and again.cap == Budget(1.0)
    with pytest.raises(ConfigurationError, match="ledger of dataset 'customers', not of 'loans'"):
        Ledger(tmp_path / "customers.sqlite", "loans")
    with pytest.raises(ConfigurationError, match="cap"):
        Ledger(tmp_path / "customers.sqlite", "customers", cap=Budget(2.0))
    with pytest.raises(ConfigurationError, match="no privacy ledger"):
        Ledger(tmp_path / "other.sqlite", "other")


def test_corrupt_and_locked_ledgers_are_named(tmp_path):
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigurationError, match=r"'broken'.*corrupt"):
        Ledger(path, "broken")
    ledger = _ledger(tmp_path)
    holder = sqlite3.connect(ledger.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        ledger.timeout = 0.2
        with pytest.raises(ConfigurationError, match=r"'customers'.*locked"):
            ledger.charge(DiscreteLaplaceCost(10.0), release="x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _spend(path: str, who: str, n: int, queue) -> None:
    ledger = Ledger(path, "customers", timeout=30)
    done = 0
    for i in range(n):
        try:
            ledger.charge(DiscreteLaplaceCost(20.0), release=f"{who}/{i}")  # ε = 0.05
            done += 1
        except PrivacyBudgetExceeded:
            pass
    queue.put(done)


def test_concurrent_jobs_cannot_overspend(tmp_path):
    path = tmp_path / "customers.sqlite"
    Ledger(path, "customers", cap=Budget(1.0))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(str(path), w, 15, queue)) for w in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    granted = queue.get(timeout=5) + queue.get(timeout=5)
    ledger = Ledger(path, "customers")
    assert granted == len(ledger.charges()) == 20  # 20 x 0.05 = the cap; the other 10 were refused
    assert ledger.spent() <= 1.0 + 1e-9


def test_a_killed_job_keeps_its_charge(tmp_path):
    path = tmp_path / "customers.sqlite"
    Ledger(path, "customers", cap=Budget(1.0))
    script = textwrap.dedent(f"""
        import time
        from accord.dp import Ledger
        from accord.dp.accounting import DiscreteLaplaceCost
        Ledger({str(path)!r}, "customers").charge(DiscreteLaplaceCost(5.0), release="killed/1")
        print("charged", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "charged"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert [c.release for c in Ledger(path, "customers").charges()] == ["killed/1"]


def test_default_location_is_the_party_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCORD_STATE_DIR", str(tmp_path / "state"))
    assert ledger_path("customers") == tmp_path / "state" / "dp" / "customers.sqlite"
    with pytest.raises(ConfigurationError, match="dataset name"):
        ledger_path("../escape")
