"""Secure SQL on TPC-H-like tables split across two parties, against DuckDB on the pooled plaintext.

    python -m benchmarks.sql [--rows 100000 1000000] [--mode loopback|sim] [--quick] [--json out.json]

The ``shop`` holds ``customer`` and ``nation``; the ``seller`` holds ``orders`` and ``lineitem``
(TPC-H's schema and ratios: 1 customer : 10 orders : 40 line items, 25 nations; ``--rows`` counts line
items). DuckDB's ``tpch`` extension needs a download, so a generator of the same schema stands in.
Three queries: a join count, a join with GROUP BY and SUM, a filtered AVG. Each runs through
``accord.sql.query`` (two-party MPC with OT-made correlations, KKRT PSI) and through DuckDB over the
pooled tables (the floor); the figures are the ratio of seconds, and of bytes sent to what pooling
would move (the seller's tables as Parquet). ``--mode loopback`` (the default) runs each party as its
own process over loopback mTLS, as in production, each supplying only its own tables (the shop also
computes DuckDB's answer on the pooled tables, as the oracle only); ``--mode sim`` runs both parties
in this process, where they share one interpreter.

Workloads ``<query>@<rows>`` (``--quick``: 10,000 line items) with ``seconds`` (the slower party's),
``bytes`` (all parties sent), ``rounds`` (the busiest party's), ``peak_rss_bytes`` (the larger party's;
in simulation this process, both parties), ``peak_rss_bytes_per_party`` (loopback), and
``duckdb_seconds``, ``pooled_bytes``, ``ratio``, ``bytes_ratio``, ``matches_duckdb``.
"""

from __future__ import annotations

import io
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd

import accord
import accord.sql
from accord.sql import Catalog
from benchmarks.common import barrier, memory, options, party_memory, peak_rss_bytes, run_processes, write_json

NATIONS = ["ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA", "FRANCE", "GERMANY", "INDIA", "INDONESIA",
           "IRAN", "IRAQ", "JAPAN", "JORDAN", "KENYA", "MOROCCO", "MOZAMBIQUE", "PERU", "CHINA", "ROMANIA",
           "SAUDI ARABIA", "VIETNAM", "RUSSIA", "UNITED KINGDOM", "UNITED STATES"]
SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
QUERIES = {
    "join-count": "SELECT COUNT(*) AS n FROM customer c JOIN orders o ON c.c_custkey = o.o_custkey",
    "join-groupby-sum": (
        "SELECT n.n_name, SUM(l.l_extendedprice * (1 - l.l_discount)) AS revenue FROM customer c "
        "JOIN nation n ON c.c_nationkey = n.n_nationkey JOIN orders o ON o.o_custkey = c.c_custkey "
        "JOIN lineitem l ON l.l_orderkey = o.o_orderkey WHERE l.l_shipdate < DATE '1995-01-01' GROUP BY n.n_name"),
    "filtered-avg": (
        "SELECT AVG(o.o_totalprice) AS avg_price FROM customer c JOIN orders o ON c.c_custkey = o.o_custkey "
        "WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < DATE '1995-03-15'"),
}
SCHEMA = {
    "customer": ("shop", {"c_custkey": "int", "c_nationkey": "int", "c_mktsegment": "str",
                          "c_acctbal": "decimal(12,2)"}),
    "nation": ("shop", {"n_nationkey": "int", "n_name": "str"}),
    "orders": ("seller", {"o_orderkey": "int", "o_custkey": "int", "o_orderdate": "date",
                          "o_totalprice": "decimal(12,2)"}),
    "lineitem": ("seller", {"l_orderkey": "int", "l_quantity": "int", "l_extendedprice": "decimal(12,2)",
                            "l_discount": "decimal(4,2)", "l_shipdate": "date"}),
}
GRANTS = {"c_custkey": "PLAINTEXT_AFTER_JOIN", "o_custkey": "PLAINTEXT_AFTER_JOIN",
          "n_name": "PLAINTEXT_AFTER_GROUP_BY", "c_mktsegment": "PLAINTEXT_AFTER_COMPARE",
          "o_orderdate": "PLAINTEXT_AFTER_COMPARE", "l_shipdate": "PLAINTEXT_AFTER_COMPARE"}


