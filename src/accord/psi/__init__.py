"""Private set intersection: align, intersect or count two parties' tables without revealing the rest.

Three protocols: :mod:`accord.psi.rr22` (silent VOLE, the fastest; the default for joins),
:mod:`accord.psi.kkrt` (OT-based) and :mod:`accord.psi.ecdh` (the default for counts); each module
states its threat model and leakage, and :func:`choose_protocol` how the default is picked.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.psi.api import align, choose_protocol, count, intersect

__all__ = ["align", "choose_protocol", "count", "intersect"]
__getattr__, __dir__ = exports(__name__, {
    "accord.psi.api": ["align", "choose_protocol", "count", "intersect"],
})
