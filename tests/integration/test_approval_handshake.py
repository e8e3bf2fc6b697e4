"""Approvals in the start-up handshake over real mTLS links: no party starts a job a node has not approved."""

from __future__ import annotations

import threading
import time

import pytest
import yaml

from accord.errors import ConfigurationError, NotApproved
from accord.governance.approval import Approval, ApprovalGate
from accord.governance.signing import Signer
from accord.runtime import Cluster
from accord.runtime._approvals import approval_exchange
from accord.runtime.config import load_cluster_config
from tests.procs import write_cluster

DIGEST, OLD = "a" * 64, "b" * 64


def _approve(cluster_file, party, digest=DIGEST):
    cfg = load_cluster_config(cluster_file)
    key = yaml.safe_load(cluster_file.read_text())["parties"][party]["key"]
    return Approval(party, "job", digest, cfg.digest(), ("run",), "op", time.time()).signed(
        Signer.from_file(party, key))


def _connect_all(cluster_file, gates):
    results = {}

    def run(party):
        try:
            with Cluster.connect(cluster_file, me=party, job="job", timeout=20, connect_timeout=3,
                                 approvals=gates[party]) as cluster:
                results[party] = cluster.session
        except Exception as exc:
            results[party] = exc

    threads = [threading.Thread(target=run, args=(p,)) for p in gates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_both_approved_start_and_a_party_without_approvals_is_refused_by_both(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"])
    gates = {p: ApprovalGate(_approve(cluster, p), DIGEST, "run") for p in ("bank", "partner")}
    started = _connect_all(cluster, gates)
    assert isinstance(started["bank"], str) and started["bank"] == started["partner"]
    refused = _connect_all(cluster, {"bank": gates["bank"], "partner": None})
    for party in ("bank", "partner"):
        assert isinstance(refused[party], ConfigurationError)
        assert "approvals 'required' at 'bank'" in str(refused[party]) or \
            "approvals (not set) at 'partner'" in str(refused[party])


def test_a_party_refuses_to_start_without_its_own_valid_approval(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"])
    with pytest.raises(NotApproved, match="has no approval"):
        Cluster.connect(cluster, me="bank", job="job", approvals=ApprovalGate(None, DIGEST, "run"))
    stale = ApprovalGate(_approve(cluster, "bank", OLD), DIGEST, "run")
    with pytest.raises(NotApproved, match="another version of the job"):
        Cluster.connect(cluster, me="bank", job="job", approvals=stale)


def test_a_peer_replaying_an_approval_of_an_older_job_file_is_refused(tmp_path):
    """The peer side of the check, fed the hello a dishonest peer would send."""
    cluster = write_cluster(tmp_path, ["bank", "partner"])
    cfg = load_cluster_config(cluster)
    _, check = approval_exchange(ApprovalGate(_approve(cluster, "bank"), DIGEST, "run"), cfg, "bank", "job")
    check("partner", {"approval": _approve(cluster, "partner").to_wire()})
    with pytest.raises(NotApproved, match="'partner' approved job file sha256 bbbb"):
        check("partner", {"approval": _approve(cluster, "partner", OLD).to_wire()})
    with pytest.raises(NotApproved, match="does not verify"):  # bank's key cannot speak for partner
        forged = _approve(cluster, "bank").to_wire().replace(b'"party": "bank"', b'"party": "partner"')
        check("partner", {"approval": forged})
    with pytest.raises(NotApproved, match="presented no approval"):
        check("partner", {})
