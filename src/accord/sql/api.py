"""The driver API: ``accord.sql.query`` and ``accord.sql.explain``.

>>> import accord, pandas as pd
>>> from accord.sql import Catalog
>>> catalog = Catalog.from_dict({"tables": {
...     "people": {"owner": "city", "columns": {"id": "int", "district": "str"},
...                "ccl": {"id": {"*": "PLAINTEXT_AFTER_JOIN"}, "district": {"*": "PLAINTEXT_AFTER_GROUP_BY"}}},
...     "tax": {"owner": "revenue", "columns": {"id": "int", "owed": "int"},
...             "ccl": {"id": {"*": "PLAINTEXT_AFTER_JOIN"}, "owed": {"*": "PLAINTEXT_AFTER_AGGREGATE"}}}}})
>>> people = pd.DataFrame({"id": [1, 2, 3, 4], "district": ["n", "n", "s", "s"]})
>>> tax = pd.DataFrame({"id": [2, 3, 4, 9], "owed": [10, 20, 30, 40]})
>>> with accord.Cluster.simulate(["city", "revenue"]) as cluster:
...     city, revenue = cluster.parties("city", "revenue")
...     out = accord.sql.query(cluster, "SELECT district, SUM(owed) AS owed FROM people JOIN tax "
...                            "ON people.id = tax.id GROUP BY district ORDER BY district", catalog, to="city",
...                            sources={"people": city.put(people), "tax": revenue.put(tax)})
...     out.get().to_dict("list")
{'district': ['n', 's'], 'owed': [10.0, 50.0]}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from accord.dp.budget import Budget
from accord.dp.ledger import Ledger
from accord.errors import ConfigurationError
from accord.mpc.session import MPC
from accord.runtime.cluster import Cluster, PartyObject
from accord.sql.catalog import Catalog
from accord.sql.executor import DPAnswer, execute
from accord.sql.parser import parse
from accord.sql.plan import Plan
from accord.sql.planner import make_plan
from accord.sql.privacy import cell_budget, cells, charge_ledgers, check_ledgers
from accord.sql.probe import Probe


def _catalog(catalog: Catalog | str | os.PathLike[str]) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)


def _computing(cluster: Cluster, parties: tuple[str, ...], receiver: str, spu: MPC | None) -> tuple[str, ...]:
    if spu is not None:
        return tuple(spu.participants)
    if len(parties) == 2:
        return parties
    return tuple(dict.fromkeys([receiver, *parties]))[:3]


def _charge(cluster: Cluster, parties: tuple[str, ...], noised: DPAnswer, ledgers: dict[str, Ledger]) -> None:
    release = f"sql:{os.urandom(8).hex()}"
    sensitivities = [c.sensitivity for c in noised.cells]
    out = cluster.run(charge_ledgers, {p: (ledgers.get(p), noised.budget, sensitivities, release) for p in parties})
    for party, spent in out.items():
        if spent.is_local and spent.get() is not None:
            ledger = ledgers[party]
            cluster.record_privacy(party, ledger.dataset, f"sql {release}", spent.get(), ledger.cap.epsilon)


def explain(sql: str, catalog: Catalog | str | os.PathLike[str], *, to: str,
            computing: tuple[str, ...] | None = None) -> Plan:
    """The plan of ``sql`` for receiver ``to`` (checked against every CCL), without running anything."""
    cat = _catalog(catalog)
    query = parse(sql, cat)
    parties = query.data_parties
    return make_plan(query, cat, to, computing or (parties if len(parties) == 2 else
                                                    tuple(dict.fromkeys([to, *parties]))[:3]))


def query(cluster: Cluster, sql: str, catalog: Catalog | str | os.PathLike[str], *, to: str,
          sources: Mapping[str, Any] | None = None, spu: MPC | None = None, psi_protocol: str = "kkrt",
          dp: Budget | None = None, ledgers: Mapping[str, Ledger] | None = None) -> PartyObject:
    """Answer ``sql`` over the parties' tables; only party ``to`` receives the result (a pandas DataFrame).

    ``catalog`` (a :class:`Catalog` or a YAML path) names the tables, owners, types and column policies;
    the query is refused before any protocol starts if it is malformed, does not fit the catalog, or
    would reveal what a policy forbids. ``sources`` maps table names to a CSV / Parquet / SQLite path, a
    PostgreSQL URL (``postgresql://...#table`` or ``#SELECT ...``) or a party-owned DataFrame
    (``party.put(df)``), overriding the catalog's ``source``; a process uses only those of the parties it
    hosts. ``spu`` is the MPC session (default: the two data parties with OT-generated correlations, or
    three data parties with replicated sharing). What each party learns is added to the job report
    (``cluster.report()``).

    ``dp=Budget(ε, δ)`` noises every output cell under the shares and charges each data owner's ledger
    in ``ledgers`` (those this process hosts) first; see :mod:`accord.sql.privacy` for what qualifies.

    Threat model: semi-honest parties, with the MPC engine's trust assumption (two parties with
    OT-made correlations, three with an honest majority, or a trusted dealer) and PSI's. Leakage:
    stated per plan (:attr:`Plan.leakage <accord.sql.plan.Plan>`, ``explain(...).describe()``): unit
    counts and join sizes, each PSI pair's matching units, the group partition (when granted) or each
    key owner's group count, one overflow-guard bit; the receiver learns which candidate groups are
    suppressed and the output groups' keys and aggregates (AVG as SUM and COUNT).
    """
    if dp is not None and not isinstance(dp, Budget):
        raise TypeError(f"dp= takes an accord.dp.Budget, got {type(dp).__name__}")
    cat = _catalog(catalog)
    parsed = parse(sql, cat)
    if to not in cluster.names:
        raise ConfigurationError(f"the receiver {to!r} is not a party of this cluster ({list(cluster.names)})")
    computing = _computing(cluster, parsed.data_parties, to, spu)
    plan = make_plan(parsed, cat, to, computing)
    chosen = [src for src in (sources or {}) if src not in cat.tables]
    if chosen:
        raise ConfigurationError(f"sources name tables that are not in the catalog: {chosen}")
    per_party: dict[str, dict[str, Any]] = {}
    for _alias, table in parsed.tables.items():
        source = (sources or {}).get(table.name, table.source)
        if source is not None:
            per_party.setdefault(table.owner, {})[table.name] = source
    if spu is None:
        spu = cluster.mpc(list(computing), mode="ot") if len(computing) == 2 else cluster.mpc(list(computing))
    elif to not in spu.parties:
        raise ConfigurationError(f"the receiver {to!r} must be a computing party of the MPC session {spu.parties}")
    noised = None
    if dp is not None:
        chosen_cells = cells(plan)
        check_ledgers(ledgers or {}, parsed.data_parties)
        noised = DPAnswer(chosen_cells, cell_budget(dp, len(chosen_cells)))
        plan.leakage[-1] = (f"{to} learns each opened aggregate plus one independent noise draw per computing party "
                            f"(ε={dp.epsilon:g}, δ={dp.delta:g} for the whole answer, split over "
                            f"{len(chosen_cells)} cells); no party sees an exact aggregate")
        _charge(cluster, parsed.data_parties, noised, dict(ledgers or {}))
    for line in plan.leakage:
        cluster.report().notes.append(f"sql: {line}")
    probe = Probe(cat)
    try:
        from_sql = ", ".join(f'"{t.name}" AS "{a}"' for a, t in parsed.tables.items())
        key_types = [probe.type_of(k, from_sql) for k in parsed.group_by]
    finally:
        probe.close()
    result = execute(cluster, plan, spu, per_party, psi_protocol=psi_protocol, key_types=key_types, dp=noised)
    cluster.report().notes.append(f"sql: {to} received the answer of: {' '.join(sql.split())}")
    return result
