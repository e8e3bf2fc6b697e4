"""The simulation backend: evidence that says "simulated" in its type and proves nothing.

No hardware signs it, so anyone can forge it: it exists so the whole key-release and job flow can run
on machines without SGX, TDX or SEV-SNP. Brokers refuse it unless the owner's policy sets
``allow_simulation: true``, and every report and log line that involves it says INSECURE SIMULATION.
The layout is fixed and parsed strictly: a magic string naming the insecurity, then the measurement
(48 bytes), signer (32), SVN (u16), debug flag (u8) and report data (64).
"""

from __future__ import annotations

import logging
import struct

from accord.errors import EvidenceRejected
from accord.tee.claims import SIMULATION_WARNING, Claims, Evidence, EvidenceKind

MAGIC = b"ACCORD-SIMULATED-ENCLAVE/INSECURE-SIMULATION/v1\0"
_BODY = struct.Struct("<48s32sHB64s")
log = logging.getLogger(__name__)


class SimulatedEnclave:
    """Produces simulated evidence for a given code measurement (no isolation, no secrecy, no signature).

    Parameters
    ----------
    measurement:
        48 bytes standing in for MRENCLAVE / MRTD: accord uses a SHA-384 of the runner's code, so a
        policy can still pin which code it expects.
    signer:
        32 bytes standing in for MRSIGNER (default: zeros).
    svn:
        Security version (default 1).
    """

    kind = EvidenceKind.SIMULATED

    def __init__(self, measurement: bytes, signer: bytes = bytes(32), svn: int = 1, debug: bool = False) -> None:
        if len(measurement) != 48 or len(signer) != 32 or not 0 <= svn < 1 << 16:
            raise ValueError("measurement must be 48 bytes, signer 32 bytes, svn a 16-bit number")
        self.measurement, self.signer, self.svn, self.debug = measurement, signer, svn, debug

    def evidence(self, report_data: bytes) -> Evidence:
        """Simulated evidence carrying ``report_data`` (64 bytes)."""
        if len(report_data) != 64:
            raise ValueError("report data is 64 bytes")
        log.warning("%s: producing simulated attestation evidence; it proves nothing", SIMULATION_WARNING)
        body = _BODY.pack(self.measurement, self.signer, self.svn, int(self.debug), report_data)
        return Evidence(EvidenceKind.SIMULATED, MAGIC + body)


def parse_simulated(blob: bytes) -> Claims:
    """The claims of simulated evidence (there is nothing to verify)."""
    if not blob.startswith(MAGIC) or len(blob) != len(MAGIC) + _BODY.size:
        raise EvidenceRejected("not simulated evidence of the expected layout", check="format")
    measurement, signer, svn, debug, report_data = _BODY.unpack_from(blob, len(MAGIC))
    if debug > 1:
        raise EvidenceRejected(f"debug flag byte {debug} is not 0 or 1", check="format")
    return Claims(EvidenceKind.SIMULATED, measurement=measurement, signer=signer, svn=svn, debug=bool(debug),
                  report_data=report_data, tcb_status="Simulated", extra={"warning": SIMULATION_WARNING})
