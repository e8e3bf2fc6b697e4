"""Governance records below the runtime: signed, hash-chained audit logs and signed job approvals.

Both are statements a party makes with its own key (the ECDSA P-256 key of its mTLS certificate), so a
peer or an auditor can check them against the certificate in the cluster file. The node service
(:mod:`accord.node`) and the TEE key brokers write audit logs with :mod:`accord.governance.chain`; the
runtime's start-up handshake carries and checks :mod:`accord.governance.approval` tokens.

Submodules load on first use (:mod:`accord._lazy`), so ``import accord.governance`` stays light.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.governance.approval import Approval, ApprovalGate, check_approval, parse_approval
    from accord.governance.chain import AuditLog, TamperedLog, verify_log
    from accord.governance.signing import Signer, Verifier

__all__ = ["Approval", "ApprovalGate", "AuditLog", "Signer", "TamperedLog", "Verifier", "check_approval",
           "parse_approval", "verify_log"]
__getattr__, __dir__ = exports(__name__, {
    "accord.governance.approval": ["Approval", "ApprovalGate", "check_approval", "parse_approval"],
    "accord.governance.chain": ["AuditLog", "TamperedLog", "verify_log"],
    "accord.governance.signing": ["Signer", "Verifier"],
})
