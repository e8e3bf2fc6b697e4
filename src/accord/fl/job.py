"""Federated job files: one YAML file that the aggregator and every client read.

```yaml
name: mnist-fl
aggregator: {address: 127.0.0.1:7070, cert: certs/aggregator.crt, key: certs/aggregator.key}
clients: {branch-a: {cert: certs/branch-a.crt}, branch-b: {cert: certs/branch-b.crt}}
model: {kind: softmax, features: 784, classes: 10}      # or {kind: mlp, features: 784, hidden: 64, classes: 10}
label: label                                            # label column of each client's CSV
rounds: 5
strategy: {name: fedavg, fraction_fit: 1.0, min_fit_clients: 2, config: {epochs: 1, lr: 0.1}}
secure: {clip: 8.0, max_weight: 1000}                   # SecAgg+; omit to aggregate in the clear
dp: {l2_clip: 1.0, noise_multiplier: 1.0, sampling_probability: 1.0, delta: 1e-5, min_honest: 2,
     cap: {epsilon: 10, delta: 1e-5}}                   # optional DP-FedAvg (needs secure)
timeout: 120
```
Relative paths are resolved against the job file's folder. Every mistake raises
:class:`~accord.errors.ConfigurationError` naming the field, before any connection is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigurationError
from accord.fl.dp import DPFedAvg
from accord.fl.models import MLP, Model, SoftmaxRegression
from accord.fl.secagg.server import SecAggParams
from accord.fl.strategy import FedAdam, FedAvg, FedProx, FedYogi

STRATEGIES: dict[str, type[FedAvg]] = {"fedavg": FedAvg, "fedprox": FedProx, "fedadam": FedAdam, "fedyogi": FedYogi}


@dataclass
class FLJob:
    """A parsed federated job file."""

    name: str
    address: str
    aggregator_cert: Path
    aggregator_key: Path | None
    clients: dict[str, Path]
    model: Model
    label: str
    rounds: int
    strategy: FedAvg
    secure: SecAggParams | None
    dp: DPFedAvg | None
    dp_cap: tuple[float, float] | None
    timeout: float

    @classmethod
    def load(cls, path: str | Path) -> FLJob:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read FL job file {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigurationError(f"{path}: an FL job file is a YAML map")
        base = path.parent
        agg = _section(raw, "aggregator", path)
        clients = _section(raw, "clients", path)
        if len(clients) < 2:
            raise ConfigurationError(f"{path}: 'clients' must list at least two clients")
        rounds = _int(raw.get("rounds", 1), "rounds", path)
        strategy_raw = dict(raw.get("strategy") or {})
        name = str(strategy_raw.pop("name", "fedavg")).lower()
        if name not in STRATEGIES:
            raise ConfigurationError(f"{path}: strategy.name must be one of {sorted(STRATEGIES)}, got {name!r}")
        try:
            strategy = STRATEGIES[name](**strategy_raw)
            secure = None if raw.get("secure") is None else SecAggParams(**raw["secure"])
            dp_raw = dict(raw.get("dp") or {})
            cap = dp_raw.pop("cap", None)
            dp = None
            if dp_raw:
                dp_raw.setdefault("population", len(clients))
                dp_raw.setdefault("rounds", rounds)
                dp = DPFedAvg(**dp_raw)
        except TypeError as exc:
            raise ConfigurationError(f"{path}: {exc}") from None
        if dp is not None and secure is None:
            raise ConfigurationError(f"{path}: 'dp' needs 'secure' (clients add noise before masking)")
        if dp is not None and not isinstance(cap, dict):
            raise ConfigurationError(f"{path}: dp.cap must give the per-dataset budget {{epsilon, delta}}")
        return cls(
            name=str(raw.get("name", path.stem)), address=str(_need(agg, "address", path)),
            aggregator_cert=base / str(_need(agg, "cert", path)),
            aggregator_key=None if agg.get("key") is None else base / str(agg["key"]),
            clients={str(c): base / str(_need(v or {}, "cert", path)) for c, v in clients.items()},
            model=_model(_section(raw, "model", path), path), label=str(raw.get("label", "label")), rounds=rounds,
            strategy=strategy, secure=secure, dp=dp,
            dp_cap=None if dp is None else (float(cap["epsilon"]), float(cap.get("delta", dp.delta))),
            timeout=float(raw.get("timeout", 120)),
        )


def _section(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path}: '{key}' must be a map")
    return value


def _need(section: dict[str, Any], key: str, path: Path) -> Any:
    if key not in section:
        raise ConfigurationError(f"{path}: missing '{key}'")
    return section[key]


def _int(value: Any, key: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{path}: '{key}' must be a positive integer, got {value!r}")
    return value


def _model(spec: dict[str, Any], path: Path) -> Model:
    kind = spec.get("kind", "softmax")
    features, classes = _int(spec.get("features"), "model.features", path), _int(spec.get("classes"),
                                                                                   "model.classes", path)
    if kind == "softmax":
        return SoftmaxRegression(features, classes)
    if kind == "mlp":
        return MLP(features, _int(spec.get("hidden", 64), "model.hidden", path), classes)
    raise ConfigurationError(f"{path}: model.kind must be 'softmax' or 'mlp', got {kind!r}")
