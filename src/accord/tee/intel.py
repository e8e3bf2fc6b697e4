"""Intel SGX (quote v3) and TDX (quote v4/v5) evidence: offline verification through dcap-qvl, own claim parsing.

Verification is delegated to `dcap-qvl <https://pypi.org/project/dcap-qvl/>`_ (Phala Network's Rust
implementation of Intel's quote verification, an abi3 wheel: ``pip install accord[tee]``). It checks
the quote signature under the attestation key, the QE report and its binding to that key, the PCK
certificate chain up to the root we pin, both CRLs, the signatures and validity windows of TCB info
and QE identity, and evaluates the TCB status and advisories, all at the time we pass in. Before
calling it we check that every certificate chain (in the quote and in the collateral) ends in the
pinned Intel SGX Root CA, so a wrong root is refused by name. The claims a policy needs are parsed
here from the quote layout (Intel SGX ECDSA Quote Library API, TDX DCAP Quoting Library API), not
taken from the library, and the tests check both agree.

Collateral keys (bytes): ``pck_crl_issuer_chain``, ``root_ca_crl``, ``pck_crl``,
``tcb_info_issuer_chain``, ``tcb_info``, ``tcb_info_signature``, ``qe_identity_issuer_chain``,
``qe_identity``, ``qe_identity_signature``: the fields of Intel PCS / PCCS responses.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from accord.errors import EvidenceRejected, UnsupportedError
from accord.tee.claims import Claims, EvidenceKind

COLLATERAL_FIELDS = ("pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
                     "tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature")
_HEX_FIELDS = ("root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature")
_HEADER = 48
_SGX_BODY = 384
_TEE_SGX, _TEE_TDX = 0x00000000, 0x00000081
# dcap-qvl error text -> the check that failed (first match wins; the library's wording, version 0.7).
_CHECKS = (
    ("decode quote", "quote-format"), ("ISV enclave report signature", "quote-signature"),
    ("QE report hash mismatch", "attestation-key-binding"), ("qe_report", "qe-report-signature"),
    ("tcb_info in quote_collateral", "tcb-info-signature"),
    ("qe_identity in quote_collateral", "qe-identity-signature"),
    ("CrlExpired", "crl-validity"), ("root CA CRL", "root-crl"), ("Revoked", "revocation"),
    ("certificate chain", "pck-chain"), ("expired", "collateral-validity"), ("in the future", "collateral-validity"),
    ("No matching TCB level", "tcb-level"), ("QE", "qe-identity"),
)


def _library() -> Any:
    try:
        import dcap_qvl
    except ImportError:
        raise UnsupportedError("verifying SGX and TDX quotes needs dcap-qvl: pip install 'accord[tee]'") from None
    return dcap_qvl


def collateral_from_json(text: str | bytes) -> dict[str, bytes]:
    """Collateral from the JSON that dcap-qvl and PCCS clients write (hex CRLs and signatures)."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise EvidenceRejected(f"collateral is not JSON: {exc}", check="collateral-format") from None
    missing = [k for k in COLLATERAL_FIELDS if not isinstance(raw.get(k), str)]
    if missing:
        raise EvidenceRejected(f"collateral lacks {missing}", check="collateral-format")
    try:
        return {k: bytes.fromhex(raw[k]) if k in _HEX_FIELDS else raw[k].encode() for k in COLLATERAL_FIELDS}
    except ValueError:
        raise EvidenceRejected("collateral CRLs and signatures must be hex", check="collateral-format") from None


def collateral_from_pcs(*, tcb_info_response: bytes, qe_identity_response: bytes, pck_crl: bytes, root_ca_crl: bytes,
                        pck_crl_issuer_chain: bytes, tcb_info_issuer_chain: bytes,
                        qe_identity_issuer_chain: bytes | None = None) -> dict[str, bytes]:
    """Collateral from raw Intel PCS responses (bodies, DER CRLs, and the issuer-chain headers as PEM).

    The signed part of a TCB info or QE identity response is the exact text of its ``tcbInfo`` /
    ``enclaveIdentity`` member, so it is cut from the body rather than re-serialised.
    """
    tcb_body, tcb_sig = _signed_member(tcb_info_response, "tcbInfo")
    qe_body, qe_sig = _signed_member(qe_identity_response, "enclaveIdentity")
    return {"pck_crl_issuer_chain": pck_crl_issuer_chain, "root_ca_crl": root_ca_crl, "pck_crl": pck_crl,
            "tcb_info_issuer_chain": tcb_info_issuer_chain, "tcb_info": tcb_body, "tcb_info_signature": tcb_sig,
            "qe_identity_issuer_chain": qe_identity_issuer_chain or tcb_info_issuer_chain, "qe_identity": qe_body,
            "qe_identity_signature": qe_sig}


def _signed_member(response: bytes, member: str) -> tuple[bytes, bytes]:
    text = response.decode().strip()
    prefix, marker = f'{{"{member}":', ',"signature":"'
    cut = text.rfind(marker)
    if not text.startswith(prefix) or cut < 0 or not text.endswith('"}'):
        raise EvidenceRejected(f"PCS response is not {{\"{member}\": ..., \"signature\": ...}}",
                               check="collateral-format")
    try:
        return text[len(prefix):cut].encode(), bytes.fromhex(text[cut + len(marker):-2])
    except ValueError:
        raise EvidenceRejected(f"{member} signature is not hex", check="collateral-format") from None


