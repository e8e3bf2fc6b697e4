"""Driver API: configuration errors, bad inputs and malformed peer messages get clear exceptions."""

from __future__ import annotations

import numpy as np
import pytest

import accord
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.mpc.preprocessing import Roles, TrustedDealerProvider
from accord.mpc.protocols.exchange import swap
from accord.runtime import protocol


@pytest.fixture
def cluster():
    with accord.Cluster.simulate(["a", "b", "c", "d"]) as c:
        yield c


def test_configuration_errors(cluster):
    with pytest.raises(ConfigurationError, match="dealer=<third party> or mode='ot'"):
        cluster.mpc(["a", "b"])
    with pytest.raises(ConfigurationError, match="distinct from"):
        cluster.mpc(["a", "b"], dealer="a")
    with pytest.raises(ConfigurationError, match="2 or 3"):
        cluster.mpc(["a", "b", "c", "d"])
    with pytest.raises(ConfigurationError, match="no dealer"):
        cluster.mpc(["a", "b", "c"], dealer="d")
    with pytest.raises(ConfigurationError, match="no party 'zed'"):
        cluster.mpc(["a", "zed"], dealer="c")


def test_bad_inputs_name_the_party(cluster):
    spu = cluster.mpc(["a", "b"], dealer="c")
    with pytest.raises(InputError, match=r"party 'a'.*NaN"):
        spu.share(cluster.party("a").put(np.array([1.0, np.nan])))
    with pytest.raises(InputError, match=r"party 'b'.*outside the fixed-point range"):
        spu.share(cluster.party("b").put(np.array([1e12])))
    with pytest.raises(InputError, match=r"party 'a'.*dtype"):
        spu.share(cluster.party("a").put(np.array(["x"])))
    with pytest.raises(TypeError, match="party-owned"):
        spu.share(np.array([1.0]))


def test_shape_mismatch_and_wrong_receiver(cluster):
    spu = cluster.mpc(["a", "b"], dealer="c")
    x = spu.share(cluster.party("a").put(np.ones((2, 3))))
    with pytest.raises(ValueError, match="not aligned"):
        x @ x
    with pytest.raises(ValueError):
        x + spu.share(cluster.party("b").put(np.ones(4)))
    with pytest.raises(ConfigurationError, match="computing parties"):
        spu.reveal(x, to="c")


def test_a_party_outside_the_session_can_provide_input(cluster):
    spu = cluster.mpc(["a", "b", "c"])
    x = spu.share(cluster.party("d").put(np.array([2.5, -1.0])))
    assert spu.reveal(x * 2.0, to="b").get().tolist() == [5.0, -2.0]


@protocol("test.bad-peer", threat_model="test only", leakage="test only")
def _bad_swap(ctx):
    roles = Roles("a", "b", ctx.me)
    mine = np.zeros(3, dtype=np.uint64) if ctx.me == "a" else np.zeros(4, dtype=np.uint32)
    return swap(ctx, roles, mine, "x")


@protocol("test.bad-dealer", threat_model="test only", leakage="test only")
def _bad_dealer(ctx):
    if ctx.me == "c":
        ctx.send("a", b"short", "key")
        ctx.send("b", b"0123456789abcdef", "key")
        return None
    return TrustedDealerProvider.setup(ctx, Roles("a", "b", ctx.me, "c"))


def test_malformed_messages_name_the_peer(cluster):
    with pytest.raises(MalformedMessage, match=r"party '[ab]' sent array"):
        cluster.run(_bad_swap, {"a": (), "b": ()})
    with pytest.raises(MalformedMessage, match="party 'c' sent a malformed PRG key"):
        cluster.run(_bad_dealer, {"a": (), "b": (), "c": ()})


def test_a_data_owner_outside_the_session_shares_in_production():
    """Each party in its own production cluster (in threads over one memory hub), as in deployment."""
    import threading

    import numpy as np

    from accord.crypto.random import Rng
    from accord.net.memory import MemoryHub
    from accord.runtime.cluster import Cluster

    names = ("owner", "p0", "p1", "dealer")
    hub = MemoryHub(names)
    results, errors = {}, {}

    def party(me):
        try:
            cluster = Cluster(mode="production", names=names, links={me: hub.link(me)}, session="s", job="j",
                              timeout=20, rngs={me: Rng()})
            spu = cluster.mpc(["p0", "p1"], dealer="dealer")
            x = spu.share(cluster.party("owner").put(np.array([1.5, -2.0])))
            results[me] = x.shape
            if me != "owner":  # only session members compute
                revealed = spu.reveal(x * 2, to="p0")
                if me == "p0":
                    results["value"] = revealed.get().tolist()
        except Exception as exc:
            errors[me] = exc

    threads = [threading.Thread(target=party, args=(p,)) for p in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results["owner"] == (2,) and results["value"] == [3.0, -4.0]
