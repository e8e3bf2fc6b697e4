"""A driver that asks for the test-only self-dealer MPC mode in production (see tests/procs.py)."""

from __future__ import annotations

from typing import Any

import accord


def self_dealer_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """Opt in to the insecure mode as a test would; production must refuse it anyway."""
    cluster.mpc(["bank", "partner"], mode="insecure-self-dealer", allow_insecure_test_mode=True)
    return {"accepted": True}
