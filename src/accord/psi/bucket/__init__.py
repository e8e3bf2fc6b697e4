"""Bucketed PSI with bounded memory: hash both tables into buckets, spill them to disk, run a PSI per bucket.

For tables too large for one PSI in memory (10^7 rows and more). The driver is
:func:`accord.psi.join_files` (:mod:`accord.psi.bucket.driver`); the protocol, its rounds and what the
bucketing reveals are in :mod:`accord.psi.bucket.protocol`; the on-disk state that lets a killed run
resume from its completed buckets in :mod:`accord.psi.bucket.state`; buckets in parallel on a process pool
or the party's Ray cluster, with a bucket a dead worker lost run again, in :mod:`accord.psi.bucket.pool`
and :mod:`accord.psi.bucket.executors`.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.psi.bucket.driver import join_files
    from accord.psi.bucket.protocol import BucketSettings, bucketed_psi

__all__ = ["BucketSettings", "bucketed_psi", "join_files"]
__getattr__, __dir__ = exports(__name__, {
    "accord.psi.bucket.driver": ["join_files"],
    "accord.psi.bucket.protocol": ["BucketSettings", "bucketed_psi"],
})
