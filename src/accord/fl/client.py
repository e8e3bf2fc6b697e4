"""The client API (close to Flower's ``NumPyClient``) and the app that answers the aggregator's instructions.

Users write a :class:`NumPyClient` (get parameters, fit, evaluate) exactly as for Flower; a
:class:`ClientApp` wraps a factory of them and handles every stage, plain or secure. The same app runs
inside the simulation (one factory call per instruction, so clients hold no state between rounds
beyond a few kilobytes of SecAgg keys) and behind :func:`accord.fl.grpc_client.connect` in a separate
process.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.errors import AccordError, InputError, ProtocolAbort
from accord.fl.dp import encode_noisy
from accord.fl.messages import (
    Config,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    Instruction,
    JoinIns,
    Reply,
    Stage,
)
from accord.fl.secagg import client as secagg
from accord.fl.secagg.client import ClientState
from accord.fl.secagg.messages import CollectIns, SecAggStage, SetupIns, ShareKeysIns, UnmaskIns
from accord.fl.secagg.quantize import encode_update

log = logging.getLogger(__name__)
AGGREGATOR = "aggregator"


class NumPyClient(ABC):
    """A federated client over lists of numpy arrays (the shape of Flower's ``NumPyClient``)."""

    @abstractmethod
    def get_parameters(self, config: Config) -> list[np.ndarray]:
        """The client's current model parameters."""

    @abstractmethod
    def fit(self, parameters: list[np.ndarray], config: Config) -> tuple[list[np.ndarray], int, dict[str, float]]:
        """Train from ``parameters``; return the new parameters, the number of examples used and metrics."""

    def evaluate(self, parameters: list[np.ndarray], config: Config) -> tuple[float, int, dict[str, float]]:
        """Loss, number of examples and metrics of ``parameters`` on local held-out data."""
        raise NotImplementedError(f"{type(self).__name__} does not implement evaluate")


@dataclass
class NodeState:
    """What one client keeps between instructions: its CSPRNG and the current SecAgg round's secrets."""

    rng: Rng
    secagg: ClientState | None = None
    secagg_round: int = -1


class ClientApp:
    """Answers the aggregator's instructions for one client at a time.

    Parameters
    ----------
    client_fn:
        ``client_fn(cid) -> NumPyClient``; called for each fit or evaluate instruction.
    on_join:
        Optional ``on_join(cid, JoinIns)``, called once per job before training (the DP ledger charge).
    """

    def __init__(self, client_fn: Callable[[str], NumPyClient],
                 on_join: Callable[[str, JoinIns], None] | None = None) -> None:
        self.client_fn = client_fn
        self.on_join = on_join

    def handle(self, cid: str, ins: Instruction, node: NodeState) -> Reply:
        """One reply to one instruction; errors become error replies that the aggregator treats as dropouts."""
        try:
            return Reply(ins.id, self._dispatch(cid, ins, node))
        except (AccordError, ValueError, ArithmeticError, NotImplementedError) as exc:
            log.warning("client %s failed at %s of round %d: %s", cid, ins.stage, ins.round, exc)
            if ins.stage.startswith("secagg."):
                node.secagg = None
            return Reply(ins.id, error=f"{type(exc).__name__}: {exc}")

    def _dispatch(self, cid: str, ins: Instruction, node: NodeState) -> dict[str, Any]:
        stage = ins.stage
        if stage == Stage.FIT.value:
            fit = FitIns.from_wire(ins.body, AGGREGATOR)
            delta, n, metrics = self._train(cid, fit)
            return FitRes(delta, n, metrics).to_wire()
        if stage == Stage.EVALUATE.value:
            ev = EvaluateIns.from_wire(ins.body, AGGREGATOR)
            loss, n, metrics = self.client_fn(cid).evaluate(ev.parameters, ev.config)
            return EvaluateRes(float(loss), int(n), {k: float(v) for k, v in metrics.items()}).to_wire()
        if stage == Stage.JOIN.value:
            if self.on_join is not None:
                self.on_join(cid, JoinIns.from_wire(ins.body, AGGREGATOR))
            return {}
        if stage == Stage.SHUTDOWN.value:
            return {}
        return self._secure(cid, ins, node)

    def _train(self, cid: str, fit: FitIns) -> tuple[list[np.ndarray], int, dict[str, float]]:
        new, n, metrics = self.client_fn(cid).fit(fit.parameters, fit.config)
        if len(new) != len(fit.parameters):
            raise InputError(f"fit returned {len(new)} arrays for a model of {len(fit.parameters)}", party=cid)
        delta = []
        for i, (a, b) in enumerate(zip(new, fit.parameters)):
            a = np.asarray(a)
            if a.shape != b.shape:
                raise InputError(f"fit returned array {i} of shape {a.shape}, expected {b.shape}", party=cid)
            d = a.astype(b.dtype) - b
            if not np.all(np.isfinite(d)):
                raise InputError(f"fit returned NaN or infinite values in array {i}", party=cid)
            delta.append(d)
        if int(n) < 1:
            raise InputError(f"fit reported {n} examples", party=cid)
        return delta, int(n), {k: float(v) for k, v in metrics.items()}

    def _secure(self, cid: str, ins: Instruction, node: NodeState) -> dict[str, Any]:
        stage = ins.stage
        if stage == SecAggStage.SETUP.value:
            node.secagg, keys = secagg.setup(node.rng, cid, SetupIns.from_wire(ins.body, AGGREGATOR))
            node.secagg_round = ins.round
            return keys.to_wire()
        state = node.secagg
        if state is None or node.secagg_round != ins.round:
            raise ProtocolAbort(f"client {cid!r} got {stage!r} for round {ins.round} without its setup",
                                party=AGGREGATOR, step=stage)
        if stage == SecAggStage.SHARE_KEYS.value:
            return secagg.share_keys(node.rng, state, ShareKeysIns.from_wire(ins.body, AGGREGATOR, cid)).to_wire()
        if stage == SecAggStage.COLLECT.value:
            collect = CollectIns.from_wire(ins.body, AGGREGATOR, state.neighbours)
            delta, n, _ = self._train(cid, collect.fit)
            flat = np.concatenate([d.reshape(-1) for d in delta]) if delta else np.zeros(0)
            if flat.size != state.setup.dim:
                raise InputError(f"update has {flat.size} values, the round expects {state.setup.dim}", party=cid)
            if state.setup.noise is not None:
                encoded = encode_noisy(node.rng, state.setup.noise, flat, state.setup.quantizer.dtype)
            else:
                weight = min(n, state.setup.max_weight) / state.setup.max_weight
                encoded = encode_update(node.rng, state.setup.quantizer, flat, weight)
            return secagg.collect(state, collect, encoded).to_wire()
        if stage == SecAggStage.UNMASK.value:
            shares = secagg.unmask(state, UnmaskIns.from_wire(ins.body, AGGREGATOR))
            node.secagg = None
            return shares.to_wire()
        raise ProtocolAbort(f"client {cid!r} got an unknown stage {stage!r}", party=AGGREGATOR, step=stage)
