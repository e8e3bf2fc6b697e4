"""Property tests: sharing and the arithmetic protocols agree with numpy for arbitrary inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import accord
from accord.crypto.random import Rng
from accord.math.fixed import decode, encode
from accord.mpc.sharing import recombine_additive, recombine_replicated, split_additive, split_replicated
from tests.mpc_sessions import ENGINES

_SESSIONS: dict[str, tuple] = {}


def _session(engine):
    if engine not in _SESSIONS:
        cluster = accord.Cluster.simulate(["a", "b", "c"])
        if engine == "replicated":
            spu = cluster.mpc(["a", "b", "c"])
        elif engine == "dealer":
            spu = cluster.mpc(["a", "b"], dealer="c")
        else:
            spu = cluster.mpc(["a", "b"], mode=engine, allow_insecure_test_mode=engine == "insecure-self-dealer")
        _SESSIONS[engine] = (cluster, spu)
    return _SESSIONS[engine]


@pytest.fixture(scope="module", autouse=True)
def _close_sessions():
    yield
    for cluster, _ in _SESSIONS.values():
        cluster.close()
    _SESSIONS.clear()


reals = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
ring = arrays(np.uint64, st.integers(1, 20), elements=st.integers(0, 2**64 - 1))


@given(ring)
def test_split_then_recombine(x):
    rng = Rng(seed=b"prop")
    assert np.array_equal(recombine_additive(list(split_additive(x, rng))), x)
    assert np.array_equal(recombine_replicated(split_replicated(x, rng)), x)


def _quantised(values):
    return decode(encode(np.asarray(values), 18), 18)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_add_mul_trunc(engine, data):
    n = data.draw(st.integers(1, 12))
    xs = _quantised(data.draw(arrays(np.float64, n, elements=reals)))
    ys = _quantised(data.draw(arrays(np.float64, n, elements=reals)))
    cluster, spu = _session(engine)
    x, y = spu.share(cluster.party("a").put(xs)), spu.share(cluster.party("b").put(ys))
    total, prod = spu.run(lambda p, q: (p + q, p * q), x, y)
    assert np.max(np.abs(spu.reveal(total, to="a").get() - (xs + ys))) == 0
    assert np.max(np.abs(spu.reveal(prod, to="a").get() - xs * ys)) <= 2.0**-18 * (1 + 1e-5)
    halves = spu.reveal(spu.run(lambda p: p.trunc(1), x), to="b").get()
    assert np.max(np.abs(halves - xs / 2)) <= 2.0**-18


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_matmul(engine, data):
    m, k, n = (data.draw(st.integers(1, 6)) for _ in range(3))
    xs = _quantised(data.draw(arrays(np.float64, (m, k), elements=reals)))
    ys = _quantised(data.draw(arrays(np.float64, (k, n), elements=reals)))
    cluster, spu = _session(engine)
    x, y = spu.share(cluster.party("a").put(xs)), spu.share(cluster.party("b").put(ys))
    assert np.max(np.abs(spu.reveal(x @ y, to="a").get() - xs @ ys)) <= 2.0**-18 * (1 + 1e-5)
