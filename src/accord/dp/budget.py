"""Privacy budgets: what a release may spend, and the cap a data owner sets on a dataset."""

from __future__ import annotations

import math
from dataclasses import dataclass

from accord.dp.accounting import check_delta


@dataclass(frozen=True)
class Budget:
    """An (ε, δ) amount: the privacy loss one release may cost, or the cap of a dataset's ledger.

    ``delta=0`` asks for pure ε-DP, which the mechanisms meet with discrete Laplace noise; ``delta > 0``
    lets them use discrete Gaussian noise calibrated so that the release is (ε, δ)-DP.

    Examples
    --------
    >>> Budget(epsilon=1.0)
    Budget(epsilon=1.0, delta=0.0)
    >>> Budget(epsilon=0)
    Traceback (most recent call last):
    ...
    ValueError: epsilon must be a positive finite number, got 0
    """

    epsilon: float
    delta: float = 0.0

    def __post_init__(self) -> None:
        eps = self.epsilon
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0 < eps < math.inf:
            raise ValueError(f"epsilon must be a positive finite number, got {eps!r}")
        check_delta(self.delta)
        object.__setattr__(self, "epsilon", float(eps))
        object.__setattr__(self, "delta", float(self.delta))

    def split(self, parts: int) -> Budget:
        """An equal share of this budget for each of ``parts`` releases (basic composition)."""
        if parts < 1:
            raise ValueError(f"cannot split a budget into {parts} parts")
        return Budget(self.epsilon / parts, self.delta / parts)
