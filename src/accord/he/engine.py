"""Additively homomorphic encryption of numpy arrays: one object binding keys, encoding, randomness and cores.

Two schemes share every array operation: :class:`Paillier` (:mod:`accord.he.paillier`, ciphertexts
modulo ``n²``) and :class:`OU`, Okamoto-Uchiyama (:mod:`accord.he.ou`, ciphertexts modulo ``n``, about
3.5 times faster per addition at the same key size, under a different assumption).

>>> import numpy as np
>>> from accord.he import Paillier
>>> he = Paillier.generate(1024, allow_insecure_key_size=True)   # 2048 bits (the default) outside tests
>>> x = he.encrypt(np.array([0.5, -1.25]))
>>> partner_view = he.public()                                   # what a partner holds: no private key
>>> he.decrypt(x + np.array([1.0, 1.0])).tolist()
[1.5, -0.25]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from gmpy2 import mpz

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, MalformedMessage
from accord.he import _kernels, workers
from accord.he.cipher_array import CipherArray, PackedCipherArray, values_from_wire
from accord.he.encoding import FixedPoint, check_bound, check_range, unscale
from accord.he.ou import OUPrivateKey, OUPublicKey, generate_ou_keypair
from accord.he.packing import SlotPacking
from accord.he.paillier import (
    DEFAULT_KEY_BITS,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_paillier_keypair,
)
from accord.he.workers import WorkerPool, split

# Approximate single-core costs in microseconds (2048-bit key), used only to decide when to fan out.
_COST_ENCRYPT = 110.0
_COST_MULMOD = 4.7
_COST_INVERT = 22.0
_COST_SQUARING = 3.5
_COST_TRANSFER = 2.0
_COST_RERANDOMIZE_OU = 400.0


_E = TypeVar("_E", bound="HEEngine")


class HEEngine:
    """Encrypt, compute on and decrypt numpy arrays under one key of an additive scheme.

    Use :class:`Paillier` or :class:`OU`; they differ in their keys only.

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

    scheme = ""  # the wire name of the scheme's ciphertext arrays

    def __init__(self, public_key: Any, private_key: Any = None, *, encoding: FixedPoint | None = None,
                 rng: Rng | None = None, pool: WorkerPool | None = None, party: str | None = None) -> None:
        if private_key is not None and private_key.public_key != public_key:
            raise ConfigurationError("the private key does not belong to the public key")
        self.public_key = public_key
        self.private_key = private_key
        self.encoding = encoding or FixedPoint()
        self.rng = rng or Rng()
        self.pool = pool or WorkerPool(1)
        self.party = party

    def public(self: _E) -> _E:
        """The same key without its private part (what partners hold)."""
        return type(self)(self.public_key, encoding=self.encoding, rng=self.rng, pool=self.pool, party=self.party)

    @property
    def can_decrypt(self) -> bool:
        """Whether this object holds the private key."""
        return self.private_key is not None

    def __repr__(self) -> str:
        role = "owner" if self.can_decrypt else "public"
        return f"<{type(self).__name__} {self.public_key.bits} bits {self.public_key.fingerprint} ({role})>"

    # ---------------------------------------------------------------------------- encrypting
    def encrypt(self, values: Any) -> CipherArray:
        """Encrypt an array (or scalar) of ints or floats; floats get ``encoding.frac_bits`` fractional bits."""
        array = np.asarray(values)
        frac = self.encoding.frac_bits_for(array)
        scaled = self.encoding.scale(array, frac, party=self.party, field="values")
        bound = self.encoding.int_bits + frac
        check_range(scaled, int(self.public_key.max_int), party=self.party, field="values", bound_bits=bound)
        return CipherArray(self, self.encrypt_ints(scaled), array.shape, frac, bound, fresh=True)

    def encrypt_packed(self, values: Any, layout: SlotPacking) -> PackedCipherArray:
        """Encrypt vectors ``values[..., :layout.slots]`` packed one per ciphertext."""
        array = np.asarray(values)
        packed = layout.pack(array, party=self.party, field="values")
        return PackedCipherArray(self, self.encrypt_ints(packed), array.shape[:-1], layout, fresh=True)

    def encrypt_ints(self, values: Sequence[int]) -> list[mpz]:
        """Encrypt signed integers of magnitude at most ``max_int`` (the owner may use a faster path)."""
        ints = [int(v) for v in values]
        exponents = self.public_key.draw_exponents(len(ints), self.rng)
        key: Any = self.private_key or self.public_key
        spec, width = key.spec(), self.public_key.ciphertext_bytes
        return self._concat(self._fan_out(
            len(ints), _COST_ENCRYPT, lambda s: key.encrypt_with(ints[s], exponents[s]),
            workers.encrypt_task, lambda s: (spec, ints[s], exponents[s], width)))

    def rerandomizers(self, count: int) -> list[mpz]:
        """``count`` encryptions of zero whose product with a ciphertext gives it fresh full-entropy randomness."""
        raise NotImplementedError

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
        plain = self.private_key.decode_signed(self.private_key.decrypt_ints(array.values, threads=self.pool.size))
        if isinstance(array, CipherArray):
            check_bound(plain, array.bound_bits, int(self.public_key.max_int))
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

        kinds = (self.scheme, f"{self.scheme}-packed")
        if not isinstance(value, dict) or value.get("kind") not in kinds:
            raise bad(f"expected a map with kind {kinds[0]!r} or {kinds[1]!r}")
        if value.get("key") != self.public_key.fingerprint:
            raise bad(f"they are under key {value.get('key')!r}, expected {self.public_key.fingerprint}")
        shape = value.get("shape")
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 40 for d in shape)):
            raise bad(f"shape {shape!r} is not a list of non-negative integers")
        count = int(np.prod(shape, dtype=object))
        width = self.public_key.ciphertext_bytes
        if value["kind"] == self.scheme:
            frac, bound = value.get("frac_bits"), value.get("bound_bits")
            for name, number in (("frac_bits", frac), ("bound_bits", bound)):
                if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 1 << 16:
                    raise bad(f"{name} {number!r} is not an integer in [0, 65536]")
            values = values_from_wire(value.get("data"), count, width)
            if values is None:
                raise bad(f"data is not a uint8 array of shape ({count}, {width})")
            self.public_key.check_ciphertexts(values, party=party, step=step)
            return CipherArray(self, list(values), tuple(shape), cast(int, frac), cast(int, bound))  # checked above
        try:
            layout = SlotPacking.from_wire(value.get("layout"))
            per_ct, terms = value.get("per_ciphertext"), value.get("terms")
            limit = layout.vectors_per_plaintext(self.public_key.plain_bits)
        except (TypeError, ValueError) as exc:
            raise bad(f"invalid packing layout: {exc}") from None
        if not isinstance(per_ct, int) or isinstance(per_ct, bool) or not 1 <= per_ct <= limit:
            raise bad(f"per_ciphertext {per_ct!r} must be in [1, {limit}]")
        if not isinstance(terms, int) or isinstance(terms, bool) or not 1 <= terms <= layout.max_terms:
            raise bad(f"terms {terms!r} must be in [1, {layout.max_terms}]")
        rows = -(-count // per_ct)
        values = values_from_wire(value.get("data"), rows, width)
        if values is None:
            raise bad(f"data is not a uint8 array of shape ({rows}, {width})")
        self.public_key.check_ciphertexts(values, party=party, step=step)
        return PackedCipherArray(self, list(values), tuple(shape), layout, per_ciphertext=per_ct, terms=terms)

    # --------------------------------------------------------------------------- batch kernels
    def _fan_out(self, items: int, cost_us: float, local: Callable[[slice], list[mpz]], task: Callable[..., bytes],
                 remote: Callable[[slice], tuple[Any, ...]], *, unit: int = 1) -> list[list[mpz]]:
        """Split ``items`` (in runs of ``unit``) into shares: the first computed here, the rest by workers.

        A worker's share costs about ``_COST_TRANSFER`` µs more per ciphertext (conversion and
        pickling), so this process takes a correspondingly larger share.
        """
        runs = -(-items // unit)
        parts = self.pool.parts(runs, cost_us)
        weight = (cost_us + _COST_TRANSFER * unit) / cost_us
        slices = [slice(s.start * unit, min(items, s.stop * unit)) for s in split(runs, parts, weight)]
        results = self.pool.run(lambda: local(slices[0]), task, [remote(s) for s in slices[1:]])
        width = self.public_key.ciphertext_bytes
        return [results[0], *(_kernels.from_blob(blob, width) for blob in results[1:])]

    def _concat(self, shares: list[list[mpz]]) -> list[mpz]:
        return [v for share in shares for v in share]

    def _combine(self, shares: list[list[mpz]]) -> list[mpz]:
        """Multiply the partial results of several shares elementwise."""
        total = shares[0]
        for share in shares[1:]:
            total = _kernels.mul_pairs(total, share, self.public_key.modulus)
        return total

    def _blob(self, values: Sequence[mpz]) -> bytes:
        return _kernels.to_blob(values, self.public_key.ciphertext_bytes)

    def multiply(self, xs: Sequence[mpz], ys: Sequence[mpz]) -> list[mpz]:
        """Pairwise ciphertext addition (a memory-bound product: always in this process)."""
        return _kernels.mul_pairs(xs, ys, self.public_key.modulus)

    def add_plain(self, xs: Sequence[mpz], plains: Sequence[int]) -> list[mpz]:
        """Pairwise addition of signed plaintext integers."""
        return _kernels.mul_pairs(xs, self.public_key.plain_factors([int(m) for m in plains]), self.public_key.modulus)

    def invert(self, xs: Sequence[mpz]) -> list[mpz]:
        """Pairwise negation."""
        nsq, width = self.public_key.modulus, self.public_key.ciphertext_bytes
        return self._concat(self._fan_out(
            len(xs), _COST_INVERT, lambda s: _kernels.invert_all(xs[s], nsq),
            workers.invert_task, lambda s: (self._blob(xs[s]), width, int(nsq))))

    def powers(self, xs: Sequence[mpz], exponents: Sequence[int]) -> list[mpz]:
        """Pairwise multiplication by signed plaintext integers."""
        ks = [int(k) for k in exponents]
        bits = max((abs(k).bit_length() for k in ks), default=0)
        nsq, width = self.public_key.modulus, self.public_key.ciphertext_bytes
        return self._concat(self._fan_out(
            len(xs), (bits + 8) * _COST_SQUARING, lambda s: _kernels.scalar_powers(xs[s], ks[s], nsq),
            workers.scalar_powers_task, lambda s: (self._blob(xs[s]), width, ks[s], int(nsq))))

    def group_products(self, values: Sequence[mpz], group_ids: np.ndarray, n_groups: int) -> list[mpz]:
        """Per-group products for each column of ``group_ids`` (shape ``(N, F)``), column-major output."""
        nsq, width = self.public_key.modulus, self.public_key.ciphertext_bytes
        return self._combine(self._fan_out(
            len(values), _COST_MULMOD * group_ids.shape[1],
            lambda s: _kernels.group_products_columns(values[s], group_ids[s], n_groups, nsq),
            workers.group_products_task, lambda s: (self._blob(values[s]), width, group_ids[s], n_groups, int(nsq))))

    def multi_exps(self, bases: Sequence[mpz], exponents: np.ndarray) -> list[mpz]:
        """``prod_i bases[i] ** exponents[i, j]`` for every column ``j``."""
        nsq, width = self.public_key.modulus, self.public_key.ciphertext_bytes
        bits = int(np.abs(exponents).max()).bit_length() if exponents.size else 0
        cost = exponents.shape[1] * (bits / 8 + 1) * _COST_MULMOD
        return self._combine(self._fan_out(
            len(bases), cost, lambda s: _kernels.multi_exps(bases[s], exponents[s], nsq),
            workers.multi_exps_task, lambda s: (self._blob(bases[s]), width, exponents[s], int(nsq))))

    def shift_pack(self, values: Sequence[mpz], shift_bits: int, group: int) -> list[mpz]:
        """Combine runs of ``group`` packed ciphertexts (see :func:`accord.he._kernels.shift_pack`)."""
        nsq, width = self.public_key.modulus, self.public_key.ciphertext_bytes
        return self._concat(self._fan_out(
            len(values), group * shift_bits * _COST_SQUARING,
            lambda s: _kernels.shift_pack(values[s], shift_bits, group, nsq),
            workers.shift_pack_task, lambda s: (self._blob(values[s]), width, shift_bits, group, int(nsq)),
            unit=group))


class Paillier(HEEngine):
    """Paillier (:mod:`accord.he.paillier`): ciphertexts modulo ``n²``, decisional composite residuosity."""

    scheme = "paillier"
    public_key: PaillierPublicKey
    private_key: PaillierPrivateKey | None

    @classmethod
    def generate(cls, bits: int = DEFAULT_KEY_BITS, *, allow_insecure_key_size: bool = False,
                 encoding: FixedPoint | None = None, rng: Rng | None = None, pool: WorkerPool | None = None,
                 party: str | None = None) -> Paillier:
        """A fresh key pair (see :func:`~accord.he.paillier.generate_paillier_keypair`) ready to use."""
        rng = rng or Rng()
        sk = generate_paillier_keypair(bits, rng=rng, allow_insecure_key_size=allow_insecure_key_size)
        return cls(sk.public_key, sk, encoding=encoding, rng=rng, pool=pool, party=party)

    def rerandomizers(self, count: int) -> list[mpz]:
        """``s^n mod n²`` for uniform units ``s`` (threads share the exponentiations)."""
        return self.public_key.rerandomizers(count, self.rng, threads=self.pool.size)


class OU(HEEngine):
    """Okamoto-Uchiyama (:mod:`accord.he.ou`): ciphertexts modulo ``n = p² q``, factoring and the p-subgroup assumption.

    >>> he = OU.generate(1024, allow_insecure_key_size=True)   # 2048 bits (the default) outside tests
    >>> he.decrypt(he.encrypt(np.array([2.5, -1.0])).sum()).item()
    1.5
    """

    scheme = "ou"
    public_key: OUPublicKey
    private_key: OUPrivateKey | None

    @classmethod
    def generate(cls, bits: int = DEFAULT_KEY_BITS, *, allow_insecure_key_size: bool = False,
                 encoding: FixedPoint | None = None, rng: Rng | None = None, pool: WorkerPool | None = None,
                 party: str | None = None) -> OU:
        """A fresh key pair (see :func:`~accord.he.ou.generate_ou_keypair`) ready to use."""
        rng = rng or Rng()
        sk = generate_ou_keypair(bits, rng=rng, allow_insecure_key_size=allow_insecure_key_size)
        return cls(sk.public_key, sk, encoding=encoding, rng=rng, pool=pool, party=party)

    def rerandomizers(self, count: int) -> list[mpz]:
        """``H^r' mod n`` for uniform full-length ``r'`` (fixed-base table; workers share them)."""
        pk = self.public_key
        exponents = pk.draw_rerandomizer_exponents(count, self.rng)
        spec, width = pk.spec(), pk.ciphertext_bytes
        return self._concat(self._fan_out(
            count, _COST_RERANDOMIZE_OU, lambda s: pk.rerandomizers_with(exponents[s]),
            workers.rerandomizers_task, lambda s: (spec, exponents[s], width)))
