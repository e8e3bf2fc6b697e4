"""The vocabulary of SecAgg+: its four stages and the message each side sends in each.

=============  ====================================  =============================================
stage          aggregator -> client                  client -> aggregator
=============  ====================================  =============================================
setup          :class:`SetupIns` (parameters)        :class:`PublicKeys` (two X25519 keys)
share_keys     :class:`ShareKeysIns` (neighbours)    :class:`EncryptedShares` (one per neighbour)
collect        :class:`CollectIns` (shares, model)   :class:`MaskedInput` (masked ring vector)
unmask         :class:`UnmaskIns` (who survived)     :class:`UnmaskShares` (one share per neighbour)
=============  ====================================  =============================================

``from_wire`` validates every field (types, sizes, dtypes, ranges, that names are the expected
neighbours) and raises :class:`~accord.errors.MalformedMessage` naming the sender and the stage.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from accord.fl._wire import Reader
from accord.fl.dp import NoiseSpec
from accord.fl.messages import FitIns
from accord.fl.secagg.crypto import KEY_BYTES, SEED_BYTES
from accord.fl.secagg.quantize import Quantizer, ring_dtype
from accord.fl.secagg.shamir import PRIME, limbs_for

SEED_LIMBS = limbs_for(SEED_BYTES)
KEY_LIMBS = limbs_for(KEY_BYTES)
SHARE_PLAINTEXT = 4 * (SEED_LIMBS + KEY_LIMBS)
SHARE_CIPHERTEXT = SHARE_PLAINTEXT + 16
MAX_CLIENTS = 1 << 20


class SecAggStage(str, Enum):
    """SecAgg+ stages, in order (Bell et al. 2020, Fig. 2; Bonawitz et al. 2017 rounds 0-3)."""

    SETUP = "secagg.setup"
    SHARE_KEYS = "secagg.share_keys"
    COLLECT = "secagg.collect"
    UNMASK = "secagg.unmask"


@dataclass(frozen=True)
class SetupIns:
    """Round parameters: this client's share point ``index``, threshold, ring and quantisation, vector size."""

    round_id: bytes
    index: int
    threshold: int
    quantizer: Quantizer
    dim: int
    max_weight: int
    noise: NoiseSpec | None = None

    def to_wire(self) -> dict[str, Any]:
        q = self.quantizer
        return {"round_id": self.round_id, "index": self.index, "threshold": self.threshold, "clip": q.clip,
                "step": q.step, "bits": q.bits, "max_clients": q.max_clients, "dim": self.dim,
                "max_weight": self.max_weight, "noise": None if self.noise is None else self.noise.to_wire()}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> SetupIns:
        r = Reader(value, peer, SecAggStage.SETUP.value)
        bits = r.integer("bits", 32, 64)
        if bits not in (32, 64):
            raise r.error("bits must be 32 or 64")
        quantizer = Quantizer(r.number("clip", 1e-300, 1e300), r.number("step", 1e-300, 1e300), bits,
                              r.integer("max_clients", 1, MAX_CLIENTS))
        if quantizer.clip / quantizer.step * quantizer.max_clients >= 2.0 ** (bits - 1):
            raise r.error("clip / step * max_clients overflows the ring")
        noise = None
        if r.get("noise", (dict, type(None))) is not None:
            n = r.sub("noise")
            noise = NoiseSpec(n.number("l2_clip", 1e-300, 1e300), n.number("granularity", 1e-300, 1e300),
                              n.number("noise_multiplier", 1e-6, 1e6), n.integer("min_honest", 1, MAX_CLIENTS))
        return cls(r.raw("round_id", 16), r.integer("index", 1, MAX_CLIENTS), r.integer("threshold", 1, MAX_CLIENTS),
                   quantizer, r.integer("dim", 1, 1 << 34), r.integer("max_weight", 1, 1 << 40), noise)


@dataclass(frozen=True)
class PublicKeys:
    """A client's two fresh public keys: ``c`` for share encryption, ``s`` for mask agreement."""

    c: bytes
    s: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"c": self.c, "s": self.s}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> PublicKeys:
        r = Reader(value, peer, SecAggStage.SETUP.value)
        keys = cls(r.raw("c", KEY_BYTES), r.raw("s", KEY_BYTES))
        if keys.c == keys.s:
            raise r.error("the two public keys must differ")
        return keys


@dataclass(frozen=True)
class Neighbour:
    """A neighbour's share point and public keys, as the aggregator forwards them."""

    index: int
    c: bytes
    s: bytes


