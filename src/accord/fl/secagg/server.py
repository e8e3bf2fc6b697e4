"""The aggregator's side of SecAgg+: four stages that end with the sum of the surviving clients' updates.

SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova, CCS 2020), which generalises SecAgg (Bonawitz et
al., CCS 2017) from the complete graph to k = O(log n) neighbours:

1. *setup*: each sampled client draws two X25519 key pairs and returns the public keys (U1);
2. *share_keys*: over a random Harary graph among U1, each client Shamir-shares (threshold t) its
   self-mask seed and its mask private key with its neighbours, encrypted to each (U2);
3. *collect*: each client trains, quantises its weighted update into Z_{2^bits}, and adds its self
   mask and a +/- pairwise mask per neighbour in U2 (U3);
4. *unmask*: each client in U3 reveals, per neighbour, the seed share if that neighbour is in U3 or
   the key share if it dropped; the aggregator rebuilds them from t shares and removes all masks.

Threat model: semi-honest aggregator, which may collude with clients as long as fewer than ``t`` of
any honest client's neighbours are corrupted. Leakage: the aggregator learns the sum of the updates
of the clients in U3 and the sets U1..U4 (who dropped when); clients learn nothing about others'
updates. With the Harary graph over a random order, the guarantee that the honest survivors form
one connected component (so only their total is revealed) holds with high probability (Bell et al.,
Thm. 3.4 for random graphs of this degree). Not covered: a malicious aggregator that lies about
who dropped (SecAgg's consistency round), or malicious clients that send out-of-range inputs.

Any failure to reach ``t`` live neighbours aborts the round with :class:`~accord.errors.ProtocolAbort`
naming the client and stage; a round never publishes a sum that still holds a mask or that includes
a client only partly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.errors import MalformedMessage, ProtocolAbort
from accord.fl.dp import NoiseSpec
from accord.fl.messages import FitIns
from accord.fl.pool import ClientPool
from accord.fl.secagg import crypto, shamir
from accord.fl.secagg.client import mask_info
from accord.fl.secagg.graph import default_degree, default_threshold, harary
from accord.fl.secagg.messages import (
    KEY_BYTES,
    SEED_BYTES,
    CollectIns,
    EncryptedShares,
    MaskedInput,
    Neighbour,
    PublicKeys,
    SecAggStage,
    SetupIns,
    ShareKeysIns,
    UnmaskIns,
    UnmaskShares,
)
from accord.fl.secagg.quantize import Quantizer, decode_update_sum
from accord.runtime.report import ProtocolSpec

SPEC = ProtocolSpec(
    "fl.secagg+",
    threat_model="semi-honest aggregator; up to t-1 corrupted clients among any honest client's k neighbours "
                 "(SecAgg+, Bell et al. 2020)",
    leakage="aggregator learns the sum of the surviving clients' updates and which clients dropped at each stage; "
            "clients learn nothing about other clients' updates",
)


@dataclass(frozen=True)
class SecAggParams:
    """Secure aggregation settings.

    Parameters
    ----------
    degree:
        Neighbours per client k (default 2 * ceil(log2 n), capped at n - 1).
    threshold:
        Shares needed to rebuild a secret, t (default floor(k / 2) + 1).
    clip:
        Each coordinate of an update is clipped to [-clip, clip] before quantisation (default 8.0).
    ring_bits:
        Ring Z_{2^bits} of masks and sums, 32 or 64 (default 32).
    max_weight:
        Example count at which a client's weight saturates (weight = min(n, max_weight) / max_weight).
    """

    degree: int | None = None
    threshold: int | None = None
    clip: float = 8.0
    ring_bits: int = 32
    max_weight: int = 1


@dataclass
class AggregateResult:
    """The unmasked aggregate and who took part."""

    weighted_sum: np.ndarray
    total_weight: float
    survivors: list[str]
    dropped: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def _abort(round_number: int, stage: SecAggStage, why: str, party: str | None = None) -> ProtocolAbort:
    return ProtocolAbort(f"secure aggregation of round {round_number} aborted at stage {stage.value!r}: {why}",
                         party=party, step=stage.value)


class SecAggRound:
    """One round of SecAgg+ at the aggregator; :meth:`run` drives the four stages through a pool."""

    def __init__(self, pool: ClientPool, round_number: int, clients: list[str], params: SecAggParams, dim: int,
                 rng: Rng, timeout: float, noise: NoiseSpec | None = None) -> None:
        n = len(clients)
        self.k = params.degree if params.degree is not None else default_degree(n)
        self.k = min(self.k, n - 1)
        self.t = params.threshold if params.threshold is not None else default_threshold(self.k)
        if n < 2 or not 1 <= self.t <= self.k:
            raise ValueError(f"secure aggregation needs 2+ clients and 1 <= t <= k (n={n}, k={self.k}, t={self.t})")
        self.pool, self.round, self.clients, self.rng, self.timeout = pool, round_number, clients, rng, timeout
        self.noise = noise
        if noise is None:
            self.quantizer = Quantizer.for_clients(params.clip, n, params.ring_bits)
        else:  # DP-FedAvg: integers in units of the granularity, noise added by the clients
            self.quantizer = Quantizer(noise.l2_clip, noise.granularity, params.ring_bits, n)
        self.dim = dim
        self.max_weight = params.max_weight
        self.round_id = rng.bytes(16)
        self.index = {c: i + 1 for i, c in enumerate(clients)}
        self.result = AggregateResult(np.zeros(0), 0.0, [])

    def _exchange(self, stage: SecAggStage, bodies: dict[str, dict[str, Any]],
                  parse: Callable[[str, Any], Any]) -> dict[str, Any]:
        exchange = self.pool.request(self.round, stage.value, bodies, self.timeout)
        self.result.failures.update({c: f"{stage.value}: {why}" for c, why in exchange.failures.items()})
        out = {}
        for client, body in exchange.replies.items():
            try:
                out[client] = parse(client, body)
            except MalformedMessage as exc:  # a malformed reply counts as a dropout at this stage
                self.result.failures[client] = f"{stage.value}: {exc}"
        self.result.dropped[stage.value] = sorted(set(bodies) - set(out))
        if len(out) < self.t:
            raise _abort(self.round, stage, f"only {len(out)} clients answered, fewer than the threshold t={self.t}")
        return out

    def run(self, fit: FitIns) -> AggregateResult:
        """All four stages; returns the sum of the weighted updates of the clients that completed stage 3."""
        keys = self._setup()
        graph = harary(self.rng, list(keys), min(self.k, len(keys) - 1))
        shares = self._share_keys(keys, graph)
        live = self._prune(graph, set(shares))
        total, survivors = self._collect(graph, shares, live, fit)
        self._unmask(keys, graph, live, survivors, total)
        return self.result

    def _setup(self) -> dict[str, PublicKeys]:
        bodies = {c: SetupIns(self.round_id, self.index[c], self.t, self.quantizer, self.dim,
                              self.max_weight, self.noise).to_wire() for c in self.clients}
        keys = self._exchange(SecAggStage.SETUP, bodies, lambda c, body: PublicKeys.from_wire(body, c))
        if len(keys) <= self.t:
            raise _abort(self.round, SecAggStage.SETUP, f"only {len(keys)} clients answered; each needs t={self.t} "
                         "neighbours, so at least t + 1 must take part")
        seen: set[bytes] = set()
        for client, pk in list(keys.items()):  # a repeated key would make two clients' masks cancel
            if pk.c in seen or pk.s in seen:
                raise _abort(self.round, SecAggStage.SETUP, f"client {client!r} reused a public key", client)
            seen.update((pk.c, pk.s))
        return keys

    def _share_keys(self, keys: dict[str, PublicKeys], graph: dict[str, list[str]]) -> dict[str, EncryptedShares]:
        bodies = {c: ShareKeysIns({n: _neighbour(self.index[n], keys[n]) for n in graph[c]}).to_wire()
                  for c in keys}
        return self._exchange(SecAggStage.SHARE_KEYS, bodies,
                              lambda c, body: EncryptedShares.from_wire(body, c, graph[c]))

    def _prune(self, graph: dict[str, list[str]], shared: set[str]) -> set[str]:
        """Drop clients with fewer than t neighbours that shared keys, until every remaining one has t."""
        live = set(shared)
        while True:
            weak = {c for c in live if len(live.intersection(graph[c])) < self.t}
            if not weak:
                break
            live -= weak
        if len(live) < self.t:
            raise _abort(self.round, SecAggStage.SHARE_KEYS, f"only {len(live)} clients keep t={self.t} live "
                         "neighbours, fewer than the threshold")
        self.result.dropped[SecAggStage.SHARE_KEYS.value] = sorted(set(self.clients) - live)
        return live

    def _collect(self, graph: dict[str, list[str]], shares: dict[str, EncryptedShares], live: set[str],
                 fit: FitIns) -> tuple[np.ndarray, set[str]]:
        bodies = {c: CollectIns({u: shares[u].ciphertexts[c] for u in graph[c] if u in live}, fit).to_wire()
                  for c in sorted(live)}
        total = np.zeros(self.dim + 1, dtype=self.quantizer.dtype)

        def add(client: str, body: Any) -> None:
            nonlocal total
            total += MaskedInput.from_wire(body, client, self.dim, self.quantizer.bits).vector

        return total, set(self._exchange(SecAggStage.COLLECT, bodies, add))

    def _unmask(self, keys: dict[str, PublicKeys], graph: dict[str, list[str]], live: set[str],
                survivors: set[str], total: np.ndarray) -> None:
        stage = SecAggStage.UNMASK
        dropped = live - survivors
        for client in sorted(live):
            holders = survivors.intersection(graph[client])
            if len(holders) < self.t:
                raise _abort(self.round, stage, f"the masks of client {client!r} need t={self.t} of its neighbours, "
                             f"but only {len(holders)} sent a masked input", client)
        asks = {c: UnmaskIns(sorted(survivors.intersection(graph[c])), sorted(dropped.intersection(graph[c])))
                for c in sorted(survivors)}
        answers = self._exchange(stage, {c: a.to_wire() for c, a in asks.items()},
                                 lambda c, body: UnmaskShares.from_wire(body, c, asks[c]))
        dtype = self.quantizer.dtype
        for client in sorted(survivors):
            seed = self._rebuild(client, "seed_shares", answers, SEED_BYTES)
            total -= crypto.expand_mask(seed, self.dim + 1, dtype)
        for client in sorted(dropped):
            private = self._rebuild(client, "key_shares", answers, KEY_BYTES)
            if crypto.public_key(private) != keys[client].s:
                raise _abort(self.round, stage, f"the rebuilt mask key of dropped client {client!r} does not match "
                             "its public key (a neighbour sent a wrong share)", client)
            for other in survivors.intersection(graph[client]):
                seed = crypto.agree(private, keys[other].s, mask_info(self.round_id, client, other))
                mask = crypto.expand_mask(seed, self.dim + 1, dtype)
                if self.index[other] < self.index[client]:  # ``other`` added this mask; take it out
                    total -= mask
                else:
                    total += mask
        if self.noise is None:
            weighted, weight = decode_update_sum(self.quantizer, total)
        else:  # the noisy sum in model units, and the number of clients in it
            values = self.quantizer.decode_sum(total)
            weighted, weight = values[:-1], float(values[-1]) / self.quantizer.step
        self.result.weighted_sum, self.result.total_weight = weighted, weight
        self.result.survivors = sorted(survivors)

    def _rebuild(self, client: str, kind: str, answers: dict[str, UnmaskShares], nbytes: int) -> bytes:
        found = [(self.index[h], getattr(a, kind)[client]) for h, a in answers.items() if client in getattr(a, kind)]
        if len(found) < self.t:
            raise _abort(self.round, SecAggStage.UNMASK, f"only {len(found)} neighbours returned shares of client "
                         f"{client!r}, fewer than t={self.t}", client)
        xs = np.array([x for x, _ in found], dtype=np.int64)
        limbs = shamir.combine(xs, np.stack([s for _, s in found]), self.t)
        try:
            return shamir.from_limbs(limbs, nbytes)
        except ValueError as exc:
            raise _abort(self.round, SecAggStage.UNMASK, f"shares of client {client!r}: {exc}", client) from None


def _neighbour(index: int, keys: PublicKeys) -> Neighbour:
    return Neighbour(index, keys.c, keys.s)
