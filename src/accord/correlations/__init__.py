"""Correlated randomness that two parties generate together: the layer the PSI and MPC protocols share.

Chou-Orlandi base OT and IKNP extension (:mod:`accord.correlations.ot`), used by KKRT PSI and by the
dealer-free two-party MPC provider; silent VOLE over GF(2^128) and silent correlated OT from LPN-style
expansion (:mod:`accord.correlations.silent`, with the code and its parameters' security level in
:mod:`~accord.correlations.lpn`, the punctured PRF trees in :mod:`~accord.correlations.ggm` and the
field arithmetic in :mod:`~accord.correlations.gf128`), used by RR22 PSI. These are protocols over a
:class:`~accord.runtime.Context`, so they sit above the runtime and below the protocols that consume
them; raw correlations are a lower-tier primitive (docs/architecture.md), not a driver API.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.correlations.silent import VOLEReceiver, VOLESender

__all__ = ["VOLEReceiver", "VOLESender"]
__getattr__, __dir__ = exports(__name__, {
    "accord.correlations.silent": ["VOLEReceiver", "VOLESender"],
})
