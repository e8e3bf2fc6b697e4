"""Bucketed PSI (accord.psi.join_files) against pandas joins and the unbucketed PSI, in simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
from accord.errors import InputError, MalformedMessage, PeerAborted
from accord.psi.bucket import pool, solve
from accord.psi.bucket import protocol as bucket_protocol
from accord.runtime.context import Counters
from tests.protocol.wiretap import leaves, tap

PARTIES = ["bank", "partner"]


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(PARTIES) as c:
        yield c


def _join(cluster, tmp_path, a, b, on, run="r", **kwargs):
    outputs = {p: tmp_path / f"{run}-{p}.parquet" for p in PARTIES}
    summary = accord.psi.join_files(cluster, {"bank": a, "partner": b}, outputs, on, run=run,
                                    state_dir=tmp_path / "state", **kwargs)
    return summary, {p: pd.read_parquet(path) if path.exists() else None for p, path in outputs.items()}


def _pairs(left: pd.DataFrame, right: pd.DataFrame) -> list[tuple]:
    """Row ``i`` of both outputs as one tuple, sorted: the join as a multiset of row pairs."""
    both = pd.concat([left.reset_index(drop=True).add_prefix("a."), right.reset_index(drop=True).add_prefix("b.")],
                     axis=1)
    return sorted(map(tuple, both.astype(str).to_numpy().tolist()))


tables = st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 3)), min_size=1, max_size=25)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(left=tables, right=tables, buckets=st.integers(1, 6), protocol=st.sampled_from(["rr22", "kkrt", "ecdh"]))
def test_bucketed_join_equals_pandas_and_unbucketed_join(cluster, tmp_path_factory, left, right, buckets, protocol):
    # Prepare: multi-column keys (str, int) with duplicates on both sides; small tables leave buckets empty.
    tmp_path = tmp_path_factory.mktemp("join")
    a = pd.DataFrame(left, columns=["name", "n"]).assign(x=np.arange(len(left)))
    b = pd.DataFrame(right, columns=["nom", "m"]).assign(y=np.arange(len(right)) * 10)
    on = {"bank": ["name", "n"], "partner": ["nom", "m"]}
    # Execute
    summary, out = _join(cluster, tmp_path, a, b, on, buckets=buckets, protocol=protocol)
    # Assert: the pairs of rows are those of pandas' inner join, and of the unbucketed PSI.
    expected = a.merge(b, left_on=["name", "n"], right_on=["nom", "m"])
    assert _pairs(out["bank"], out["partner"]) == _pairs(expected[a.columns], expected[b.columns])
    if len(expected):
        ta, tb = cluster.party("bank").put(a), cluster.party("partner").put(b)
        ua, ub = accord.psi.align(ta, tb, on=on, protocol=protocol)
        assert _pairs(out["bank"], out["partner"]) == _pairs(ua.get(), ub.get())
    assert summary["bank"].get()["buckets"] == buckets and summary["bank"].get()["rows"] == len(expected)
    assert "distinct keys in it" in cluster.report().to_dict()["protocols"]["psi.bucketed"]["leakage"]
    assert not (tmp_path / "state" / "psi" / "r").exists()  # state is removed after a completed run


def test_semi_join_to_one_party_in_table_order_per_bucket(cluster, tmp_path):
    a = pd.DataFrame({"id": [f"k{i % 300}" for i in range(600)], "x": np.arange(600)})
    b = pd.DataFrame({"id": [f"k{i}" for i in range(150, 450)]})
    outputs = {"bank": tmp_path / "bank.csv", "partner": None}
    accord.psi.join_files(cluster, {"bank": a, "partner": b}, outputs, "id", run="semi", mode="semi", to="bank",
                          buckets=5, state_dir=tmp_path / "state")
    got = pd.read_csv(outputs["bank"])
    expected = a[a["id"].isin(b["id"])]
    assert sorted(got["x"]) == sorted(expected["x"])
    assert not (tmp_path / "partner.csv").exists()


def test_a_failed_run_resumes_from_the_buckets_both_completed(cluster, tmp_path, monkeypatch):
    # Prepare: the bank's PSI fails on the 4th bucket it runs, once.
    a = pd.DataFrame({"id": [f"k{i}" for i in range(2000)], "x": np.arange(2000)})
    b = pd.DataFrame({"id": [f"k{i}" for i in range(1000, 3000)], "y": np.arange(2000)})
    calls: list[str] = []
    failed: list[bool] = []
    real = solve.PROTOCOLS["rr22"]

    def flaky(ctx, *args):
        calls.append(ctx.me)
        if ctx.me == "bank" and calls.count("bank") == 4 and not failed:
            failed.append(True)
            raise InputError("disk full", party="bank")
        return real(ctx, *args)

    monkeypatch.setitem(solve.PROTOCOLS, "rr22", flaky)
    with pytest.raises((InputError, PeerAborted)):
        _join(cluster, tmp_path, a, b, "id", run="resume", buckets=8)
    # A failed run leaves no output, but keeps its checkpoints.
    assert not list(tmp_path.glob("resume-*"))
    assert len(list((tmp_path / "state" / "psi" / "resume" / "bank" / "out").glob("*.arrow"))) == 3
    calls.clear()
    # Execute: the same call again.
    summary, out = _join(cluster, tmp_path, a, b, "id", run="resume", buckets=8)
    # Assert: only the 5 buckets not completed ran again, and the output is the whole join.
    assert summary["bank"].get()["resumed"] == summary["partner"].get()["resumed"] == 3
    assert calls.count("bank") == calls.count("partner") == 5
    expected = a.merge(b, on="id")
    assert _pairs(out["bank"], out["partner"]) == _pairs(expected[a.columns], expected[b.columns])


def test_a_changed_input_does_not_resume_stale_buckets(cluster, tmp_path, monkeypatch):
    a = pd.DataFrame({"id": [f"k{i}" for i in range(500)]})
    b = pd.DataFrame({"id": [f"k{i}" for i in range(250, 750)]})
    real = solve.PROTOCOLS["rr22"]
    seen: list[int] = []

    def failing(ctx, *args):
        seen.append(1)
        if len(seen) > 4:
            raise InputError("stop", party=ctx.me)
        return real(ctx, *args)

    monkeypatch.setitem(solve.PROTOCOLS, "rr22", failing)
    with pytest.raises((InputError, PeerAborted)):
        _join(cluster, tmp_path, a, b, "id", run="stale", buckets=4)
    monkeypatch.setitem(solve.PROTOCOLS, "rr22", real)
    changed = pd.DataFrame({"id": [f"k{i}" for i in range(100)]})
    summary, out = _join(cluster, tmp_path, changed, b, "id", run="stale", buckets=4)
    assert summary["bank"].get()["resumed"] == 0
    assert sorted(out["bank"]["id"]) == sorted(set(changed["id"]) & set(b["id"]))


@pytest.mark.parametrize(("party", "other"), [("partner", "bank"), ("bank", "partner")])
def test_what_each_party_receives(cluster, tmp_path, monkeypatch, party, other):
    # Prepare: ids only the other party holds must never reach this party, in any form it could read.
    tables = {p: pd.DataFrame({"id": [f"{p}-only-{i}" for i in range(200)] + [f"shared-{i}" for i in range(50)]})
              for p in PARTIES}
    received = tap(monkeypatch, party)
    # Execute
    _join(cluster, tmp_path, tables["bank"], tables["partner"], "id", run="tap", buckets=4, protocol="ecdh")
    # Assert: the handshake carries a call, a commitment, a nonce and a non-empty vector; nothing else
    # outside the per-bucket ECDH runs, which carry blinded points and the join's positions and counts.
    steps = [key.split("/", 1)[1] for key, _ in received]
    handshake = [s for s in steps if "bucket" not in s]
    assert handshake == ["hello", "reveal", "ready"]
    hello = dict(received[0][1])
    assert set(hello) == {"mode", "protocol", "receivers", "buckets", "commit", "resume", "done", "workers", "remote"}
    assert len(hello["commit"]) == 32 and hello["resume"] == b"" and len(hello["done"]) == 0
    assert len(received[1][1]) == 16
    ready = received[2][1]
    assert ready.dtype == np.uint8 and ready.shape == (4,)
    assert {s.split("/")[0].split("#")[0] for s in steps if "bucket" in s} == {f"bucket{i}" for i in range(4)}
    for _, value in received:
        for leaf in leaves(value):
            data = leaf.tobytes() if isinstance(leaf, np.ndarray) else leaf if isinstance(leaf, bytes) else str(leaf)
            needle = f"{other}-only".encode() if isinstance(data, bytes) else f"{other}-only"
            assert needle not in data


def test_a_nonce_that_does_not_match_its_commitment_is_refused(cluster, tmp_path, monkeypatch):
    # Prepare: the partner reads the bank's revealed nonce as some other value (as if the bank changed it).
    real = bucket_protocol.check_nonce
    monkeypatch.setattr(bucket_protocol, "check_nonce",
                        lambda value, peer, step: bytes(16) if peer == "bank" else real(value, peer, step))
    a = pd.DataFrame({"id": ["1", "2"]})
    # Execute / Assert
    with pytest.raises((MalformedMessage, PeerAborted), match=r"commitment|MalformedMessage"):
        _join(cluster, tmp_path, a, a, "id", run="commit", buckets=2)
    assert not list(tmp_path.glob("commit-*"))


def test_buckets_on_a_pool_of_worker_processes_relayed_through_the_gateway(cluster, tmp_path):
    # Prepare: one party offers 3 workers, the other 2; both run 2 buckets at a time.
    a = pd.DataFrame({"id": [f"k{i % 700}" for i in range(1000)], "x": np.arange(1000)})
    b = pd.DataFrame({"id": [f"k{i}" for i in range(300, 1300)], "y": np.arange(1000)})
    # Execute
    summary, out = _join(cluster, tmp_path, a, b, "id", run="pool", buckets=5, workers=2)
    # Assert
    assert summary["bank"].get()["workers"] == 2
    expected = a.merge(b, on="id")
    assert _pairs(out["bank"], out["partner"]) == _pairs(expected[a.columns], expected[b.columns])
    costs = cluster.report().to_dict()["protocols"]["psi.bucketed"]["costs"]
    assert costs["bank"]["bytes_sent"] > 1000 * 10  # the workers' traffic is counted at their party


def _fails_at_the_bank(job: pool.BucketJob) -> Counters:
    """A worker of the bank that dies in bucket 1's first attempt (``try0``) and, for run "always", in every one."""
    if job.me == "bank" and job.bucket == 1 and ("/try0" in job.path or "/psi/always/" in str(job.rows_file)):
        raise OSError("worker lost")
    return pool.run_job(job)


