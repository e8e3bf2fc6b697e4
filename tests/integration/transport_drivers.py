"""Drivers in which partner misbehaves towards bank's memory (run in separate processes by tests/procs.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

import accord
from accord.net import codec
from accord.runtime import Context, protocol


@protocol("test.flood", threat_model="test", leakage="everything")
def flood(ctx: Context, how: str, blocks: int, size: int) -> Any:
    """Partner sends ``blocks`` messages bank never reads, to ``how`` = "backlog" keys or "invented" sessions."""
    if ctx.me == "bank":
        return ctx.recv("partner", "never-sent")
    for i in range(blocks):
        block = np.zeros(size, dtype=np.uint8)
        if how == "backlog":
            ctx.send("bank", block, f"unread{i}")
        else:  # what an honest party never does: write to sessions bank never agreed to
            ctx._link.send("bank", f"made-up-{i}#1", "k", codec.encode_parts(block))
    return ctx.recv("bank", "never-sent")


def flood_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> Any:
    cluster.run(flood, {p: (args["how"], args["blocks"], args["size"]) for p in ("bank", "partner")})
