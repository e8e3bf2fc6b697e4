"""Private set intersection: align, intersect or count two parties' tables without revealing the rest.

Two protocols: :mod:`accord.psi.ecdh` (the default) and :mod:`accord.psi.kkrt` (OT-based, faster on
large sets); each module states its threat model and leakage.
"""

from accord.psi.api import align, count, intersect

__all__ = ["align", "count", "intersect"]