def test_a_bucket_failed_at_one_party_runs_again_at_both(cluster, tmp_path, monkeypatch):
    # Prepare: the bank's worker fails bucket 1 once; the partner's worker waits on it until cancelled.
    monkeypatch.setattr(pool, "run_job", _fails_at_the_bank)
    a = pd.DataFrame({"id": [f"k{i % 700}" for i in range(1000)], "x": np.arange(1000)})
    b = pd.DataFrame({"id": [f"k{i}" for i in range(300, 1300)], "y": np.arange(1000)})
    # Execute
    summary, out = _join(cluster, tmp_path, a, b, "id", run="retry", buckets=4, workers=2)
    # Assert: the same re-runs at both parties (bucket 1, and any not yet started when it failed), and the
    # join as pandas has it (nothing lost or duplicated).
    assert summary["bank"].get()["retried"] == summary["partner"].get()["retried"] >= 1
    expected = a.merge(b, on="id")
    assert _pairs(out["bank"], out["partner"]) == _pairs(expected[a.columns], expected[b.columns])


def test_a_bucket_failing_every_attempt_fails_the_job_naming_it(cluster, tmp_path, monkeypatch):
    # Prepare
    monkeypatch.setattr(pool, "run_job", _fails_at_the_bank)
    a = pd.DataFrame({"id": [f"k{i}" for i in range(400)], "x": np.arange(400)})
    # Execute / Assert: after the first attempt and 1 retry, both parties stop, naming bucket 1.
    with pytest.raises(pool.BucketFailed, match=r"bucket\(s\) \[1\] failed in all 2 attempts"):
        _join(cluster, tmp_path, a, a, "id", run="always", buckets=3, workers=2, retries=1)
    assert not list(tmp_path.glob("always-*"))
