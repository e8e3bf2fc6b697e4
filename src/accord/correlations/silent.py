"""Silent VOLE over GF(2^128) and silent correlated OT: millions of correlations for a few hundred KiB.

Both parties first run IKNP (:mod:`accord.correlations.ot`) once; the VOLE *sender* is IKNP's sender and its
secret ``s`` is the global ``Delta``. One :meth:`VOLESender.extend` / :meth:`VOLEReceiver.extend`
pair then yields ``m`` correlations

* VOLE (``field=True``): the receiver gets ``a, c`` in GF(2^128)^m, the sender ``b`` with
  ``c = b + a Delta``; ``a`` is pseudo-random;
* correlated OT (``field=False``, subfield VOLE over GF(2)): the receiver gets choice bits ``a``
  and ``c = b + a Delta``; hashing gives random OT (``H(c)`` against ``H(b), H(b + Delta)``).

Construction (Boyle, Couteau, Gilboa, Ishai, Kohl and Scholl, CCS 2019, "Efficient Two-Round OT
Extension and Silent Non-Interactive Secure Computation", Sec. 5, with the expand-accumulate code of
Boyle et al., CRYPTO 2022, and Ferret's GGM single-point correlations, Yang et al., CCS 2020):

1. The receiver picks ``t`` noise points ``alpha_j`` (one per block of ``2^depth`` positions) and
   values ``beta_j``: 1 for OT, each with one IKNP OT of choice 1 as its base correlation; for VOLE
   uniform in GF(2^128), with base VOLEs ``delta_j = gamma_j + beta_j Delta`` combined from 128
   correlated OTs on the bits of ``beta_j`` (:func:`accord.correlations.gf128.combine_powers`). Those
   come from a first, silent correlated-OT call whose random choice bits are the bits of ``beta_j``
   (``bootstrap=True``, the bootstrapping of Ferret and Wolverine: fewer bytes), or from IKNP
   (``bootstrap=False``: less computation). IKNP also gives one OT per tree level on the complement
   of the path bit of ``alpha_j``.
2. The sender expands ``t`` GGM trees from random roots (:mod:`accord.correlations.ggm`) and sends,
   per level, both sides' sums masked by the two OT pads, and per tree ``delta_j`` plus the XOR of the
   tree's leaves. The receiver rebuilds every leaf but ``alpha_j`` and sets that one to
   ``v_alpha + beta_j Delta``: now ``w = v + e Delta`` for its sparse noise vector ``e``.
3. Both compress with the public EA code (:mod:`accord.correlations.lpn`): ``b = v H^T``,
   ``c = w H^T``, ``a = e H^T``.

Cost per call of ``m`` correlations: ``t (1 + depth)`` IKNP OTs for OT, and for VOLE ``t depth`` plus
the base call's, or ``t (128 + depth)`` without bootstrapping (``t = 400 .. 800`` and ``888 .. 1776``
trees, see :func:`accord.correlations.lpn.plan`); ``32 depth + 16`` bytes per tree from the sender, one
message per :data:`GROUP_TREES` trees so that the receiver works on a group while the sender expands
the next; 1 round trip (2 for a bootstrapped VOLE). Requests above :data:`CHUNK` outputs are split
into independent chunks, so memory stays bounded.

Security: semi-honest, two parties; CDH (base OT), fixed-key AES as an ideal permutation (IKNP hash,
GGM PRG) and dual LPN with regular noise for the EA code at the stated parameters
(:mod:`accord.correlations.lpn`: 128 bits against linear tests under the code's distance estimate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from accord.correlations import gf128, ggm, lpn
from accord.correlations.ot import ExtensionReceiver, ExtensionSender, hash_rows
from accord.errors import MalformedMessage
from accord.runtime.context import Context

CHUNK = 1 << 20  # outputs per independent expansion: bounds memory at about 0.4 GB per party
SEED_BYTES = 16
GROUP_TREES = 256  # trees per expansion message


def _plans(count: int, field_noise: bool) -> list[lpn.Plan]:
    if count < 0:
        raise ValueError(f"cannot make a negative number of correlations ({count})")
    sizes = [min(CHUNK, count - start) for start in range(0, count, CHUNK)] or [0]
    return [lpn.plan(size, field_noise) for size in sizes]


def _base_width(field_noise: bool, bootstrap: bool) -> int:
    """IKNP OTs per tree for the noise value: one for the value 1, 128 for a GF(2^128) value, or none when
    those 128 correlated OTs come from a silent correlated-OT call (``bootstrap``)."""
    if not field_noise:
        return 1
    return 0 if bootstrap else 128


def _per_tree(rows: np.ndarray, plans: list[lpn.Plan], width: int) -> list[np.ndarray]:
    """Consecutive rows, ``width`` per tree, as one ``(trees, width, ...)`` array per chunk."""
    out, start = [], 0
    for p in plans:
        out.append(rows[start : start + p.trees * width].reshape(p.trees, width, *rows.shape[1:]))
        start += p.trees * width
    return out


@dataclass(frozen=True)
class _Expansion:
    """The sender's message for one group of trees: the code seed, masked level sums, per-tree corrections.

    Trees go in groups of :data:`GROUP_TREES`, one message each, so the receiver rebuilds a group's
    leaves while the sender expands the next.
    """

    seed: bytes
    sums: np.ndarray  # (depth, 2 sides, trees, 2 words)
    corrections: np.ndarray  # (trees, 2)

    def to_wire(self) -> dict[str, object]:
        return {"seed": self.seed, "sums": self.sums, "corrections": self.corrections}

    @classmethod
    def from_wire(cls, value: object, depth: int, trees: int, peer: str, step: str) -> _Expansion:
        if (not isinstance(value, dict) or not isinstance(value.get("seed"), bytes)
                or len(value["seed"]) != SEED_BYTES
                or not _is_array(value.get("sums"), (depth, 2, trees, 2))
                or not _is_array(value.get("corrections"), (trees, 2))):
            raise MalformedMessage(f"party {peer!r} sent a malformed silent-correlation expansion for {step!r}: "
                                   f"expected a {SEED_BYTES}-byte seed, ({depth}, 2, {trees}, 2) sums and "
                                   f"({trees}, 2) corrections of uint64", party=peer, step=step)
        return cls(value["seed"], value["sums"], value["corrections"])


def _groups(trees: int) -> list[tuple[int, int]]:
    return [(g, min(trees, g + GROUP_TREES)) for g in range(0, trees, GROUP_TREES)]


def _is_array(value: object, shape: tuple[int, ...]) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.uint64 and value.shape == shape


def _split(rows: np.ndarray, plans: list[lpn.Plan], width: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split an extension's rows per chunk: noise-value rows ``(t, width, ...)``, path rows ``(depth, t, ...)``."""
    paths, start = [], sum(p.trees * width for p in plans)
    for p in plans:
        paths.append(rows[start : start + p.trees * p.depth].reshape(p.depth, p.trees, *rows.shape[1:]))
        start += p.trees * p.depth
    return _per_tree(rows, plans, width), paths


