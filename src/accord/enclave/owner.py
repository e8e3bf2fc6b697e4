"""A data owner's local steps: seal a dataset under a fresh key kept in its state directory.

The data key is written once (mode 0600, never overwritten) to ``<state>/keys/<dataset>.key``; the
sealed file can then be shipped to the enclave host over any channel, since only an attested enclave
that the owner's policy allows ever receives the key.
"""

from __future__ import annotations

import os
from pathlib import Path

from accord.errors import ConfigurationError, InputError
from accord.tee.sealing import new_data_key, seal_stream
from accord.tee.wrapping import KeyPair


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigurationError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def seal_dataset(state: str | os.PathLike[str], owner: str, dataset: str, source: str | os.PathLike[str],
                 output: str | os.PathLike[str], chunk_size: int = 1 << 20) -> int:
    """Seal ``source`` (a CSV file) as ``dataset`` of ``owner``; returns the plaintext bytes sealed."""
    src, out = Path(source), Path(output)
    if not src.is_file():
        raise InputError(f"cannot read {src}", party=owner, field="input")
    key = new_data_key()
    _write_private(Path(state) / "keys" / f"{dataset}.key", key)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with src.open("rb") as fin, partial.open("wb") as fout:
            size = seal_stream(fin, fout, key, {"owner": owner, "dataset": dataset, "format": "csv"},
                               chunk_size=chunk_size)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return size


def write_recipient_keys(prefix: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Create an X25519 key pair for a result recipient: ``<prefix>.key`` (0600) and ``<prefix>.pub`` (hex)."""
    pair = KeyPair.generate()
    private, public = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    if public.exists():
        raise ConfigurationError(f"{public} already exists; refusing to overwrite a key")
    _write_private(private, pair.private.hex().encode())
    public.write_text(pair.public.hex() + "\n")
    return private, public
