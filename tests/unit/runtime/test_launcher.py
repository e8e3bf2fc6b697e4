"""The launcher's free ports lie below the kernel's ephemeral range, where outgoing connections cannot take them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from accord.runtime.launcher import free_ports

RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not RANGE.exists(), reason="reads Linux's ephemeral port range")
def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    low = int(RANGE.read_text().split()[0])
    ports = free_ports(20)
    assert len(set(ports)) == 20
    if low - 16384 >= 1024:
        assert all(low - 16384 <= p < low for p in ports), (low, ports)
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
