"""Horizontal federated learning: an aggregator, clients that dial out to it, SecAgg+ and DP-FedAvg.

Driver-level surface (see docs/fl.md): :class:`NumPyClient` / :class:`ClientApp` on the client side,
:class:`Aggregator` with a strategy (:class:`FedAvg`, :class:`FedProx`, :class:`FedAdam`,
:class:`FedYogi`) on the aggregator, :class:`SimulatedPool` to run many clients in one process or
:class:`~accord.fl.grpc_server.GRPCPool` / :func:`~accord.fl.grpc_client.connect` across processes,
:class:`SecAggParams` for secure aggregation and :class:`DPFedAvg` for differential privacy.
The ``secagg`` subpackage (crypto, client and server stages) is the lower tier.

Submodules load on first use (:mod:`accord._lazy`), so ``import accord.fl`` stays light.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.fl.client import ClientApp, NumPyClient
    from accord.fl.dp import DPFedAvg
    from accord.fl.models import ModelClient
    from accord.fl.secagg.server import SecAggParams
    from accord.fl.server import Aggregator, EarlyStopping
    from accord.fl.simulation import SimulatedPool
    from accord.fl.strategy import FedAdam, FedAvg, FedProx, FedYogi

__all__ = ["Aggregator", "ClientApp", "DPFedAvg", "EarlyStopping", "FedAdam", "FedAvg", "FedProx", "FedYogi",
           "ModelClient", "NumPyClient", "SecAggParams", "SimulatedPool"]
__getattr__, __dir__ = exports(__name__, {
    "accord.fl.client": ["ClientApp", "NumPyClient"],
    "accord.fl.dp": ["DPFedAvg"],
    "accord.fl.models": ["ModelClient"],
    "accord.fl.secagg.server": ["SecAggParams"],
    "accord.fl.server": ["Aggregator", "EarlyStopping"],
    "accord.fl.simulation": ["SimulatedPool"],
    "accord.fl.strategy": ["FedAdam", "FedAvg", "FedProx", "FedYogi"],
})
