"""SecureBoost and secure logistic regression with every party in its own process over loopback mTLS."""

from __future__ import annotations

import pytest

from tests.procs import run_parties

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model, parties", [("secureboost", ["bank", "partner"]),
                                            ("lr-dealer", ["bank", "partner", "carol"]),
                                            ("lr-ot", ["bank", "partner"])])
def test_train_and_evaluate_across_processes(tmp_path, model, parties):
    runs = run_parties(tmp_path, "tests.integration.ml_drivers:train_and_score", parties, {"model": model})
    for party, run in runs.items():
        assert run.returncode == 0, f"{party}: {run.stderr[-2000:]}"
    assert runs["bank"].result["auc"] > 0.8 and runs["bank"].result["scored"]
    assert runs["partner"].result == {"auc": None, "scored": None}


@pytest.mark.parametrize("model, parties", [("secureboost", ["bank", "partner"]),
                                            ("lr-dealer", ["bank", "partner", "carol"])])
def test_categoricals_missing_values_text_label_and_constant_column_across_processes(tmp_path, model, parties):
    runs = run_parties(tmp_path, "tests.integration.ml_drivers:mixed_inputs", parties, {"model": model})
    for party, run in runs.items():
        assert run.returncode == 0, f"{party}: {run.stderr[-2000:]}"
    assert runs["bank"].result["auc"] > 0.85
    assert any("partner dropped" in n and "flag" in n for n in runs["partner"].result["notes"])
    assert not any("dropped" in n for n in runs["bank"].result["notes"])  # each process reports its own columns
