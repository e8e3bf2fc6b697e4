"""Both truncation protocols give floor(x / 2^bits) or one more, for any |x| < 2^62, with every provider."""

from __future__ import annotations

import numpy as np
import pytest

import accord
from accord.mpc.preprocessing import InsecureSelfDealerProvider, OTProvider, Roles, TrustedDealerProvider
from accord.mpc.protocols.arithmetic import trunc, trunc_one_sided
from accord.runtime import protocol

PROVIDERS = {"dealer": TrustedDealerProvider, "insecure-self-dealer": InsecureSelfDealerProvider, "ot": OTProvider}


def _opt_in(cls):
    """The explicit test-only opt-in the self-dealing provider requires."""
    return {"allow_insecure_test_mode": True} if cls is InsecureSelfDealerProvider else {}


@protocol("test.trunc", threat_model="test only", leakage="test only")
def _run(ctx, cls, dealer, share, bits):
    prov = cls.setup(ctx, Roles("a", "b", ctx.me, dealer), **_opt_in(cls))
    shape = (2000,)
    return trunc(ctx, prov, shape, share, bits), trunc_one_sided(ctx, prov, shape, share, bits)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("bits", [1, 18, 31])
def test_floor_or_one_more(name, bits):
    gen = np.random.default_rng(bits)
    values = gen.integers(-2**62 + 1, 2**62 - 1, 2000, dtype=np.int64)
    values[:6] = [0, -1, 1, 2**bits, -(2**bits), 3 * 2**bits + 1]
    mask = gen.integers(0, 2**64, 2000, dtype=np.uint64, endpoint=False)
    dealer = "c" if name == "dealer" else None
    names = ["a", "b", "c"] if dealer else ["a", "b"]
    shares = {"a": values.view(np.uint64) - mask, "b": mask, "c": None}
    with accord.Cluster.simulate(names) as cluster:
        out = cluster.run(_run, {p: (PROVIDERS[name], dealer, shares[p], bits) for p in names})
        (s0, o0), (s1, o1) = out["a"].get(), out["b"].get()
    want = values >> bits
    for got in ((s0 + s1).view(np.int64), (o0 + o1).view(np.int64)):
        assert set(np.unique(got - want)) <= {0, 1}
