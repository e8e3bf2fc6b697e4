"""Private set intersection: align, intersect or count two parties' tables without revealing the rest.

See :mod:`accord.psi.ecdh` for the protocol, its threat model and its leakage.
"""

from accord.psi.api import align, count, intersect

__all__ = ["align", "count", "intersect"]
