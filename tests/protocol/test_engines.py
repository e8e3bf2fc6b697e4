"""Every engine (2PC with dealer, 2PC insecure self-dealer, 3PC replicated) against numpy, in simulation."""

from __future__ import annotations

import numpy as np
import pytest

import accord.mpc as mpc
from tests.mpc_sessions import ENGINES, mpc_session

GEN = np.random.default_rng(7)
X = GEN.uniform(-100, 100, (6, 5))
Y = GEN.uniform(-100, 100, (5, 4))
Z = GEN.uniform(-100, 100, (6, 5))
Z[0, :2] = X[0, :2]   # some ties for ==, <=, >=
ULP = 2.0**-18


@pytest.fixture(scope="module", params=ENGINES)
def env(request):
    with mpc_session(request.param) as (cluster, spu):
        a, b, c = cluster.parties()
        x, y, z = spu.share(a.put(X)), spu.share(b.put(Y)), spu.share(c.put(Z))
        # Compare against float64 on the values actually shared (inputs are quantised to 2^-18).
        q = {name: spu.reveal(v, to="a").get() for name, v in (("x", x), ("y", y), ("z", z))}
        yield cluster, spu, x, y, z, q


def _open(spu, v):
    return spu.reveal(v, to="a").get()


def test_linear_ops(env):
    _, spu, x, _, z, q = env
    assert np.max(np.abs(_open(spu, x + z) - (q["x"] + q["z"]))) <= 2 * ULP
    assert np.max(np.abs(_open(spu, x - 3.5) - (q["x"] - 3.5))) <= 2 * ULP
    assert np.max(np.abs(_open(spu, 2 * x) - 2 * q["x"])) <= 2 * ULP
    assert np.max(np.abs(_open(spu, x * 0.25) - q["x"] * 0.25)) <= 2 * ULP


def test_mul_and_matmul(env):
    """One truncation per product: floor or one more, so within one unit (float64 adds ~1e-11 here)."""
    _, spu, x, y, z, q = env
    bound = ULP * (1 + 1e-5)
    assert np.max(np.abs(_open(spu, x * z) - q["x"] * q["z"])) <= bound
    assert np.max(np.abs(_open(spu, x @ y) - q["x"] @ q["y"])) <= bound
    assert np.max(np.abs(_open(spu, x[0] @ y) - q["x"][0] @ q["y"])) <= bound
    assert np.max(np.abs(_open(spu, x @ np.ones(5)) - q["x"] @ np.ones(5))) <= bound


def test_comparisons_are_exact(env):
    _, spu, x, _, z, q = env
    for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        got = _open(spu, getattr(x, op)(z))
        assert got.dtype == bool
        assert np.array_equal(got, getattr(q["x"], op)(q["z"])), op
    assert np.array_equal(_open(spu, x < 0.0), q["x"] < 0)


def test_selection_and_reductions(env):
    _, spu, x, _, z, q = env
    smaller = spu.run(lambda a, b: mpc.where(a < b, a, b), x, z)
    assert np.max(np.abs(_open(spu, smaller) - np.minimum(q["x"], q["z"]))) == 0
    assert np.max(np.abs(_open(spu, abs(x)) - np.abs(q["x"]))) <= ULP
    assert np.array_equal(_open(spu, spu.run(lambda a: mpc.amax(a, axis=1), x)), q["x"].max(axis=1))
    assert np.array_equal(_open(spu, spu.run(lambda a: mpc.amin(a, axis=0), x)), q["x"].min(axis=0))
    assert np.array_equal(_open(spu, spu.run(lambda a: mpc.argmax(a, axis=1), x)), q["x"].argmax(axis=1))
    assert np.max(np.abs(_open(spu, x.sum(axis=0)) - q["x"].sum(axis=0))) <= 1e-9
    # 1/n is itself rounded to a multiple of 2^-18, so a mean is accurate to about |sum| 2^-19.
    assert abs(_open(spu, x.mean()) - q["x"].mean()) <= abs(q["x"].sum()) * 2.0**-19 + 2 * ULP


