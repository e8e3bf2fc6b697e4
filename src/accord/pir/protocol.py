"""Keyword PIR as labeled unbalanced PSI: a one-time table download, then one VOPRF round trip per batch.

Construction (Kiss, Liu, Schneider, Asokan and Pinkas, PETS 2017, section 4, with RFC 9497's VOPRF):
offline, the server evaluates its PRF ``F_k`` on every key of its set and publishes a table of tags and
encrypted labels (:mod:`accord.pir.table`); a client downloads it once per build (:func:`pir_sync`).
Online (:func:`pir_query`), for keys ``x_1..x_m``:

1. client and server exchange the table id the client holds and the one the server serves, the query
   count, the server's remaining capacity and batch limit; the server charges its count;
2. the client sends ``r_i * HashToGroup(x_i)`` for fresh random scalars ``r_i``: uniformly random group
   elements, whatever the keys;
3. the server returns ``k * (r_i * HashToGroup(x_i))`` and one batched DLEQ proof against its public key;
4. the client checks the proof, unblinds and hashes to ``F_k(x_i)``, and looks its tag up in its copy,
   decrypting the label on a match.

Cost per query: client 2 hashes to the group and 5 scalar multiplications (blind, unblind, proof
composites), server 2-3; 64 bytes on the wire plus 64 for the proof per batch; 2 rounds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from accord.crypto import oprf
from accord.crypto import ristretto255 as group
from accord.errors import ConfigurationError, CryptoError, MalformedMessage, VerificationFailed
from accord.pir import messages as msg
from accord.pir import table
from accord.pir.server import TABLE_FILE, ServerState
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "client privacy against any server (the blinded elements are uniform whatever the keys); server privacy "
    "against a malicious client under the one-more gap Diffie-Hellman assumption in ristretto255 with SHA-512 as a "
    "random oracle (RFC 9497): one PRF value per element sent; a server evaluating under another key is detected by "
    "the VOPRF proof; no trusted third party"
)
LEAKAGE = (
    "the server learns the number of keys asked in each run and nothing about them (not whether they matched); the "
    "client learns, for each key it asks, whether the server's set holds it and its label, and from the table it "
    "downloaded once: the set size, the label length and the table parameters"
)
SYNC_LEAKAGE = "the client learns the server's set size, label length and parameters; the server learns nothing"
CHUNK_BYTES = 16 << 20


def client_copy(state: Path, server: str) -> Path:
    """Where a client keeps its copy of ``server``'s table."""
    return Path(state) / f"{server}.pir"


@protocol("pir.sync", threat_model=THREAT_MODEL, leakage=SYNC_LEAKAGE)
def pir_sync(ctx: Context, server: str, state: str) -> dict[str, object]:
    """Copy the server's table to the client's state directory (nothing moves if the copy is current)."""
    if ctx.me == server:
        return _serve_sync(ctx, Path(state))
    return _fetch_sync(ctx, server, Path(state))


def _serve_sync(ctx: Context, state: Path) -> dict[str, object]:
    peer = ctx.peers[0]
    served = ServerState(state)
    have = msg.SyncHello.from_wire(ctx.recv(peer, msg.Tag.SYNC_HELLO), peer, f"{ctx.path}/{msg.Tag.SYNC_HELLO}")
    with table.Table(state / TABLE_FILE) as t:
        current = have.have == served.id
        ctx.send(peer, msg.SyncOffer(served.id, 0 if current else t.size, CHUNK_BYTES).to_wire(), msg.Tag.SYNC_OFFER)
        if not current:
            with ctx.timed("verify"):
                t.verify()
            for piece in t.chunks(CHUNK_BYTES):
                ctx.send(peer, piece, msg.Tag.CHUNK)
    return {"table_id": served.id.hex(), "sent": not current}


def _fetch_sync(ctx: Context, server: str, state: Path) -> dict[str, object]:
    state.mkdir(parents=True, exist_ok=True)
    path = client_copy(state, server)
    have = b""
    if path.exists():
        try:
            with table.Table(path) as t:
                have = t.id
        except table.TableError:
            have = b""  # a damaged copy is replaced
    ctx.send(server, msg.SyncHello(have).to_wire(), msg.Tag.SYNC_HELLO)
    step = f"{ctx.path}/{msg.Tag.SYNC_OFFER}"
    offer = msg.SyncOffer.from_wire(ctx.recv(server, msg.Tag.SYNC_OFFER), server, step)
    if not offer.size:
        if offer.table_id != have:
            raise MalformedMessage(f"party {server!r} sent no table although the client's copy is not current",
                                   party=server, step=step)
        return {"table_id": have.hex(), "received": 0}
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            received = 0
            while received < offer.size:
                piece = msg.chunk_from_wire(ctx.recv(server, msg.Tag.CHUNK), min(offer.chunk, offer.size - received),
                                            server, f"{ctx.path}/{msg.Tag.CHUNK}")
                fh.write(piece)
                received += len(piece)
            fh.flush()
            os.fsync(fh.fileno())
        with table.Table(tmp) as t, ctx.timed("verify"):
            t.verify()
            if t.id != offer.table_id:
                raise MalformedMessage(f"party {server!r} sent a table whose id differs from the one it announced",
                                       party=server, step=step)
        os.replace(tmp, path)
    except table.TableError as exc:
        raise MalformedMessage(f"party {server!r} sent a damaged table: {exc}", party=server, step=step) from None
    finally:
        tmp.unlink(missing_ok=True)
    return {"table_id": offer.table_id.hex(), "received": offer.size}


