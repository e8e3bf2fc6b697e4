"""The start-up handshake: every party checks that its peers run the same job, then agrees a session.

Each party sends a hello (handshake version, accord version, job name, cluster-file digest, the
parameters its caller says every party must share, and a fresh nonce) and compares every peer's with
its own, so a mismatch fails at every party within moments and names each difference. The session id
hashes the job name and everyone's nonces. Each party then admits that session on its link and
confirms it with a ready message, so no party sends job messages before its peers accept them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from accord.errors import AccordError, CodecError, ConfigurationError, MalformedMessage
from accord.net import codec
from accord.net.base import HANDSHAKE_SESSION, Link

_PROTOCOL_VERSION = 2  # 2: the hello carries the accord version and agreed parameters; a ready round follows
_HELLO_LIMITS = codec.Limits(max_bytes=1 << 16, max_depth=3, max_items=256, max_int_bytes=16)


def check_agree(agree: Mapping[str, str | int]) -> dict[str, str | int]:
    """The parameters every party must share, checked to be names with str or int values."""
    for name, value in agree.items():
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(f"agree must map str to str or int, got {name!r}: {value!r}")
    return dict(agree)


def handshake(link: Link, me: str, job: str, digest: str, timeout: float, agree: dict[str, str | int],
              extra: Mapping[str, bytes] | None = None,
              check: Callable[[str, dict[str, Any]], None] | None = None) -> str:
    """The session id agreed with every peer, once each has been found to run the same job (see above).

    ``extra`` adds byte fields to this party's hello (a signed approval); ``check(peer, hello)`` is
    called on each peer's hello once its parameters match ours, and raises to refuse the peer.
    """
    nonce = os.urandom(16)
    mine = {"version": _PROTOCOL_VERSION, "accord": _accord_version(), "job": job, "cluster": digest, "agree": agree,
            "nonce": nonce, **(extra or {})}
    for peer in link.peers:
        link.send(peer, HANDSHAKE_SESSION, "hello", codec.encode_parts(mine))
    nonces = {me: nonce}
    for peer in link.peers:
        theirs = _receive_hello(link, peer, "hello", timeout)
        differences = _differences(mine, theirs, me, peer)
        if differences:
            try:  # let our hello reach the peers, so that they see the mismatch too
                link.flush(timeout=2.0)
            except AccordError:
                pass
            raise ConfigurationError(f"party {peer!r} and party {me!r} must run the same job with the same "
                                     f"parameters, but they differ: {'; '.join(differences)}")
        if check is not None:
            check(peer, theirs)
        nonces[peer] = theirs["nonce"]
    material = b"".join(name.encode() + b"=" + nonces[name] for name in sorted(nonces))
    session = hashlib.sha256(job.encode() + b"|" + material).hexdigest()[:16]
    link.admit(session)
    for peer in link.peers:
        link.send(peer, HANDSHAKE_SESSION, "ready", codec.encode_parts({"session": session}))
    for peer in link.peers:
        if _receive_hello(link, peer, "ready", timeout).get("session") != session:
            raise MalformedMessage(f"party {peer!r} derived another session id from the same hellos", party=peer,
                                   step="ready")
    link.forget(HANDSHAKE_SESSION)
    return session


def _receive_hello(link: Link, peer: str, key: str, timeout: float) -> dict[str, Any]:
    """A peer's hello or ready message, decoded within small limits and checked for shape."""
    try:
        got = codec.decode(link.recv(peer, HANDSHAKE_SESSION, key, timeout), _HELLO_LIMITS)
    except CodecError as exc:
        raise MalformedMessage(f"party {peer!r} sent an undecodable {key}: {exc}", party=peer, step=key) from None
    well_formed = isinstance(got, dict) and (key != "hello" or (
        isinstance(got.get("nonce"), bytes) and len(got["nonce"]) == 16 and isinstance(got.get("agree", {}), dict)))
    if not well_formed:
        raise MalformedMessage(f"party {peer!r} sent a malformed {key}", party=peer, step=key)
    return got


def _differences(mine: dict[str, Any], theirs: dict[str, Any], me: str, peer: str) -> list[str]:
    """Each setting on which ``peer``'s hello differs from ours, with both values."""
    if theirs.get("version") != mine["version"]:
        return [f"handshake version {theirs.get('version')!r} at {peer!r}, {mine['version']!r} at {me!r} "
                f"(accord {theirs.get('accord')!r} and {mine['accord']!r}): install the same accord release"]
    labels = {"accord": "accord version", "job": "job name (--job)",
              "cluster": "cluster file digest (parties, addresses and certificates)"}
    differences = [f"{label} {theirs.get(field)!r} at {peer!r}, {mine[field]!r} at {me!r}"
                   for field, label in labels.items() if theirs.get(field) != mine[field]]
    agreed = theirs.get("agree", {})
    for name in sorted(set(mine["agree"]) | set(agreed)):
        if agreed.get(name) != mine["agree"].get(name):
            differences.append(f"{name} {_shown(agreed, name)} at {peer!r}, {_shown(mine['agree'], name)} at {me!r}")
    return differences


def _shown(values: dict[str, Any], name: str) -> str:
    return repr(values[name]) if name in values else "(not set)"


def _accord_version() -> str:
    """The installed accord release (from the package metadata: the runtime sits below ``accord/__init__``)."""
    try:
        return metadata.version("accord")
    except metadata.PackageNotFoundError:
        return "unknown"
