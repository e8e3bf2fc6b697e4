"""KKRT PSI: private set intersection from a batched oblivious PRF built on OT extension.

Kolesnikov, Kumaresan, Rosulek and Trieu, "Efficient Batched Oblivious PRF with Applications to
Private Set Intersection", CCS 2016. Semi-honest, two parties, no third party. The protocol driver is
:func:`kkrt_psi` (:mod:`accord.psi.kkrt.protocol`, which lists messages, rounds and bytes); the pure
steps are cuckoo hashing (:mod:`accord.psi.kkrt.cuckoo`) and the OPRF (:mod:`accord.psi.kkrt.oprf`).
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.psi.kkrt.protocol import kkrt_psi

__all__ = ["kkrt_psi"]
__getattr__, __dir__ = exports(__name__, {
    "accord.psi.kkrt.protocol": ["kkrt_psi"],
})
