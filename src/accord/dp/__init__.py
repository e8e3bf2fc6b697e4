"""Differential privacy: exact samplers, mechanisms on a party's own table, accounting, budget ledgers.

Samplers draw discrete Laplace and discrete Gaussian noise exactly from the CSPRNG
(:mod:`accord.dp.samplers`); mechanisms release counts, sums, means, histograms and quantiles of a
party's own data (:mod:`accord.dp.mechanisms`, :class:`PrivateTable`); costs are composed by
dp-accounting (:mod:`accord.dp.accounting`) and charged, before any computation, to the data owner's
ledger (:class:`Ledger`). Joint results are noised under the shares before they are opened
(``spu.reveal(x, to=..., dp=Budget(...))``, ``accord.psi.count(..., dp=...)``). See docs/dp.md.

Submodules load on first use, so ``import accord.dp`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Budget": "accord.dp.budget",
    "Ledger": "accord.dp.ledger",
    "PrivateTable": "accord.dp.table",
    "Release": "accord.dp.mechanisms",
    "epsilon": "accord.dp.accounting",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'accord.dp' has no attribute {name!r}")
