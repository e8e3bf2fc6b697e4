"""Cryptographically secure randomness: an AES-128-CTR keystream keyed from OS entropy.

Every key, mask, blinding scalar, permutation and noise sample in accord comes from an
:class:`Rng`. A party's own stream is keyed from ``os.urandom``; a stream two parties expand in
lockstep (the PRG of MPC correlations) is keyed from a secret 128-bit key they agreed; tests may pass a
fixed ``seed`` to make runs repeatable (never a guessable seed in production). AES-CTR through
OpenSSL produces gigabytes per second, so drawing millions of 64-bit masks costs less than the
arithmetic that uses them.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_CHUNK = 1 << 20
_ZEROS = memoryview(bytes(_CHUNK))


class Rng:
    """A CSPRNG stream.

    Parameters
    ----------
    seed:
        ``None`` (default) keys the stream from OS entropy. A byte string gives a deterministic stream
        (hashed, so any length works): a secret key shared with a peer, or a fixed value in tests.

    Examples
    --------
    >>> rng = Rng(seed=b"doc")
    >>> len(rng.bytes(16))
    16
    >>> rng.uint64(3).dtype
    dtype('uint64')
    """

    def __init__(self, seed: bytes | None = None) -> None:
        key = os.urandom(16) if seed is None else hashlib.sha256(b"accord-rng|" + seed).digest()[:16]
        self._key = key
        self._enc = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()

    def bytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""
        if n < 0:
            raise ValueError(f"cannot draw a negative number of bytes ({n})")
        return self._enc.update(bytes(n))

    def _keystream(self, n: int) -> np.ndarray:
        """The next ``n`` keystream bytes as a new array.

        Small draws (most MPC correlations) take one ``update_into`` into a buffer with the 15 spare
        bytes OpenSSL wants; large ones go through :meth:`fill` in chunks.
        """
        if n > _CHUNK:
            out = np.empty(n, dtype=np.uint8)
            self.fill(out)
            return out
        buf = np.empty(n + 15, dtype=np.uint8)
        self._enc.update_into(_ZEROS[:n], buf.data)
        return buf[:n]

    def fill(self, out: np.ndarray) -> None:
        """Overwrite a C-contiguous ``uint8`` array with the next keystream bytes, in place.

        Writing straight into the caller's buffer avoids a temporary per draw, which matters for
        the hundreds of megabytes an OT extension expands.
        """
        if out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError("fill needs a C-contiguous uint8 array")
        view = out.reshape(-1).data
        n = len(view)
        # update_into needs block_size - 1 spare bytes after its output, so the last 16 bytes go through update.
        head = max(0, n - 16)
        for start in range(0, head, _CHUNK):
            size = min(_CHUNK, head - start)
            self._enc.update_into(_ZEROS[:size], view[start : start + size + 15])
        view[head:] = self._enc.update(bytes(n - head))

    def child(self, label: str) -> Rng:
        """Derive an independent stream for a sub-task (deterministic given this stream's state)."""
        return Rng(seed=self.bytes(32) + label.encode())

    def uint64(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform 64-bit unsigned integers of the given shape."""
        count = math.prod(shape) if isinstance(shape, (tuple, list)) else int(shape)
        return self._keystream(8 * count).view("<u8").reshape(shape)

    def uint8(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform bytes as a ``uint8`` array of the given shape."""
        count = math.prod(shape) if isinstance(shape, (tuple, list)) else int(shape)
        return self._keystream(count).reshape(shape)

    def below(self, bound: int) -> int:
        """A uniform integer in ``[0, bound)`` by rejection sampling (no modulo bias)."""
        if bound <= 0:
            raise ValueError(f"bound must be positive, got {bound}")
        nbytes = (bound.bit_length() + 7) // 8 + 8
        limit = (1 << (8 * nbytes)) - ((1 << (8 * nbytes)) % bound)
        while True:
            x = int.from_bytes(self.bytes(nbytes), "little")
            if x < limit:
                return x % bound

    def permutation(self, n: int) -> np.ndarray:
        """A uniformly random permutation of ``range(n)``.

        Sorts uniform 64-bit keys: the permutation is exactly uniform unless two keys collide, which
        happens with probability below n**2 / 2**65 (3e-8 for a million rows).
        """
        if n < 0:
            raise ValueError(f"cannot permute a negative length ({n})")
        return np.argsort(self.uint64(n), kind="stable").astype(np.int64)
