"""HE between two OS processes over loopback gRPC with mutual TLS: encrypted labels summed per bucket."""

from __future__ import annotations

import numpy as np
import pytest

from tests.procs import run_parties

pytestmark = pytest.mark.slow


def test_partner_sums_bank_labels_per_bucket_over_mtls(tmp_path):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 600)
    groups = rng.integers(0, 20, 600)
    args = {"labels": labels.tolist(), "groups": groups.tolist(), "n_groups": 20, "bits": 2048, "workers": 2}
    runs = run_parties(tmp_path, "tests.integration.he_drivers:bucket_labels_driver", ["bank", "partner"], args)
    for run in runs.values():
        assert run.returncode == 0, run.stderr
        assert "error" not in run.result, run.result
    bank, partner = runs["bank"].result, runs["partner"].result
    assert bank["sums"] == np.bincount(groups, weights=labels, minlength=20).astype(int).tolist()
    expected = np.stack([np.bincount(groups, weights=labels * w, minlength=20) for w in (0.5, -0.25)], axis=1)
    np.testing.assert_allclose(bank["histogram"], expected, atol=1e-4)
    assert any("Paillier-2048" in note for note in bank["notes"])
    assert {"he.paillier.setup", "he.paillier.send", "he.paillier.decrypt"} <= set(bank["protocols"])
    assert partner["bytes_received"] > 600 * 512  # 600 ciphertexts of 4096 bits, then 600 packed ones
