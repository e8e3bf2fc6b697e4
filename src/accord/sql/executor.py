"""Run a plan: local units, PSI joins, shares, the secure program, and the receiver's answer.

Driver-level code: every process runs it, each hosted party does its own steps, and parties meet only
inside protocols (PSI, MPC, :mod:`accord.sql.exchange`). Control flow depends only on values every
participant holds (unit counts, join sizes, group counts), so all processes take the same path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from accord.crypto.random import Rng
from accord.dp.budget import Budget
from accord.errors import InputError
from accord.mpc.session import MPC
from accord.psi import align
from accord.runtime.cluster import Cluster, PartyObject, PartyTable
from accord.sql import exchange, local, messages
from accord.sql.grouping import Segments, combined_index
from accord.sql.plan import Plan
from accord.sql.privacy import Cell
from accord.sql.result import answer, decode_value, empty_passes, empty_rows
from accord.sql.rules import revealed
from accord.sql.secure import Public, layout, output_columns, program

MAX_ONEHOT = 2 ** 26   # cells of an owner's one-hot of distinct values (rows x values), 512 MiB per share


def here(objects: Mapping[str, PartyObject]) -> Any:
    """The value of whichever of ``objects`` this process hosts (they are equal wherever they are held)."""
    for value in objects.values():
        if value.is_local:
            return value.get()
    return None


def execute(cluster: Cluster, plan: Plan, spu: MPC, sources: Mapping[str, Mapping[str, Any]], *,
            psi_protocol: str = "kkrt", key_types: list[str], dp: DPAnswer | None = None) -> PartyObject:
    """The query's answer as a table at the receiver (a placeholder elsewhere)."""
    everyone = list(dict.fromkeys([*plan.order, *spu.participants]))
    tables = {p: _units(cluster, plan, p, sources.get(p, {}), dp is not None) for p in plan.order}
    counts = {p: cluster.party(p).apply(len, tables[p]) if p in plan.order else cluster.party(p).put(0)
              for p in everyone}
    sizes = here(cluster.run(exchange.exchange_sizes, {p: (counts[p],) for p in everyone}))
    rows = 0 if sizes is None or min(sizes[p] for p in plan.order) == 0 else -1
    if rows:
        rows, tables = _join(cluster, plan, tables, everyone, psi_protocol)
    if dp is not None:
        return _dp_answer(cluster, plan, spu, tables, rows, key_types, dp)
    if not rows:
        return cluster.party(plan.receiver).apply(lambda: answer(plan, empty_rows(plan) if empty_passes(plan) else [],
                                                                 key_types))
    return _secure(cluster, plan, spu, tables, rows, key_types)


@dataclass(frozen=True)
class DPAnswer:
    """A DP answer's cells (aggregate index, component, sensitivity) and each cell's budget."""

    cells: list[Cell]
    budget: Budget


def _dp_answer(cluster: Cluster, plan: Plan, spu: MPC, tables: dict[str, PartyTable], rows: int,
               key_types: list[str], dp: DPAnswer) -> PartyObject:
    """Noised cells: exact values exist only as shares, each computing party adds a draw before opening."""
    if not any(p in cluster.hosted for p in spu.participants) and not rows:
        return PartyTable(cluster, plan.receiver)
    if rows:
        secrets = _shared_inputs(cluster, plan, spu, tables)
        if not any(p in cluster.hosted for p in spu.participants):
            return PartyTable(cluster, plan.receiver)
        pub = Public(plan, rows, 1, Segments(np.zeros(rows, dtype=np.int64), 1),
                     _class_codes(cluster, plan, list(spu.participants), tables),
                     cells=[(c.index, c.component) for c in dp.cells])
        guard, _, *values = spu.run(program, pub, *secrets, name="sql")
        _check_guard(spu, guard)
    else:   # nothing joined: the exact cells are zeros, still noised before anyone sees them
        zeros = spu.share(cluster.party(spu.parties[0]).put(np.zeros((len(dp.cells), 1), dtype=np.int64)))
        values = [spu.run(lambda z, i=i: z[i], zeros, name="sql") for i in range(len(dp.cells))]
    opened = [spu.reveal(v, to=plan.receiver, dp=dp.budget, sensitivity=c.sensitivity)
              for v, c in zip(values, dp.cells)]

    def assemble(*cells: np.ndarray) -> pd.DataFrame:
        row: dict[str, Any] = {}
        for cell, value in zip(dp.cells, cells):
            agg = plan.aggregates[cell.index]
            scale = agg.enc.scale if agg.enc is not None else 0
            name = f"a{agg.index}" + ("_n" if cell.component == "count" else "")
            row[name] = decode_value(int(np.asarray(value).ravel()[0]), "BIGINT", 0 if cell.component == "count"
                                     or agg.func not in ("sum", "avg") else scale)
        return answer(plan, [row], key_types)

    return cluster.party(plan.receiver).apply(assemble, *opened)


