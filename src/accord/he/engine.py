"""Paillier encryption of numpy arrays: one object binding keys, encoding, randomness and cores.

>>> import numpy as np
>>> from accord.he import Paillier
>>> he = Paillier.generate(1024, allow_insecure_key_size=True)   # 2048 bits (the default) outside tests
>>> x = he.encrypt(np.array([0.5, -1.25]))
>>> partner_view = he.public()                                   # what a partner holds: no private key
>>> he.decrypt(x + np.array([1.0, 1.0])).tolist()
[1.5, -0.25]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gmpy2 import mpz

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, MalformedMessage
from accord.he import _kernels, workers
from accord.he.cipher_array import CipherArray, PackedCipherArray, values_from_wire
from accord.he.encoding import FixedPoint, check_range, unscale
from accord.he.packing import SlotPacking
from accord.he.paillier import (
    DEFAULT_KEY_BITS,
    PaillierPrivateKey,
    PaillierPublicKey,
    decode_signed,
    generate_paillier_keypair,
)
from accord.he.workers import WorkerPool, split

# Approximate single-core costs in microseconds (2048-bit key), used only to decide when to fan out.
_COST_ENCRYPT = 110.0
_COST_MULMOD = 4.7
_COST_INVERT = 22.0
_COST_SQUARING = 3.5


class Paillier:
    """Encrypt, compute on and decrypt numpy arrays under one Paillier key.

    Parameters
    ----------
    public_key:
        The key to encrypt under.
    private_key:
        The matching private key, held only by the key owner (``None`` elsewhere).
    encoding:
        Fixed-point precision for reals (default :class:`~accord.he.encoding.FixedPoint` with 32
        fractional bits).
    rng:
        CSPRNG for encryption and re-randomisation (default: a fresh OS-keyed :class:`Rng`).
    pool:
        Cores for large batches (default: this process only).
    party:
        Name of the party holding this object, used in error messages.
    """

    def __init__(self, public_key: PaillierPublicKey, private_key: PaillierPrivateKey | None = None, *,
                 encoding: FixedPoint | None = None, rng: Rng | None = None, pool: WorkerPool | None = None,
                 party: str | None = None) -> None:
        if private_key is not None and private_key.public_key != public_key:
            raise ConfigurationError("the private key does not belong to the public key")
        self.public_key = public_key
        self.private_key = private_key
        self.encoding = encoding or FixedPoint()
        self.rng = rng or Rng()
        self.pool = pool or WorkerPool(1)
        self.party = party

    @classmethod
    def generate(cls, bits: int = DEFAULT_KEY_BITS, *, allow_insecure_key_size: bool = False,
                 encoding: FixedPoint | None = None, rng: Rng | None = None, pool: WorkerPool | None = None,
                 party: str | None = None) -> Paillier:
        """A fresh key pair (see :func:`~accord.he.paillier.generate_paillier_keypair`) ready to use."""
        rng = rng or Rng()
        sk = generate_paillier_keypair(bits, rng=rng, allow_insecure_key_size=allow_insecure_key_size)
        return cls(sk.public_key, sk, encoding=encoding, rng=rng, pool=pool, party=party)

    def public(self) -> Paillier:
        """The same key without its private part (what partners hold)."""
        return Paillier(self.public_key, encoding=self.encoding, rng=self.rng, pool=self.pool, party=self.party)

    @property
    def can_decrypt(self) -> bool:
        """Whether this object holds the private key."""
        return self.private_key is not None

    def __repr__(self) -> str:
        role = "owner" if self.can_decrypt else "public"
        return f"<Paillier {self.public_key.bits} bits {self.public_key.fingerprint} ({role})>"

    # ---------------------------------------------------------------------------- encrypting
    def encrypt(self, values: Any) -> CipherArray:
        """Encrypt an array (or scalar) of ints or floats; floats get ``encoding.frac_bits`` fractional bits."""
        array = np.asarray(values)
        frac = self.encoding.frac_bits_for(array)
        scaled = self.encoding.scale(array, frac, party=self.party, field="values")
        check_range(scaled, int(self.public_key.max_int), party=self.party, field="values")
        return CipherArray(self, self.encrypt_ints(scaled), array.shape, frac)

    def encrypt_packed(self, values: Any, layout: SlotPacking) -> PackedCipherArray:
        """Encrypt vectors ``values[..., :layout.slots]`` packed one per ciphertext."""
        array = np.asarray(values)
        packed = layout.pack(array, party=self.party, field="values")
        return PackedCipherArray(self, self.encrypt_ints(packed), array.shape[:-1], layout)

    def encrypt_ints(self, values: Sequence[int]) -> list[mpz]:
        """Encrypt signed integers of magnitude at most ``max_int`` (the owner uses the faster CRT path)."""
        n = self.public_key.n
        reduced = [int(v) % n for v in values]
        exponents = self.public_key.draw_exponents(len(reduced), self.rng)
        key: Any = self.private_key or self.public_key
        parts = self.pool.parts(len(reduced), _COST_ENCRYPT)
        if parts == 1:
            return key.encrypt_with(reduced, exponents)
        spec = self._spec()
        workers.remember_key(spec, key)
        width = self.public_key.ciphertext_bytes
        blobs = self.pool.run(workers.encrypt_task,
                              [(spec, reduced[s], exponents[s], width) for s in split(len(reduced), parts)])
        return [v for blob in blobs for v in _kernels.from_blob(blob, width)]

    def _spec(self) -> tuple[int, ...]:
        pk = self.public_key
        if self.private_key is not None:
            return (int(self.private_key.p), int(self.private_key.q), int(pk.hs))
        return (int(pk.n), int(pk.hs))

    # ---------------------------------------------------------------------------- decrypting
    def decrypt(self, array: CipherArray | PackedCipherArray) -> np.ndarray:
        """Decrypt to float64 (reals) or int64 (integers), raising :class:`~accord.errors.CryptoError` on overflow.

        A packed array decrypts to shape ``array.shape + (layout.slots,)``.
        """
        if self.private_key is None:
            raise ConfigurationError(f"party {self.party!r} holds only the public key "
                                     f"{self.public_key.fingerprint} and cannot decrypt")
        if array.engine.public_key != self.public_key:
            raise ConfigurationError(f"these ciphertexts are under key {array.engine.public_key.fingerprint}, "
                                     f"not {self.public_key.fingerprint}")
        plain = decode_signed(self.private_key.decrypt_ints(array.values, threads=self.pool.size), self.public_key)
        if isinstance(array, CipherArray):
            return unscale(plain, array.frac_bits, array.shape)
        layout = array.layout
        slots = array.layout.slots * array.per_ciphertext
        digits = layout.unpack(plain, slots)[: array.vectors * layout.slots]
        return unscale(digits, layout.frac_bits, (*array.shape, layout.slots))

    # ------------------------------------------------------------------------------ receiving
    def receive(self, value: Any, *, party: str | None, step: str) -> CipherArray | PackedCipherArray:
        """Rebuild ciphertexts a peer sent with ``to_wire``, checking every field and range.

        Raises :class:`~accord.errors.MalformedMessage` naming ``party`` for anything malformed.
        """
        def bad(why: str) -> MalformedMessage:
            return MalformedMessage(f"party {party!r} sent malformed ciphertexts: {why}", party=party, step=step)

        if not isinstance(value, dict) or value.get("kind") not in ("paillier", "paillier-packed"):
            raise bad("expected a map with kind 'paillier' or 'paillier-packed'")
        if value.get("key") != self.public_key.fingerprint:
            raise bad(f"they are under key {value.get('key')!r}, expected {self.public_key.fingerprint}")
        shape = value.get("shape")
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 40 for d in shape)):
            raise bad(f"shape {shape!r} is not a list of non-negative integers")
        count = int(np.prod(shape, dtype=object))
        width = self.public_key.ciphertext_bytes
        if value["kind"] == "paillier":
            frac = value.get("frac_bits")
            if not isinstance(frac, int) or isinstance(frac, bool) or not 0 <= frac <= 4096:
                raise bad(f"frac_bits {frac!r} is not an integer in [0, 4096]")
            values = values_from_wire(value.get("data"), count, width)
            if values is None:
                raise bad(f"data is not a uint8 array of shape ({count}, {width})")
            self.public_key.check_ciphertexts(values, party=party, step=step)
            return CipherArray(self, list(values), tuple(shape), frac)
        try:
            layout = SlotPacking.from_wire(value.get("layout"))
            per_ct, terms = value.get("per_ciphertext"), value.get("terms")
            limit = layout.vectors_per_plaintext(self.public_key.bits)
        except (TypeError, ValueError) as exc:
            raise bad(f"invalid packing layout: {exc}") from None
        if not isinstance(per_ct, int) or isinstance(per_ct, bool) or not (per_ct == 1 or 1 < per_ct <= limit):
            raise bad(f"per_ciphertext {per_ct!r} must be 1 or at most {limit}")
        if not isinstance(terms, int) or isinstance(terms, bool) or not 1 <= terms <= layout.max_terms:
            raise bad(f"terms {terms!r} must be in [1, {layout.max_terms}]")
        rows = -(-count // per_ct)
        values = values_from_wire(value.get("data"), rows, width)
        if values is None:
            raise bad(f"data is not a uint8 array of shape ({rows}, {width})")
        self.public_key.check_ciphertexts(values, party=party, step=step)
        return PackedCipherArray(self, list(values), tuple(shape), layout, per_ciphertext=per_ct, terms=terms)

    # --------------------------------------------------------------------------- batch kernels
    def multiply(self, xs: Sequence[mpz], ys: Sequence[mpz]) -> list[mpz]:
        """Pairwise ciphertext addition (a memory-bound product: always in this process)."""
        return _kernels.mul_pairs(xs, ys, self.public_key.nsq)

    def add_plain(self, xs: Sequence[mpz], plains: Sequence[int]) -> list[mpz]:
        """Pairwise addition of signed plaintext integers."""
        n = self.public_key.n
        return _kernels.add_plain(xs, [int(m) % n for m in plains], n, self.public_key.nsq)

    def invert(self, xs: Sequence[mpz]) -> list[mpz]:
        """Pairwise negation."""
        return self._map(workers.invert_task, xs, (), _COST_INVERT)

    def powers(self, xs: Sequence[mpz], exponents: Sequence[int]) -> list[mpz]:
        """Pairwise multiplication by signed plaintext integers."""
        bits = max((abs(int(k)).bit_length() for k in exponents), default=0)
        cost = (bits + 8) * _COST_SQUARING
        if self.pool.parts(len(xs), cost) == 1:
            return _kernels.scalar_powers(xs, exponents, self.public_key.nsq)
        ks = [int(k) for k in exponents]
        nsq, width = int(self.public_key.nsq), self.public_key.ciphertext_bytes
        slices = split(len(xs), self.pool.parts(len(xs), cost))
        blobs = self.pool.run(workers.scalar_powers_task,
                              [(_kernels.to_blob(xs[s], width), width, ks[s], nsq) for s in slices])
        return [v for blob in blobs for v in _kernels.from_blob(blob, width)]

    def group_products(self, values: Sequence[mpz], group_ids: np.ndarray, n_groups: int) -> list[mpz]:
        """Per-group products for each column of ``group_ids`` (shape ``(N, F)``), column-major output."""
        nsq = self.public_key.nsq
        parts = self.pool.parts(len(values), _COST_MULMOD * group_ids.shape[1])
        if parts == 1:
            return _kernels.group_products_columns(values, group_ids, n_groups, nsq)
        width = self.public_key.ciphertext_bytes
        blobs = self.pool.run(workers.group_products_task,
                              [(_kernels.to_blob(values[s], width), width, group_ids[s], n_groups, int(nsq))
                               for s in split(len(values), parts)])
        return self._combine(blobs, width)

    def multi_exps(self, bases: Sequence[mpz], exponents: np.ndarray) -> list[mpz]:
        """``prod_i bases[i] ** exponents[i, j]`` for every column ``j``."""
        nsq = self.public_key.nsq
        bits = int(np.abs(exponents).max()).bit_length() if exponents.size else 0
        cost = exponents.shape[1] * (bits / 8 + 1) * _COST_MULMOD
        parts = self.pool.parts(len(bases), cost)
        if parts == 1:
            return _kernels.multi_exps(bases, exponents, nsq)
        width = self.public_key.ciphertext_bytes
        blobs = self.pool.run(workers.multi_exps_task,
                              [(_kernels.to_blob(bases[s], width), width, exponents[s], int(nsq))
                               for s in split(len(bases), parts)])
        return self._combine(blobs, width)

    def shift_pack(self, values: Sequence[mpz], shift_bits: int, group: int) -> list[mpz]:
        """Combine runs of ``group`` packed ciphertexts (see :func:`accord.he._kernels.shift_pack`)."""
        nsq, width = self.public_key.nsq, self.public_key.ciphertext_bytes
        runs = -(-len(values) // group)
        parts = self.pool.parts(runs, group * shift_bits * _COST_SQUARING)
        if parts == 1:
            return _kernels.shift_pack(values, shift_bits, group, nsq)
        cuts = [slice(s.start * group, s.stop * group) for s in split(runs, parts)]
        blobs = self.pool.run(workers.shift_pack_task,
                              [(_kernels.to_blob(values[c], width), width, shift_bits, group, int(nsq)) for c in cuts])
        return [v for blob in blobs for v in _kernels.from_blob(blob, width)]

    def _map(self, task: Any, xs: Sequence[mpz], extra: tuple[Any, ...], cost: float) -> list[mpz]:
        nsq, width = int(self.public_key.nsq), self.public_key.ciphertext_bytes
        parts = self.pool.parts(len(xs), cost)
        blobs = self.pool.run(task, [(_kernels.to_blob(xs[s], width), width, *extra, nsq)
                                     for s in split(len(xs), parts)])
        return [v for blob in blobs for v in _kernels.from_blob(blob, width)]

    def _combine(self, blobs: list[bytes], width: int) -> list[mpz]:
        """Multiply the partial results of several shares elementwise."""
        parts = [_kernels.from_blob(blob, width) for blob in blobs]
        total = parts[0]
        for part in parts[1:]:
            total = _kernels.mul_pairs(total, part, self.public_key.nsq)
        return total
