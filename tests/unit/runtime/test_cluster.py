"""The runtime in simulation: SPMD runs, namespaces, accounting, failures and party ownership."""

from __future__ import annotations

import numpy as np
import pytest

import accord
import accord.crypto.random
from accord.errors import ConfigurationError, InputError, NotLocalError, PeerTimeout
from accord.net.memory import MemoryHub
from accord.runtime import Context, protocol
from accord.runtime.cluster import Cluster


@protocol("test.ping", threat_model="test", leakage="everything")
def ping(ctx: Context, value):
    ctx.send_all(value, "v")
    first = ctx.recv_all("v")
    inner = ctx.sub("inner")
    inner.send_all(value * 2, "v")  # same tag, different namespace
    second = inner.recv_all("v")
    return {"first": first, "second": second}


@protocol("test.stall", threat_model="test", leakage="nothing")
def stall(ctx: Context):
    if ctx.me == "bank":
        return ctx.recv("partner", "never", timeout=0.5)
    return None


@protocol("test.fail", threat_model="test", leakage="nothing")
def fail_at_partner(ctx: Context):
    if ctx.me == "partner":
        raise InputError("column 'x' is all NaN", party="partner", field="x")
    return ctx.recv("partner", "data", timeout=30)


def test_spmd_run_with_namespaces_and_accounting():
    with Cluster.simulate(["a", "b", "c"]) as cluster:
        out = cluster.run(ping, {p: (i,) for i, p in enumerate(cluster.names)})
        assert out["a"].get() == {"first": {"b": 1, "c": 2}, "second": {"b": 2, "c": 4}}
        run = cluster.report().runs[0]
        assert run.costs["a"].rounds == 2 and run.costs["a"].messages_sent == 4
        assert set(run.ops) == {"test.ping", "inner"} and run.ops["inner"]["b"].rounds == 1
        assert cluster.report().to_dict()["protocols"]["test.ping"]["threat_model"] == "test"


def test_timeout_names_peer_and_step():
    with Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(PeerTimeout, match=r"'partner'.*test.stall/never"):
            cluster.run(stall, {"bank": (), "partner": ()})


def test_root_cause_is_raised_and_peers_are_released_early():
    with Cluster.simulate(["bank", "partner"], timeout=30) as cluster:
        with pytest.raises(InputError, match=r"party 'partner'.*column 'x'"):
            cluster.run(fail_at_partner, {"bank": (), "partner": ()})
        # the cluster is still usable for the next run
        assert cluster.run(ping, {"bank": (1,), "partner": (2,)})["bank"].get()["first"] == {"partner": 2}


def test_values_stay_with_their_owner():
    hub = MemoryHub(["bank", "partner"])
    cluster = Cluster(mode="production", names=("bank", "partner"), links={"bank": hub.link("bank")},
                      session="s", job="j", timeout=5, rngs={"bank": accord.crypto.random.Rng()})
    bank, partner = cluster.parties("bank", "partner")
    mine = bank.put(np.arange(3))
    theirs = partner.put(np.arange(3))
    assert mine.is_local and not theirs.is_local
    with pytest.raises(NotLocalError, match="lives at party 'partner'"):
        theirs.get()
    with pytest.raises(NotLocalError, match="owned by 'partner'"):
        bank.apply(lambda x: x, theirs)
    with pytest.raises(NotLocalError):
        cluster.run(ping, {"bank": (theirs,)})
    # A protocol result that is a table at its owner is a table handle everywhere (see accord.psi's API).
    with pytest.raises(NotLocalError, match="lives at party 'partner'"):
        partner.put(None).as_table().to_pandas()
    with pytest.raises(TypeError, match="not a table"):
        mine.as_table()


def test_bad_cluster_definitions():
    with pytest.raises(ConfigurationError, match="at least 2"):
        Cluster.simulate(["solo"])
    with pytest.raises(ConfigurationError, match="unique"):
        Cluster.simulate(["a", "a"])
    with Cluster.simulate(["a", "b"]) as cluster, pytest.raises(ConfigurationError, match="no party 'z'"):
        cluster.party("z")


def test_undeclared_protocols_are_refused():
    with Cluster.simulate(["a", "b"]) as cluster, pytest.raises(TypeError, match="not declared"):
        cluster.run(lambda ctx: None, {"a": (), "b": ()})


def test_seeded_simulation_is_flagged_insecure():
    with Cluster.simulate(["a", "b"], seed=b"t") as cluster:
        assert "NOT secure" in str(cluster.report())
