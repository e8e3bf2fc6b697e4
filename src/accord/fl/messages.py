"""The vocabulary of federated rounds: stages, the request/reply envelope, fit and evaluate messages.

The aggregator drives every exchange: it sends one :class:`Instruction` to each sampled client and
waits (with a deadline) for one :class:`Reply`. Clients never talk to each other; secure aggregation
routes its client-to-client ciphertexts through the aggregator (see :mod:`accord.fl.secagg.messages`).
Each message is a frozen dataclass whose ``to_wire`` gives a value for the typed codec and whose
``from_wire`` validates a decoded value, raising :class:`~accord.errors.MalformedMessage` that names the
sender and the stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from accord.fl._wire import Reader

FLOATS = (np.dtype("<f4"), np.dtype("<f8"))
MAX_ROUND = 1 << 40
Config = dict[str, "int | float | str | bool"]


class Stage(str, Enum):
    """Stages of the plain federated round (secure aggregation adds its own, in its messages module)."""

    JOIN = "join"
    FIT = "fit"
    EVALUATE = "evaluate"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class Instruction:
    """What the aggregator asks of one client: ``stage`` of ``round`` with a stage-specific ``body``."""

    run: str
    round: int
    stage: str
    id: int
    body: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"run": self.run, "round": self.round, "stage": self.stage, "id": self.id, "body": self.body}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> Instruction:
        r = Reader(value, peer, "instruction")
        return cls(r.get("run", str), r.integer("round", 0, MAX_ROUND), r.get("stage", str),
                   r.integer("id", 0, 1 << 62), r.get("body", dict))


@dataclass(frozen=True)
class Reply:
    """A client's answer to the instruction numbered ``id``: a body, or the error that stopped it."""

    id: int
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "body": self.body, "error": self.error}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> Reply:
        r = Reader(value, peer, "reply")
        return cls(r.integer("id", 0, 1 << 62), r.get("body", dict), r.get("error", str))


def check_config(r: Reader, name: str) -> Config:
    config = r.get(name, dict)
    for key, item in config.items():
        if not isinstance(item, (int, float, str, bool)):
            raise r.error(f"config value {key!r} must be a number, string or bool, got {type(item).__name__}")
    return config


def check_parameters(r: Reader, name: str, shapes: Sequence[tuple[int, ...]] | None) -> list[np.ndarray]:
    """A list of finite float arrays, matching ``shapes`` when the receiver knows them."""
    items = r.get(name, list)
    if shapes is not None and len(items) != len(shapes):
        raise r.error(f"{name} holds {len(items)} arrays, expected {len(shapes)}")
    return [r.check_array(a, f"{name}[{i}]", FLOATS, None if shapes is None else tuple(shapes[i]), finite=True)
            for i, a in enumerate(items)]


@dataclass(frozen=True)
class FitIns:
    """Train from ``parameters`` (the global model) with ``config`` (epochs, learning rate, proximal mu...)."""

    parameters: list[np.ndarray]
    config: Config

    def to_wire(self) -> dict[str, Any]:
        return {"parameters": list(self.parameters), "config": dict(self.config)}

    @classmethod
    def from_wire(cls, value: Any, peer: str, stage: str = Stage.FIT.value) -> FitIns:
        r = Reader(value, peer, stage)
        return cls(check_parameters(r, "parameters", None), check_config(r, "config"))


@dataclass(frozen=True)
class FitRes:
    """A plain (not securely aggregated) update: ``delta`` = trained minus global, and the example count."""

    delta: list[np.ndarray]
    num_examples: int
    metrics: dict[str, float]

    def to_wire(self) -> dict[str, Any]:
        return {"delta": list(self.delta), "num_examples": self.num_examples, "metrics": dict(self.metrics)}

    @classmethod
    def from_wire(cls, value: Any, peer: str, shapes: Sequence[tuple[int, ...]], clip: float | None) -> FitRes:
        r = Reader(value, peer, Stage.FIT.value)
        delta = check_parameters(r, "delta", shapes)
        if clip is not None and any(np.any(np.abs(d) > clip * (1 + 1e-6)) for d in delta):
            raise r.error(f"the update has values outside the declared clipping range [-{clip}, {clip}]")
        return cls(delta, r.integer("num_examples", 1, 1 << 40), _metrics(r))


@dataclass(frozen=True)
class EvaluateIns:
    """Evaluate ``parameters`` on the client's held-out data."""

    parameters: list[np.ndarray]
    config: Config

    def to_wire(self) -> dict[str, Any]:
        return {"parameters": list(self.parameters), "config": dict(self.config)}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> EvaluateIns:
        r = Reader(value, peer, Stage.EVALUATE.value)
        return cls(check_parameters(r, "parameters", None), check_config(r, "config"))


@dataclass(frozen=True)
class EvaluateRes:
    """Loss and metrics of one client's evaluation, with the number of examples they cover."""

    loss: float
    num_examples: int
    metrics: dict[str, float]

    def to_wire(self) -> dict[str, Any]:
        return {"loss": self.loss, "num_examples": self.num_examples, "metrics": dict(self.metrics)}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> EvaluateRes:
        r = Reader(value, peer, Stage.EVALUATE.value)
        loss = r.number("loss", -1e300, 1e300)
        return cls(loss, r.integer("num_examples", 0, 1 << 40), _metrics(r))


def _metrics(r: Reader) -> dict[str, float]:
    metrics = r.get("metrics", dict)
    for key, item in metrics.items():
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not np.isfinite(item):
            raise r.error(f"metric {key!r} must be a finite number")
    return {k: float(v) for k, v in metrics.items()}


@dataclass(frozen=True)
class JoinIns:
    """Sent once per client before training: the job's privacy plan, for the client to charge its ledger."""

    job: str
    privacy: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"job": self.job, "privacy": dict(self.privacy)}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> JoinIns:
        r = Reader(value, peer, Stage.JOIN.value)
        return cls(r.get("job", str), r.get("privacy", dict))
