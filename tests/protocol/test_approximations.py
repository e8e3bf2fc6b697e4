"""Accuracy of the nonlinear functions over their stated domains, for every engine."""

from __future__ import annotations

import numpy as np
import pytest

from accord.mpc import approximations as ap
from tests.mpc_sessions import ENGINES, mpc_session


def _apply(engine, frac, fn, xs):
    with mpc_session(engine, frac=frac) as (cluster, spu):
        x = spu.share(cluster.party("a").put(xs))
        return spu.reveal(spu.run(fn, x), to="a").get()


@pytest.mark.parametrize("engine", ENGINES)
def test_sigmoid_abs_error_below_1e3_on_minus20_20(engine):
    xs = np.linspace(-20, 20, 4001)
    got = _apply(engine, 18, ap.sigmoid, xs)
    assert np.max(np.abs(got - 1 / (1 + np.exp(-xs)))) <= 1e-3


@pytest.mark.parametrize("engine", ENGINES)
def test_softplus_abs_error_below_4e4_on_minus30_30(engine):
    xs = np.linspace(-30, 30, 2401)
    got = _apply(engine, 18, ap.softplus, xs)
    assert np.max(np.abs(got - np.logaddexp(0.0, xs))) <= 4e-4


@pytest.mark.parametrize("engine", ENGINES)
def test_exp_relative_error_below_1e3_on_minus10_10(engine):
    # Relative accuracy of e^-10 = 4.5e-5 needs more than 18 fractional bits to represent at all.
    xs = np.linspace(-10, 10, 4001)
    got = _apply(engine, 26, ap.exp, xs)
    assert np.max(np.abs(got - np.exp(xs)) / np.exp(xs)) <= 1e-3


def test_exp_at_default_precision_is_accurate_where_representable():
    xs = np.linspace(-4, 4, 2001)
    got = _apply("dealer", 18, ap.exp, xs)
    assert np.max(np.abs(got - np.exp(xs)) / np.exp(xs)) <= 1e-3


@pytest.mark.parametrize("engine", ENGINES)
def test_reciprocal_relative_error_below_1e3_on_001_1000(engine):
    xs = np.concatenate([np.geomspace(0.01, 1000, 1500), -np.geomspace(0.01, 1000, 100)])
    got = _apply(engine, 26, ap.reciprocal, xs)
    assert np.max(np.abs(got * xs - 1)) <= 1e-3


def test_division_log_and_sqrt():
    xs = np.geomspace(0.01, 1000, 800)
    with mpc_session("dealer", frac=26) as (cluster, spu):
        a, b = cluster.parties("a", "b")
        x = spu.share(a.put(xs))
        y = spu.share(b.put(np.full(800, 3.0)))
        quotient = spu.reveal(y / x, to="a").get()
        logs = spu.reveal(spu.run(ap.log, x), to="a").get()
        roots = spu.reveal(spu.run(ap.sqrt, x), to="a").get()
        zero = spu.reveal(spu.run(ap.sqrt, spu.share(a.put(np.zeros(3)))), to="a").get()
    assert np.max(np.abs(quotient * xs / 3 - 1)) <= 1e-3
    assert np.max(np.abs(logs - np.log(xs))) <= 1e-4
    assert np.max(np.abs(roots / np.sqrt(xs) - 1)) <= 1e-4
    assert np.all(np.abs(zero) <= 2.0**-20)
