"""Every exception accord raises, in one hierarchy split by who caused the failure.

``TypeError`` / ``ValueError`` are kept for local argument misuse. Input data that a party supplied
and cannot be used raises :class:`InputError`, which names the party and the column or field.
Anything a *peer* caused is a :class:`ProtocolAbort` or a :class:`TransportError`. The CLI maps
``exit_code`` to the process exit status.
"""

from __future__ import annotations


class AccordError(Exception):
    """Base class of every accord error."""

    exit_code = 1


class ConfigurationError(AccordError):
    """A cluster file, certificate, key or option is wrong or missing."""

    exit_code = 2


class InputError(AccordError, ValueError):
    """A party's own input data cannot be used (missing column, NaN key, empty table, unreadable file).

    The message always names the party and the column or field, so the operator knows what to fix.
    """

    exit_code = 3

    def __init__(self, message: str, *, party: str | None = None, field: str | None = None) -> None:
        prefix = f"party {party!r}: " if party else ""
        super().__init__(prefix + message)
        self.party = party
        self.field = field


class NotLocalError(AccordError):
    """A party-owned value was read in a process that does not host its owner."""

    exit_code = 2


class UnsupportedError(AccordError):
    """A parameter set or feature is not available (e.g. an optional extra is not installed)."""

    exit_code = 2


class QueryError(ConfigurationError):
    """A query is malformed or does not fit the catalog (unknown or ambiguous column, type mismatch, ...)."""


class PolicyViolation(AccordError):
    """A query would reveal what a data owner's column policy forbids; the message names column, rule and clause."""

    exit_code = 12


class CryptoError(AccordError):
    """A cryptographic check failed (bad point encoding, decryption failure, overflow on decode)."""

    exit_code = 4


class CodecError(AccordError):
    """Bytes could not be encoded or decoded by the typed codec."""

    exit_code = 5


class ProtocolAbort(AccordError):
    """A protocol stopped because of something a peer did or reported.

    Carries the protocol step (its tag path) and the party held responsible. Never retried.
    """

    exit_code = 5

    def __init__(self, message: str, *, party: str | None = None, step: str | None = None) -> None:
        super().__init__(message)
        self.party = party
        self.step = step


class MalformedMessage(ProtocolAbort):
    """A peer's message failed a schema, length or range check."""


class VerificationFailed(ProtocolAbort):
    """A peer's proof, MAC or consistency check failed (e.g. a VOPRF proof under the wrong key)."""


class PeerAborted(ProtocolAbort):
    """A peer failed on its side and told us; its error class and message are included."""


class MessageRefused(ProtocolAbort):
    """This party refused a peer's message: a session of no job it runs, or more bytes than its limits allow.

    Nothing of the refused message is kept; the peer is told on its stream, and the job fails.
    """


class TransportError(AccordError):
    """The link to a peer failed."""

    exit_code = 6

    def __init__(self, message: str, *, party: str | None = None, step: str | None = None) -> None:
        super().__init__(message)
        self.party = party
        self.step = step


class PeerUnavailable(TransportError):
    """A peer could not be reached (refused, unreachable, or gone) within the connect timeout."""


class PeerTimeout(TransportError):
    """A peer stayed silent past the receive timeout."""


class AuthenticationError(TransportError):
    """Mutual TLS failed: a peer presented a certificate other than the one the cluster file names."""

    exit_code = 7


class PrivacyBudgetExceeded(AccordError):
    """The privacy ledger refused a release."""

    exit_code = 8


class AttestationError(AccordError):
    """Trusted-execution evidence or a key-release request was refused; ``check`` names the failed check.

    The check is a short stable name (``quote-signature``, ``root``, ``crl-validity``, ``debug``,
    ``measurement``, ``simulation``, ...) so operators and tests can tell refusals apart without
    parsing the message.
    """

    exit_code = 9

    def __init__(self, message: str, *, check: str, party: str | None = None) -> None:
        prefix = f"party {party!r}: " if party else ""
        super().__init__(f"{prefix}{check}: {message}")
        self.check = check
        self.party = party


class EvidenceRejected(AttestationError):
    """Attestation evidence failed verification (signature, chain, revocation, collateral, TCB)."""


class PolicyRefused(AttestationError):
    """Verified evidence or a request does not satisfy a data owner's policy (measurement, job, expiry, ...)."""


class NotApproved(AccordError):
    """A job lacks a valid approval: this party's node has not approved it, or a peer's approval is missing,
    signed by the wrong key, or made for another job file, cluster or command (a replayed approval)."""

    exit_code = 10
