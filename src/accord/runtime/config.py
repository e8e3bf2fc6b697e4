"""The cluster file: which parties exist, where they listen, and which certificate each presents.

.. code-block:: yaml

    parties:
      bank:
        address: 127.0.0.1:50051      # where peers reach bank
        cert: certs/bank.crt          # bank's public certificate (shared with every party)
        key: certs/bank.key           # bank's private key: only bank's copy of the file needs it
        fingerprint: sha256:...       # optional pin, checked against the certificate file
        listen: 0.0.0.0:50051         # optional bind address (default: the address)
      partner:
        address: 127.0.0.1:50052
        cert: certs/partner.crt
    timeout: 120                      # seconds a receive waits for a silent peer (default 120)
    connect_timeout: 10               # seconds a peer may be unreachable mid-job (default 10)
    max_message: 2 GiB                # largest message this party accepts (default 2 GiB)
    max_buffered: 4 GiB               # most bytes one peer may have waiting here (default 4 GiB)

Relative paths are resolved against the directory of the cluster file. The two limits are this party's
own memory policy: they are not part of the digest every party must share, and sizes are a number of
bytes or a number with a unit (``KiB``, ``MiB``, ``GiB``, ``TiB``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigurationError
from accord.net.codec import DEFAULT_LIMITS
from accord.net.inbox import DEFAULT_MAX_BUFFERED
from accord.net.tls import certificate_party, fingerprint

_UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


@dataclass(frozen=True)
class PartyConfig:
    """One party's entry of the cluster file."""

    name: str
    address: str
    cert_pem: bytes
    cert_path: Path
    listen: str
    key_path: Path | None


@dataclass(frozen=True)
class ClusterConfig:
    """A parsed, validated cluster file."""

    parties: dict[str, PartyConfig]
    timeout: float
    connect_timeout: float
    source: Path
    max_message: int = DEFAULT_LIMITS.max_bytes
    max_buffered: int = DEFAULT_MAX_BUFFERED

    def digest(self) -> str:
        """A hash of names, addresses and certificates: every party must hold the same cluster."""
        h = hashlib.sha256()
        for name in sorted(self.parties):
            party = self.parties[name]
            h.update(f"{name}|{party.address}|{fingerprint(party.cert_pem)}\n".encode())
        return h.hexdigest()[:16]


def load_cluster_config(path: str | os.PathLike[str]) -> ClusterConfig:
    """Read and validate a cluster file; every problem names the party and the field."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read cluster file {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"cluster file {source} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("parties"), dict) or not raw["parties"]:
        raise ConfigurationError(f"cluster file {source} needs a 'parties' map of name -> settings")
    unknown = set(raw) - {"parties", "timeout", "connect_timeout", "max_message", "max_buffered"}
    if unknown:
        raise ConfigurationError(f"cluster file {source}: unknown top-level fields {sorted(unknown)}")
    base = source.parent
    parties = {str(name): _party(str(name), entry, base, source) for name, entry in raw["parties"].items()}
    if len(parties) < 2:
        raise ConfigurationError(f"cluster file {source} lists {len(parties)} party; at least 2 are needed")
    max_message = _size(raw.get("max_message", DEFAULT_LIMITS.max_bytes), "max_message", source)
    max_buffered = _size(raw.get("max_buffered", max(DEFAULT_MAX_BUFFERED, max_message)), "max_buffered", source)
    if max_buffered < max_message:
        raise ConfigurationError(f"cluster file {source}: max_buffered ({max_buffered} bytes) must be at least "
                                 f"max_message ({max_message} bytes), or no message of that size could arrive")
    return ClusterConfig(
        parties=parties,
        timeout=_positive(raw.get("timeout", 120), "timeout", source),
        connect_timeout=_positive(raw.get("connect_timeout", 10), "connect_timeout", source),
        source=source, max_message=max_message, max_buffered=max_buffered,
    )


def _size(value: Any, field: str, source: Path) -> int:
    """A byte count given as an integer or as a number with a binary unit (``"2 GiB"``)."""
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is not None and match.group(2) in _UNITS:
        value = float(match.group(1)) * _UNITS[match.group(2)]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        raise ConfigurationError(f"cluster file {source}: {field!r} must be a positive number of bytes, optionally "
                                 f"with a unit ({', '.join(u for u in _UNITS if u)}), got {value!r}")
    return int(value)


def _positive(value: Any, field: str, source: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"cluster file {source}: {field!r} must be a positive number of seconds, "
                                 f"got {value!r}")
    return float(value)


def _party(name: str, entry: Any, base: Path, source: Path) -> PartyConfig:
    where = f"cluster file {source}, party {name!r}"
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: expected a map with 'address' and 'cert'")
    unknown = set(entry) - {"address", "cert", "key", "fingerprint", "listen"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}")
    for field in ("address", "cert"):
        if not isinstance(entry.get(field), str) or not entry[field]:
            raise ConfigurationError(f"{where}: field {field!r} is required (a string)")
    address = entry["address"]
    if ":" not in address:
        raise ConfigurationError(f"{where}: address {address!r} must be host:port")
    cert_path = (base / entry["cert"]).resolve()
    try:
        cert_pem = cert_path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read certificate {cert_path}: {exc.strerror}") from None
    holder = certificate_party(cert_pem, f"{where}: certificate {cert_path}")
    if holder != name:
        raise ConfigurationError(f"{where}: certificate {cert_path} was issued to {holder!r}, not {name!r}")
    pin = entry.get("fingerprint")
    if pin is not None and pin != fingerprint(cert_pem):
        raise ConfigurationError(f"{where}: certificate {cert_path} has fingerprint {fingerprint(cert_pem)}, "
                                 f"but the cluster file pins {pin}")
    key = entry.get("key")
    return PartyConfig(
        name=name, address=address, cert_pem=cert_pem, cert_path=cert_path,
        listen=str(entry.get("listen", address)),
        key_path=(base / key).resolve() if isinstance(key, str) else None,
    )
