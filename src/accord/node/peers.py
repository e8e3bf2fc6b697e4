"""Messages between the nodes of different parties: signed JSON over HTTPS, pinned to the cluster's certificates.

A node tells its peers' nodes about proposals, decisions and job starts. Each message is signed with
the sending party's key and names its kind, sender, time and a nonce; the receiving node checks the
signature against the sender's certificate in the cluster file, so the transport needs no client
certificates and a message cannot be altered or attributed to another party. The client trusts
exactly the peer's certificate from the cluster file.
"""

from __future__ import annotations

import json
import secrets
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from accord.errors import CryptoError, MalformedMessage, PeerUnavailable
from accord.governance.signing import Signer, Verifier

PURPOSE = "node-message"
KINDS = ("proposal", "decision", "start")
MAX_AGE = 300.0  # seconds a message stays acceptable (clock skew and delivery)


def seal_message(signer: Signer, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A signed message of ``kind`` carrying ``body``."""
    message = {"kind": kind, "from": signer.party, "at": time.time(), "nonce": secrets.token_hex(16),
               "body": dict(body)}
    message["sig"] = signer.sign(PURPOSE, _canonical(message))
    return message


def open_message(raw: Any, kind: str, verifiers: Mapping[str, Verifier], now: float | None = None
                 ) -> tuple[str, str, dict[str, Any]]:
    """``(sender, nonce, body)`` of a message, checked for shape, sender, signature and age."""
    if not isinstance(raw, dict) or set(raw) != {"kind", "from", "at", "nonce", "body", "sig"} or \
            not isinstance(raw["body"], dict) or not isinstance(raw["nonce"], str) or \
            not isinstance(raw["at"], (int, float)) or not isinstance(raw["sig"], str):
        raise MalformedMessage(f"a peer node sent a malformed {kind} message", step=kind)
    sender = raw["from"]
    if raw["kind"] != kind or sender not in verifiers:
        raise MalformedMessage(f"a {raw['kind']!r} message from {sender!r} cannot be a {kind} of this cluster",
                               party=str(sender), step=kind)
    try:
        verifiers[sender].verify(PURPOSE, _canonical({k: v for k, v in raw.items() if k != "sig"}), raw["sig"])
    except CryptoError:
        raise MalformedMessage(f"the {kind} message said to be from {sender!r} is not signed by its key",
                               party=sender, step=kind) from None
    if abs((time.time() if now is None else now) - float(raw["at"])) > MAX_AGE:
        raise MalformedMessage(f"the {kind} message from {sender!r} is older than {MAX_AGE:.0f} s (replayed?)",
                               party=sender, step=kind)
    return sender, raw["nonce"], raw["body"]


def _canonical(message: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in message.items() if k != "sig"}, sort_keys=True,
                      separators=(",", ":")).encode()


def send(url: str, cert_pem: bytes, path: str, message: Mapping[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """POST ``message`` to a peer node over TLS pinned to ``cert_pem``; returns its JSON answer."""
    if not url.startswith("https://"):
        raise PeerUnavailable(f"peer node URL {url!r} must start with https://")
    context = ssl.create_default_context(cadata=cert_pem.decode())
    context.check_hostname = False  # the pinned certificate is the only one trusted; it names the party
    request = urllib.request.Request(url + path, data=json.dumps(message).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310
            return dict(json.loads(answer.read() or b"{}"))
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        try:
            detail = str(json.loads(detail).get("detail", detail))
        except ValueError:
            pass
        raise PeerUnavailable(f"the node at {url} refused the {message.get('kind')}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise PeerUnavailable(f"the node at {url} cannot be reached: {reason}") from None
