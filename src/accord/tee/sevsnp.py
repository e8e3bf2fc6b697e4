"""AMD SEV-SNP attestation reports (version 2 and later): layout, VCEK chain to the pinned ARK, signature.

Verified with ``cryptography`` alone, since no maintained Python verifier exists: the ARK is pinned
per product line (Milan, Genoa, Turin; shipped in ``accord/tee/roots``), the ASK and the chip's VCEK
must each carry an RSA-PSS SHA-384 signature (salt 48) from the certificate above, every
certificate must be valid at the verification time, and the report's ECDSA P-384 signature over
bytes ``[0, 0x2A0)`` (``r`` and ``s`` little-endian, 72 bytes each, at 0x2A0) must verify under the
VCEK. The VCEK's TCB extensions must equal the report's ``reported_tcb`` and its hardware id the
report's ``chip_id``, so a VCEK of another chip or TCB is refused. An AMD CRL, when supplied as
collateral ``crl`` (DER, from the KDS), must be signed by the ARK, current, and not list the ASK or
VCEK. Layout and signature format: AMD SEV-SNP ABI specification, table "ATTESTATION_REPORT
Structure"; certificate extensions: AMD KDS interface specification.

Collateral keys: ``vcek`` (DER or PEM, required), ``ask`` (PEM or DER; default: the shipped ASK of the
VCEK's product line), ``crl`` (DER, optional).
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import resources
from typing import cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.utils import CryptographyDeprecationWarning

from accord.errors import EvidenceRejected
from accord.tee.claims import Claims, EvidenceKind

REPORT_SIZE = 0x4A0
SIGNED_SIZE = 0x2A0
PRODUCTS = ("Milan", "Genoa", "Turin")
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_OID = "1.3.6.1.4.1.3704.1."
# TCB_VERSION byte positions per product line (Turin adds an FMC field and moves the others).
_TCB_BYTES = {"Milan": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
              "Genoa": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
              "Turin": {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7}}
_TCB_OIDS = {"bootloader": "3.1", "tee": "3.2", "snp": "3.3", "microcode": "3.8", "fmc": "3.9"}


def default_chain(product: str) -> tuple[x509.Certificate, x509.Certificate]:
    """The shipped (ASK, ARK) pair of a product line; the ARK is the root pinned for it."""
    if product not in PRODUCTS:
        raise EvidenceRejected(f"unknown AMD product line {product!r}; expected one of {PRODUCTS}", check="root")
    pem = (resources.files("accord.tee") / "roots" / f"amd_ask_ark_{product.lower()}.pem").read_bytes()
    ask, ark = x509.load_pem_x509_certificates(pem)
    return ask, ark


def _load(data: bytes, what: str) -> x509.Certificate:
    # AMD issued VCEKs whose serial number is zero or negative (RFC 5280 forbids it); cryptography still
    # parses them with a deprecation warning, which is expected here and not the caller's concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            return x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----") \
                else x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise EvidenceRejected(f"{what} is not a certificate: {exc}", check="collateral-format") from None


def parse_report(blob: bytes) -> Claims:
    """The claims of an SEV-SNP attestation report, parsed from its layout (no signature check)."""
    if len(blob) != REPORT_SIZE:
        raise EvidenceRejected(f"report has {len(blob)} bytes, expected {REPORT_SIZE}", check="report-format")
    version, guest_svn, policy = struct.unpack_from("<IIQ", blob, 0)
    vmpl, sig_algo = struct.unpack_from("<II", blob, 0x30)
    if version < 2 or sig_algo != 1:
        raise EvidenceRejected(f"report version {version} / signature algorithm {sig_algo}: need version >= 2 "
                               "and ECDSA P-384 (1)", check="report-format")
    reported_tcb = struct.unpack_from("<Q", blob, 0x180)[0]
    key_info = struct.unpack_from("<I", blob, 0x48)[0]
    extra = {"policy": f"{policy:#x}", "vmpl": str(vmpl), "reported_tcb": f"{reported_tcb:#018x}",
             "host_data": blob[0xC0:0xE0].hex(), "family_id": blob[0x10:0x20].hex(), "image_id": blob[0x20:0x30].hex(),
             "chip_id": blob[0x1A0:0x1E0].hex(), "signing_key": {0: "vcek", 1: "vlek"}.get(key_info >> 2 & 7, "none"),
             "smt_allowed": str(bool(policy >> 16 & 1)),
             "migration_agent_allowed": str(bool(policy >> 18 & 1))}
    return Claims(EvidenceKind.SEV_SNP, measurement=blob[0x90:0xC0], report_data=blob[0x50:0x90],
                  debug=bool(policy >> 19 & 1), signer=blob[0xE0:0x110], svn=guest_svn, extra=extra)


def _tcb(value: int, product: str) -> dict[str, int]:
    raw = value.to_bytes(8, "little")
    return {name: raw[pos] for name, pos in _TCB_BYTES[product].items()}


def _valid(cert: x509.Certificate, when: datetime, name: str) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise EvidenceRejected(f"{name} is valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                               f"{cert.not_valid_after_utc:%Y-%m-%d}, not at {when:%Y-%m-%d %H:%M}", check="validity")


def _pss_signed(cert: x509.Certificate | x509.CertificateRevocationList, issuer: x509.Certificate, name: str,
                check: str) -> None:
    key = issuer.public_key()
    tbs = cert.tbs_certificate_bytes if isinstance(cert, x509.Certificate) else cert.tbs_certlist_bytes
    try:
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature
        key.verify(cert.signature, tbs, _PSS, hashes.SHA384())
    except InvalidSignature:
        raise EvidenceRejected(f"{name} does not carry a valid RSA-PSS SHA-384 signature from "
                               f"{issuer.subject.rfc4514_string()}", check=check) from None


def _int_extension(cert: x509.Certificate, oid: str) -> int | bytes | None:
    try:
        extension = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(_OID + oid)).value
        raw = cast(x509.UnrecognizedExtension, extension).value
    except x509.ExtensionNotFound:
        return None
    if len(raw) >= 3 and raw[0] == 0x02 and raw[1] == len(raw) - 2:  # a DER INTEGER
        return int.from_bytes(raw[2:], "big")
    return bytes(raw)


def verify_report(blob: bytes, collateral: Mapping[str, bytes], *, at: int,
                  arks: Mapping[str, x509.Certificate] | None = None) -> Claims:
    """Verify an SEV-SNP report at unix time ``at``; ``arks`` overrides the pinned root per product line."""
    claims = parse_report(blob)
    if "vcek" not in collateral:
        raise EvidenceRejected("collateral lacks the chip's VCEK certificate", check="collateral-format")
    vcek = _load(collateral["vcek"], "the VCEK")
    names = vcek.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    product = str(names[0].value).removeprefix("SEV-") if names else ""
    shipped_ask, ark = default_chain(product)
    if arks is not None:
        if product not in arks:
            raise EvidenceRejected(f"no ARK pinned for product line {product!r}", check="root")
        ark = arks[product]
    ask = _load(collateral["ask"], "the ASK") if "ask" in collateral else shipped_ask
    when = datetime.fromtimestamp(at, timezone.utc)
    _pss_signed(ark, ark, f"ARK-{product}", "root")
    _pss_signed(ask, ark, "the ASK", "ask-signature")
    _pss_signed(vcek, ask, "the VCEK", "vcek-signature")
    for cert, name in ((ark, "the ARK"), (ask, "the ASK"), (vcek, "the VCEK")):
        _valid(cert, when, name)
    if "crl" in collateral:
        _check_crl(collateral["crl"], ark, (ask, vcek), when)
    key = vcek.public_key()
    r, s = (int.from_bytes(blob[SIGNED_SIZE + o:SIGNED_SIZE + o + 72], "little") for o in (0, 72))
    try:
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise InvalidSignature
        key.verify(utils.encode_dss_signature(r, s), blob[:SIGNED_SIZE], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise EvidenceRejected("the report's ECDSA P-384 signature does not verify under the VCEK",
                               check="report-signature") from None
    tcb = _tcb(int(claims.extra["reported_tcb"], 16), product)
    for name, value in tcb.items():
        if _int_extension(vcek, _TCB_OIDS[name]) != value:
            raise EvidenceRejected(f"the VCEK was issued for another TCB ({name} SPL differs from the report's "
                                   f"{value})", check="vcek-tcb")
    if _int_extension(vcek, "4") != blob[0x1A0:0x1E0]:
        raise EvidenceRejected("the VCEK belongs to another chip (hwID differs from the report's chip_id)",
                               check="vcek-chip")
    return Claims(**{**claims.__dict__, "tcb": tcb, "extra": {**claims.extra, "product": product}})


def _check_crl(der: bytes, ark: x509.Certificate, certs: tuple[x509.Certificate, ...], when: datetime) -> None:
    try:
        crl = x509.load_der_x509_crl(der)
    except ValueError as exc:
        raise EvidenceRejected(f"the AMD CRL cannot be parsed: {exc}", check="crl-format") from None
    _pss_signed(crl, ark, "the AMD CRL", "crl-signature")
    if crl.next_update_utc is None or not crl.last_update_utc <= when <= crl.next_update_utc:
        raise EvidenceRejected(f"the AMD CRL is not current at {when:%Y-%m-%d}", check="crl-validity")
    for cert in certs:
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise EvidenceRejected(f"{cert.subject.rfc4514_string()} is revoked", check="revocation")