@dataclass
class VOLESender:
    """The side that holds ``Delta`` (IKNP's sender) and gets ``b``."""

    peer: str
    ot: ExtensionSender
    delta: int
    multiplier: gf128.Multiplier = field(repr=False)

    @classmethod
    def setup(cls, ctx: Context, peer: str) -> VOLESender:
        """128 base OTs (as base-OT receiver); ``Delta`` is IKNP's secret ``s``."""
        ot = ExtensionSender.setup(ctx.sub("iknp"), peer)
        delta = gf128.to_int(gf128.from_rows(ot.s[None, :])[0])
        return cls(peer, ot, delta, gf128.Multiplier(delta))

    def extend(self, ctx: Context, count: int, field_noise: bool = True, bootstrap: bool = True) -> np.ndarray:
        """``b`` for ``count`` correlations: ``(count, 2)`` uint64 (1 message received, 1 sent; 2 of each
        for a bootstrapped VOLE). Both parties must pass the same ``field_noise`` and ``bootstrap``."""
        plans = _plans(count, field_noise)
        bootstrap = bootstrap and field_noise
        width = _base_width(field_noise, bootstrap)
        if bootstrap:  # the noise values' base VOLEs, from 128 silent correlated OTs each
            cots = self.extend(ctx, 128 * sum(p.trees for p in plans), field_noise=False)
            base_vole = _per_tree(cots, plans, 128)
        total = sum(p.trees * (width + p.depth) for p in plans)
        with ctx.timed("iknp"):
            q, tweak = self.ot.extend(ctx, total)
            q_words = gf128.from_rows(q)
            pads = np.stack([hash_rows(q, tweak, 1), hash_rows(q ^ self.ot.s[None, :], tweak, 1)], axis=1)
        bases, _ = _split(q_words, plans, width)
        _, pad_rows = _split(pads, plans, width)
        if bootstrap:
            bases = base_vole
        seed = ctx.rng.bytes(SEED_BYTES)
        out = []
        for k, (p, base, pad) in enumerate(zip(plans, bases, pad_rows)):
            leaves = np.empty((1 << p.depth, p.trees, 2), dtype=np.uint64)
            delta_j = gf128.combine_powers(base) if field_noise else base[:, 0]
            for g0, g1 in _groups(p.trees):
                with ctx.timed("ggm"):
                    group, level_sums = ggm.expand(ctx.rng.uint64((g1 - g0, 2)), p.depth)
                    leaves[:, g0:g1] = group
                    message = _Expansion(seed, level_sums ^ pad[:, g0:g1].transpose(0, 2, 1, 3),
                                         delta_j[g0:g1] ^ np.bitwise_xor.reduce(group, axis=0))
                ctx.send(self.peer, message.to_wire(), f"expansion{self.ot.counter}.{k}.{g0}")
            with ctx.timed("lpn"):
                code = lpn.ExpandAccumulate(seed + k.to_bytes(4, "little"), p.length, p.outputs)
                out.extend(code.compress(leaves.reshape(-1, 2)))
        return np.concatenate(out)[:count]


