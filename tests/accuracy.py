"""Documented accuracy of the MPC nonlinear functions, their domains at each precision, and a measurement.

:func:`documented` restates the table in docs/mpc.md: at ``frac`` fractional bits each function's error
against numpy on the encoded input is at most ``rel * |f(x)| + abs``. The domains follow what
``share()`` accepts: inputs below ``2^(62 - 2 frac)`` in magnitude. ``python -m tests.accuracy``
prints the measured worst case of every function in that form (the figures quoted in docs/mpc.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from accord.math.fixed import decode, encode
from accord.mpc import approximations as ap
from tests.mpc_sessions import ENGINES, mpc_session

EXP_LIMIT = 10.74   # 15.5 ln 2: 2^k with k = x log2(e) + 15.5 in [0, 31), five bits


def ulp(frac: int) -> float:
    """One unit in the last place at ``frac`` fractional bits."""
    return 2.0**-frac


def documented(name: str, frac: int) -> tuple[float, float]:
    """``(rel, abs)`` of docs/mpc.md: ``|error| <= rel |f(x)| + abs`` at ``frac`` bits."""
    u = ulp(frac)
    return {"sigmoid": (0.0, 5e-4 + 2 * u),
            "softplus": (0.0, 3e-4 + 2 * u),
            "exp": (1.5e-4 + 6 * u, u),
            "reciprocal": (3 * u, u),
            "log": (0.0, 1.5e-6 + 4 * u),
            "sqrt": (7.5e-6 + 3 * u, u)}[name]


def share_limit(frac: int) -> float:
    """The magnitude ``share()`` refuses at ``frac`` bits (docs/mpc.md): 2^(62 - 2 frac)."""
    return 2.0 ** (62 - 2 * frac)


def largest_below(limit: float, frac: int) -> float:
    """The largest value under ``limit`` (a power of two) that ``frac`` fractional bits encode exactly."""
    return limit - max(ulp(frac), limit - float(np.nextafter(limit, 0.0)))


def largest_accepted(frac: int) -> float:
    """The largest value ``share()`` accepts at ``frac`` bits (and encodes exactly)."""
    return largest_below(share_limit(frac), frac)


def domain(name: str, frac: int, n: int) -> np.ndarray:
    """``n``-ish points spanning a function's documented domain at ``frac`` bits, both ends included.

    reciprocal, log and sqrt reach ``min(2^30, 2^(62 - 2 frac))``: everything ``share()`` accepts from 16
    bits on. reciprocal and log start at ``2^-12`` (or one unit if that is coarser), sqrt at 0.
    """
    top = largest_below(min(2.0**30, share_limit(frac)), frac)
    low = max(2.0**-12, ulp(frac))
    if name in ("sigmoid", "softplus"):
        tail = np.geomspace(30.0, largest_accepted(frac), max(n // 8, 2))
        return np.concatenate([np.linspace(-30.0, 30.0, n), tail, -tail])
    if name == "exp":
        return np.linspace(-EXP_LIMIT, EXP_LIMIT, n)
    if name == "reciprocal":
        pos = np.geomspace(low, top, n)
        return np.concatenate([pos, -pos[::4]])
    if name == "log":
        return np.geomspace(low, top, n)
    return np.concatenate([[0.0, ulp(frac)], np.geomspace(ulp(frac), top, n)])


FUNCTIONS: dict[str, tuple[Callable[..., object], Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (ap.sigmoid, lambda x: 0.5 * (1.0 + np.tanh(0.5 * x))),
    "softplus": (ap.softplus, lambda x: np.logaddexp(0.0, x)),
    "exp": (ap.exp, np.exp),
    "reciprocal": (ap.reciprocal, lambda x: 1.0 / x),
    "log": (ap.log, np.log),
    "sqrt": (ap.sqrt, np.sqrt),
}


def errors(spu: object, owner: object, name: str, frac: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(|error|, |f(x)|)`` of one function over its domain, against numpy on the encoded inputs."""
    fn, oracle = FUNCTIONS[name]
    xs = domain(name, frac, n)
    got = spu.reveal(spu.run(fn, spu.share(owner.put(xs))), to="a").get()   # type: ignore[attr-defined]
    want = oracle(decode(encode(xs, frac), frac))
    return np.abs(got - want), np.abs(want)


def measured(err: np.ndarray, size: np.ndarray, name: str, frac: int) -> float:
    """The worst case in the documented form: the relative part beyond ``abs`` (or the absolute error)."""
    rel, absolute = documented(name, frac)
    if rel == 0.0:
        return float(np.max(err))
    return float(np.max((err - absolute) / np.maximum(size, np.finfo(float).tiny)))


def main() -> None:
    """Print the measured worst cases beside the documented ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="dealer,insecure-self-dealer,replicated,ot")
    parser.add_argument("--fracs", default="8,12,16,18,20,22,24,26,28")
    parser.add_argument("--points", type=int, default=20001)
    args = parser.parse_args()
    for frac in (int(f) for f in args.fracs.split(",")):
        for engine in args.engines.split(","):
            if engine not in ENGINES:
                parser.error(f"unknown engine {engine!r}")
            cells = []
            with mpc_session(engine, frac=frac) as (cluster, spu):
                for name in FUNCTIONS:
                    err, size = errors(spu, cluster.party("a"), name, frac, args.points)
                    rel, absolute = documented(name, frac)
                    kind = "abs" if rel == 0.0 else "rel"
                    cells.append(f"{name} {kind} {measured(err, size, name, frac):.3g} (doc {rel or absolute:.3g})")
            print(f"frac {frac:2d} {engine:21s} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
