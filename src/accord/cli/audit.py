"""``accord audit verify``: check an audit log's hash chain, signatures and anchors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError


def register(sub: Any) -> None:
    """Add the ``audit`` command to the top-level parser's subparsers."""
    audit = sub.add_parser("audit", help="verify audit logs (a node's, or a TEE key broker's audit.jsonl)")
    cmds = audit.add_subparsers(dest="audit_command", required=True)
    verify = cmds.add_parser("verify", help="detect edited, reordered or removed entries and forged signatures")
    verify.add_argument("log", type=Path, nargs="?", default=None, help="a JSON Lines audit log")
    verify.add_argument("--node", type=Path, default=None, help="a node configuration: verify its database's log")
    verify.add_argument("--cert", type=Path, default=None, help="the signer's certificate (checks every signature)")
    verify.add_argument("--party", default=None, help="the signer's party name (default: the certificate's)")
    verify.add_argument("--anchor", action="append", default=[],
                        help="SEQ:HASH of an entry recorded elsewhere (e.g. in a peer's approval); catches a cut tail")
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from accord.governance.chain import verify_log
    from accord.governance.signing import Verifier
    from accord.net.tls import certificate_party

    anchors = []
    for text in args.anchor:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ConfigurationError(f"--anchor takes SEQ:HASH (a 64-digit hex hash), got {text!r}")
        anchors.append((int(seq), digest))
    if (args.log is None) == (args.node is None):
        raise ConfigurationError("name a log file or --node CONFIG (one of them)")
    signer: str | None
    if args.node is not None:
        from accord.cli.node import require_node_extra

        require_node_extra()
        from accord.node.config import load_node_config
        from accord.node.service import Node

        node = Node(load_node_config(args.node))
        entries = node.store.verify_audit(anchors=anchors)
        where, signer = f"{node.party}'s node database", str(node.party)
    else:
        verifier = None
        if args.cert is not None:
            pem = args.cert.read_bytes()
            verifier = Verifier.from_certificate(args.party or certificate_party(pem, str(args.cert)), pem)
        entries = verify_log(args.log, verifier, anchors)
        where = str(args.log)
        signer = verifier.party if verifier else None
    head = f"{entries[-1]['seq']}:{entries[-1]['hash']}" if entries else "(empty)"
    signed = f", every entry signed by {signer!r}" if signer else " (signatures not checked: pass --cert)"
    print(f"audit log {where}: {len(entries)} entries, hash chain intact{signed}; head {head}")
    return 0
