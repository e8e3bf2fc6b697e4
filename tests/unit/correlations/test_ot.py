"""Base OT and IKNP extension: receivers get exactly the chosen messages; senders' views look uniform."""

from __future__ import annotations

import numpy as np
import pytest

import accord
from accord.correlations.ot import ExtensionReceiver, ExtensionSender, base_receive, base_send, hash_rows, transpose
from accord.errors import MalformedMessage
from accord.runtime import protocol


@protocol("test.base-ot", threat_model="test only", leakage="test only: returns keys")
def _base(ctx, choices):
    if ctx.me == "s":
        return base_send(ctx, "r", len(choices))
    return base_receive(ctx, "s", choices)


@protocol("test.iknp", threat_model="test only", leakage="test only: returns OT rows")
def _iknp(ctx, choices):
    if ctx.me == "s":
        sender = ExtensionSender.setup(ctx, "r")
        q, tweak = sender.extend(ctx, len(choices))
        return q, sender.s, tweak
    receiver = ExtensionReceiver.setup(ctx, "s")
    t, tweak = receiver.extend(ctx, choices)
    return t, tweak


@pytest.fixture
def cluster():
    with accord.Cluster.simulate(["s", "r"]) as c:
        yield c


def test_base_ot_receiver_gets_the_chosen_key_only(cluster):
    choices = [0, 1, 1, 0, 1, 0, 0, 1]
    out = cluster.run(_base, {"s": (choices,), "r": (choices,)})
    pairs, keys = out["s"].get(), out["r"].get()
    for (k0, k1), c, k in zip(pairs, choices, keys):
        assert k == (k1 if c else k0) and k0 != k1


def test_extension_rows_satisfy_q_equals_t_xor_r_times_s(cluster):
    choices = (np.arange(10_003) % 3 == 0).astype(np.uint8)
    out = cluster.run(_iknp, {"s": (choices,), "r": (choices,)})
    (q, s, tweak), (t, _) = out["s"].get(), out["r"].get()
    assert np.array_equal(q, t ^ (choices[:, None] * s[None, :]))
    # Receiver's message is the hash of its row: equal to the sender's message for the choice bit.
    m0, m1, got = hash_rows(q, tweak, 2), hash_rows(q ^ s, tweak, 2), hash_rows(t, tweak, 2)
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))
    assert not np.any(np.all(m0 == m1, axis=1))


def test_sender_view_does_not_depend_on_choices(cluster):
    """Statistical sanity: the matrix the sender receives is balanced whatever the choice bits are."""
    seen = {}

    @protocol("test.iknp-view", threat_model="test only", leakage="test only")
    def view(ctx, choices):
        if ctx.me == "s":
            ExtensionSender.setup(ctx, "r")
            return ctx.recv("r", "u1")
        receiver = ExtensionReceiver.setup(ctx, "s")
        receiver.extend(ctx, choices)
        return None

    for name, choices in (("zeros", np.zeros(80_000, np.uint8)), ("ones", np.ones(80_000, np.uint8))):
        u = cluster.run(view, {"s": (choices,), "r": (choices,)})["s"].get()
        seen[name] = np.unpackbits(u).mean()
    for mean in seen.values():
        assert abs(mean - 0.5) < 0.005


def test_transpose_matches_unpacked_transpose():
    gen = np.random.default_rng(1)
    matrix = gen.integers(0, 256, (128, 13), dtype=np.uint8)
    bits = np.unpackbits(matrix, axis=1)[:, :100]
    assert np.array_equal(transpose(matrix, 100), np.packbits(bits.T, axis=1))


def test_invalid_point_is_rejected(cluster):
    @protocol("test.bad-point", threat_model="test only", leakage="test only")
    def bad(ctx):
        if ctx.me == "s":
            ctx.send("r", b"\x01" + bytes(31), "A")   # the identity: small order, not a valid point
            return None
        return base_receive(ctx, "s", [0])

    with pytest.raises(MalformedMessage, match="invalid Ed25519 point"):
        cluster.run(bad, {"s": (), "r": ()})


@protocol("test.kkrt-ot", threat_model="test only", leakage="test only: returns OT rows")
def _wide(ctx, rows):
    if ctx.me == "s":
        sender = ExtensionSender.setup(ctx, "r", width=512)
        q, _ = sender.extend(ctx, len(rows))
        return q, sender.s
    receiver = ExtensionReceiver.setup(ctx, "s", width=512)
    t, _ = receiver.extend_rows(ctx, rows)
    return t


def test_wide_extension_with_choice_rows_gives_q_equals_t_xor_rows_and_s(cluster):
    rows = np.random.default_rng(3).integers(0, 256, (1_001, 64), dtype=np.uint8)
    out = cluster.run(_wide, {"s": (rows,), "r": (rows,)})
    (q, s), t = out["s"].get(), out["r"].get()
    assert q.shape == t.shape == (1_001, 64) and s.shape == (64,)
    assert np.array_equal(q, t ^ (rows & s[None, :]))
    assert not np.array_equal(q, t)


def test_wide_transpose_matches_unpacked_transpose():
    matrix = np.random.default_rng(2).integers(0, 256, (512, 700), dtype=np.uint8)
    bits = np.unpackbits(matrix, axis=1)[:, :5_555]
    assert np.array_equal(transpose(matrix, 5_555), np.packbits(bits.T, axis=1))
    # Transposing twice is the identity (up to the padding of the row count to a multiple of 8).
    rows = transpose(matrix, 5_600)
    assert np.array_equal(transpose(rows, 512), matrix)
    assert transpose(np.zeros((512, 0), np.uint8), 0).shape == (0, 64)


def test_malformed_wide_matrix_names_the_peer(cluster):
    @protocol("test.kkrt-bad-u", threat_model="test only", leakage="test only")
    def bad(ctx):
        if ctx.me == "s":
            sender = ExtensionSender.setup(ctx, "r", width=512)
            return sender.extend(ctx, 100)
        ExtensionReceiver.setup(ctx, "s", width=512)
        ctx.send("s", np.zeros((128, 13), np.uint8), "u1")
        return None

    with pytest.raises(MalformedMessage, match="party 'r' sent a malformed OT-extension matrix"):
        cluster.run(bad, {"s": (), "r": ()})