def test_division_by_a_secret_is_explicit_inside_runs(env):
    _, spu, x, _, z, q = env
    with pytest.raises(TypeError, match=r"approximations\.divide"):
        spu.run(lambda a, b: a / b, x, z)
    # At the driver level / goes through the reciprocal: twice docs/mpc.md's 3 2^-f relative, (|a| + 1) 2^-f.
    np.testing.assert_allclose(_open(spu, 2.0 / x), 2.0 / q["x"], rtol=6 * ULP, atol=2 * 3 * ULP)
    np.testing.assert_allclose(_open(spu, z / x), q["z"] / q["x"], rtol=6 * ULP, atol=2 * 101 * ULP)


def test_structure(env):
    _, spu, x, _, z, q = env
    assert np.array_equal(_open(spu, x.T), q["x"].T)
    assert np.array_equal(_open(spu, x.reshape(5, 6)), q["x"].reshape(5, 6))
    assert np.array_equal(_open(spu, x[1:4, ::2]), q["x"][1:4, ::2])
    joined = spu.run(lambda a, b: mpc.concatenate([a, b], axis=1), x, z)
    assert np.array_equal(_open(spu, joined), np.concatenate([q["x"], q["z"]], axis=1))


def test_integers_and_booleans(env):
    cluster, spu, *_ = env
    a, b = cluster.parties("a", "b")
    i = spu.share(a.put(np.array([3, -7, 12])))
    j = spu.share(b.put(np.array([5, 2, -4])))
    assert _open(spu, i * j).tolist() == [15, -14, -48]
    assert _open(spu, i @ j).tolist() == 15 - 14 - 48
    u = spu.share(a.put(np.array([True, False, True, False])))
    v = spu.share(b.put(np.array([True, True, False, False])))
    assert _open(spu, u & v).tolist() == [True, False, False, False]
    assert _open(spu, u | v).tolist() == [True, True, True, False]
    assert _open(spu, u ^ v).tolist() == [False, True, True, False]
    assert _open(spu, ~u).tolist() == [False, True, False, True]


def test_report_lists_engine_threat_model_and_costs(env):
    cluster, spu, x, _, z, _ = env
    _ = x * z
    report = cluster.report().to_dict()
    name = f"mpc.{spu.engine_name}.mul"
    assert name in report["protocols"]
    entry = report["protocols"][name]
    assert entry["threat_model"] == spu.threat_model
    assert any(c["bytes_sent"] > 0 for c in entry["costs"].values())
    assert "mul" in entry["ops"]
    if spu.engine_name.startswith("2pc-INSECURE"):
        assert "INSECURE" in entry["threat_model"]


def test_broadcasting_empty_and_scalar_arrays(env):
    cluster, spu, *_ = env
    a, b = cluster.parties("a", "b")
    col = spu.share(a.put(np.arange(3.0).reshape(3, 1)))
    row = spu.share(b.put(np.arange(4.0).reshape(1, 4)))
    assert np.array_equal(_open(spu, col * row), np.arange(3.0).reshape(3, 1) * np.arange(4.0).reshape(1, 4))
    assert _open(spu, col < 1.5).tolist() == [[True], [True], [False]]
    empty = spu.share(a.put(np.zeros(0)))
    assert _open(spu, empty * empty).shape == (0,)
    assert _open(spu, empty < 0.0).shape == (0,)
    scalar = spu.share(b.put(np.array(2.5)))
    assert float(_open(spu, scalar * scalar + 1)) == 7.25


def test_dealer_sends_one_correction_per_correlation():
    """A fixed-point product of n elements costs the dealer 8 B (triple) + 12 B (truncation) per element."""
    n = 4096
    with mpc_session("dealer") as (cluster, spu):
        a, b = cluster.parties("a", "b")
        x, y = spu.share(a.put(GEN.uniform(-4, 4, n))), spu.share(b.put(GEN.uniform(-4, 4, n)))
        spu.run(lambda u, v: u * v, x, y, name="bulk_mul")
        entry = cluster.report().to_dict()["protocols"][f"mpc.{spu.engine_name}.bulk_mul"]
    dealer = spu.dealer
    sent = {p: c["bytes_sent"] for p, c in entry["costs"].items()}
    assert 20 * n <= sent[dealer] <= 20 * n + 512          # message headers only on top
    assert entry["dealer_fraction"][dealer] == pytest.approx(20 / 48, rel=0.01)
