"""Fixed-point encoding of model updates into the ring Z_{2^bits}, with a declared overflow bound.

Each client clips its update to ``[-clip, clip]``, divides by the quantisation ``step`` and rounds
stochastically (up with probability equal to the fractional part, so the encoding is unbiased), then
reduces modulo 2^bits. The sum over at most ``max_clients`` clients decodes exactly as long as every
integer stays in ``(-2^(bits-1), 2^(bits-1))``; :meth:`Quantizer.for_clients` picks the finest step
for which that holds, so the sum never wraps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accord.crypto.random import Rng

_UNIT = 1.0 / (1 << 53)


def uniform01(rng: Rng, size: int) -> np.ndarray:
    """``size`` uniform floats in [0, 1) with 53 random bits each, from the CSPRNG."""
    return (rng.uint64(size) >> np.uint64(11)).astype(np.float64) * _UNIT


def ring_dtype(bits: int) -> np.dtype:
    """The unsigned dtype that holds ring elements of ``bits`` bits (32 or 64)."""
    if bits not in (32, 64):
        raise ValueError(f"ring_bits must be 32 or 64, got {bits}")
    return np.dtype(np.uint32 if bits == 32 else np.uint64)


@dataclass(frozen=True)
class Quantizer:
    """Encode floats in ``[-clip, clip]`` as ring elements with spacing ``step``.

    Parameters
    ----------
    clip:
        Largest magnitude of any coordinate (values beyond it are clipped).
    step:
        Quantisation step: a value moves by less than one step when rounded.
    bits:
        Ring size 2^bits (32 or 64).
    max_clients:
        Most clients whose encodings may be summed without wrapping around.
    """

    clip: float
    step: float
    bits: int
    max_clients: int

    @classmethod
    def for_clients(cls, clip: float, max_clients: int, bits: int = 32) -> Quantizer:
        """The finest step whose sum over ``max_clients`` clients cannot overflow a signed ``bits`` ring."""
        ring_dtype(bits)
        if not clip > 0 or not math.isfinite(clip):
            raise ValueError(f"clip must be a positive finite number, got {clip}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients}")
        levels = ((1 << (bits - 1)) - 1) // max_clients - 1  # |round(x / step)| <= clip / step + 1 per client
        if levels < 1:
            raise ValueError(f"a {bits}-bit ring cannot hold the sum of {max_clients} clients")
        return cls(clip=clip, step=clip / min(levels, 1 << 52), bits=bits, max_clients=max_clients)

    @property
    def dtype(self) -> np.dtype:
        return ring_dtype(self.bits)

    def encode(self, rng: Rng, values: np.ndarray) -> np.ndarray:
        """Clip, scale and stochastically round ``values`` into ring elements."""
        scaled = np.clip(np.asarray(values, dtype=np.float64), -self.clip, self.clip) / self.step
        low = np.floor(scaled)
        rounded = low + (uniform01(rng, scaled.size).reshape(scaled.shape) < scaled - low)
        return rounded.astype(np.int64).astype(self.dtype)

    def decode_sum(self, total: np.ndarray) -> np.ndarray:
        """Read a ring sum as signed integers and scale back to floats."""
        signed = total.astype(np.int32 if self.bits == 32 else np.int64)
        return signed.astype(np.float64) * self.step


def encode_update(rng: Rng, quantizer: Quantizer, update: np.ndarray, weight: float) -> np.ndarray:
    """The ring vector ``[weight * clip(update), weight * clip]`` a client masks (``weight`` in [0, 1]).

    Carrying the weight scaled by ``clip`` keeps it within the quantiser's range, so one overflow
    bound covers every element; the aggregate divides the weighted sum by the total weight.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    clipped = np.clip(np.asarray(update, dtype=np.float64).reshape(-1), -quantizer.clip, quantizer.clip)
    return quantizer.encode(rng, np.append(clipped * weight, weight * quantizer.clip))


def decode_update_sum(quantizer: Quantizer, total: np.ndarray) -> tuple[np.ndarray, float]:
    """``(sum of weighted updates, sum of weights)`` from the unmasked ring sum."""
    values = quantizer.decode_sum(total)
    return values[:-1], float(values[-1]) / quantizer.clip
