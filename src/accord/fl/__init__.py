"""Horizontal federated learning: an aggregator, clients that dial out to it, SecAgg+ and DP-FedAvg.

Driver-level surface (see docs/fl.md): :class:`NumPyClient` / :class:`ClientApp` on the client side,
:class:`Aggregator` with a strategy (:class:`FedAvg`, :class:`FedProx`, :class:`FedAdam`,
:class:`FedYogi`) on the aggregator, :class:`SimulatedPool` to run many clients in one process or
:class:`~accord.fl.grpc_server.GRPCPool` / :func:`~accord.fl.grpc_client.connect` across processes,
:class:`SecAggParams` for secure aggregation and :class:`DPFedAvg` for differential privacy.
The ``secagg`` subpackage (crypto, client and server stages) is the lower tier.

Submodules load on first use, so ``import accord.fl`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Aggregator": "accord.fl.server",
    "ClientApp": "accord.fl.client",
    "DPFedAvg": "accord.fl.dp",
    "EarlyStopping": "accord.fl.server",
    "FedAdam": "accord.fl.strategy",
    "FedAvg": "accord.fl.strategy",
    "FedProx": "accord.fl.strategy",
    "FedYogi": "accord.fl.strategy",
    "ModelClient": "accord.fl.models",
    "NumPyClient": "accord.fl.client",
    "SecAggParams": "accord.fl.secagg.server",
    "SimulatedPool": "accord.fl.simulation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'accord.fl' has no attribute {name!r}")
