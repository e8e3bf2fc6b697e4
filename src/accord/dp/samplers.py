"""Exact samplers for discrete Laplace and discrete Gaussian noise, drawn only from the CSPRNG.

Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms
1-3, vectorised: every candidate of a batch runs the same rejection loop in numpy, and elements that
finish early are masked out. No floating-point number is computed anywhere on the sampling path:
probabilities are rationals ``num / den`` of integers, and a Bernoulli(num / den) draw compares a
uniform integer below ``den`` with ``num``. Uniform integers come from :class:`accord.crypto.random.Rng`
(AES-CTR keyed from OS entropy) by rejection, so they carry no modulo bias.

Parameters are rationals: the discrete Laplace takes its scale ``t / s`` (pmf proportional to
``exp(-|x| s / t)``) and the discrete Gaussian its variance ``sigma2`` as a :class:`fractions.Fraction`.
Callers that start from a float (an epsilon of 0.1, say) round the scale *up* to a rational with a
power-of-two denominator (:func:`laplace_scale`, :func:`gaussian_variance`), which only adds privacy.

Timing: the run time depends on the noise drawn (rejection rounds and the lengths of the geometric
loops), never on the data, which enters only through an integer addition after sampling. Because a
batch runs its loops until its slowest element finishes, a release's time reveals roughly the largest
loop count of its batch, which is itself noise independent of the data. That is what remains: the
sampling time is not constant, and the draws for one release are not padded to a fixed length.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from accord.crypto.random import Rng

_U64 = np.uint64
_GRID_BITS = 20  # power-of-two denominators for scales rounded up from floats
_V_LIMIT = 128  # geometric counts below this keep U + t V within 64 bits for t < 2**56


# ------------------------------------------------------------------------------ uniform integers
def uniform_below(rng: Rng, bound: np.ndarray | int, size: int | None = None) -> np.ndarray:
    """Uniform integers in ``[0, bound)`` (per element when ``bound`` is an array), exactly.

    ``bound`` must lie in ``[1, 2**63]``. A 64-bit draw ``u`` is accepted when ``u < 2**64 - (2**64 mod
    bound)``, a multiple of ``bound``, so ``u mod bound`` is uniform; rejected elements are drawn again.
    """
    bounds = np.asarray(bound, dtype=_U64)
    if bounds.ndim == 0:
        bounds = np.full(size if size is not None else 1, bounds, dtype=_U64)
    if bounds.size and (bounds.min() < 1 or bounds.max() > (1 << 63)):
        raise ValueError("uniform_below needs bounds in [1, 2**63]")
    with np.errstate(over="ignore"):
        excess = (_U64(0) - bounds) % bounds  # 2**64 mod bound
    out = np.empty(bounds.shape, dtype=_U64)
    todo = np.arange(bounds.size)
    while todo.size:
        u = rng.uint64(todo.size)
        ok = (excess[todo] == 0) | (u < (_U64(0) - excess[todo]))
        done = todo[ok]
        out[done] = u[ok] % bounds[done]
        todo = todo[~ok]
    return out


def bernoulli(rng: Rng, num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """Bernoulli(num / den) per element, for integer arrays with ``0 <= num <= den <= 2**63``."""
    return uniform_below(rng, den, size=np.size(num)) < np.asarray(num, dtype=_U64)


def _bernoulli_big(rng: Rng, num: list[int], den: list[int]) -> np.ndarray:
    """Bernoulli(num / den) for Python integers of any size with ``0 <= num < den``.

    Compares a uniform 64-bit word with the first 64 bits of the binary expansion of ``num / den``;
    on a tie (probability 2**-64 per element) it moves on to the next 64 bits, so the result is exact.
    """
    out = np.zeros(len(num), dtype=bool)
    todo = list(range(len(num)))
    rem = [n for n in num]
    while todo:
        digits = [(rem[i] << 64) // den[i] for i in todo]
        words = rng.uint64(len(todo)).tolist()
        still = []
        for i, digit, word in zip(todo, digits, words):
            if word < digit:
                out[i] = True
            elif word == digit:
                rem[i] = (rem[i] << 64) - digit * den[i]
                still.append(i)
        todo = still
    return out


# ---------------------------------------------------------------------- Bernoulli(exp(-gamma))
def _bernoulli_exp_frac(rng: Rng, num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """Bernoulli(exp(-num/den)) for ``0 <= num <= den`` (CKS Algorithm 1, case gamma in [0, 1]).

    Draws Bernoulli(gamma / k) for k = 1, 2, ... until one fails; the output is 1 iff that k is odd.
    Bernoulli(gamma / k) is Bernoulli(1 / k) and Bernoulli(gamma), independent: a uniform integer below
    ``k * den`` is below ``num`` exactly when its high part (uniform below k) is 0 and its low part
    (uniform below den) is below ``num``; so no product ``k * den`` is ever formed.
    """
    n = np.size(num)
    num = np.asarray(num, dtype=_U64).reshape(-1)
    dens = np.broadcast_to(np.asarray(den, dtype=_U64), (n,))
    out = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    k = 1
    while todo.size:
        hit = bernoulli(rng, num[todo], dens[todo])
        if k > 1:
            hit &= uniform_below(rng, k, size=todo.size) == 0
        finished = todo[~hit]
        out[finished] = k % 2 == 1
        todo = todo[hit]
        k += 1
    return out


def _bernoulli_exp_minus_one(rng: Rng, n: int) -> np.ndarray:
    return _bernoulli_exp_frac(rng, np.ones(n, dtype=_U64), 1)


def _bernoulli_exp(rng: Rng, whole: np.ndarray, num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    """Bernoulli(exp(-(whole + num/den))) with ``whole >= 0`` integers and ``0 <= num < den`` (CKS Alg. 1)."""
    out = _bernoulli_exp_frac(rng, num, den)
    whole = np.asarray(whole, dtype=np.int64).copy()
    alive = np.flatnonzero(out & (whole > 0))
    while alive.size:  # exp(-whole) as `whole` independent Bernoulli(exp(-1)) draws that must all succeed
        ok = _bernoulli_exp_minus_one(rng, alive.size)
        out[alive[~ok]] = False
        whole[alive] -= 1
        alive = alive[ok & (whole[alive] > 0)]
    return out


def _bernoulli_exp_big(rng: Rng, num: list[int], den: list[int]) -> np.ndarray:
    """Bernoulli(exp(-num/den)) for Python integers of any size (the discrete Gaussian's test)."""
    whole = np.array([a // b for a, b in zip(num, den)], dtype=np.int64)
    frac = [a - w * b for a, w, b in zip(num, whole.tolist(), den)]
    out = np.zeros(len(num), dtype=bool)
    todo = np.arange(len(num))
    k = 1
    while todo.size:  # CKS Algorithm 1 on the fractional part, as in _bernoulli_exp_frac
        hit = _bernoulli_big(rng, [frac[i] for i in todo.tolist()], [den[i] for i in todo.tolist()])
        if k > 1:
            hit &= uniform_below(rng, k, size=todo.size) == 0
        out[todo[~hit]] = k % 2 == 1
        todo = todo[hit]
        k += 1
    alive = np.flatnonzero(out & (whole > 0))
    while alive.size:
        ok = _bernoulli_exp_minus_one(rng, alive.size)
        out[alive[~ok]] = False
        whole[alive] -= 1
        alive = alive[ok & (whole[alive] > 0)]
    return out


# ------------------------------------------------------------------------------------ samplers
def discrete_laplace(rng: Rng, scale: Fraction, size: int) -> np.ndarray:
    """``size`` draws of the discrete Laplace with scale ``t/s``: P(x) ∝ exp(-|x| s / t) (CKS Alg. 2).

    Returns int64. ``scale`` is a positive Fraction whose numerator and denominator are below 2**56.
    """
    t, s = _check_scale(scale)
    out = np.empty(size, dtype=np.int64)
    filled = 0
    while filled < size:
        batch = max(64, int((size - filled) * 1.9) + 16)
        u = uniform_below(rng, t, size=batch)
        keep = _bernoulli_exp_frac(rng, u, t)  # D ~ Bernoulli(exp(-U/t)); reject on 0
        u = u[keep]
        v = np.zeros(u.size, dtype=_U64)  # V ~ Geometric(1 - exp(-1)): count Bernoulli(exp(-1)) successes
        going = np.arange(u.size)
        while going.size:
            ok = _bernoulli_exp_minus_one(rng, going.size)
            v[going[ok]] += _U64(1)
            going = going[ok]
        if v.size and int(v.max()) >= _V_LIMIT:  # probability below e^-128: finish those in Python integers
            y = np.array([(int(a) + t * int(b)) // s for a, b in zip(u.tolist(), v.tolist())], dtype=object)
            if max(y.tolist(), default=0) >= 1 << 62:
                raise ValueError("discrete Laplace draw beyond 2**62")
            y = y.astype(np.int64)
        else:
            y = ((u + _U64(t) * v) // _U64(s)).astype(np.int64)  # Y = floor((U + t V) / s)
        negative = rng.uint8(y.size) & 1
        accept = ~((negative == 1) & (y == 0))  # reject "-0" so that 0 is not counted twice
        z = np.where(negative[accept] == 1, -y[accept], y[accept])
        take = min(z.size, size - filled)
        out[filled : filled + take] = z[:take]
        filled += take
    return out


def discrete_gaussian(rng: Rng, sigma2: Fraction, size: int) -> np.ndarray:
    """``size`` draws of the discrete Gaussian with variance parameter ``sigma2``: P(x) ∝ exp(-x²/(2 sigma2)).

    CKS Algorithm 3: a discrete Laplace candidate Y of scale ``t = floor(sigma) + 1`` is accepted with
    probability exp(-(|Y| - sigma2/t)² / (2 sigma2)). With ``sigma2 = n/d`` that exponent is the rational
    ``(|Y| t d - n)² / (2 n d t²)``, evaluated in Python integers so no size of sigma overflows.
    """
    sigma2 = Fraction(sigma2)
    if sigma2 <= 0:
        raise ValueError(f"the discrete Gaussian needs sigma² > 0, got {sigma2}")
    n, d = sigma2.numerator, sigma2.denominator
    t = math.isqrt(n * d) // d + 1  # floor(sigma) + 1
    den = 2 * n * d * t * t
    out = np.empty(size, dtype=np.int64)
    filled = 0
    while filled < size:
        batch = max(64, int((size - filled) * 1.6) + 16)
        y = discrete_laplace(rng, Fraction(t), batch)
        num = [(abs(v) * t * d - n) ** 2 for v in y.tolist()]
        accept = _bernoulli_exp_big(rng, num, [den] * batch)
        z = y[accept]
        take = min(z.size, size - filled)
        out[filled : filled + take] = z[:take]
        filled += take
    return out


def _check_scale(scale: Fraction) -> tuple[int, int]:
    scale = Fraction(scale)
    if scale <= 0:
        raise ValueError(f"the discrete Laplace needs a positive scale, got {scale}")
    t, s = scale.numerator, scale.denominator
    if t >= 1 << 56 or s >= 1 << 56:
        raise ValueError(f"discrete Laplace scale {scale} has a numerator or denominator of 2**56 or more")
    return t, s


# ------------------------------------------------------------------------ parameters from floats
def round_up(value: float | Fraction, bits: int = _GRID_BITS) -> Fraction:
    """The smallest multiple of 2**-bits that is >= ``value`` (exactly, from the float's binary value)."""
    exact = Fraction(value)
    return Fraction(math.ceil(exact * (1 << bits)), 1 << bits)


def laplace_scale(sensitivity: int | Fraction, epsilon: float) -> Fraction:
    """Scale of discrete Laplace noise for ε-DP at ``sensitivity`` (in grid units), rounded up."""
    check_epsilon(epsilon)
    return round_up(Fraction(sensitivity) / Fraction(epsilon))


def gaussian_variance(sigma: float | Fraction) -> Fraction:
    """``sigma²`` as a rational with a power-of-two denominator, rounded up."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return round_up(Fraction(sigma) ** 2)


def check_epsilon(epsilon: float) -> None:
    """Refuse ε that is not a positive finite number."""
    if not isinstance(epsilon, (int, float, Fraction)) or isinstance(epsilon, bool) or not 0 < epsilon < math.inf:
        raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}")
