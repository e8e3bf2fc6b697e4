"""Where evidence comes from: the simulation backend here, or Gramine's SGX attestation files in an enclave.

:class:`GramineSGX` follows Gramine's ``/dev/attestation`` interface (write 64 bytes of report data to
``user_report_data``, read the DCAP quote from ``quote``) and attaches the collateral the operator
fetched from a PCCS as JSON (``ACCORD_SGX_COLLATERAL``). It was written against Gramine's documented
interface and has NOT been run on SGX hardware here; see docs/tee.md for the manifest and steps.
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path
from typing import Protocol

from accord.errors import ConfigurationError, UnsupportedError
from accord.tee.claims import Evidence, EvidenceKind
from accord.tee.intel import collateral_from_json
from accord.tee.simulated import SimulatedEnclave

_ATTESTATION = Path("/dev/attestation")


class EvidenceSource(Protocol):
    """Anything that turns 64 bytes of report data into evidence."""

    kind: EvidenceKind

    def evidence(self, report_data: bytes) -> Evidence:
        """Evidence whose report data is ``report_data``."""


def code_measurement() -> bytes:
    """SHA-384 over the runner's code (the ``accord.enclave`` and ``accord.tee`` sources), the simulated MRENCLAVE.

    It lets a policy pin which runner code it expects even in simulation; in SGX the real
    MRENCLAVE covers the whole enclave image instead.
    """
    h = hashlib.sha384(b"accord.tee.v1/simulated-measurement")
    for package in ("accord.enclave", "accord.tee"):
        for item in sorted(resources.files(package).iterdir(), key=lambda p: p.name):
            if item.name.endswith(".py"):
                h.update(f"{package}/{item.name}\0".encode() + item.read_bytes())
    return h.digest()


class GramineSGX:
    """SGX evidence through Gramine's ``/dev/attestation`` pseudo-files (not run here)."""

    kind = EvidenceKind.SGX

    def __init__(self, collateral_path: str | os.PathLike[str] | None = None) -> None:
        if not (_ATTESTATION / "quote").exists():
            raise UnsupportedError("backend gramine-sgx needs /dev/attestation: run the runner inside a Gramine "
                                   "SGX enclave (see docs/tee.md)")
        path = collateral_path or os.environ.get("ACCORD_SGX_COLLATERAL")
        if not path:
            raise ConfigurationError("set ACCORD_SGX_COLLATERAL to the PCCS collateral JSON for this platform")
        self._collateral = collateral_from_json(Path(path).read_bytes())

    def evidence(self, report_data: bytes) -> Evidence:
        (_ATTESTATION / "user_report_data").write_bytes(report_data)
        return Evidence(EvidenceKind.SGX, (_ATTESTATION / "quote").read_bytes(), self._collateral)


def backend_for(name: str) -> EvidenceSource:
    """The evidence source a job file names."""
    if name == "simulated":
        return SimulatedEnclave(code_measurement())
    if name == "gramine-sgx":
        return GramineSGX()
    raise ConfigurationError(f"unknown TEE backend {name!r}")
