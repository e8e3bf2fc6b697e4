"""Silent VOLE and correlated OT against their definitions; what each party receives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accord
from accord.correlations import VOLEReceiver, VOLESender
from accord.correlations.ot import hash_rows
from accord.errors import MalformedMessage
from accord.runtime import protocol
from tests.protocol import wiretap
from tests.unit.correlations.test_gf128 import clmul_mod


@protocol("test.silent", threat_model="test only", leakage="test only: returns correlations")
def _silent(ctx, counts, field_noise, bootstrap):
    if ctx.me == "s":
        sender = VOLESender.setup(ctx, "r")
        return sender.delta, [sender.extend(ctx, n, field_noise, bootstrap) for n in counts]
    receiver = VOLEReceiver.setup(ctx, "s")
    return [receiver.extend(ctx, n, field_noise, bootstrap) for n in counts]


def _run(counts, field_noise, bootstrap=True):
    args = (counts, field_noise, bootstrap)
    with accord.Cluster.simulate(["s", "r"]) as cluster:
        out = cluster.run(_silent, {"s": args, "r": args})
        return out["s"].get(), out["r"].get()


def _int(row: np.ndarray) -> int:
    return int(row[0]) | (int(row[1]) << 64)


@settings(max_examples=4, deadline=None)
@given(st.lists(st.integers(0, 40_000), min_size=1, max_size=2), st.booleans())
def test_vole_satisfies_c_equals_b_plus_a_delta(counts, bootstrap):
    (delta, bs), got = _run(counts, True, bootstrap)
    for n, b, (a, c) in zip(counts, bs, got):
        assert b.shape == a.shape == c.shape == (n, 2)
        # Check a sample against GF(2^128) arithmetic written in the test (all rows through XOR when a = 0).
        for i in range(0, n, max(1, n // 50)):
            assert _int(c[i]) == _int(b[i]) ^ clmul_mod(_int(a[i]), delta)
        if n > 1000:
            assert len({r.tobytes() for r in a[:1000]}) == 1000  # a looks uniform, not sparse


@settings(max_examples=4, deadline=None)
@given(st.lists(st.integers(0, 40_000), min_size=1, max_size=2))
def test_correlated_ot_satisfies_c_equals_b_xor_choice_delta(counts):
    (delta, bs), got = _run(counts, False)
    d = np.array([delta & (2**64 - 1), delta >> 64], dtype=np.uint64)
    for n, b, (choice, c) in zip(counts, bs, got):
        assert choice.shape == (n,) and choice.dtype == np.uint8 and set(np.unique(choice)) <= {0, 1}
        assert np.array_equal(c, b ^ (choice[:, None].astype(np.uint64) * d))
        if n > 10_000:
            assert 0.45 < choice.mean() < 0.55


def test_random_ot_from_correlated_ot():
    (delta, (b,)), ((choice, c),) = _run([5000], False)
    d = np.array([delta & (2**64 - 1), delta >> 64], dtype=np.uint64)
    rows = lambda x: np.ascontiguousarray(x).view(np.uint8).reshape(-1, 16)  # noqa: E731
    m0, m1, got = hash_rows(rows(b), 7, 1), hash_rows(rows(b ^ d), 7, 1), hash_rows(rows(c), 7, 1)
    assert np.array_equal(got, np.where(choice[:, None] == 1, m1, m0))


def test_traffic_is_far_below_iknp(monkeypatch):
    """Bytes per VOLE: level sums (of the base OTs' expansion and the VOLE's) to the receiver, small IKNP
    matrices to the sender; a VOLE from IKNP and Gilboa alone needs 128 OTs, 2 KiB."""
    n = 200_000
    seen_r, seen_s = wiretap.tap(monkeypatch, "r"), wiretap.tap(monkeypatch, "s")
    _run([n], True)
    assert sum(a.nbytes for a in wiretap.arrays(seen_r)) < 3 * n
    to_sender = wiretap.arrays(seen_s)
    assert sum(a.nbytes for a in to_sender) < 2 * n
    # The sender sees only base-OT points and the IKNP matrix (pseudo-random bytes), never a or c.
    assert all(a.dtype == np.uint8 for a in to_sender)


@protocol("test.silent-bad", threat_model="test only", leakage="test only")
def _bad(ctx):
    if ctx.me == "s":
        VOLESender.setup(ctx, "r")
        ctx.recv("r", "u1")  # the receiver's IKNP matrix; answer with garbage
        ctx.send("r", {"seed": b"x", "sums": np.zeros(3, np.uint64)}, "expansion1.0.0")
        return None
    receiver = VOLEReceiver.setup(ctx, "s")
    return receiver.extend(ctx, 10, bootstrap=False)


def test_malformed_expansion_names_the_peer():
    with accord.Cluster.simulate(["s", "r"]) as cluster, pytest.raises(MalformedMessage, match="'s'"):
        cluster.run(_bad, {"s": (), "r": ()})


@pytest.mark.parametrize("field_noise", [True, False])
def test_requests_above_a_chunk_are_split_and_stay_correct(monkeypatch, field_noise):
    from accord.correlations import lpn, silent

    monkeypatch.setattr(silent, "CHUNK", 20_000)
    monkeypatch.setattr(lpn, "MIN_OUTPUTS", 1 << 12)
    (delta, (b,)), ((a, c),) = _run([45_000], field_noise)  # chunks of 20000, 20000 and 5000
    assert len(b) == len(c) == 45_000
    for i in range(0, 45_000, 997):
        a_i = _int(a[i]) if field_noise else int(a[i])
        assert _int(c[i]) == _int(b[i]) ^ clmul_mod(a_i, delta)
