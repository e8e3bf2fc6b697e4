"""The client's side of SecAgg+: one pure function per stage over a small per-round state.

A client keeps only its two private keys, its self-mask seed, its neighbours' public keys and the
ciphertexts addressed to it (a few kilobytes), so a simulation can hold hundreds of them. Its
update exists only inside :func:`collect`, where it is quantised and masked in one vectorised pass.

Safety checks on the client, which keep a curious aggregator from learning an update even by asking
twice: a client answers the unmasking stage once per round, and never reveals both the seed share and
the key share of one neighbour (Bonawitz et al. 2017, §4: "survivors and dropped are disjoint").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from accord.crypto.random import Rng
from accord.errors import ProtocolAbort
from accord.fl.secagg import crypto, shamir
from accord.fl.secagg.messages import (
    KEY_LIMBS,
    SEED_LIMBS,
    CollectIns,
    EncryptedShares,
    MaskedInput,
    Neighbour,
    PublicKeys,
    SecAggStage,
    SetupIns,
    ShareKeysIns,
    UnmaskIns,
    UnmaskShares,
)


def share_info(round_id: bytes, sender: str, receiver: str) -> bytes:
    """HKDF info and AEAD associated data of the share ciphertext from ``sender`` to ``receiver``."""
    return crypto.label("shares", round_id, sender, receiver)


def mask_info(round_id: bytes, a: str, b: str) -> bytes:
    """HKDF info of the pairwise mask between ``a`` and ``b`` (symmetric in the two names)."""
    return crypto.label("mask", round_id, *sorted((a, b)))


@dataclass
class ClientState:
    """What one client remembers between the stages of one round."""

    me: str
    setup: SetupIns
    c_private: X25519PrivateKey
    s_private: X25519PrivateKey
    seed: bytes
    neighbours: dict[str, Neighbour] = field(default_factory=dict)
    received: dict[str, bytes] = field(default_factory=dict)
    unmasked: bool = False


def setup(rng: Rng, me: str, ins: SetupIns) -> tuple[ClientState, PublicKeys]:
    """Draw this round's key pairs and self-mask seed; advertise the public keys."""
    c_private, c_public = crypto.keypair(rng)
    s_private, s_public = crypto.keypair(rng)
    state = ClientState(me, ins, c_private, s_private, rng.bytes(crypto.SEED_BYTES))
    return state, PublicKeys(c_public, s_public)


def share_keys(rng: Rng, state: ClientState, ins: ShareKeysIns) -> EncryptedShares:
    """Shamir-share the self-mask seed and the mask key among the neighbours; encrypt each neighbour's pair."""
    t = state.setup.threshold
    if len(ins.neighbours) < t:
        raise ProtocolAbort(f"client {state.me!r} has {len(ins.neighbours)} neighbours, fewer than the threshold {t}",
                            party=state.me, step=SecAggStage.SHARE_KEYS.value)
    state.neighbours = dict(ins.neighbours)
    names = list(ins.neighbours)
    xs = np.array([ins.neighbours[n].index for n in names], dtype=np.int64)
    secrets = [shamir.to_limbs(state.seed), shamir.to_limbs(state.s_private.private_bytes_raw())]
    seed_shares = shamir.split(rng, secrets[0][None, :], xs, t)[0]
    key_shares = shamir.split(rng, secrets[1][None, :], xs, t)[0]
    out = {}
    for i, name in enumerate(names):
        info = share_info(state.setup.round_id, state.me, name)
        key = crypto.agree(state.c_private, ins.neighbours[name].c, info)
        plaintext = np.concatenate([seed_shares[i], key_shares[i]]).astype("<u4").tobytes()
        out[name] = crypto.seal(key, plaintext, info)
    return EncryptedShares(out)


def collect(state: ClientState, ins: CollectIns, encoded: np.ndarray) -> MaskedInput:
    """Mask the ring-encoded update with the self mask and one pairwise mask per neighbour that shared keys.

    ``encoded`` is the quantised update with its weight as the last element (see :mod:`.encoding`).
    """
    setup = state.setup
    dtype = setup.quantizer.dtype
    if encoded.dtype != dtype or encoded.shape != (setup.dim + 1,):
        raise ValueError(f"encoded update must be {dtype} of shape ({setup.dim + 1},), got {encoded.dtype} "
                         f"{encoded.shape}")
    state.received = dict(ins.ciphertexts)
    vector = encoded + crypto.expand_mask(state.seed, setup.dim + 1, dtype)
    mine = state.neighbours
    own_index = setup.index
    for name in ins.ciphertexts:  # neighbours that completed share_keys: exactly those the aggregator kept
        seed = crypto.agree(state.s_private, mine[name].s, mask_info(setup.round_id, state.me, name))
        mask = crypto.expand_mask(seed, setup.dim + 1, dtype)
        if own_index < mine[name].index:
            vector += mask
        else:
            vector -= mask
    return MaskedInput(vector)


def unmask(state: ClientState, ins: UnmaskIns) -> UnmaskShares:
    """Reveal seed shares of surviving neighbours and key shares of dropped ones, once per round."""
    step = SecAggStage.UNMASK.value
    if state.unmasked:
        raise ProtocolAbort(f"client {state.me!r} was asked to unmask twice in one round; refusing",
                            party=state.me, step=step)
    unknown = (set(ins.survivors) | set(ins.dropped)) - set(state.received)
    if unknown:
        raise ProtocolAbort(f"client {state.me!r} holds no shares of {sorted(unknown)}", party=state.me, step=step)
    state.unmasked = True
    seeds, keys = {}, {}
    for name in [*ins.survivors, *ins.dropped]:
        info = share_info(state.setup.round_id, name, state.me)
        key = crypto.agree(state.c_private, state.neighbours[name].c, info)
        limbs = np.frombuffer(crypto.open_sealed(key, state.received[name], info), dtype="<u4").astype(np.int64)
        if name in ins.survivors:
            seeds[name] = limbs[:SEED_LIMBS]
        else:
            keys[name] = limbs[SEED_LIMBS:SEED_LIMBS + KEY_LIMBS]
    return UnmaskShares(seeds, keys)
