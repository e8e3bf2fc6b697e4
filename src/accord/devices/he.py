"""The driver-level HE device: one party owns a key, others compute on its ciphertexts, only it decrypts.

>>> import numpy as np, accord
>>> with accord.Cluster.simulate(["bank", "partner"]) as cluster:
...     bank, partner = cluster.parties("bank", "partner")
...     he = cluster.he(key_owner="bank", bits=1024, allow_insecure_key_size=True, workers=1)
...     labels = he.encrypt(bank.put(np.array([1, 0, 1, 1])))          # ciphertexts, still at bank
...     at_partner = he.send(labels, to="partner")                     # partner holds ciphertexts only
...     groups = partner.put(np.array([0, 1, 1, 1]))
...     sums = partner.apply(lambda c, g: c.bucket_sum(g, 2), at_partner, groups)
...     he.decrypt(sums).get().tolist()                                # re-randomised, sent back, decrypted
[1, 2]

``cluster.he(key_owner=...)`` runs :func:`setup_paillier`: the owner generates the key and every
other party receives the public key. :meth:`HEDevice.send` runs :func:`send_ciphertexts`, which
re-randomises ciphertexts that are not fresh encryptions before they leave their holder, so the key
owner learns only plaintexts, never how they were computed. :meth:`HEDevice.decrypt` runs
:func:`decrypt_at_owner`. Parties compute locally with ``party.apply`` on
:class:`~accord.he.cipher_array.CipherArray` methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from accord.errors import ConfigurationError
from accord.he.cipher_array import CipherArray, PackedCipherArray
from accord.he.encoding import FixedPoint
from accord.he.engine import Paillier
from accord.he.packing import SlotPacking
from accord.he.paillier import DEFAULT_KEY_BITS, PaillierPublicKey, check_key_bits, security_bits
from accord.he.workers import WorkerPool
from accord.runtime.context import Context
from accord.runtime.report import protocol

if TYPE_CHECKING:
    from accord.runtime.cluster import Cluster, PartyObject

THREAT_MODEL = (
    "semi-honest (passive) parties, no trusted third party; Paillier (g = n + 1) with Damgard-Jurik-Nielsen "
    "short-exponent randomness: semantic security under the decisional composite residuosity assumption plus "
    "indistinguishability of h_s^r for 2*kappa-bit r; re-randomisation by s^n with uniform s is statistical"
)
SETUP_LEAKAGE = "every party learns the key owner's public key (n and the randomness base h_s); nothing else"
SEND_LEAKAGE = (
    "the receiver learns the ciphertexts, their shape, fixed-point scale and magnitude bound (packing layout and "
    "term bound for packed arrays), which derive from declared ranges, public shapes and the operations applied, "
    "never from data; nothing about the plaintexts; ciphertexts that are not fresh encryptions are re-randomised "
    "first, so the key owner learns nothing about how a result was computed"
)
DECRYPT_LEAKAGE = "the key owner learns the plaintexts of the ciphertexts it decrypts; nothing is sent"

_Cipher = CipherArray | PackedCipherArray


@protocol("he.paillier.setup", threat_model=THREAT_MODEL, leakage=SETUP_LEAKAGE)
def setup_paillier(ctx: Context, owner: str, bits: int, frac_bits: int, workers: int | None,
                   allow_insecure_key_size: bool) -> Paillier:
    """Generate a key at ``owner`` and give every other party its public key (one round).

    Each party returns its :class:`~accord.he.engine.Paillier` engine: with the private key at the
    owner, public-only elsewhere. Receivers check the key's form and size
    (:class:`~accord.errors.MalformedMessage` or :class:`~accord.errors.ConfigurationError` naming the owner).
    """
    options: dict[str, Any] = {"encoding": FixedPoint(frac_bits=frac_bits, scalar_frac_bits=frac_bits),
                               "rng": ctx.rng.child("he"), "pool": WorkerPool(workers), "party": ctx.me}
    if ctx.me == owner:
        engine = Paillier.generate(bits, allow_insecure_key_size=allow_insecure_key_size, **options)
        ctx.send_all(engine.public_key.to_wire(), "public-key")
        return engine
    key = PaillierPublicKey.from_wire(ctx.recv(owner, "public-key"), party=owner, step=f"{ctx.path}/public-key",
                                      allow_insecure_key_size=allow_insecure_key_size)
    if key.bits != bits:
        raise ConfigurationError(f"party {owner!r} sent a {key.bits}-bit key, but this job expects {bits} bits")
    return Paillier(key, **options)


@protocol("he.paillier.send", threat_model=THREAT_MODEL, leakage=SEND_LEAKAGE)
def send_ciphertexts(ctx: Context, engine: Paillier, array: _Cipher | None, sender: str,
                     rerandomize: bool | None) -> _Cipher | None:
    """Move ciphertexts from ``sender`` to the other party (one message).

    The sender re-randomises unless ``rerandomize`` is False, or is None and the array is a fresh
    encryption. The receiver checks the key, shape and ``0 < c < n²`` of every ciphertext and binds
    them to its own engine.
    """
    peer = ctx.peers[0]
    if ctx.me == sender:
        if not isinstance(array, (CipherArray, PackedCipherArray)):
            raise TypeError(f"party {ctx.me!r} can only send ciphertexts, got {type(array).__name__}")
        if array.engine.public_key != engine.public_key:
            raise ConfigurationError(f"party {ctx.me!r}: these ciphertexts are not under this device's key")
        if rerandomize or (rerandomize is None and not array.fresh):
            array = array.rerandomize()
        ctx.send(peer, array.to_wire(), "ciphertexts")
        return None
    return engine.receive(ctx.recv(peer, "ciphertexts"), party=peer, step=f"{ctx.path}/ciphertexts")


@protocol("he.paillier.decrypt", threat_model=THREAT_MODEL, leakage=DECRYPT_LEAKAGE)
def decrypt_at_owner(ctx: Context, engine: Paillier, array: _Cipher) -> np.ndarray:
    """Decrypt at the key owner (a local step, recorded so the report says who saw plaintexts)."""
    if not isinstance(array, (CipherArray, PackedCipherArray)):
        raise TypeError(f"party {ctx.me!r} can only decrypt ciphertexts, got {type(array).__name__}")
    return engine.decrypt(array)


class HEDevice:
    """Paillier encryption under a key that only ``key_owner`` can use to decrypt.

    Parameters
    ----------
    cluster:
        The cluster (``cluster.he(...)`` passes itself).
    key_owner:
        The party that generates and keeps the private key.
    bits:
        Modulus size: 2048 (default) or more, e.g. 3072.
    frac_bits:
        Fixed-point fractional bits for reals and real plaintext operands (default 32).
    workers:
        Processes each party uses for large batches (default: all cores).
    allow_insecure_key_size:
        Allow keys under 2048 bits; for tests only, and the report says so.

    Notes
    -----
    Use it as a context manager (``with cluster.he(...) as he:``) or call :meth:`close`, so the
    worker processes of large batches stop with the job. Only Paillier is offered here: CKKS results
    would leak partners' operands to the key owner through their noise (see :mod:`accord.he.ckks`).
    """

    def __init__(self, cluster: Cluster, key_owner: str, *, bits: int = DEFAULT_KEY_BITS, frac_bits: int = 32,
                 workers: int | None = None, allow_insecure_key_size: bool = False) -> None:
        cluster.party(key_owner)
        check_key_bits(bits, allow_insecure_key_size=allow_insecure_key_size)
        self.cluster = cluster
        self.key_owner = key_owner
        self.bits = bits
        self.scheme = f"Paillier-{bits} (DJN randomness, {2 * security_bits(bits)}-bit exponents)"
        args = (key_owner, bits, frac_bits, workers, allow_insecure_key_size)
        learned = {p: "nothing" if p == key_owner else f"{key_owner}'s {self.scheme} public key"
                   for p in cluster.names}
        self._engines: dict[str, PartyObject] = cluster.run(setup_paillier, {p: args for p in cluster.names},
                                                            learned=learned)
        note = f"he: {self.scheme}, key owner {key_owner!r}; security {security_bits(bits)} bits"
        if bits < 2048:
            note += "; key size below 2048 bits: for tests only, NOT secure"
        cluster.report().notes.append(note)

    def engine(self, party: str) -> PartyObject:
        """The party's :class:`~accord.he.engine.Paillier` engine (private key only at the owner)."""
        return self._engines[party]

    def encrypt(self, values: PartyObject) -> PartyObject:
        """Encrypt the owner's array; the result stays at the owner until :meth:`send`."""
        return self._at_owner(values, "encrypt").apply(lambda e, v: e.encrypt(v), self._engines[self.key_owner], values)

    def encrypt_packed(self, values: PartyObject, layout: SlotPacking) -> PartyObject:
        """Encrypt the owner's vectors ``values[..., :layout.slots]`` packed (see :mod:`accord.he.packing`)."""
        return self._at_owner(values, "encrypt_packed").apply(lambda e, v: e.encrypt_packed(v, layout),
                                                              self._engines[self.key_owner], values)

    def send(self, array: PartyObject, to: str, *, rerandomize: bool | None = None) -> PartyObject:
        """Move ciphertexts held by ``array.owner`` to party ``to``; returns the receiver's handle."""
        sender = array.owner
        self.cluster.party(to)
        if to == sender:
            raise ConfigurationError(f"the ciphertexts are already at {to!r}")
        out = self.cluster.run(
            send_ciphertexts,
            {sender: (self._engines[sender], array, sender, rerandomize),
             to: (self._engines[to], None, sender, rerandomize)},
            learned={to: f"{self.scheme} ciphertexts from {sender} (shape and scale only, no plaintexts)",
                     sender: "nothing"},
        )
        return out[to]

    def decrypt(self, array: PartyObject) -> PartyObject:
        """Plaintexts at the key owner (ciphertexts held elsewhere are first sent there, re-randomised)."""
        if array.owner != self.key_owner:
            array = self.send(array, to=self.key_owner)
        out = self.cluster.run(decrypt_at_owner, {self.key_owner: (self._engines[self.key_owner], array)},
                               learned={self.key_owner: "the decrypted plaintexts"})
        return out[self.key_owner]

    def _at_owner(self, values: PartyObject, what: str) -> Any:
        if values.owner != self.key_owner:
            raise ConfigurationError(f"{what}: only the key owner {self.key_owner!r} encrypts here, but the values "
                                     f"belong to {values.owner!r}")
        return self.cluster.party(self.key_owner)

    def close(self) -> None:
        """Stop the worker processes of every party hosted here."""
        for handle in self._engines.values():
            if handle.is_local:
                handle.get().pool.close()

    def __enter__(self) -> HEDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

