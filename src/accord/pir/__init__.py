"""Keyword PIR (labeled unbalanced PSI): a client looks keys up in a server's large set without revealing them.

The server encodes its set once with an RFC 9497 VOPRF key (:func:`build`); a client downloads the
encoded table once per build (:func:`sync`) and then asks any number of keys, one round trip per batch
(:func:`query`). :mod:`accord.pir.protocol` states what each side learns.

Two joint lookups keep every per-key result secret-shared (:mod:`accord.pir.shared_lookup`):
:func:`intersection_sum` (PSI with associated sums, optional DP) and :func:`joint_debt` (an applicant's
total over several lenders, revealed to the asker only).

Submodules load on first use (:mod:`accord._lazy`), so ``import accord.pir`` stays light.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.pir.api import build, query, sync
    from accord.pir.joint import intersection_sum, intersection_sums, joint_debt

__all__ = ["build", "intersection_sum", "intersection_sums", "joint_debt", "query", "sync"]
__getattr__, __dir__ = exports(__name__, {
    "accord.pir.api": ["build", "query", "sync"],
    "accord.pir.joint": ["intersection_sum", "intersection_sums", "joint_debt"],
})
