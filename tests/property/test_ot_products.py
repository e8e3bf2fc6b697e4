"""Property tests: the dealer-free engine's OT products against their definitions, for arbitrary inputs.

Each product's two outputs must add up (modulo 2^64) to the product computed with Python integers:
the matrix OLE on reused OTs (owned matrices), Gilboa's matrix OLE, fan-out triples and the
multiplexer for bits.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accord
from accord.mpc.preprocessing import OTProvider, Roles
from accord.runtime import protocol

MOD = 2**64
_STATE: dict[str, object] = {}


@protocol("test.ot-setup", threat_model="test only", leakage="test only")
def _setup(ctx):
    return OTProvider.setup(ctx, Roles("a", "b", ctx.me))


@pytest.fixture(scope="module", autouse=True)
def _providers():
    cluster = accord.Cluster.simulate(["a", "b"])
    out = cluster.run(_setup, {p: () for p in "ab"})
    _STATE.update(cluster=cluster, a=out["a"].get(), b=out["b"].get())
    yield
    cluster.close()
    _STATE.clear()


def _run(fn, args):
    out = _STATE["cluster"].run(fn, {p: (_STATE[p], *args[p]) for p in "ab"})
    return out["a"].get(), out["b"].get()


def _ints(a):
    return [[int(v) for v in row] for row in np.atleast_2d(a)]


def _matmul(x, y):
    """``x @ y`` modulo 2^64 with Python integers (x, y as lists of rows)."""
    return np.array([[sum(x[i][t] * y[t][j] for t in range(len(y))) % MOD for j in range(len(y[0]))]
                     for i in range(len(x))], dtype=np.uint64)


def _uint64(draw, shape):
    return np.array(draw(st.lists(st.integers(0, MOD - 1), min_size=int(np.prod(shape)),
                                  max_size=int(np.prod(shape)))), dtype=np.uint64).reshape(shape)


@protocol("test.owned", threat_model="test only", leakage="test only: returns shares")
def _owned(ctx, prov, values, shape, bits, share, rows, transposed, second):
    state = prov.own(ctx.sub("own"), "a", values, shape, bits)[rows[0]:rows[1]]
    first = prov.owned_product(ctx.sub("p"), state.T if transposed else state, "a", share, 0)
    prov.next_products(1)
    # The next product on the same rows (the other orientation) takes the hashes' second halves.
    again = prov.owned_product(ctx.sub("q"), state if transposed else state.T, "a", second, 0)
    prov.next_products(1)
    return first, again


@st.composite
def owned_cases(draw):
    rows, cols, bits = draw(st.integers(1, 9)), draw(st.integers(1, 4)), draw(st.integers(2, 24))
    limit = 2 ** (bits - 1) - 1
    x = np.array(draw(st.lists(st.integers(-limit, limit), min_size=rows * cols, max_size=rows * cols)),
                 dtype=np.int64).reshape(rows, cols)
    start = draw(st.integers(0, rows - 1))
    stop = draw(st.integers(start + 1, rows))
    transposed = draw(st.booleans())
    length, other = ((stop - start), cols) if transposed else (cols, stop - start)
    return (x, bits, (start, stop), transposed, _uint64(draw, (length,)), _uint64(draw, (length,)),
            _uint64(draw, (other,)), _uint64(draw, (other,)))


@settings(max_examples=30, deadline=None)
@given(owned_cases())
def test_owned_matrix_times_a_shared_vector(case):
    x, bits, rows, transposed, va, vb, wa, wb = case
    ring = x.view(np.uint64)
    args = {"a": (ring, x.shape, bits, va, rows, transposed, wa),
            "b": (None, x.shape, bits, vb, rows, transposed, wb)}
    (out_a, again_a), (out_b, again_b) = _run(_owned, args)
    block = _ints(x[rows[0]:rows[1]])
    flipped = [list(r) for r in zip(*block)]
    first, second = (flipped, block) if transposed else (block, flipped)
    assert np.array_equal(out_a + out_b, _matmul(first, [[(int(a) + int(b)) % MOD] for a, b in zip(va, vb)])[:, 0])
    assert np.array_equal(again_a + again_b,
                          _matmul(second, [[(int(a) + int(b)) % MOD] for a, b in zip(wa, wb)])[:, 0])


@protocol("test.cross", threat_model="test only", leakage="test only: returns shares")
def _cross(ctx, prov, left, right, dims):
    sent, received = prov.matrix_cross(ctx, left, right, dims, dims)
    return sent, received


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_matrix_ole_both_directions(data):
    m, k, n = (data.draw(st.integers(1, 4)) for _ in range(3))
    left_a, right_a = _uint64(data.draw, (m, k)), _uint64(data.draw, (k, n))
    left_b, right_b = _uint64(data.draw, (m, k)), _uint64(data.draw, (k, n))
    (sent_a, recv_a), (sent_b, recv_b) = _run(_cross, {"a": (left_a, right_a, (m, k, n)),
                                                       "b": (left_b, right_b, (m, k, n))})
    assert np.array_equal(sent_a + recv_b, _matmul(_ints(left_a), _ints(right_b)))
    assert np.array_equal(sent_b + recv_a, _matmul(_ints(left_b), _ints(right_a)))


@protocol("test.fan", threat_model="test only", leakage="test only: returns correlations")
def _fan(ctx, prov, n, width):
    return prov.fan_triples(ctx, n, width)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 30), st.integers(1, 4))
def test_fan_triples(n, width):
    (a0, b0, c0), (a1, b1, c1) = _run(_fan, {"a": (n, width), "b": (n, width)})
    a, b = [(int(x) + int(y)) % MOD for x, y in zip(a0, a1)], (b0 + b1)
    want = np.array([[a[i] * int(b[j, i]) % MOD for i in range(n)] for j in range(width)], dtype=np.uint64)
    assert np.array_equal(c0 + c1, want)


@protocol("test.bits", threat_model="test only", leakage="test only: returns shares")
def _bits(ctx, prov, bits, values):
    return prov.bit_products(ctx, bits, values)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_multiplexer(data):
    n = data.draw(st.integers(1, 40))
    ca, cb = (np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.uint8)
              for _ in range(2))
    xa, xb = _uint64(data.draw, (n,)), _uint64(data.draw, (n,))
    za, zb = _run(_bits, {"a": (ca, xa), "b": (cb, xb)})
    want = np.array([(int(c) ^ int(d)) * ((int(x) + int(y)) % MOD) % MOD for c, d, x, y in zip(ca, cb, xa, xb)],
                    dtype=np.uint64)
    assert np.array_equal(za + zb, want)


@protocol("test.owned-reuse", threat_model="test only", leakage="test only: returns shares")
def _owned_reuse(ctx, prov, values, share):
    state = prov.own(ctx.sub("own"), "a", values, (4, 3), 8)
    # Low halves, the high halves (same rows), a fresh hash, then other rows: fresh and high again.
    for i, (matrix, length) in enumerate(((state, 3), (state.T, 4), (state, 3), (state[1:3], 3),
                                          (state[1:3].T, 2))):
        prov.owned_product(ctx.sub(f"p{i}"), matrix, "a", share[:length], 0)
        prov.next_products(1)


def test_reused_ots_pad_every_correction_afresh(monkeypatch):
    """The owner's corrections for the same vector differ between products: no pad is used twice.

    The other party sends ``h_0 - h_1 + v_j`` per bit; were a tweak or a hash half reused, two
    products with the same ``v`` would send equal corrections (their difference would reveal ``v``'s).
    """
    from tests.protocol.wiretap import tap

    received = tap(monkeypatch, "a")
    x = np.arange(-6, 6, dtype=np.int64).reshape(4, 3)
    v = np.full(4, 5, dtype=np.uint64)
    _run(_owned_reuse, {"a": (x.view(np.uint64), v), "b": (None, v)})
    corrections = [msg for key, msg in received if key.endswith("d")]
    assert len(corrections) == 5
    # Per OT (row, column, bit): the five products' corrections of the OTs they share all differ.
    full = corrections[:3]
    part = [c[1:3] for c in full] + corrections[3:]
    for group in (full, part):
        for i in range(len(group)):
            for j in range(i):
                assert not np.any(group[i] == group[j]), f"products {j} and {i} share a pad"
