"""Parameters of a keyword-PIR table, chosen from the set size and the query capacity, with the security stated.

Only two sizes are free. The tag is the part of each entry's OPRF output the client compares with; a
client's query of a key the server does not hold matches some tag with probability ``n / 2^(8 T)``, so
over the table's whole query capacity ``Q`` the tag needs ``40 + log2(n) + log2(Q)`` bits for a false
match below ``2^-40``. The label length is the longest label (or the length asked for): every label is
padded to it, so the client learns that length and nothing about each label's own length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accord.errors import ConfigurationError

STAT_BITS = 40
DEFAULT_CAPACITY = 1 << 30      # queries a table answers in its lifetime (then rebuild it: a fresh key)
DEFAULT_MAX_BATCH = 1 << 16     # queries per run
BLOCK_ENTRIES = 1024            # entries per digest block: what a lookup reads and verifies
MAX_LABEL_BYTES = 1 << 16
MAX_TAG_BYTES = 32
SUITE = "ristretto255-SHA512 VOPRF (RFC 9497)"
COMPUTATIONAL = ("128-bit computational: ristretto255 (RFC 9496) with SHA-512; the client learns one PRF value per "
                 "element it sends (one-more gap Diffie-Hellman), labels are encrypted with pads derived from the "
                 "PRF values")


@dataclass(frozen=True)
class TableParams:
    """The sizes of one table and the guarantees they give."""

    n: int
    tag_bytes: int
    label_bytes: int
    capacity: int
    max_batch: int
    block: int = BLOCK_ENTRIES

    def security(self) -> str:
        """A one-paragraph statement of the security level, for reports and the CLI."""
        bits = 8 * self.tag_bytes - math.log2(self.n) - math.log2(self.capacity)
        return (f"{COMPUTATIONAL}; statistical: a key not in the set matches a tag with probability below "
                f"2^-{math.floor(bits)} over the table's capacity of {self.capacity} queries ({self.tag_bytes}-byte "
                f"tags, {self.n} entries)")


def choose(n: int, label_bytes: int, *, capacity: int = DEFAULT_CAPACITY,
           max_batch: int = DEFAULT_MAX_BATCH) -> TableParams:
    """Parameters for ``n`` entries with ``label_bytes``-byte labels; :class:`ConfigurationError` if impossible."""
    if not isinstance(n, int) or n < 1:
        raise ConfigurationError(f"a PIR table needs at least one entry, got {n!r}")
    if not 1 <= capacity <= 1 << 60:
        raise ConfigurationError(f"capacity must be between 1 and 2^60 queries, got {capacity!r}")
    if not 1 <= max_batch <= capacity:
        raise ConfigurationError(f"max_batch must be between 1 and the capacity ({capacity}), got {max_batch!r}")
    if not 0 <= label_bytes <= MAX_LABEL_BYTES:
        raise ConfigurationError(f"labels must be at most {MAX_LABEL_BYTES} bytes, got {label_bytes}")
    bits = STAT_BITS + math.ceil(math.log2(max(n, 2))) + math.ceil(math.log2(max(capacity, 2)))
    tag = max(8, math.ceil(bits / 8))
    if tag > MAX_TAG_BYTES:
        raise ConfigurationError(f"{n} entries with a capacity of {capacity} queries need {tag}-byte tags; lower "
                                 "the capacity")
    return TableParams(n=n, tag_bytes=tag, label_bytes=label_bytes, capacity=capacity, max_batch=max_batch)
