"""Message limits as configured: the cluster file's sizes, and receivers decoding within their link's limits."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, MalformedMessage
from accord.net import codec
from accord.net.memory import MemoryHub
from accord.net.tls import write_party_certificate
from accord.runtime.config import load_cluster_config
from accord.runtime.context import Context


def _cluster_file(tmp_path, **settings):
    parties = {}
    for i, party in enumerate(("bank", "partner")):
        _, cert = write_party_certificate(party, tmp_path / "certs")
        parties[party] = {"address": f"127.0.0.1:{50000 + i}", "cert": str(cert)}
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"parties": parties, **settings}))
    return path


def test_sizes_in_the_cluster_file_take_units_and_default_to_the_protocols_needs(tmp_path):
    cfg = load_cluster_config(_cluster_file(tmp_path))
    assert (cfg.max_message, cfg.max_buffered) == (2 << 30, 4 << 30)
    cfg = load_cluster_config(_cluster_file(tmp_path / "a", max_message="3.5 GiB", max_buffered=8 << 30))
    assert (cfg.max_message, cfg.max_buffered) == (7 << 29, 8 << 30)
    cfg = load_cluster_config(_cluster_file(tmp_path / "b", max_message="6 GiB"))
    assert cfg.max_buffered == 6 << 30  # follows a larger message limit unless set


@pytest.mark.parametrize(("settings", "match"), [
    ({"max_message": "2 GB"}, r"'max_message' must be a positive number of bytes, optionally with a unit \(B, KiB"),
    ({"max_buffered": 0}, "'max_buffered' must be a positive number of bytes"),
    ({"max_message": "1 GiB", "max_buffered": "512 MiB"}, r"max_buffered \(536870912 bytes\) must be at least"),
])
def test_bad_sizes_are_explained(tmp_path, settings, match):
    with pytest.raises(ConfigurationError, match=match):
        load_cluster_config(_cluster_file(tmp_path, **settings))


def test_a_receiver_decodes_within_its_links_limits():
    hub = MemoryHub(["bank", "partner"])
    hub.link("partner").limits = codec.Limits(max_bytes=1000)
    ctx = {p: Context(p, hub.parties, hub.link(p), "s", Rng(), timeout=5, path="t", op="t") for p in hub.parties}
    ctx["bank"].send("partner", np.zeros(100, dtype=np.uint8), "small")
    ctx["bank"].send("partner", np.zeros(2000, dtype=np.uint8), "large")
    assert len(ctx["partner"].recv("bank", "small")) == 100
    with pytest.raises(MalformedMessage, match=r"party 'bank'.*exceeds the limit of 1000 bytes"):
        ctx["partner"].recv("bank", "large")
