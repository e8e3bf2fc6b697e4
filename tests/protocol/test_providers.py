"""One conformance suite for every source of correlated randomness: each correlation must hold."""

from __future__ import annotations

import numpy as np
import pytest

import accord
from accord.math.matmul import ring_matmul
from accord.mpc.preprocessing import InsecureSelfDealerProvider, OTProvider, Roles, TrustedDealerProvider
from accord.runtime import protocol

PROVIDERS = {"dealer": TrustedDealerProvider, "insecure-self-dealer": InsecureSelfDealerProvider, "ot": OTProvider}


def _opt_in(cls):
    """The explicit test-only opt-in the self-dealing provider requires."""
    return {"allow_insecure_test_mode": True} if cls is InsecureSelfDealerProvider else {}
SHAPE = (3, 5)


@protocol("test.correlations", threat_model="test only", leakage="test only: returns correlations")
def _draw(ctx, cls, dealer):
    roles = Roles("a", "b", ctx.me, dealer)
    prov = cls.setup(ctx, roles, **_opt_in(cls))
    return {
        "triples": prov.triples(ctx, SHAPE),
        "square": prov.square_pairs(ctx, SHAPE),
        "matrix": prov.matrix_triples(ctx, 2, 3, 4),
        "trunc": prov.trunc_pairs(ctx, SHAPE, 18),
        "bool": prov.bool_triples(ctx, SHAPE, np.dtype(np.uint16)),
        "cross": prov.cross_bool_triples(ctx, SHAPE, np.dtype(np.uint64)),
        "dabits": prov.dabits(ctx, SHAPE),
    }


@pytest.fixture(scope="module", params=sorted(PROVIDERS))
def drawn(request):
    cls = PROVIDERS[request.param]
    dealer = "c" if request.param == "dealer" else None
    names = ["a", "b", "c"] if dealer else ["a", "b"]
    with accord.Cluster.simulate(names) as cluster:
        out = cluster.run(_draw, {p: (cls, dealer) for p in names})
        yield out["a"].get(), out["b"].get(), (out["c"].get() if dealer else None)


def test_dealer_gets_nothing(drawn, request):
    if request.node.callspec.params["drawn"] != "dealer":
        pytest.skip("this provider has no dealer")
    a, _, dealer = drawn
    assert set(dealer) == set(a) and all(v is None for v in dealer.values())


def test_beaver_triples(drawn):
    a, b, _ = drawn
    (a0, b0, c0), (a1, b1, c1) = a["triples"], b["triples"]
    assert np.array_equal(c0 + c1, (a0 + a1) * (b0 + b1))
    assert a0.shape == SHAPE and a0.dtype == np.uint64


def test_square_pairs(drawn):
    (a0, c0), (a1, c1) = drawn[0]["square"], drawn[1]["square"]
    assert np.array_equal(c0 + c1, (a0 + a1) * (a0 + a1))


def test_matrix_triples(drawn):
    (a0, b0, c0), (a1, b1, c1) = drawn[0]["matrix"], drawn[1]["matrix"]
    assert a0.shape == (2, 3) and b0.shape == (3, 4) and c0.shape == (2, 4)
    assert np.array_equal(c0 + c1, ring_matmul(a0 + a1, b0 + b1))


def test_truncation_triples(drawn):
    (r0, t0, s0), (r1, t1, s1) = drawn[0]["trunc"], drawn[1]["trunc"]
    r = r0 + r1
    assert np.array_equal(t0 + t1, (r & np.uint64(2**63 - 1)) >> np.uint64(18))
    assert np.array_equal((s0 + s1) & np.uint64(2**32 - 1), r >> np.uint64(63))


def test_boolean_triples(drawn):
    (a0, b0, c0), (a1, b1, c1) = drawn[0]["bool"], drawn[1]["bool"]
    assert a0.dtype == np.uint16
    assert np.array_equal(c0 ^ c1, (a0 ^ a1) & (b0 ^ b1))


def test_cross_boolean_triples(drawn):
    (u0, w0), (u1, w1) = drawn[0]["cross"], drawn[1]["cross"]
    assert np.array_equal(w0 ^ w1, u0 & u1)


def test_dabits(drawn):
    (x0, a0), (x1, a1) = drawn[0]["dabits"], drawn[1]["dabits"]
    bits = x0 ^ x1
    assert set(np.unique(bits)) <= {0, 1}
    assert np.array_equal((a0 + a1), bits.astype(np.uint64))


def test_correlations_are_not_constant(drawn):
    a = drawn[0]
    assert len(np.unique(a["triples"][0])) == a["triples"][0].size


@protocol("test.trunc-cots", threat_model="test only", leakage="test only: returns correlations")
def _draw_cots(ctx, cls, dealer):
    prov = cls.setup(ctx, Roles("a", "b", ctx.me, dealer), **_opt_in(cls))
    return prov.trunc_cots(ctx, SHAPE, 18)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_one_sided_truncation_correlations(name):
    dealer = "c" if name == "dealer" else None
    names = ["a", "b", "c"] if dealer else ["a", "b"]
    with accord.Cluster.simulate(names) as cluster:
        out = cluster.run(_draw_cots, {p: (PROVIDERS[name], dealer) for p in names})
        (r, m0), (rho, m_rho) = out["a"].get(), out["b"].get()
    assert set(np.unique(rho)) <= {0, 1}
    assert np.array_equal(m_rho, m0 + rho.astype(np.uint64) * (r >> np.uint64(63)) * np.uint64(2**46))
