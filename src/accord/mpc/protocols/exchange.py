"""Opening shares: each computing party sends its share to the other and checks what comes back."""

from __future__ import annotations

import numpy as np

from accord.errors import MalformedMessage
from accord.mpc.preprocessing.base import Roles, expect_array
from accord.runtime.context import Context


def swap(ctx: Context, roles: Roles, mine: np.ndarray, tag: str) -> np.ndarray:
    """Send ``mine`` to the other computing party and return its array of the same shape and dtype."""
    mine = np.asarray(mine)
    ctx.send(roles.peer, mine, tag)
    return expect_array(ctx.recv(roles.peer, tag), peer=roles.peer, step=f"{ctx.path}/{tag}", shape=mine.shape,
                        dtype=mine.dtype)


def swap_list(ctx: Context, roles: Roles, mine: list[np.ndarray], tag: str) -> list[np.ndarray]:
    """:func:`swap` for several arrays in one message (one round)."""
    mine = [np.asarray(m) for m in mine]
    ctx.send(roles.peer, mine, tag)
    theirs = ctx.recv(roles.peer, tag)
    step = f"{ctx.path}/{tag}"
    if not isinstance(theirs, list) or len(theirs) != len(mine):
        raise MalformedMessage(f"party {roles.peer!r} sent {type(theirs).__name__} for {step!r}; expected a list "
                               f"of {len(mine)} arrays", party=roles.peer, step=step)
    return [expect_array(t, peer=roles.peer, step=step, shape=m.shape, dtype=m.dtype) for m, t in zip(mine, theirs)]
