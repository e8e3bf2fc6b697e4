"""In-process nodes for unit tests: two parties' configurations, datasets with policies and operators."""

from __future__ import annotations

import pytest
import yaml

from accord.node import auth
from accord.node import datasets as ds
from accord.node.config import load_node_config
from accord.node.policy import parse_policy
from accord.node.service import Node
from tests.node_setup import PASSWORD, POLICIES
from tests.procs import write_cluster


@pytest.fixture(autouse=True)
def light_argon2(monkeypatch):
    """argon2id with small parameters, so tests that create operators stay fast (the production
    parameters are checked in test_web.py)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_DUMMY", auth._HASHER.hash("dummy"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    return write_cluster(tmp_path_factory.mktemp("cluster"), ["bank", "partner"])


@pytest.fixture(scope="module")
def frames():
    from examples.make_credit_data import generate

    return generate(n_shared=60, n_extra=5, seed=3)


def make_node(root, cluster, party, frame, **settings):
    home = root / party
    home.mkdir(exist_ok=True)
    frame.to_csv(home / f"{party}.csv", index=False)
    config = {"party": party, "cluster": str(cluster), "state": str(home / "state"), "listen": "127.0.0.1:1",
              "peers": {}, **settings}
    (home / "node.yaml").write_text(yaml.safe_dump(config))
    node = Node(load_node_config(home / "node.yaml"))
    with node.store.write() as conn:
        ds.register(conn, party, party, "csv", str(home / f"{party}.csv"), None,
                    parse_policy(POLICIES[party], "test"))
        auth.add_user(conn, f"{party}-op", PASSWORD)
    return node


@pytest.fixture
def nodes(tmp_path, cluster, frames):
    made = {p: make_node(tmp_path, cluster, p, f) for p, f in zip(("bank", "partner"), frames)}
    yield made
    for node in made.values():
        node.store.close()
