"""MPC sessions for tests: every engine and provider, in simulation, with parties a, b and c."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import accord

ENGINES = ("dealer", "insecure-self-dealer", "replicated", "ot")


@contextmanager
def mpc_session(engine: str, frac: int = 18) -> Iterator[tuple[accord.Cluster, object]]:
    """A simulated cluster ``a, b, c`` and an MPC session of the given engine on it."""
    with accord.Cluster.simulate(["a", "b", "c"], job=f"test-{engine}") as cluster:
        if engine == "replicated":
            spu = cluster.mpc(["a", "b", "c"], frac=frac)
        elif engine == "dealer":
            spu = cluster.mpc(["a", "b"], dealer="c", frac=frac)
        elif engine == "insecure-self-dealer":
            spu = cluster.mpc(["a", "b"], mode=engine, frac=frac, allow_insecure_test_mode=True)
        else:
            spu = cluster.mpc(["a", "b"], mode=engine, frac=frac)
        yield cluster, spu


def reveal(cluster: accord.Cluster, spu: object, x: object) -> object:
    """Open ``x`` to party a and return the numpy value."""
    return spu.reveal(x, to="a").get()
