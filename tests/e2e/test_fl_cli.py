"""`accord fl serve` and two `accord fl client` processes over mutual TLS; an unlisted client is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from accord.net.tls import write_party_certificate
from tests.e2e.test_cli import accord, start
from tests.procs import free_ports

pytestmark = pytest.mark.slow


def blobs(n, seed):
    gen = np.random.default_rng(seed)  # public synthetic test data
    y = gen.integers(0, 2, n)
    x = gen.normal(size=(n, 4)) + 1.5 * y[:, None]
    return pd.DataFrame({**{f"f{i}": x[:, i] for i in range(4)}, "label": y})


def test_federated_job_as_three_processes(tmp_path):
    certs = tmp_path / "certs"
    for name in ("aggregator", "branch-a", "branch-b", "intruder"):
        write_party_certificate(name, certs)
    job = {"name": "e2e", "rounds": 3, "label": "label", "timeout": 60,
           "aggregator": {"address": f"127.0.0.1:{free_ports(1)[0]}", "cert": "certs/aggregator.crt",
                          "key": "certs/aggregator.key"},
           "clients": {"branch-a": {"cert": "certs/branch-a.crt"}, "branch-b": {"cert": "certs/branch-b.crt"}},
           "model": {"kind": "softmax", "features": 4, "classes": 2},
           "strategy": {"name": "fedavg", "config": {"epochs": 2, "lr": 0.1}},
           "secure": {"clip": 4.0, "max_weight": 1000}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    for i, name in enumerate(("branch-a", "branch-b")):
        blobs(300, i).to_csv(tmp_path / f"{name}.csv", index=False)
    blobs(50, 9).to_csv(tmp_path / "intruder.csv", index=False)

    server = start("fl", "serve", "job.yaml", "--out", "model.npz", "--report", "report.json", "--wait", 60,
                   cwd=tmp_path)
    # A client whose certificate the job file does not list: the aggregator refuses it at the TLS handshake.
    (tmp_path / "intruder.yaml").write_text(yaml.safe_dump({**job, "clients": {
        **job["clients"], "intruder": {"cert": "certs/intruder.crt"}}}))
    intruder = accord("fl", "client", "intruder.yaml", "--me", "intruder", "--data", "intruder.csv", "--key",
                      "certs/intruder.key", cwd=tmp_path)
    assert intruder.returncode == 7, intruder.stderr
    assert "refused" in intruder.stderr or "mutual TLS" in intruder.stderr
    clients = [start("fl", "client", "job.yaml", "--me", n, "--data", f"{n}.csv", "--key", f"certs/{n}.key",
                     cwd=tmp_path) for n in ("branch-a", "branch-b")]

    outs = [p.communicate(timeout=120) for p in (server, *clients)]
    for proc, (out, err) in zip((server, *clients), outs):
        assert proc.returncode == 0, err
    assert "round 3: 2/2 clients" in outs[0][0] and "fl.secagg+: threat model" in outs[0][0]
    params = np.load(tmp_path / "model.npz")
    test = blobs(500, 7)
    logits = test[[f"f{i}" for i in range(4)]].to_numpy() @ params["arr_0"] + params["arr_1"]
    assert (logits.argmax(axis=1) == test["label"].to_numpy()).mean() > 0.85
