"""Correlated randomness that two parties generate together: the layer the PSI and MPC protocols share.

Today: Chou-Orlandi base OT and IKNP extension (:mod:`accord.correlations.ot`), used by KKRT PSI and
by the dealer-free two-party MPC provider. These are protocols over a
:class:`~accord.runtime.Context`, so they sit above the runtime and below the protocols that
consume them; raw OT is a lower-tier primitive (docs/architecture.md), not a driver API.
"""
