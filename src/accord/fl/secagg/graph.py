"""The SecAgg+ communication graph: each client is masked with and shares its secrets among k neighbours.

Bell et al. (2020) show that a random graph of degree k = O(log n) suffices for privacy and dropout
robustness with high probability. Like Flower, accord uses a Harary graph H(n, k) (a ring in which
each node is joined to the k/2 nodes on each side) over a uniformly random order of the clients,
drawn by the aggregator from its CSPRNG at each round; with k >= n - 1 it is the complete graph of
Bonawitz et al. (2017).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from accord.crypto.random import Rng


def default_degree(n: int) -> int:
    """k = 2 * ceil(log2 n), capped at n - 1 (100 clients: 14 neighbours)."""
    if n < 2:
        return 0
    return min(2 * math.ceil(math.log2(n)), n - 1)


def default_threshold(k: int) -> int:
    """t = floor(k / 2) + 1: a majority of a client's neighbours must answer to unmask it."""
    return k // 2 + 1


def harary(rng: Rng, clients: Sequence[str], k: int) -> dict[str, list[str]]:
    """Neighbour lists of H(n, k) over a random order of ``clients`` (symmetric, no self loops)."""
    n = len(clients)
    if not 1 <= k <= n - 1:
        raise ValueError(f"degree {k} must be between 1 and n - 1 = {n - 1}")
    order = [clients[i] for i in rng.permutation(n)]
    if k >= n - 1:
        return {c: [d for d in order if d != c] for c in order}
    half = k // 2
    out: dict[str, set[str]] = {c: set() for c in order}
    for i, c in enumerate(order):
        for j in range(1, half + 1):
            d = order[(i + j) % n]
            out[c].add(d)
            out[d].add(c)
        if k % 2 and n % 2 == 0 and i < n // 2:  # odd k: also join diametrically opposite nodes
            d = order[i + n // 2]
            out[c].add(d)
            out[d].add(c)
    return {c: sorted(v) for c, v in out.items()}
