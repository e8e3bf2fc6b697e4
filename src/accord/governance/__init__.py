"""Governance records below the runtime: signed, hash-chained audit logs and signed job approvals.

Both are statements a party makes with its own key (the ECDSA P-256 key of its mTLS certificate), so a
peer or an auditor can check them against the certificate in the cluster file. The node service
(:mod:`accord.node`) and the TEE key brokers write audit logs with :mod:`accord.governance.chain`; the
runtime's start-up handshake carries and checks :mod:`accord.governance.approval` tokens.
"""
