"""Driver-level keyword PIR: build a server's table, copy it to a client, look keys up in it.

>>> import accord, pandas as pd, tempfile
>>> tmp = tempfile.mkdtemp()
>>> with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
...     telecom, bank = cluster.parties("telecom", "bank")
...     flagged = telecom.put(pd.DataFrame({"phone": ["555-0101", "555-0199"], "risk": ["high", "low"]}))
...     _ = accord.pir.build(flagged, on="phone", labels=["risk"], state=tmp + "/telecom")
...     state = {"telecom": tmp + "/telecom", "bank": tmp + "/bank"}
...     _ = accord.pir.sync(cluster, server="telecom", client="bank", state=state)
...     asked = bank.put(pd.DataFrame({"phone": ["555-0199", "555-0000"]}))
...     accord.pir.query(asked, on="phone", server="telecom", state=state).to_pandas()
      phone  matched  risk
0  555-0199     True   low
1  555-0000    False  None
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, InputError
from accord.pir import params as pir_params
from accord.pir import server as pir_server
from accord.pir.protocol import client_copy, pir_query, pir_sync
from accord.pir.table import Table
from accord.psi.join import encode_keys, group_keys
from accord.runtime.cluster import Cluster, PartyObject, PartyTable

Paths = Mapping[str, "str | os.PathLike[str]"]
_SEP = b"\x1f"
_LEN = struct.Struct(">H")


def build(table: PartyTable, on: str | Sequence[str], *, state: str | os.PathLike[str], labels: Sequence[str] = (),
          capacity: int = pir_params.DEFAULT_CAPACITY, max_batch: int = pir_params.DEFAULT_MAX_BATCH,
          threads: int | None = None) -> PartyObject:
    """Encode the owner's set (key columns ``on``, label columns ``labels``) into ``state``, under a fresh key.

    Runs at the table's owner only (no message leaves it). Returns, at the owner, a summary: table id,
    size, parameters and the security statement.
    """
    owner = table.cluster.party(table.owner)
    keys_on, label_on = _names(on, "on"), _names(labels, "labels", empty_ok=True)

    def local(df: pd.DataFrame) -> dict[str, Any]:
        kinds, keys = encode_keys(df, keys_on, party=owner.name)
        encoded = encode_labels(df, label_on, party=owner.name)
        width = max((len(e) for e in encoded), default=0) if label_on else 0
        chosen = pir_params.choose(len(keys), width, capacity=capacity, max_batch=max_batch)
        labels_arr = _pad(encoded, width) if label_on else np.zeros((len(keys), 0), dtype=np.uint8)
        header = pir_server.build(Path(state), keys, labels_arr, chosen, kinds=kinds, label_columns=tuple(label_on),
                                  rng=Rng(), threads=threads or os.cpu_count() or 1, progress=table.cluster.progress,
                                  party=owner.name)
        with Table(Path(state) / pir_server.TABLE_FILE) as t:
            return {"table_id": t.id.hex(), "entries": header.params.n, "label_bytes": width,
                    "tag_bytes": header.params.tag_bytes, "capacity": header.params.capacity,
                    "bytes": t.size, "security": header.params.security()}

    return owner.apply(local, table)


def sync(cluster: Cluster, *, server: str, client: str, state: Paths) -> PartyObject:
    """Copy ``server``'s table into ``client``'s state directory (once per build; a current copy stays)."""
    dirs = _dirs(state, (server, client))
    out = cluster.run(pir_sync, {server: (server, dirs[server]), client: (server, dirs[client])},
                      learned={client: "the server's set size, label length and table parameters", server: "nothing"})
    return out[client]


def query(queries: PartyTable, on: str | Sequence[str], *, server: str, state: Paths,
          threads: int | None = None) -> PartyTable:
    """Each distinct query row with ``matched`` and the server's label columns (None where not matched).

    The client is the queries' owner; it must hold a current copy of the server's table (:func:`sync`).
    """
    client = queries.owner
    if client == server:
        raise ConfigurationError(f"party {server!r} cannot query its own PIR table")
    dirs = _dirs(state, (server, client))
    cluster = queries.cluster
    local: dict[str, Any] = {}
    if queries.is_local:  # the key columns matter at the client only
        local = _prepare(queries.get(), _names(on, "on"), client, server, Path(dirs[client]))
    out = cluster.run(pir_query, {server: (server, dirs[server]),
                                  client: (server, dirs[client], local.get("keys"), threads)},
                      learned={client: "for each distinct key asked: whether the server holds it, and its label",
                               server: "the number of keys asked"})
    return cluster.party(client).apply(lambda answer: _result(local, answer), out[client]).as_table()


def _prepare(df: pd.DataFrame, on: list[str], client: str, server: str, state: Path) -> dict[str, Any]:
    path = client_copy(state, server)
    if not path.exists():
        raise ConfigurationError(f"party {client!r} holds no copy of {server!r}'s PIR table at {path}: sync first")
    with Table(path) as t:
        header = t.header
    kinds, raw = encode_keys(df, on, party=client)
    if len(kinds) != len(header.kinds) or kinds != header.kinds:
        raise InputError(f"the query keys {on} are of kinds {list(kinds)} but {server!r}'s table is keyed by "
                         f"{list(header.kinds)}; convert the key columns", party=client, field=on[0])
    keyset = group_keys(kinds, raw)
    rows = keyset.rows[keyset.starts]  # the first row of each distinct key
    return {"keys": keyset.keys, "frame": df[on].iloc[rows].reset_index(drop=True), "columns": header.label_columns}


def _result(local: dict[str, Any], answer: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    found, labels = answer
    frame = local["frame"].copy()
    frame["matched"] = found
    columns = local["columns"]
    decoded = [decode_label(bytes(row), len(columns)) if hit and columns else [None] * len(columns)
               for hit, row in zip(found, labels)]
    for i, name in enumerate(columns):
        frame[name] = pd.Series([d[i] for d in decoded], dtype=object)
    return frame


def encode_labels(df: pd.DataFrame, columns: Sequence[str], *, party: str) -> list[bytes]:
    """Each row's label columns as ``u16 length || utf-8 values joined by 0x1f``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"label column {missing[0]!r} not found; the table has {list(map(str, df.columns))}",
                         party=party, field=missing[0])
    if not columns:
        return []
    texts = [df[c].astype(str).str.encode("utf-8").tolist() for c in columns]
    out = []
    for parts in zip(*texts):
        if any(_SEP in p for p in parts):
            raise InputError("a label value holds the control character 0x1f", party=party, field=columns[0])
        body = _SEP.join(parts)
        if len(body) > pir_params.MAX_LABEL_BYTES - _LEN.size:
            raise InputError(f"a label is {len(body)} bytes, over the limit", party=party, field=columns[0])
        out.append(_LEN.pack(len(body)) + body)
    return out


def decode_label(raw: bytes, columns: int) -> list[str | None]:
    """The label columns of one decrypted label."""
    (length,) = _LEN.unpack(raw[:_LEN.size])
    parts = raw[_LEN.size:_LEN.size + length].split(_SEP)
    return [p.decode("utf-8", errors="replace") for p in parts] if len(parts) == columns else [None] * columns


def _pad(encoded: list[bytes], width: int) -> np.ndarray:
    out = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, e in enumerate(encoded):
        out[i, :len(e)] = np.frombuffer(e, dtype=np.uint8)
    return out


def _names(value: str | Sequence[str], what: str, *, empty_ok: bool = False) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if (not names and not empty_ok) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(f"`{what}` must be a column name or a list of column names, got {value!r}")
    return names


def _dirs(state: Paths, parties: Sequence[str]) -> dict[str, str]:
    if not isinstance(state, Mapping):
        raise ConfigurationError("`state` maps each party to its state directory, e.g. {'telecom': ..., 'bank': ...}")
    missing = [p for p in parties if p not in state]
    if missing:
        raise ConfigurationError(f"`state` has no directory for {missing}")
    return {p: str(state[p]) for p in parties}