@dataclass
class VOLEReceiver:
    """The side that gets ``a`` and ``c`` (IKNP's receiver)."""

    peer: str
    ot: ExtensionReceiver

    @classmethod
    def setup(cls, ctx: Context, peer: str) -> VOLEReceiver:
        """128 base OTs (as base-OT sender)."""
        return cls(peer, ExtensionReceiver.setup(ctx.sub("iknp"), peer))

    def extend(self, ctx: Context, count: int, field_noise: bool = True,
               bootstrap: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(a, c)`` for ``count`` correlations: ``a`` is ``(count, 2)`` uint64, or ``(count,)`` uint8 bits for OT.

        ``bootstrap=False`` takes a VOLE's base correlations from IKNP (128 OTs per tree, 2-4 MB more
        traffic) instead of a silent correlated-OT call: less computation, more bytes.
        """
        plans = _plans(count, field_noise)
        bootstrap = bootstrap and field_noise
        width = _base_width(field_noise, bootstrap)
        points = [(ctx.rng.uint64(p.trees) & np.uint64((1 << p.depth) - 1)).astype(np.int64) for p in plans]
        if bootstrap:
            # Random noise values with their base VOLEs from 128 silent correlated OTs each: the OTs'
            # random choice bits are the bits of beta (Wolverine's and Ferret's bootstrapping).
            bits, cots = self.extend(ctx, 128 * sum(p.trees for p in plans), field_noise=False)
            base_vole = _per_tree(cots, plans, 128)
            values = [gf128.from_rows(np.packbits(b.reshape(-1, 128), axis=1, bitorder="little"))
                      for b in _per_tree(bits, plans, 128)]
            base_bits: list[np.ndarray] = []
        elif field_noise:
            values = [ctx.rng.uint64((p.trees, 2)) for p in plans]
            base_bits = [np.unpackbits(gf128.to_rows(v), axis=1, bitorder="little") for v in values]
        else:
            values = [np.ones(p.trees, dtype=np.uint8) for p in plans]
            base_bits = [v[:, None] for v in values]
        path_choices = [1 - ggm.path_bits(a, p.depth) for a, p in zip(points, plans)]
        choices = np.concatenate([b.reshape(-1) for b in base_bits] + [c.reshape(-1) for c in path_choices])
        with ctx.timed("iknp"):
            t, tweak = self.ot.extend(ctx, choices)
            t_words = gf128.from_rows(t)
            pads = hash_rows(t, tweak, 1)
        bases, _ = _split(t_words, plans, width)
        _, pad_rows = _split(pads, plans, width)
        if bootstrap:
            bases = base_vole
        # The sender expands its trees before it answers: allow for >= 50k correlations per second.
        timeout = ctx.timeout + min(count / 50_000, 86_400.0)
        a_out, c_out = [], []
        for k, (p, alpha, beta, base, pad, choice) in enumerate(zip(plans, points, values, bases, pad_rows,
                                                                    path_choices)):
            leaves = np.empty((1 << p.depth, p.trees, 2), dtype=np.uint64)
            gamma = gf128.combine_powers(base) if field_noise else base[:, 0]
            for g0, g1 in _groups(p.trees):
                tag = f"expansion{self.ot.counter}.{k}.{g0}"
                message = _Expansion.from_wire(ctx.recv(self.peer, tag, timeout=timeout), p.depth, g1 - g0,
                                               self.peer, f"{ctx.path}/{tag}")
                with ctx.timed("ggm"):
                    trees = np.arange(g1 - g0)
                    chosen = message.sums[np.arange(p.depth)[:, None], choice[:, g0:g1], trees[None, :]]
                    group = ggm.punctured(alpha[g0:g1], p.depth, chosen ^ pad[:, g0:g1])
                    group[alpha[g0:g1], trees] = (message.corrections ^ np.bitwise_xor.reduce(group, axis=0)
                                                  ^ gamma[g0:g1])
                    leaves[:, g0:g1] = group
            code = lpn.ExpandAccumulate(message.seed + k.to_bytes(4, "little"), p.length, p.outputs)
            with ctx.timed("lpn"):
                noise_at = alpha * p.trees + np.arange(p.trees)
                c, a = code.compress(leaves.reshape(-1, 2), sparse=(noise_at, beta))
                a_out.append(a)
                c_out.append(c)
        return np.concatenate(a_out)[:count], np.concatenate(c_out)[:count]
