"""RR22 PSI: private set intersection from silent VOLE and an oblivious key-value store.

Raghuraman and Rindal, "Blazing Fast PSI from Improved OKVS and Subfield VOLE", CCS 2022 (the
semi-honest "fast" variant over GF(2^128)). Semi-honest, two parties, no third party. The driver is
:func:`rr22_psi` (:mod:`accord.psi.rr22.protocol`, which lists messages, rounds and bytes); the OKVS is
:mod:`accord.psi.rr22.okvs` and the VOLE :mod:`accord.correlations.silent`.
"""

from accord.psi.rr22.protocol import rr22_psi

__all__ = ["rr22_psi"]
