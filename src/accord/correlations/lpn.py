"""Dual-LPN parameters and the expand-accumulate code that compresses a sparse correlation into a dense one.

Silent correlations (Boyle, Couteau, Gilboa, Ishai, Kohl and Scholl, CCS 2019; Boyle et al., CRYPTO
2022) first give the two parties a *sparse* correlation of length ``N``: the receiver's noise
vector ``e`` has ``t`` nonzero entries, one in each of ``t`` blocks of ``N / t`` positions (regular
noise), and the parties hold ``w = v + e Delta``. Both then apply one public linear map
``F^N -> F^m`` (``m = N / 5``); by linearity the outputs still satisfy ``c = b + a Delta``, and
``a = e H^T`` is pseudo-random under the dual-LPN (syndrome decoding) assumption for the code ``H``.

The code. ``H`` is an expand-accumulate (EA) code (Boyle, Couteau, Gilboa, Ishai, Kohl, Resch and
Scholl, "Correlated Pseudorandomness from Expand-Accumulate Codes", CRYPTO 2022): ``x -> x A B^T``
with ``A`` the accumulator (prefix XOR) and ``B`` a random matrix with :data:`EXPANDER_WEIGHT`
ones per output, drawn from a public seed. In numpy the accumulator is one
``bitwise_xor.accumulate`` and the expander 11 gathers per output; no field multiplication at all.

Security level (128 bits against the known attacks, stated for the estimates below):

* Linear tests, the attacks that break every broken LPN variant so far (Couteau, "LPN versus linear
  tests", and Couteau, Rindal and Raghuraman, CRYPTO 2021, Sec. 3): a test ``u`` sees the codeword
  ``u H``, of weight ``w >= delta N``. With uniform noise values in GF(2^128) and one noise point in
  each block ``b`` of ``B`` positions, the test's output is uniform unless its support misses every
  noise point, so its bias is at most ``prod_b (1 - w_b / B) <= exp(-delta t)`` whatever the blocks
  are; ``exp(-delta t) <= 2^-128`` needs ``t >= 888``. For noise in GF(2) (correlated OT) we use
  libOTe's heuristic ``(1 - 2 delta)^t <= 2^-128``, ``t >= 400``. We take ``delta = 0.1``, libOTe's
  minimum-distance estimate for weight-11 EA codes at rate 1/5 (``EAConfigure``, ``ExAcc11``). The
  estimate is empirical, as all published ones for EA codes are; BCGIKRS22 prove that EA codes have
  linear minimum distance with high probability, but not this constant.
* Information-set decoding: Prange's algorithm needs the ``t`` noise positions to fall inside ``m``
  chosen columns, probability ``(m / N)^t = 5^-t``; at ``t >= 398`` this is below ``2^-900``.
* Attacks that exploit regular noise (Briaud and Øygarden, EUROCRYPT 2023) cost a few bits on some
  primal-LPN parameter sets (Ferret's); we have not run their estimator on these dual parameters,
  which follow libOTe's regime (rate-1/5 EA codes, regular noise) with twice its noise weight for
  VOLE because the noise values are field elements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accord.crypto.random import Rng

SECURITY_BITS = 128
SCALER = 5  # noise length N per output: the EA code has rate 1/5
EXPANDER_WEIGHT = 11
MIN_DISTANCE_RATIO = 0.1
MIN_OUTPUTS = 1 << 14  # smaller requests are computed at this size and truncated
_ROWS_PER_STEP = 1 << 16


def noise_weight(field: bool, bits: int = SECURITY_BITS) -> int:
    """Noise points ``t`` for a linear-test bias of at most ``2^-bits`` (module docstring), a multiple of 8."""
    if field:
        t = math.ceil(bits * math.log(2) / MIN_DISTANCE_RATIO)
    else:
        t = math.ceil(bits / -math.log2(1 - 2 * MIN_DISTANCE_RATIO))
    return -(-t // 8) * 8


@dataclass(frozen=True)
class Plan:
    """The sizes of one expansion: ``trees`` GGM trees of ``2^depth`` leaves give ``N`` noise positions."""

    outputs: int
    trees: int
    depth: int

    @property
    def length(self) -> int:
        """``N``, the length of the sparse correlation."""
        return self.trees << self.depth


def plan(outputs: int, field: bool) -> Plan:
    """Tree count and depth for ``outputs`` correlations: ``N >= 5 m`` and at least :func:`noise_weight` trees."""
    m = max(int(outputs), MIN_OUTPUTS)
    t_min = noise_weight(field)
    depth = max(1, math.floor(math.log2(SCALER * m / t_min)))
    return Plan(m, -(-SCALER * m // (1 << depth)), depth)


class ExpandAccumulate:
    """The EA compression ``F^N -> F^m`` for a public seed, applied to vectors of words."""

    def __init__(self, seed: bytes, length: int, outputs: int) -> None:
        if not 0 < length < 2**31:
            raise ValueError(f"the code length must be in [1, 2^31), got {length}")
        self.length = length
        self.outputs = outputs
        self._seed = b"accord-ea-code|" + seed + length.to_bytes(8, "little")

    def _steps(self) -> list[tuple[int, int, np.ndarray]]:
        """The expander in steps of rows ``(start, stop, positions)``, positions ``(EXPANDER_WEIGHT, rows)``.

        Each output takes ``EXPANDER_WEIGHT`` uniform positions, 32-bit words scaled to ``[0, N)``
        (bias below ``N / 2^32`` per position, and public; float64 rounding is the same at both parties).
        Drawn step by step, so no buffer grows with ``m``.
        """
        rng = Rng(seed=self._seed)
        scale = self.length / 2**32
        steps = []
        for start in range(0, self.outputs, _ROWS_PER_STEP):
            stop = min(self.outputs, start + _ROWS_PER_STEP)
            words = rng.uint8((EXPANDER_WEIGHT, stop - start, 4)).view("<u4").reshape(EXPANDER_WEIGHT, -1)
            steps.append((start, stop, (words * scale).astype(np.int32)))
        return steps

    def compress(self, *arrays: np.ndarray, sparse: tuple[np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
        """``x A B^T`` for each C-contiguous ``x`` of shape ``(N, k)`` (any unsigned dtype; overwritten).

        Each column is accumulated on its own (a strided 1-d prefix XOR runs at memory speed, a 2-d one
        does not), and rows are gathered as single ``k``-word records: numpy moves a record per index
        many times faster than it gathers the rows of a 2-d array.

        ``sparse = (points, values)`` adds, as the last output, the compression of the vector that is
        ``values[i]`` at ``points[i]`` (distinct, fewer than 2^16) and zero elsewhere. Its accumulation
        is constant between points, so it is held as a 16-bit segment index per position (a tenth of
        the memory of the vector) and each gathered index looks up the segment's prefix XOR.
        """
        records, outs = [], []
        for x in arrays:
            if x.shape[0] != self.length or x.ndim != 2 or not x.flags.c_contiguous:
                raise ValueError(f"expected a C-contiguous ({self.length}, k) array, got {x.shape}")
            for j in range(x.shape[1]):
                np.bitwise_xor.accumulate(x[:, j], out=x[:, j])
            records.append(x.view(f"V{x.shape[1] * x.itemsize}").reshape(self.length))
            outs.append(np.empty_like(x, shape=(self.outputs, x.shape[1])))
        segments = prefixes = None
        if sparse is not None:
            points, values = sparse
            order = np.argsort(points, kind="stable")
            segments = np.zeros(self.length, dtype=np.uint16)
            segments[points] = 1
            np.cumsum(segments, out=segments)
            prefixes = np.zeros((len(points) + 1, *values.shape[1:]), dtype=values.dtype)
            np.bitwise_xor.accumulate(values[order], axis=0, out=prefixes[1:])
            outs.append(np.empty((self.outputs, *values.shape[1:]), dtype=values.dtype))
        for start, stop, positions in self._steps():
            for x, rec, out in zip(arrays, records, outs):
                part = rec[positions[0]].view(x.dtype).reshape(stop - start, -1)
                for k in range(1, EXPANDER_WEIGHT):
                    part ^= rec[positions[k]].view(x.dtype).reshape(stop - start, -1)
                out[start:stop] = part
            if prefixes is not None and segments is not None:
                part = prefixes[segments[positions[0]]]
                for k in range(1, EXPANDER_WEIGHT):
                    part ^= prefixes[segments[positions[k]]]
                outs[-1][start:stop] = part
        return outs
