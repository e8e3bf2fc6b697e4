"""One conformance suite over every MPC engine: the Engine protocol's members, and each primitive against numpy.

Every session mode builds its engine with ``accord.mpc.setup.setup_engine``; the suite checks that the
engine has exactly the protocol's signatures and that each primitive, called directly on raw shares,
gives the ring result numpy gives (truncations: ``floor`` or one more).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import accord
from accord.mpc.engine import Engine, OwnedProduct
from accord.mpc.setup import setup_engine
from accord.runtime import protocol

MODES = {"dealer": (["a", "b"], "c"), "insecure-self-dealer": (["a", "b"], None), "ot": (["a", "b"], None),
         "replicated": (["a", "b", "c"], None)}
SHAPE = (4, 3)
BITS = 18
GEN = np.random.default_rng(11)
X = GEN.integers(-2**40, 2**40, SHAPE).astype(np.int64)
Y = GEN.integers(-2**20, 2**20, SHAPE).astype(np.int64)
X[0, :3] = [0, -1, 2**BITS]
MEMBERS = [name for name in dir(Engine) if not name.startswith("_")]


def _ring(values):
    return np.asarray(values, dtype=np.int64).view(np.uint64)


@protocol("test.engine", threat_model="test only", leakage="test only: every result is revealed to a")
def _exercise(ctx, mode, parties, dealer, x, y):
    engine = setup_engine(ctx, mode, parties, dealer, allow_insecure_test_mode=True)
    sx = engine.share(ctx.sub("x"), "a", None if x is None else _ring(x), SHAPE)
    sy = engine.share(ctx.sub("y"), "b", None if y is None else _ring(y), SHAPE)
    sx_msb = engine.local(lambda r: r.reshape(SHAPE), engine.bits(ctx.sub("msb"), sx, SHAPE, [63]))  # x < 0
    flat_x, flat_y = engine.local(lambda r: r.reshape(-1), sx), engine.local(lambda r: r.reshape(-1), sy)
    results = {
        "local": (engine.local(np.add, sx, sy), SHAPE),
        "add_public": (engine.add_public(sx, _ring(np.arange(3))), SHAPE),
        "public": (engine.public(_ring(np.arange(3))), (3,)),
        "mul": (engine.mul(ctx.sub("mul"), sx, sy, SHAPE), SHAPE),
        "square": (engine.square(ctx.sub("square"), sy, SHAPE), SHAPE),
        "mul_bit": (engine.mul_bit(ctx.sub("mul_bit"), sx_msb, sy, SHAPE), SHAPE),
        "matmul": (engine.matmul(ctx.sub("matmul"), sx, engine.local(lambda r: r.T.copy(), sy), 4, 3, 4), (4, 4)),
        "trunc": (engine.trunc(ctx.sub("trunc"), sx, SHAPE, BITS), SHAPE),
        "mul_trunc": (engine.mul_trunc(ctx.sub("mul_trunc"), sx, sy, SHAPE, BITS), SHAPE),
        "matmul_trunc": (engine.matmul_trunc(ctx.sub("matmul_trunc"), sy, engine.local(lambda r: r.T.copy(), sy),
                                             4, 3, 4, BITS), (4, 4)),
        "mul_fan": (engine.mul_fan(ctx.sub("mul_fan"), engine.local(lambda r: r[:4], flat_x), flat_y, 4, 3), (12,)),
        "mul_split": (engine.mul_split(ctx.sub("mul_split"), flat_x, flat_y, 12, 5, BITS), (12,)),
        "bits": (engine.bits(ctx.sub("bits"), sx, SHAPE, [0, 5, 63]), (3, *SHAPE)),
    }
    transposed = [engine.local(lambda r: r.T.copy(), s) for s in (sy, sx)]
    # X is below 2^41 in absolute value and Y below 2^21; the second product takes rows 1-2 of Y, transposed.
    own_x = engine.own(ctx.sub("own-x"), "a", None if x is None else _ring(x), SHAPE, 41)
    own_y = engine.own(ctx.sub("own-y"), "b", None if y is None else _ring(y), SHAPE, 21)
    owned = engine.owned_matmul(ctx.sub("owned"), [
        OwnedProduct("a", own_x, transposed[0], 4, 3, 4),
        OwnedProduct("b", None if own_y is None else own_y[1:3].T, engine.local(lambda r: r[1:3], sx), 3, 2, 3)])
    results["owned_a"], results["owned_b"] = (owned[0], (4, 4)), (owned[1], (3, 3))
    opened = {name: engine.reveal(ctx.sub(f"reveal-{name}"), raw, shape, ["a"]) for name, (raw, shape) in
              results.items()}
    return engine, opened


def _floor_or_one_more(got, exact):
    diff = got.view(np.int64) - exact
    return set(np.unique(diff).tolist()) <= {0, 1}


@pytest.fixture(scope="module", params=sorted(MODES))
def run(request):
    parties, dealer = MODES[request.param]
    names = ["a", "b", "c"]
    with accord.Cluster.simulate(names) as cluster:
        participants = parties + ([dealer] if dealer else [])
        out = cluster.run(_exercise, {p: (request.param, parties, dealer, X if p == "a" else None,
                                          Y if p == "b" else None) for p in participants})
        yield {p: out[p].get() for p in participants}


def test_every_engine_has_the_protocols_members_and_signatures(run):
    for engine, _ in run.values():
        assert isinstance(engine, Engine)
        for name in MEMBERS:
            want, got = inspect.getattr_static(Engine, name), inspect.getattr_static(type(engine), name, None)
            if isinstance(want, property):
                assert isinstance(getattr(engine, name), str if name in ("name", "threat_model") else tuple), name
                continue
            assert got is not None, f"{type(engine).__name__} lacks {name}"
            assert list(inspect.signature(got).parameters) == list(inspect.signature(want).parameters), name


def test_every_primitive_gives_the_ring_result(run):
    _, opened = run["a"]
    x, y = X, Y
    ring = {k: v.view(np.int64) for k, v in opened.items()}
    assert np.array_equal(ring["local"], x + y)
    assert np.array_equal(ring["add_public"], x + np.arange(3))
    assert np.array_equal(ring["public"], np.arange(3))
    assert np.array_equal(opened["mul"], _ring(x) * _ring(y))
    assert np.array_equal(ring["square"], y * y)
    assert np.array_equal(ring["mul_bit"], (x < 0) * y)
    assert np.array_equal(ring["matmul"], (_ring(x) @ _ring(y).T).view(np.int64))
    assert np.array_equal(ring["owned_a"], (_ring(x) @ _ring(y).T).view(np.int64))
    assert np.array_equal(ring["owned_b"], (_ring(y)[1:3].T @ _ring(x)[1:3]).view(np.int64))
    assert _floor_or_one_more(opened["trunc"], x >> BITS)
    assert _floor_or_one_more(opened["mul_trunc"], (x * y) >> BITS)
    assert _floor_or_one_more(opened["matmul_trunc"], (y @ y.T) >> BITS)
    assert np.array_equal(opened["mul_fan"], np.tile(_ring(x).reshape(-1)[:4], 3) * _ring(y).reshape(-1))
    flat = (x * y).reshape(-1)
    assert _floor_or_one_more(opened["mul_split"][:5], flat[:5] >> BITS)
    assert np.array_equal(ring["mul_split"][5:], flat[5:])
    want_bits = np.stack([(_ring(x) >> np.uint64(p)) & np.uint64(1) for p in (0, 5, 63)]).view(np.int64)
    assert np.array_equal(ring["bits"], want_bits)


def test_parties_other_than_a_learn_nothing_from_reveal_to_a(run):
    for party, (_, opened) in run.items():
        if party != "a":
            assert all(value is None for value in opened.values())


@protocol("test.owned-batches", threat_model="test only", leakage="test only: every product is revealed to a")
def _owned_batches(ctx, x, batches):
    """One owned product per fresh matrix, as scoring batch by batch does; the spare slots kept after."""
    engine = setup_engine(ctx, "ot", ["a", "b"], None)
    w = engine.share(ctx.sub("w"), "b", _ring(Y[:3, :1]) if ctx.me == "b" else None, (3, 1))
    opened = []
    for i in range(batches):
        own = engine.own(ctx.sub(f"own{i}"), "a", None if x is None else _ring(x + i), SHAPE, 42)
        raw = engine.owned_matmul(ctx.sub(f"p{i}"), [OwnedProduct("a", own, w, 4, 3, 1)])[0]
        opened.append(engine.reveal(ctx.sub(f"r{i}"), raw, (4, 1), ["a"]))
    return opened, len(engine.provider._spare)


def test_owned_products_on_many_matrices_keep_bounded_state():
    """Scoring in batches owns a fresh matrix per batch; the OT provider must not keep every one's hashes."""
    cluster = accord.Cluster.simulate(["a", "b"])
    out = cluster.run(_owned_batches, {"a": (X, 40), "b": (None, 40)})
    opened, kept = out["a"].get()
    for i, product in enumerate(opened):
        assert np.array_equal(_ring(product), _ring(X + i) @ _ring(Y[:3, :1]))
    assert kept <= 16 and out["b"].get()[1] <= 16
