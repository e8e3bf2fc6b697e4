"""Correlations made ahead in batches: one OT round trip serves many later operations.

Correlated randomness does not depend on the data, so a provider may make more than an operation
asks for and keep the rest. A dealer-free protocol that needs a fresh batch of OTs for every
operation pays a round trip each time (IKNP's matrix one way, corrections the other); with a stock
per kind of correlation most operations take theirs without any message. Both parties keep the same
stock because they make the same requests in the same order (SPMD), so they refill at the same call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

Make = Callable[[int], tuple[np.ndarray, ...]]


class Pool:
    """Stocks of correlations per kind; a refill makes the request and stock for later ones, ``max_ots`` OTs in all.

    A refill adds what was asked for plus up to seven times as much again (the next operations of the
    same shape) while the whole refill stays within ``max_ots`` OTs: a stream of small requests (a
    training loop) needs a round trip only every eighth time, and a request of ``max_ots`` OTs or more
    makes nothing extra, which a one-off program (a SQL query) would only throw away.
    """

    def __init__(self, max_ots: int = 1 << 20) -> None:
        self.max_ots = max_ots
        self._stock: dict[Hashable, tuple[np.ndarray, ...]] = {}

    def take(self, key: Hashable, count: int, ots_per_item: int, make: Make) -> tuple[np.ndarray, ...]:
        """``count`` items (first axis) of kind ``key``; ``make(n)`` returns ``n`` new ones."""
        stock = self._stock.pop(key, ())
        have = len(stock[0]) if stock else 0
        if have < count:
            extra = min(7 * count, max(0, self.max_ots // max(1, ots_per_item) - count))
            fresh = make(count - have + extra)
            stock = tuple(np.concatenate([s, f]) for s, f in zip(stock, fresh)) if stock else fresh
        if len(stock[0]) > count:
            self._stock[key] = tuple(s[count:] for s in stock)
        return tuple(np.array(s[:count]) for s in stock)
