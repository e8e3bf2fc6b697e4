"""Differential privacy: exact samplers, mechanisms on a party's own table, accounting, budget ledgers.

Samplers draw discrete Laplace and discrete Gaussian noise exactly from the CSPRNG
(:mod:`accord.dp.samplers`); mechanisms release counts, sums, means, histograms and quantiles of a
party's own data (:mod:`accord.dp.mechanisms`, :class:`PrivateTable`); costs are composed by
dp-accounting (:mod:`accord.dp.accounting`) and charged, before any computation, to the data owner's
ledger (:class:`Ledger`). Joint results are noised under the shares before they are opened
(``spu.reveal(x, to=..., dp=Budget(...))``, ``accord.psi.count(..., dp=...)``). See docs/dp.md.

Submodules load on first use (:mod:`accord._lazy`), so ``import accord.dp`` stays light.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.dp.accounting import epsilon
    from accord.dp.budget import Budget
    from accord.dp.ledger import Ledger
    from accord.dp.mechanisms import Release
    from accord.dp.table import PrivateTable

__all__ = ["Budget", "Ledger", "PrivateTable", "Release", "epsilon"]
__getattr__, __dir__ = exports(__name__, {
    "accord.dp.accounting": ["epsilon"],
    "accord.dp.budget": ["Budget"],
    "accord.dp.ledger": ["Ledger"],
    "accord.dp.mechanisms": ["Release"],
    "accord.dp.table": ["PrivateTable"],
})
