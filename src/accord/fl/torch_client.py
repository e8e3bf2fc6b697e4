"""PyTorch modules as federated clients (optional extra: ``pip install 'accord[torch]'``, CPU).

:class:`TorchClient` adapts an ``nn.Module`` and the client's tensors to the :class:`NumPyClient`
API: parameters travel as the float32 arrays of the module's ``state_dict`` (in its order), so the
same aggregator, strategies and SecAgg+ serve numpy and torch models alike. Batch order is drawn
from accord's CSPRNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.errors import UnsupportedError
from accord.fl.client import NumPyClient
from accord.fl.messages import Config


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise UnsupportedError("PyTorch clients need torch: pip install 'accord[torch]'") from None
    return torch


def get_parameters(module: Any) -> list[np.ndarray]:
    """The module's state as float32 numpy arrays, in ``state_dict`` order."""
    return [t.detach().cpu().numpy().astype(np.float32, copy=True) for t in module.state_dict().values()]


def set_parameters(module: Any, parameters: list[np.ndarray]) -> None:
    """Load float arrays (in ``state_dict`` order) into the module."""
    torch = _torch()
    keys = list(module.state_dict())
    if len(keys) != len(parameters):
        raise ValueError(f"the module has {len(keys)} tensors, got {len(parameters)} arrays")
    state = {k: torch.as_tensor(np.asarray(p)).to(module.state_dict()[k].dtype) for k, p in zip(keys, parameters)}
    module.load_state_dict(state, strict=True)


class TorchClient(NumPyClient):
    """A classifier ``module`` trained with SGD and cross-entropy on ``(x, y)``.

    Fit reads ``epochs``, ``lr``, ``batch_size`` and ``proximal_mu`` from the round's config, as
    :class:`accord.fl.models.ModelClient` does.
    """

    def __init__(self, module: Any, x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, rng: Rng | None = None) -> None:
        torch = _torch()
        self.module = module
        self.x, self.y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
        self.x_test = self.x if x_test is None else torch.as_tensor(x_test, dtype=torch.float32)
        self.y_test = self.y if y_test is None else torch.as_tensor(y_test, dtype=torch.long)
        self.rng = rng or Rng()

    def get_parameters(self, config: Config) -> list[np.ndarray]:
        return get_parameters(self.module)

    def fit(self, parameters: list[np.ndarray], config: Config) -> tuple[list[np.ndarray], int, dict[str, float]]:
        torch = _torch()
        set_parameters(self.module, parameters)
        anchor = [p.detach().clone() for p in self.module.parameters()]
        mu = float(config.get("proximal_mu", 0.0))
        optimiser = torch.optim.SGD(self.module.parameters(), lr=float(config.get("lr", 0.1)))
        batch = int(config.get("batch_size", 32))
        self.module.train()
        for _ in range(int(config.get("epochs", 1))):
            order = torch.as_tensor(self.rng.permutation(len(self.y)))
            for start in range(0, len(order), batch):
                rows = order[start:start + batch]
                optimiser.zero_grad()
                loss = torch.nn.functional.cross_entropy(self.module(self.x[rows]), self.y[rows])
                if mu:
                    loss = loss + mu / 2 * sum(((p - a) ** 2).sum() for p, a in zip(self.module.parameters(), anchor))
                loss.backward()
                optimiser.step()
        return get_parameters(self.module), len(self.y), {}

    def evaluate(self, parameters: list[np.ndarray], config: Config) -> tuple[float, int, dict[str, float]]:
        torch = _torch()
        set_parameters(self.module, parameters)
        self.module.eval()
        with torch.no_grad():
            logits = self.module(self.x_test)
            loss = float(torch.nn.functional.cross_entropy(logits, self.y_test))
            accuracy = float((logits.argmax(dim=1) == self.y_test).float().mean())
        return loss, len(self.y_test), {"accuracy": accuracy}