@dataclass(frozen=True)
class ShareKeysIns:
    """The client's neighbours in the round's graph, with their public keys."""

    neighbours: dict[str, Neighbour]

    def to_wire(self) -> dict[str, Any]:
        return {"neighbours": {n: {"index": v.index, "c": v.c, "s": v.s} for n, v in self.neighbours.items()}}

    @classmethod
    def from_wire(cls, value: Any, peer: str, me: str) -> ShareKeysIns:
        r = Reader(value, peer, SecAggStage.SHARE_KEYS.value)
        out = {}
        for name in r.get("neighbours", dict):
            n = r.sub("neighbours").sub(name)
            out[name] = Neighbour(n.integer("index", 1, MAX_CLIENTS), n.raw("c", KEY_BYTES), n.raw("s", KEY_BYTES))
        if me in out:
            raise r.error("a client cannot be its own neighbour")
        if len({v.index for v in out.values()}) != len(out):
            raise r.error("neighbours must have distinct share points")
        return cls(out)


@dataclass(frozen=True)
class EncryptedShares:
    """One AEAD ciphertext per neighbour, holding that neighbour's shares of this client's two secrets."""

    ciphertexts: dict[str, bytes]

    def to_wire(self) -> dict[str, Any]:
        return {"ciphertexts": dict(self.ciphertexts)}

    @classmethod
    def from_wire(cls, value: Any, peer: str, neighbours: Collection[str]) -> EncryptedShares:
        r = Reader(value, peer, SecAggStage.SHARE_KEYS.value)
        cts = r.sub("ciphertexts")
        if set(cts.value) != set(neighbours):
            raise r.error(f"ciphertexts must be addressed to exactly its {len(neighbours)} neighbours")
        return cls({name: cts.raw(name, SHARE_CIPHERTEXT) for name in cts.value})


@dataclass(frozen=True)
class CollectIns:
    """The ciphertexts neighbours addressed to this client, and the training instruction."""

    ciphertexts: dict[str, bytes]
    fit: FitIns

    def to_wire(self) -> dict[str, Any]:
        return {"ciphertexts": dict(self.ciphertexts), "fit": self.fit.to_wire()}

    @classmethod
    def from_wire(cls, value: Any, peer: str, neighbours: Collection[str]) -> CollectIns:
        r = Reader(value, peer, SecAggStage.COLLECT.value)
        cts = r.sub("ciphertexts")
        if not set(cts.value) <= set(neighbours):
            raise r.error("ciphertexts from clients that are not this client's neighbours")
        return cls({name: cts.raw(name, SHARE_CIPHERTEXT) for name in cts.value},
                   FitIns.from_wire(r.get("fit", dict), peer, SecAggStage.COLLECT.value))


@dataclass(frozen=True)
class MaskedInput:
    """The client's quantised, weighted update plus its weight, hidden by self and pairwise masks."""

    vector: np.ndarray

    def to_wire(self) -> dict[str, Any]:
        return {"vector": self.vector}

    @classmethod
    def from_wire(cls, value: Any, peer: str, dim: int, bits: int) -> MaskedInput:
        r = Reader(value, peer, SecAggStage.COLLECT.value)
        return cls(r.array("vector", (ring_dtype(bits).newbyteorder("<"),), (dim + 1,)))


@dataclass(frozen=True)
class UnmaskIns:
    """Which of the client's neighbours sent a masked input (``survivors``) and which did not (``dropped``)."""

    survivors: list[str]
    dropped: list[str]

    def to_wire(self) -> dict[str, Any]:
        return {"survivors": list(self.survivors), "dropped": list(self.dropped)}

    @classmethod
    def from_wire(cls, value: Any, peer: str) -> UnmaskIns:
        r = Reader(value, peer, SecAggStage.UNMASK.value)
        survivors, dropped = r.names("survivors"), r.names("dropped")
        if set(survivors) & set(dropped):
            raise r.error("a client cannot both survive and drop")
        return cls(survivors, dropped)


@dataclass(frozen=True)
class UnmaskShares:
    """Shares of survivors' self-mask seeds and of dropped clients' mask keys (never both for one client)."""

    seed_shares: dict[str, np.ndarray]
    key_shares: dict[str, np.ndarray]

    def to_wire(self) -> dict[str, Any]:
        return {"seed_shares": dict(self.seed_shares), "key_shares": dict(self.key_shares)}

    @classmethod
    def from_wire(cls, value: Any, peer: str, asked: UnmaskIns) -> UnmaskShares:
        r = Reader(value, peer, SecAggStage.UNMASK.value)
        seeds, keys = r.sub("seed_shares"), r.sub("key_shares")
        if not set(seeds.value) <= set(asked.survivors) or not set(keys.value) <= set(asked.dropped):
            raise r.error("shares for clients it was not asked about")
        out = []
        for part, limbs in ((seeds, SEED_LIMBS), (keys, KEY_LIMBS)):
            checked = {}
            for name, item in part.value.items():
                array = r.check_array(item, f"share of {name!r}", (np.dtype("<i8"),), (limbs,))
                if np.any(array < 0) or np.any(array >= PRIME):
                    raise r.error(f"share of {name!r} is outside the field")
                checked[name] = array
            out.append(checked)
        return cls(out[0], out[1])
