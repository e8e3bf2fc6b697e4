"""Plaintext arrays one party holds inside an MPC run, multiplied by secret arrays without being shared.

In vertical learning each party holds its feature block in the clear and only the weights and the
residuals are secret: ``X_p w = X_p w_p + X_p w_other`` (``w_p``, ``w_other`` the two shares), so the
owner computes the first term alone and the second is a product of its matrix with the other
party's share. An :class:`Owned` array stands for that block inside an SPMD run: the owner holds the
ring-encoded values, every participant the public shape, and ``owned @ shared`` goes to the engine's
:meth:`~accord.mpc.engine.Engine.owned_matmul` (a matrix OLE in the dealer-free OT engine: the
matrix is never shared, masked or opened; the other engines share it first). Compared with sharing
``X`` and multiplying two secret matrices, this halves the OT-based products and removes the
openings of ``X - A``. At the driver level the matrix is an :class:`OwnedArray` (what
:meth:`accord.mpc.MPC.owned` returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from accord.errors import InputError, MalformedMessage
from accord.mpc.engine import OwnedProduct
from accord.mpc.tensor import Machine, Shared, check_party_value
from accord.runtime.context import Context

if TYPE_CHECKING:
    from accord.mpc.session import MPC
    from accord.runtime.cluster import PartyObject

OWNED_LEAKAGE = ("the matrix's shape, to every participant; its public bound and fractional bits (so the number "
                 "of OTs) are the driver's parameters; no value of the matrix leaves its owner, and no later "
                 "product with it reveals anything beyond the values revealed to their named receivers")
OWNED_FRAC = 10   # fractional bits of owned() matrices: 14 bits per standardised feature clipped at 5


class Owned:
    """One party's plaintext matrix in an SPMD run: each party's engine state for it, and a public shape.

    The values are fixed-point encodings with ``frac`` fractional bits (their own precision, not the
    session's). The state is what :meth:`~accord.mpc.engine.Engine.own` returned: the ring matrix at
    the owner (``None`` elsewhere), or in the OT engine the OTs on its bits at both parties. Row slices
    and the transpose are local; ``@`` with a :class:`Shared` operand gives a secret ``Shared``.
    """

    def __init__(self, m: Machine, owner: str, state: Any, shape: Sequence[int], frac: int) -> None:
        self.m = m
        self.owner = owner
        self.state = state
        self.shape = tuple(int(d) for d in shape)
        self.frac = frac
        if len(self.shape) != 2:
            raise ValueError(f"an owned array is a matrix, got shape {self.shape}")

    def __repr__(self) -> str:
        return f"<Owned {self.shape} at {self.owner}>"

    def __len__(self) -> int:
        return self.shape[0]

    def _new(self, fn: Any, shape: Sequence[int]) -> Owned:
        return Owned(self.m, self.owner, None if self.state is None else fn(self.state), shape, self.frac)

    def __getitem__(self, rows: slice) -> Owned:
        """A slice of rows (batches of a feature block)."""
        if not isinstance(rows, slice):
            raise TypeError("an owned array is indexed by a slice of rows")
        count = len(range(*rows.indices(self.shape[0])))
        return self._new(lambda v: v[rows], (count, self.shape[1]))

    @property
    def T(self) -> Owned:  # noqa: N802 - numpy's name
        """The transpose."""
        return self._new(lambda v: v.T, self.shape[::-1])

    def __matmul__(self, other: Shared) -> Shared:
        return owned_matmul([(self, other)])[0]


def owned_matmul(pairs: Sequence[tuple[Owned, Shared]]) -> list[Shared]:
    """``owned @ shared`` for each pair, computed together and truncated once (fixed-point results).

    The shared operand is a vector ``(k,)`` or a matrix ``(k, n)``. In the OT engine one round trip
    serves one matrix of each party, so pair the two parties' blocks in one call.
    """
    if not pairs:
        return []
    m = pairs[0][1].m
    engine = m.engine
    frac = pairs[0][0].frac
    if any(owned.frac != frac for owned, _ in pairs):
        raise ValueError("owned matrices multiplied together must have the same fractional bits")
    products, shapes = [], []
    for owned, shared in pairs:
        if shared.ndim not in (1, 2) or shared.shape[0] != owned.shape[1]:
            raise ValueError(f"matmul: shapes {owned.shape} and {shared.shape} are not aligned")
        fixed = shared.astype("fixed")
        k, n = owned.shape[1], (1 if fixed.ndim == 1 else fixed.shape[1])
        raw = engine.local(lambda r, k=k, n=n: r.reshape(k, n), fixed.raw)
        products.append(OwnedProduct(owned.owner, owned.state, raw, owned.shape[0], k, n))
        shapes.append((owned.shape[0],) if fixed.ndim == 1 else (owned.shape[0], n))
    raws = engine.owned_matmul(m.sub("owned"), products)
    sizes = [int(np.prod(s)) for s in shapes]
    flat = Shared(m, engine.local(lambda *rs: np.concatenate([r.reshape(-1) for r in rs]), *raws), (sum(sizes),),
                  "fixed").trunc(frac)
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


class OwnedArray:
    """A computing party's plaintext matrix placed in an MPC session (:meth:`MPC.owned`); only its shape is public.

    ``states`` holds each participant's engine state for it (:meth:`~accord.mpc.engine.Engine.own`).
    """

    def __init__(self, session: MPC, owner: str, states: dict[str, PartyObject], shape: tuple[int, ...],
                 frac: int) -> None:
        self.session = session
        self.owner = owner
        self.states = states
        self.shape = shape
        self.frac = frac

    def __repr__(self) -> str:
        return f"<OwnedArray {self.shape} at {self.owner}>"


def owned_body(ctx: Context, engine: Any, owner: str, bound: float, frac: int, magnitude: int, value: Any) -> Any:
    """The SPMD body of :meth:`MPC.owned`: the owner checks and encodes its matrix and sends only the shape."""
    ring = None
    if ctx.me == owner:
        arr = check_party_value(value, owner)
        if arr.ndim != 2 or arr.dtype.kind == "b":
            raise InputError(f"owned() takes a numeric matrix, got {arr.dtype} of shape {arr.shape}", party=owner,
                             field="input")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all() or np.abs(arr).max(initial=0.0) > bound:
            raise InputError(f"owned() values must be finite and at most {bound} in absolute value", party=owner,
                             field="input")
        ring = np.rint(arr * 2.0 ** frac).astype(np.int64).view(np.uint64)
        ctx.send_all(list(arr.shape), "shape")
        shape = list(arr.shape)
    else:
        shape = ctx.recv(owner, "shape")
        if not isinstance(shape, list) or len(shape) != 2 or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise MalformedMessage(f"party {owner!r} sent a malformed matrix shape", party=owner,
                                   step=f"{ctx.path}/shape")
    return shape, engine.own(ctx.sub("own"), owner, ring, tuple(shape), magnitude)