# TPC-H's value ranges, declared so that sums under the shares provably stay exact.
BOUNDS = {"l_quantity": 50, "l_extendedprice": 105_000, "l_discount": 0.1, "o_totalprice": 600_000, "c_acctbal": 10_000}


def catalog() -> Catalog:
    """Keys join, nations group, filter columns compare, values aggregate; everything else stays encrypted."""
    tables = {}
    for name, (owner, columns) in SCHEMA.items():
        spec = {c: {"type": t, "nullable": False} for c, t in columns.items()}
        for column, bound in BOUNDS.items():
            if column in spec:
                spec[column]["max_abs"] = bound
        tables[name] = {"owner": owner, "columns": spec,
                        "ccl": {c: {"*": GRANTS.get(c, "PLAINTEXT_AFTER_AGGREGATE")} for c in columns}}
    return Catalog.from_dict({"tables": tables})


def generate(lineitems: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """TPC-H-shaped tables (synthetic; numpy's generator: benchmark data, not secrets)."""
    gen = np.random.default_rng(seed)
    customers, orders = max(1, lineitems // 40), max(1, lineitems // 4)
    customer = pd.DataFrame({"c_custkey": np.arange(1, customers + 1), "c_nationkey": gen.integers(0, 25, customers),
                             "c_mktsegment": gen.choice(SEGMENTS, customers),
                             "c_acctbal": (gen.integers(-99_999, 999_999, customers) / 100).round(2)})
    nation = pd.DataFrame({"n_nationkey": np.arange(25), "n_name": NATIONS})
    # As in TPC-H, a third of the customers place no orders.
    active = customer["c_custkey"].to_numpy()[customer["c_custkey"].to_numpy() % 3 != 0]
    start = np.datetime64("1992-01-01")
    order = pd.DataFrame({"o_orderkey": np.arange(1, orders + 1), "o_custkey": gen.choice(active, orders),
                          "o_orderdate": start + gen.integers(0, 2400, orders).astype("timedelta64[D]")})
    keys = gen.integers(1, orders + 1, lineitems)
    quantity = gen.integers(1, 51, lineitems)
    price = (quantity * gen.integers(900, 2000, lineitems)).astype(np.int64)
    line = pd.DataFrame({"l_orderkey": keys, "l_quantity": quantity, "l_extendedprice": price / 100,
                         "l_discount": gen.integers(0, 11, lineitems) / 100,
                         "l_shipdate": order["o_orderdate"].to_numpy()[keys - 1]
                         + gen.integers(1, 122, lineitems).astype("timedelta64[D]")})
    totals = line.groupby("l_orderkey")["l_extendedprice"].sum()
    order["o_totalprice"] = order["o_orderkey"].map(totals).fillna(0).round(2)
    return {"customer": customer, "nation": nation, "orders": order, "lineitem": line}


def floor(data: dict[str, pd.DataFrame], sql: str) -> tuple[float, Any]:
    """DuckDB on the pooled plaintext: best of three, tables already loaded with the catalog's types."""
    conn = duckdb.connect()
    types = catalog().tables
    for name, frame in data.items():
        conn.register(f"raw_{name}", frame)
        casts = ", ".join(f"CAST({c} AS {types[name].columns[c].type.duckdb}) AS {c}" for c in SCHEMA[name][1])
        conn.execute(f"CREATE TABLE {name} AS SELECT {casts} FROM raw_{name}")
    times, result = [], None
    for _ in range(3):
        start = time.perf_counter()
        result = conn.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
    return min(times), result


def pooled_bytes(data: dict[str, pd.DataFrame]) -> int:
    """What pooling would move: the seller's tables as Parquet (compressed), shipped to the shop."""
    total = 0
    for name, frame in data.items():
        if SCHEMA[name][0] == "seller":
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            total += buffer.tell()
    return total


def secure(data: dict[str, pd.DataFrame], sql: str) -> tuple[float, int, int, Any]:
    """The same query through accord.sql: seconds, bytes all parties sent, the busiest party's rounds, the answer."""
    with accord.Cluster.simulate(["shop", "seller"], job="bench-sql", timeout=600) as cluster:
        shop, seller = cluster.parties("shop", "seller")
        sources = {n: (shop if SCHEMA[n][0] == "shop" else seller).put(f) for n, f in data.items()}
        spu = cluster.mpc(["shop", "seller"], mode="ot")
        start = time.perf_counter()
        out = accord.sql.query(cluster, sql, catalog(), to="shop", sources=sources, spu=spu).get()
        seconds = time.perf_counter() - start
        runs = cluster.report().runs
        sent = sum(c.bytes_sent for run in runs for c in run.costs.values())
        rounds = max(sum(run.costs[p].rounds for run in runs if p in run.costs) for p in ("shop", "seller"))
    return seconds, sent, rounds, out.values.tolist()


def _same(got: list[list[Any]], want: list[tuple[Any, ...]]) -> bool:
    rows = sorted(map(tuple, got), key=str), sorted(want, key=str)
    return len(rows[0]) == len(rows[1]) and all(
        (abs(float(x) - float(y)) <= 1e-6 * max(1.0, abs(float(y)))) if isinstance(y, (int, float)) or
        type(y).__name__ == "Decimal" else x == y for a, b in zip(*rows) for x, y in zip(a, b))


def sql_party(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """One party's process for one query (a fresh job, as in simulation): its own tables only."""
    data = generate(args["rows"])
    sources = {n: cluster.party(me).put(f) for n, f in data.items() if SCHEMA[n][0] == me}
    spu = cluster.mpc(["shop", "seller"], mode="ot")
    sql = QUERIES[args["query"]]
    barrier(cluster)  # both generated their data
    start = time.perf_counter()
    result = accord.sql.query(cluster, sql, catalog(), to="shop", sources=sources, spu=spu)
    got = result.get().values.tolist() if result.is_local else None
    seconds = time.perf_counter() - start
    costs = [run.costs[me] for run in cluster.report().runs if me in run.costs]
    return {"seconds": seconds, "bytes_sent": sum(c.bytes_sent for c in costs), "rounds": sum(c.rounds for c in costs),
            "matches_duckdb": None if got is None else _same(got, floor(data, sql)[1])}


def _loopback(rows: int, name: str) -> dict[str, Any]:
    r = run_processes("benchmarks.sql:sql_party", ["shop", "seller"], {"rows": rows, "query": name}, timeout=3600)
    return {"seconds": max(x["seconds"] for x in r.values()), "bytes": sum(x["bytes_sent"] for x in r.values()),
            "rounds": max(x["rounds"] for x in r.values()), "matches_duckdb": r["shop"]["matches_duckdb"],
            **party_memory(r)}


def main() -> None:
    parser = options(__doc__ or "")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="line items")
    parser.add_argument("--mode", choices=("loopback", "sim"), default="loopback",
                        help="parties as processes over loopback mTLS (default) or in this process")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    for rows in [10_000] if args.quick else args.rows:
        data = generate(rows)
        pooled = pooled_bytes(data)
        for name, sql in QUERIES.items():
            base, want = floor(data, sql)
            if args.mode == "loopback":
                entry = _loopback(rows, name)
                seconds, sent, match = entry["seconds"], entry["bytes"], entry["matches_duckdb"]
            else:
                seconds, sent, rounds, got = secure(data, sql)
                match = _same(got, want)
                entry = {"rounds": rounds, "peak_rss_bytes": peak_rss_bytes()}
            key = f"{name}@{rows}"
            figures[key] = {**entry, "seconds": round(seconds, 3), "bytes": sent, "duckdb_seconds": round(base, 4),
                            "pooled_bytes": pooled, "ratio": round(seconds / base, 1),
                            "bytes_ratio": round(sent / pooled, 1), "matches_duckdb": match}
            print(f"{key:>26}: accord {seconds:7.2f} s, {sent / 2**20:8.1f} MiB   DuckDB {base * 1000:8.1f} ms, "
                  f"pooling {pooled / 2**20:6.1f} MiB   ratio {seconds / base:8.1f}x, bytes {sent / pooled:5.1f}x   "
                  f"{'same answer' if match else 'DIFFERENT ANSWER'}", flush=True)
    if args.mode == "sim":
        print(memory({"both parties": peak_rss_bytes()}))
    else:
        print(memory({p: max(f["peak_rss_bytes_per_party"][p] for f in figures.values()) for p in ("shop", "seller")}))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