@protocol("pir.query", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def pir_query(ctx: Context, server: str, state: str, keys: Sequence[bytes] | None = None,
              threads: int | None = None) -> tuple[np.ndarray, np.ndarray] | int:
    """Look ``keys`` up in the server's table; see the module docstring.

    Returns at the client ``(found, labels)``: a bool per key and an ``(m, L)`` uint8 array of labels
    (zeros where not found); at the server, the number of keys answered.
    """
    if len(ctx.parties) != 2 or server not in ctx.parties:
        raise ConfigurationError(f"keyword PIR runs between a server and one client, got {list(ctx.parties)}")
    threads = threads or os.cpu_count() or 1
    if ctx.me == server:
        return _answer(ctx, ServerState(Path(state)), threads)
    if keys is None:
        raise ValueError("the client passes its keys")
    with table.Table(client_copy(Path(state), server)) as t:
        return _ask(ctx, server, t, list(keys), threads)


def _answer(ctx: Context, served: ServerState, threads: int) -> int:
    peer = ctx.peers[0]
    params = served.header.params
    offer = msg.Offer(served.id, served.remaining(), params.max_batch)
    hello = msg.Hello.from_wire(ctx.exchange(offer.to_wire(), msg.Tag.HELLO)[peer], peer, f"{ctx.path}/hello")
    _check_agreement(hello, offer, ctx.me, peer)
    served.charge(hello.count)
    step = f"{ctx.path}/{msg.Tag.BLINDED}"
    blinded = msg.Blinded.from_wire(ctx.recv(peer, msg.Tag.BLINDED, timeout=_slow(ctx, hello.count)),
                                    hello.count, peer, step)
    with ctx.timed("evaluate"):
        try:
            evaluated = group.mult_batch(served.sk, blinded.elements, threads=threads)
        except CryptoError:
            raise MalformedMessage(f"party {peer!r} sent an invalid group element", party=peer, step=step) from None
        rows = [bytes(r) for r in blinded.elements]
        proof = oprf.generate_proof(served.sk, rows, [bytes(r) for r in evaluated], group.random_scalar(ctx.rng.bytes))
    ctx.send(peer, msg.Evaluated(evaluated, proof).to_wire(), msg.Tag.EVALUATED)
    return hello.count


def _ask(ctx: Context, server: str, t: table.Table, keys: list[bytes], threads: int) -> tuple[np.ndarray, np.ndarray]:
    params = t.header.params
    hello = msg.Hello(t.id, len(keys))
    offer = msg.Offer.from_wire(ctx.exchange(hello.to_wire(), msg.Tag.HELLO)[server], server, f"{ctx.path}/hello")
    _check_agreement(hello, offer, server, ctx.me)
    with ctx.timed("blind"):
        blinds = [group.random_scalar(ctx.rng.bytes) for _ in keys]
        points = group.hash_batch(keys, b"HashToGroup-" + oprf.context_string(oprf.VOPRF), threads=threads)
        blinded = np.stack([np.frombuffer(group.mult(r, p.tobytes()), dtype=np.uint8) for r, p in zip(blinds, points)])
    ctx.send(server, msg.Blinded(blinded).to_wire(), msg.Tag.BLINDED)
    step = f"{ctx.path}/{msg.Tag.EVALUATED}"
    answer = msg.Evaluated.from_wire(ctx.recv(server, msg.Tag.EVALUATED, timeout=_slow(ctx, len(keys))),
                                     len(keys), server, step)
    with ctx.timed("verify"):
        evaluated = [bytes(r) for r in answer.elements]
        if not oprf.verify_proof(t.header.public_key, [bytes(r) for r in blinded], evaluated, answer.proof):
            raise VerificationFailed(f"party {server!r} answered under a key other than its table's (the VOPRF "
                                     "proof fails)", party=server, step=step)
        outputs = np.stack([np.frombuffer(oprf.finalize(x, r, e), dtype=np.uint8)
                            for x, r, e in zip(keys, blinds, evaluated)])
    with ctx.timed("lookup"):
        found, sealed = t.lookup(np.ascontiguousarray(outputs[:, :params.tag_bytes]))
        labels = np.where(found[:, None], sealed ^ table.pads(outputs, params.label_bytes), 0).astype(np.uint8)
    return found, labels


def _check_agreement(hello: msg.Hello, offer: msg.Offer, server: str, client: str) -> None:
    """Both sides run this on the same two messages, so both fail with the same error."""
    if hello.table_id != offer.table_id:
        raise ConfigurationError(f"party {client!r} holds a copy of another table than the one party {server!r} "
                                 f"serves ({hello.table_id.hex()[:16]} vs {offer.table_id.hex()[:16]}): the server "
                                 "rebuilt it or was built with other parameters; sync again")
    if not 1 <= hello.count <= offer.max_batch:
        raise ConfigurationError(f"party {client!r} asks {hello.count} keys in one run; party {server!r}'s table "
                                 f"allows 1 to {offer.max_batch} per run")
    if hello.count > offer.remaining:
        raise ConfigurationError(f"party {client!r} asks {hello.count} keys but party {server!r}'s table answers "
                                 f"only {offer.remaining} more queries before it must be rebuilt")


def _slow(ctx: Context, n: int) -> float:
    """Receive timeout for a step in which the peer does a few group operations per key (>= 2k/s)."""
    return ctx.timeout + n / 2_000