def parse_quote(blob: bytes) -> Claims:
    """The claims of an SGX v3 or TDX v4/v5 quote, parsed from its layout (no signature check)."""
    if len(blob) < _HEADER:
        raise EvidenceRejected(f"quote of {len(blob)} bytes is shorter than its header", check="quote-format")
    version, _key_type, tee_type = struct.unpack_from("<HHI", blob, 0)
    if tee_type == _TEE_SGX and version == 3:
        return _sgx_claims(_slice(blob, _HEADER, _SGX_BODY))
    if tee_type == _TEE_TDX and version == 4:
        return _tdx_claims(_slice(blob, _HEADER, 584), extended=False)
    if tee_type == _TEE_TDX and version == 5:
        body_type, size = struct.unpack_from("<HI", _slice(blob, _HEADER, 6))
        if (body_type, size) not in ((2, 584), (3, 648)):
            raise EvidenceRejected(f"TDX quote v5 body type {body_type} of {size} bytes", check="quote-format")
        return _tdx_claims(_slice(blob, _HEADER + 6, size), extended=body_type == 3)
    raise EvidenceRejected(f"quote version {version} with TEE type {tee_type:#x} is neither SGX v3 nor TDX v4/v5",
                           check="quote-format")


def _slice(blob: bytes, offset: int, size: int) -> bytes:
    if len(blob) < offset + size:
        raise EvidenceRejected(f"quote truncated at {len(blob)} bytes", check="quote-format")
    return blob[offset:offset + size]


def _sgx_claims(body: bytes) -> Claims:
    flags = struct.unpack_from("<Q", body, 48)[0]
    prod_id, svn = struct.unpack_from("<HH", body, 256)
    return Claims(EvidenceKind.SGX, measurement=body[64:96], signer=body[128:160], svn=svn, product_id=prod_id,
                  debug=bool(flags & 0x2), report_data=body[320:384],
                  extra={"cpu_svn": body[0:16].hex(), "attributes": body[48:64].hex()})


def _tdx_claims(body: bytes, extended: bool) -> Claims:
    td_attributes = struct.unpack_from("<Q", body, 120)[0]
    extra = {"mr_seam": body[16:64].hex(), "tee_tcb_svn": body[0:16].hex(), "td_attributes": body[120:128].hex(),
             "mr_config_id": body[184:232].hex(), "mr_owner": body[232:280].hex(),
             "mr_owner_config": body[280:328].hex(),
             **{f"rtmr{i}": body[328 + 48 * i:376 + 48 * i].hex() for i in range(4)}}
    if extended:
        extra["mr_servicetd"] = body[600:648].hex()
    return Claims(EvidenceKind.TDX, measurement=body[136:184], debug=bool(td_attributes & 0x1),
                  report_data=body[520:584], extra=extra)


def verify_quote(blob: bytes, collateral: Mapping[str, bytes], *, at: int, root_pem: bytes) -> Claims:
    """Verify an SGX or TDX quote offline at unix time ``at`` under the pinned root; return its claims.

    Raises :class:`~accord.errors.EvidenceRejected` naming the failed check.
    """
    claims = parse_quote(blob)
    dcap_qvl = _library()
    missing = [k for k in COLLATERAL_FIELDS if k not in collateral]
    if missing:
        raise EvidenceRejected(f"collateral lacks {missing}", check="collateral-format")
    root = x509.load_pem_x509_certificate(root_pem).public_bytes(Encoding.DER)
    try:
        embedded = dcap_qvl.parse_quote(blob).cert_chain_pem_bytes()
    except ValueError as exc:
        raise EvidenceRejected(f"quote cannot be decoded: {exc}", check="quote-format") from None
    for name, chain in (("the quote's PCK chain", embedded), *((k, collateral[k]) for k in COLLATERAL_FIELDS
                                                              if k.endswith("issuer_chain"))):
        _check_root(name, chain, root)
    wire = {k: collateral[k].hex() if k in _HEX_FIELDS else collateral[k].decode() for k in COLLATERAL_FIELDS}
    try:
        report = dcap_qvl.verify_with_root_ca(blob, dcap_qvl.QuoteCollateralV3.from_json(json.dumps(wire)), root, at)
    except ValueError as exc:
        text = str(exc)
        check = next((c for needle, c in _CHECKS if needle in text), "dcap-qvl")
        raise EvidenceRejected(" ".join(text.split()), check=check) from None
    return Claims(**{**claims.__dict__, "tcb_status": report.status, "advisories": tuple(report.advisory_ids)})


def _check_root(name: str, chain_pem: bytes | None, root_der: bytes) -> None:
    try:
        certs = x509.load_pem_x509_certificates(chain_pem or b"")
    except ValueError:
        raise EvidenceRejected(f"{name} is not a PEM certificate chain", check="root") from None
    if not certs or certs[-1].public_bytes(Encoding.DER) != root_der:
        raise EvidenceRejected(f"{name} does not end in the pinned Intel SGX Root CA", check="root")
