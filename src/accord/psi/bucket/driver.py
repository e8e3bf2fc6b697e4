"""The driver of bucketed PSI: join two parties' large tables file to file, with bounded memory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError
from accord.psi.api import AUTO, Keys, choose_protocol, key_columns
from accord.psi.bucket.protocol import BucketSettings, bucketed_psi
from accord.psi.bucket.spill import Source
from accord.runtime.cluster import Cluster, PartyObject

_log = logging.getLogger("accord.psi")


def join_files(cluster: Cluster, inputs: Mapping[str, Source | PartyObject | None],
               outputs: Mapping[str, str | Path | None], on: Keys, *, run: str, mode: str = "join",
               to: str | tuple[str, ...] = ("*",), protocol: str = AUTO, memory: int = 4 << 30,
               buckets: int | None = None, state_dir: str | Path | None = None,
               threads: int | None = None, workers: int = 1, ray_address: str | None = None, retries: int = 2,
               gateway_host: str = "127.0.0.1") -> dict[str, PartyObject]:
    """Join two parties' tables bucket by bucket, writing each receiver's result to its output file.

    ``inputs`` maps each of the two parties to its table: a Parquet or CSV path (read in batches),
    a pandas table, or a party-owned object holding one (``None`` for a party this process does not
    host). ``outputs`` maps each receiving party to a ``.parquet`` or ``.csv`` path. ``mode`` is
    ``"join"`` (both receive their rows of the inner join, row ``i`` of both outputs from the same
    key) or ``"semi"`` (each party in ``to`` receives its rows whose key the other holds).
    ``protocol`` is as in :func:`accord.psi.align` (``"auto"``: RR22). ``run`` names the run at both
    parties: a run of the same call killed mid-way resumes from the buckets both parties completed.
    ``memory`` bounds a party's bucket PSIs (bytes, default 4 GiB) and sets the bucket count unless
    ``buckets`` is given. ``workers`` runs that many buckets at once in worker processes of each
    party (relayed through the party's own link; both parties use the smaller number); ``ray_address``
    runs them as tasks on the party's Ray cluster instead (``"local"``: start one here; ``accord[ray]``),
    with the gateway on ``gateway_host`` for workers on other machines. A bucket whose worker fails at
    either party runs again at both, up to ``retries`` times. Returns each party's summary (rows
    written, buckets, resumed, run and retried, peak disk, workers).

    Bucketing reveals each party's number of distinct keys per bucket (see
    :mod:`accord.psi.bucket.protocol`); the job report lists it.
    """
    parties = list(inputs)
    if len(parties) != 2:
        raise ConfigurationError(f"join_files takes the inputs of two parties, got {parties}")
    if mode not in ("join", "semi"):
        raise ConfigurationError(f"mode must be 'join' or 'semi', got {mode!r}")
    if ray_address is not None and len(set(parties) & set(cluster.hosted)) > 1:
        raise ConfigurationError(
            "ray_address runs each party's buckets on that party's own Ray cluster, so each party needs a process "
            f"of its own, but this process hosts {sorted(set(parties) & set(cluster.hosted))} (a simulation): run "
            "one process per party (`--me`, Cluster processes), or use workers= (a local process pool)")
    chosen = choose_protocol(mode, protocol, threads)
    if protocol == AUTO:
        _log.info("bucketed PSI protocol %s (chosen automatically; pass protocol=... to pin one)", chosen)
    if threads is not None and chosen != "ecdh":
        raise ConfigurationError(f"threads sets ECDH's curve threads; protocol={chosen!r} does not use it")
    ordered = [p for p in cluster.names if p in parties]
    receivers = ordered if mode == "join" else _receivers(to, ordered)
    settings = BucketSettings(run=run, mode=mode, protocol=chosen, memory=memory, buckets=buckets,
                              state_dir=state_dir, threads=threads, workers=workers,
                              ray_address=ray_address, retries=retries, gateway_host=gateway_host)
    learned = (f"its rows of the {'inner join' if mode == 'join' else 'semi-join'}; per bucket, both parties' "
               "numbers of distinct keys")
    args: dict[str, tuple[Any, ...]] = {
        p: (inputs[p], key_columns(on, p), receivers, outputs.get(p), settings) for p in ordered}
    return cluster.run(bucketed_psi, args, learned={p: learned if p in receivers else
                                                      "per bucket, both parties' numbers of distinct keys"
                                                      for p in ordered})


def _receivers(to: str | tuple[str, ...], parties: list[str]) -> list[str]:
    names = [to] if isinstance(to, str) else list(to)
    if names == ["*"]:
        return parties
    if not names or any(n not in parties for n in names):
        raise ConfigurationError(f"`to` must name {parties[0]!r}, {parties[1]!r} or both; got {names}")
    return [p for p in parties if p in names]
