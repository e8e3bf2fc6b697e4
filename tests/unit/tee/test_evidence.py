"""Real SGX, TDX and SEV-SNP evidence (tests/vectors/tee/README.md) verified at pinned times.

Expected values come from the vectors' README (the results dcap-qvl and Google's go-tdx-guest /
go-sev-guest report for the same files), never from the code under test.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accord.errors import EvidenceRejected
from accord.tee import Evidence, EvidenceKind, intel, sevsnp, verify_evidence

pytest.importorskip("dcap_qvl")

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "tee"
SGX_AT = 1750334171
TDX_AT = 1750331763
GOTDX_AT = int(datetime.datetime(2023, 7, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
SNP_AT = int(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc).timestamp())


def _read(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def _sgx(blob: bytes | None = None) -> Evidence:
    collateral = intel.collateral_from_json(_read("dcapqvl_sgx_quote_collateral.json"))
    return Evidence(EvidenceKind.SGX, blob or _read("dcapqvl_sgx_quote"), collateral)


def _tdx() -> Evidence:
    return Evidence(EvidenceKind.TDX, _read("dcapqvl_tdx_quote"),
                    intel.collateral_from_json(_read("dcapqvl_tdx_quote_collateral.json")))


def _snp(blob: bytes | None = None) -> Evidence:
    return Evidence(EvidenceKind.SEV_SNP, blob or _read("snp_milan_report.bin"), {"vcek": _read("snp_milan_vcek.der")})


def _flip(blob: bytes, offset: int) -> bytes:
    out = bytearray(blob)
    out[offset] ^= 0x01
    return bytes(out)


def _refused(check: str, evidence: Evidence, at: int, **kwargs) -> str:
    with pytest.raises(EvidenceRejected) as info:
        verify_evidence(evidence, at=at, **kwargs)
    assert info.value.check == check, str(info.value)
    assert check in str(info.value)
    return str(info.value)


def test_sgx_quote_verifies_with_the_published_status_and_advisories():
    claims = verify_evidence(_sgx(), at=SGX_AT)
    assert claims.kind is EvidenceKind.SGX
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"
    assert claims.advisories == ("INTEL-SA-00289", "INTEL-SA-00615")
    assert not claims.debug
    assert claims.report_data.startswith(b"Hello, world!")


def test_claims_parsed_here_agree_with_dcap_qvl_report():
    import dcap_qvl

    for evidence, at, body in ((_sgx(), SGX_AT, "SgxEnclave"), (_tdx(), TDX_AT, "TD10")):
        wire = {k: v.hex() if k in intel._HEX_FIELDS else v.decode() for k, v in evidence.collateral.items()}
        theirs = json.loads(dcap_qvl.verify(evidence.blob, dcap_qvl.QuoteCollateralV3.from_json(json.dumps(wire)),
                                            at).to_json())["report"][body]
        ours = verify_evidence(evidence, at=at)
        assert ours.measurement.hex() == theirs["mr_enclave" if body == "SgxEnclave" else "mr_td"]
        assert ours.report_data.hex() == theirs["report_data"]
        if body == "SgxEnclave":
            assert ours.signer.hex() == theirs["mr_signer"] and ours.svn == theirs["isv_svn"]
        else:
            assert [ours.extra[f"rtmr{i}"] for i in range(4)] == [theirs[f"rt_mr{i}"] for i in range(4)]


def test_tdx_quote_is_up_to_date_without_advisories():
    claims = verify_evidence(_tdx(), at=TDX_AT)
    assert claims.kind is EvidenceKind.TDX
    assert (claims.tcb_status, claims.advisories) == ("UpToDate", ())


def test_flipped_bit_in_the_isv_report_body_fails_the_quote_signature():
    _refused("quote-signature", _sgx(_flip(_read("dcapqvl_sgx_quote"), 48 + 64)), SGX_AT)
    tdx = _tdx()
    _refused("quote-signature", Evidence(tdx.kind, _flip(tdx.blob, 48 + 136), tdx.collateral), TDX_AT)


def test_expired_crl_is_refused_400_days_later():
    message = _refused("crl-validity", _sgx(), SGX_AT + 400 * 86400)
    assert "1775215317" in message  # the PCK CRL's nextUpdate


def test_expired_collateral_is_refused():
    # A month after issue the QE identity and TCB info are past nextUpdate while the CRLs are still current.
    _refused("collateral-validity", _sgx(), 1752919278 + 60)


def test_tampered_tcb_info_is_refused():
    evidence = _sgx()
    tampered = evidence.collateral["tcb_info"].replace(b'"ConfigurationAndSWHardeningNeeded"', b'"UpToDate"', 1)
    assert tampered != evidence.collateral["tcb_info"]
    collateral = dict(evidence.collateral, tcb_info=tampered)
    _refused("tcb-info-signature", Evidence(evidence.kind, evidence.blob, collateral), SGX_AT)


def test_wrong_root_is_refused_by_name():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=Intel SGX Root CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US")
    start = datetime.datetime(2018, 1, 1, tzinfo=datetime.timezone.utc)
    impostor = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(start).not_valid_after(start.replace(year=2049))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
    _refused("root", _sgx(), SGX_AT, intel_root_pem=impostor.public_bytes(serialization.Encoding.PEM))


def test_go_tdx_guest_quote_has_no_matching_tcb_level_in_its_sample_collateral():
    # go-tdx-guest's own test (TestNegativeRawQuoteVerifyWithCollateral) expects exactly this at 2023-07-01:
    # signatures, chain and CRLs verify, then "no matching TCB level found" (the sample TCB info is newer).
    collateral = intel.collateral_from_pcs(
        tcb_info_response=_read("gotdx_sample_tcbInfo_response"),
        qe_identity_response=_read("gotdx_sample_qeIdentity_response"),
        pck_crl=_read("gotdx_pckcrl"), root_ca_crl=_read("gotdx_rootcrl.der"),
        pck_crl_issuer_chain=_read("gotdx_pckcrl_issuer_chain.pem"),
        tcb_info_issuer_chain=_read("gotdx_tcb_signing_chain.pem"))
    evidence = Evidence(EvidenceKind.TDX, _read("gotdx_tdx_prod_quote_SPR_E4.dat"), collateral)
    _refused("tcb-level", evidence, GOTDX_AT)
    assert intel.parse_quote(evidence.blob).kind is EvidenceKind.TDX


def test_snp_report_verifies_under_the_milan_chain_and_exposes_its_claims():
    claims = verify_evidence(_snp(), at=SNP_AT, allow_debug=True)
    assert claims.kind is EvidenceKind.SEV_SNP
    assert claims.report_data[:5] == bytes([1, 2, 3, 4, 5])
    assert claims.extra["policy"] == "0xb0000" and claims.extra["product"] == "Milan"
    assert claims.debug  # policy bit 19: the guest allows debugging


def test_snp_debug_guest_is_refused_by_default():
    _refused("debug", _snp(), SNP_AT)


def test_snp_flipped_bit_fails_the_report_signature():
    _refused("report-signature", _snp(_flip(_read("snp_milan_report.bin"), 0x90)), SNP_AT, allow_debug=True)


def test_snp_vcek_outside_its_validity_is_refused():
    _refused("validity", _snp(), int(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc).timestamp()),
             allow_debug=True)


def test_snp_chain_under_another_products_ark_is_refused():
    _, genoa_ark = sevsnp.default_chain("Genoa")
    with pytest.raises(EvidenceRejected) as info:
        sevsnp.verify_report(_read("snp_milan_report.bin"), {"vcek": _read("snp_milan_vcek.der")}, at=SNP_AT,
                             arks={"Milan": genoa_ark})
    assert info.value.check == "ask-signature"


def test_snp_vcek_of_another_chip_is_refused():
    blob = bytearray(_read("snp_milan_report.bin"))
    blob[0x1A0] ^= 1  # chip_id is signed, so re-check order: the signature fails first
    _refused("report-signature", _snp(bytes(blob)), SNP_AT, allow_debug=True)


def test_truncated_and_mislabelled_evidence_is_refused():
    _refused("quote-format", _sgx(_read("dcapqvl_sgx_quote")[:100]), SGX_AT)
    tdx = _tdx()
    _refused("quote-format", Evidence(EvidenceKind.SGX, tdx.blob, tdx.collateral), TDX_AT)
    _refused("report-format", _snp(_read("snp_milan_report.bin")[:-1]), SNP_AT)
