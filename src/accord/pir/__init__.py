"""Keyword PIR (labeled unbalanced PSI): a client looks keys up in a server's large set without revealing them.

The server encodes its set once with an RFC 9497 VOPRF key (:func:`build`); a client downloads the
encoded table once per build (:func:`sync`) and then asks any number of keys, one round trip per batch
(:func:`query`). :mod:`accord.pir.protocol` states what each side learns.
"""

from accord.pir.api import build, query, sync

__all__ = ["build", "query", "sync"]
