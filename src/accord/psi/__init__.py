"""Private set intersection: align, intersect or count two parties' tables without revealing the rest.

Three protocols: :mod:`accord.psi.rr22` (silent VOLE, the fastest; the default for joins),
:mod:`accord.psi.kkrt` (OT-based) and :mod:`accord.psi.ecdh` (the default for counts); each module
states its threat model and leakage, and :func:`choose_protocol` how the default is picked. Tables too
large for one PSI in memory go through :func:`join_files` (:mod:`accord.psi.bucket`), which runs any of
them bucket by bucket.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.psi.api import align, choose_protocol, count, intersect
    from accord.psi.bucket import join_files

__all__ = ["align", "choose_protocol", "count", "intersect", "join_files"]
__getattr__, __dir__ = exports(__name__, {
    "accord.psi.api": ["align", "choose_protocol", "count", "intersect"],
    "accord.psi.bucket.driver": ["join_files"],
})