def _units(cluster: Cluster, plan: Plan, party: str, sources: Mapping[str, Any], unique_keys: bool) -> PartyTable:
    names = list(sources)
    values = [sources[n] for n in names]

    def build(*resolved: Any) -> pd.DataFrame:
        frame = local.units(plan, party, dict(zip(names, resolved)), unique_keys=unique_keys)
        return frame.assign(__row=np.arange(len(frame), dtype=np.int64))

    return cluster.party(party).apply(build, *values)


def _join(cluster: Cluster, plan: Plan, tables: dict[str, PartyTable], everyone: list[str],
          psi_protocol: str) -> tuple[int, dict[str, PartyTable]]:
    component = [plan.order[0]]
    rows = 0
    for edge in plan.edges:
        on = {edge.left: [plan.local[edge.left].key_name(c) for c in edge.classes],
              edge.right: [plan.local[edge.right].key_name(c) for c in edge.classes]}
        left, right = align(tables[edge.left], tables[edge.right], on=on, protocol=psi_protocol)
        members = [p for p in component if p != edge.left]
        lengths = {p: cluster.party(p).apply(len, tables[p]) if p in component else cluster.party(p).put(0)
                   for p in everyone}
        kept = cluster.party(edge.left).apply(lambda t: t["__row"].to_numpy(dtype=np.int64), left)
        out = cluster.run(exchange.reindex, {p: (edge.left, members, lengths[p], kept if p == edge.left else None)
                                             for p in everyone},
                          learned={p: "which of its joined rows survive the next join" for p in members})
        for p in members:
            tables[p] = cluster.party(p).apply(_reorder, tables[p], out[p])
        tables[edge.left] = cluster.party(edge.left).apply(_renumber, left)
        tables[edge.right] = cluster.party(edge.right).apply(_renumber, right)
        component.append(edge.right)
        found = here(out)
        rows = len(found) if isinstance(found, np.ndarray) else int(found or 0)
        if rows == 0:
            break
    return rows, tables


def _reorder(table: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return _renumber(table.iloc[positions])


def _renumber(table: pd.DataFrame) -> pd.DataFrame:
    return table.reset_index(drop=True).assign(__row=np.arange(len(table), dtype=np.int64))


def _codes(frame: pd.DataFrame, columns: list[Any]) -> np.ndarray:
    """Dense ids of the rows' value combinations (NULL is a value, as in GROUP BY)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64)
    keys = pd.MultiIndex.from_frame(frame[columns].astype(object).where(frame[columns].notna(), None))
    return pd.factorize(keys)[0].astype(np.int64)


def _secure(cluster: Cluster, plan: Plan, spu: MPC, tables: dict[str, PartyTable], rows: int,
            key_types: list[str]) -> PartyObject:
    computing = list(spu.participants)
    group_cols = {p: [f"g{i}" for i in range(len(plan.local[p].groups))] for p in plan.order}
    segments, onehots, groups = None, [], 1
    codes_of: dict[str, PartyObject] = {}
    sizes: list[int] = []
    if not plan.grouped:
        segments = Segments(np.zeros(rows, dtype=np.int64), 1)
    elif plan.grouping == "public":
        ids = []
        for owner in plan.group_owners:
            codes = cluster.party(owner).apply(_codes, tables[owner], group_cols[owner])
            out = cluster.run(exchange.share_partition, {p: (owner, rows, codes if p == owner else None)
                                                         for p in dict.fromkeys([owner, *computing])},
                              learned={p: f"the group partition by {owner}'s keys" for p in computing if p != owner})
            ids.append(here({p: out[p] for p in computing if p in out}))
        if ids[0] is not None:
            segments = Segments.of(_codes(pd.DataFrame(np.stack(ids, axis=1)), list(range(len(ids)))))
            groups = segments.count
    else:   # candidate groups: every combination of the owners' own groups, each owner's partition shared
        for owner in plan.group_owners:
            codes_of[owner] = cluster.party(owner).apply(_codes, tables[owner], group_cols[owner])
            onehots.append(spu.share(cluster.party(owner).apply(
                lambda c: np.eye(int(c.max()) + 1, dtype=np.int64)[c], codes_of[owner])))
        sizes = [m.shape[1] for m in onehots]
        groups = int(np.prod(sizes))
    class_codes = _class_codes(cluster, plan, computing, tables)
    secrets = _shared_inputs(cluster, plan, spu, tables) + onehots
    pad_owners = [o for o in plan.group_owners if o != plan.receiver]
    pads = {}
    for owner in pad_owners:
        pads[owner] = cluster.party(owner).apply(_pad, tables[owner], group_cols[owner], segments,
                                                 codes_of.get(owner))
        secrets.append(spu.share(cluster.party(owner).apply(lambda p: p[1].view(np.int64), pads[owner])))
    for agg in plan.aggregates:
        if agg.counted is not None:
            owner = str(agg.owner)
            secrets.append(spu.share(cluster.party(owner).apply(_value_onehot, tables[owner], agg.counted, owner,
                                                                agg.node.sql())))
    if not any(p in cluster.hosted for p in spu.participants):
        return PartyTable(cluster, plan.receiver)
    pub = Public(plan, rows, groups, segments, class_codes, len(pad_owners))
    guard, _keep, *rest = spu.run(program, pub, *secrets, name="sql")
    _check_guard(spu, guard)
    ints_out = spu.reveal(rest[0], to=plan.receiver)
    fixed_out = spu.reveal(rest[1], to=plan.receiver) if len(rest) > 1 + len(pad_owners) else None
    delivered = []
    spread = {o: combined_index(sizes, k) for k, o in enumerate(plan.group_owners)} if onehots else None
    for owner, pad in zip(pad_owners, rest[len(rest) - len(pad_owners):]):
        shape = (sizes[plan.group_owners.index(owner)], pad.shape[1]) if onehots else pad.shape
        sent = cluster.run(exchange.send_keys, {p: (owner, plan.receiver, shape,
                                                    cluster.party(owner).apply(lambda x: x[0], pads[owner])
                                                    if p == owner else None) for p in (owner, plan.receiver)})
        delivered += [sent[plan.receiver], spu.reveal(pad, to=plan.receiver)]
    mine = tables.get(plan.receiver)
    own_ids = codes_of.get(plan.receiver)
    return cluster.party(plan.receiver).apply(
        lambda ints, fixed, table, own_ids, *keys: _assemble(plan, ints, fixed, list(keys), pad_owners, table,
                                                            segments.ids if segments is not None else own_ids,
                                                            key_types, spread),
        ints_out, fixed_out, mine, own_ids, *delivered)


def _class_codes(cluster: Cluster, plan: Plan, computing: list[str],
                 tables: dict[str, PartyTable]) -> dict[int, np.ndarray]:
    """Each needed key class's partition of the joined rows, from a computing party's own key column."""
    classes = sorted({a.key_class for a in plan.aggregates if a.key_class is not None}
                     | {c for _, c, _ in plan.thresholds})
    return {cls: here({p: cluster.party(p).apply(_codes, tables[p], [f"k{cls}"]) for p in computing
                       if p in plan.local and cls in plan.local[p].keys}) for cls in classes}


def _value_onehot(frame: pd.DataFrame, column: str, party: str, what: str) -> np.ndarray:
    """Joined rows by distinct non-NULL value of the owner's column (NULL rows all zero; at least one column)."""
    codes = pd.factorize(frame[column])[0]
    width = max(1, int(codes.max(initial=-1)) + 1)
    if len(codes) * width > MAX_ONEHOT:
        raise InputError(f"{what}: {width} distinct values over {len(codes)} joined rows exceed the "
                         f"{MAX_ONEHOT} cells of the shared one-hot that counts them", party=party, field=what)
    out = np.zeros((len(codes), width), dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)
    out[rows, codes[rows]] = 1
    return out


def _shared_inputs(cluster: Cluster, plan: Plan, spu: MPC, tables: dict[str, PartyTable]) -> list[Any]:
    secrets = []
    for party in plan.order:
        ints, fixed = layout(plan, party)
        for names, kind in ((ints, np.int64), (fixed, np.float64)):
            if names:
                matrix = cluster.party(party).apply(_matrix, plan, party, tables[party], names, kind)
                secrets.append(spu.share(matrix))
    return secrets


def _check_guard(spu: MPC, guard: Any) -> None:
    opened = spu.reveal(guard, to=list(spu.parties))
    value = here(opened) if isinstance(opened, dict) else (opened.get() if opened.is_local else None)
    if value is not None and bool(np.asarray(value).ravel()[0]):
        raise InputError("the aggregates could exceed the exact 61-bit range of the shares (too many joined rows "
                         "for the declared max_abs bounds); nothing was revealed")


def _matrix(plan: Plan, party: str, frame: pd.DataFrame, names: list[str], kind: type) -> np.ndarray:
    lp = plan.local[party]
    columns = []
    derived = {d.name: d for d in lp.derived}
    for name in names:
        base = name.rstrip("?")
        if base in derived:
            values, valid = local.encode_derived(frame, derived[base])
            columns.append(valid if name.endswith("?") else values)
        else:
            column = frame[name]
            columns.append(column.to_numpy(dtype=np.float64, na_value=0.0) if kind is np.float64
                           else column.fillna(0).to_numpy().astype(np.int64))
    return np.stack(columns, axis=1).astype(kind)


def _pad(frame: pd.DataFrame, columns: list[str], segments: Segments | None,
         codes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Padded key texts per candidate group, and the pads (uint64), for the owner's keys."""
    ids: np.ndarray = segments.ids if segments is not None else cast(np.ndarray, codes)
    count = int(ids.max()) + 1
    first = np.zeros(count, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids))[::-1]
    texts: list[bytes | None] = [_key_bytes(frame.iloc[int(r)][columns].tolist()) for r in first]
    width = messages.width_for(texts)
    plain = messages.pack_texts(texts, width)
    pad = Rng().uint64(plain.shape) % np.uint64(messages.PAD_MODULUS)
    return (plain + pad) % np.uint64(messages.PAD_MODULUS), pad


def _key_bytes(values: list[Any]) -> bytes:
    return b"\x00".join(b"\x02" if _null(v) else b"\x03" + local.key_text(v).encode() for v in values)


def _null(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def _assemble(plan: Plan, ints: np.ndarray, fixed: Any, delivered: list[np.ndarray],
              owners: list[str], table: Any, ids: Any,
              key_types: list[str], spread: dict[str, np.ndarray] | None) -> pd.DataFrame:
    """The receiver's rows: kept groups' keys (its own, or unpadded) and opened aggregates, then its SELECT.

    ``spread`` maps each group-key owner to its group of each candidate group (owners' partitions kept
    secret); without it, candidate groups are the public partition's.
    """
    keep = ints[:, 0].astype(bool)
    keys: dict[int, list[Any]] = {}
    for i, key in enumerate(plan.query.group_by):
        owner = next(p for p in plan.order if key in plan.local[p].groups)
        position = plan.local[owner].groups.index(key)
        index = spread[owner] if spread is not None else np.arange(len(keep))
        if owner == plan.receiver:
            first = np.zeros(int(ids.max()) + 1, dtype=np.int64)
            first[ids[::-1]] = np.arange(len(ids))[::-1]
            texts = [table.iloc[int(r)][f"g{position}"] for r in first]
            keys[i] = [texts[c] for c in index]
        else:
            j = owners.index(owner)
            padded = delivered[2 * j][index] if spread is not None else delivered[2 * j]
            plain = (padded - delivered[2 * j + 1].view(np.uint64)) % np.uint64(messages.PAD_MODULUS)
            keys[i] = [_split_key(messages.unpack_text(row), position) if keep[g] else None
                       for g, row in enumerate(plain)]
    opened = revealed(plan.query)
    rows = []
    for g in np.flatnonzero(keep):
        row: dict[str, Any] = {f"k{i}": None if _null(v[g]) else local.key_text(v[g]) for i, v in keys.items()}
        ci, cf = 1, 0
        for agg in plan.aggregates:
            if agg.node.sql() not in opened:
                continue
            parts = {}
            for component in output_columns(agg):
                if component == "value" and agg.func in ("sum", "avg", "min", "max") and agg.enc is not None \
                        and agg.enc.kind == "fixed":
                    parts[component], cf = fixed[g, cf], cf + 1
                else:
                    parts[component], ci = ints[g, ci], ci + 1
            row.update(_agg_text(agg, parts))
        rows.append(row)
    return answer(plan, rows, key_types)


def _split_key(text: bytes | None, position: int) -> Any:
    if text is None:
        return None
    part = text.split(b"\x00")[position]
    return None if part == b"\x02" else part[1:].decode()


def _agg_text(agg: Any, parts: dict[str, Any]) -> dict[str, Any]:
    scale = None if agg.enc is not None and agg.enc.kind == "fixed" else (agg.enc.scale if agg.enc else 0)
    name = f"a{agg.index}"
    if agg.func in ("count", "count_star", "count_distinct"):
        return {name: str(int(parts["value"]))}
    if agg.func == "avg":
        return {name: decode_value(parts["value"], "DOUBLE", scale), f"{name}_n": str(int(parts["count"]))}
    if not parts["valid"]:
        return {name: None}
    sql_type = "DATE" if agg.enc is not None and agg.enc.kind == "date" else agg.sql_type
    return {name: decode_value(parts["value"], sql_type, scale)}
