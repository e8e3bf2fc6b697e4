"""Registered datasets: CSV, Parquet, or a table in a SQL database; only the owner's node reads them.

Registration records the schema (column names and types) and the row count; the column policy is
stored beside them (:mod:`accord.node.policy`). A job's party input names a dataset with
``parties.<me>.dataset`` (or by its input file's stem), and the node hands the runner the registered
location, so a job file never points a node at a file of the proposer's choosing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, create_engine, exc, insert, select, update

from accord.data.tables import read_table, write_table
from accord.dp.ledger import check_dataset
from accord.errors import ConfigurationError
from accord.node import schema
from accord.node.policy import Policy, parse_policy
from accord.pipeline.job import PartySpec
from accord.pipeline.privacy import dataset_name
from accord.pipeline.workloads import WorkParty

KINDS = ("csv", "parquet", "sql")


@dataclass(frozen=True)
class Dataset:
    """A registered dataset."""

    name: str
    kind: str
    location: str
    sql_table: str | None
    columns: dict[str, str]
    rows: int
    policy: Policy
    registered_at: float


def inspect(kind: str, location: str, sql_table: str | None, party: str) -> tuple[dict[str, str], int]:
    """Column types and row count of a source (read in full once, at registration)."""
    frame = load(kind, location, sql_table, party)
    return {str(c): str(t) for c, t in frame.dtypes.items()}, len(frame)


def load(kind: str, location: str, sql_table: str | None, party: str) -> pd.DataFrame:
    """The table a dataset names."""
    if kind not in KINDS:
        raise ConfigurationError(f"dataset kind must be one of {KINDS}, got {kind!r}")
    if kind != "sql":
        return read_table(Path(location), party=party)
    if not sql_table:
        raise ConfigurationError("a SQL dataset needs a table name")
    try:
        engine = create_engine(location)
    except exc.ArgumentError:
        raise ConfigurationError(f"dataset database URL {location!r} is not a SQLAlchemy URL") from None
    try:
        with engine.connect() as conn:
            return pd.read_sql_table(sql_table, conn)
    except (exc.SQLAlchemyError, ValueError) as err:
        raise ConfigurationError(f"cannot read table {sql_table!r} of {engine.url.render_as_string()}: "
                                 f"{err}") from None
    finally:
        engine.dispose()


def register(conn: Connection, party: str, name: str, kind: str, location: str, sql_table: str | None,
             policy: Policy) -> Dataset:
    """Record (or re-register) a dataset with its schema, row count and policy."""
    check_dataset(name)
    if kind != "sql":
        location = str(Path(location).resolve())
    columns, rows = inspect(kind, location, sql_table, party)
    unknown = set(policy.columns) - set(columns)
    if unknown:
        raise ConfigurationError(f"dataset {name!r}: the policy names columns {sorted(unknown)} the table lacks "
                                 f"(it has {sorted(columns)})")
    now = time.time()
    values = {"kind": kind, "location": location, "sql_table": sql_table, "schema": json.dumps(columns),
              "rows": rows, "policy": json.dumps(policy.to_dict()), "registered_at": now}
    if conn.execute(select(schema.datasets.c.name).where(schema.datasets.c.name == name)).first():
        conn.execute(update(schema.datasets).where(schema.datasets.c.name == name).values(**values))
    else:
        conn.execute(insert(schema.datasets).values(name=name, **values))
    return Dataset(name, kind, location, sql_table, columns, rows, policy, now)


def set_policy(conn: Connection, name: str, policy: Policy) -> None:
    """Replace a dataset's column policy (the caller audits the change)."""
    dataset = get(conn, name)
    unknown = set(policy.columns) - set(dataset.columns)
    if unknown:
        raise ConfigurationError(f"dataset {name!r} has no columns {sorted(unknown)}")
    conn.execute(update(schema.datasets).where(schema.datasets.c.name == name)
                 .values(policy=json.dumps(policy.to_dict())))


def get(conn: Connection, name: str) -> Dataset:
    """The dataset ``name``, or a ConfigurationError."""
    row = conn.execute(select(schema.datasets).where(schema.datasets.c.name == name)).mappings().first()
    if row is None:
        raise ConfigurationError(f"no dataset {name!r} is registered at this node")
    return _dataset(row)


def all_datasets(conn: Connection) -> list[Dataset]:
    """Every registered dataset, by name."""
    return [_dataset(r) for r in conn.execute(select(schema.datasets).order_by(schema.datasets.c.name)).mappings()]


def _dataset(row: Any) -> Dataset:
    return Dataset(row["name"], row["kind"], row["location"], row["sql_table"], json.loads(row["schema"]),
                   int(row["rows"]), parse_policy(json.loads(row["policy"]), f"dataset {row['name']}"),
                   float(row["registered_at"]))


def dataset_of(party: PartySpec | WorkParty) -> str:
    """The dataset a job's party part names: ``dataset`` if given, else its input file's stem (the name its
    DP ledger has, :func:`accord.pipeline.privacy.dataset_name`)."""
    return party.dataset or dataset_name(party.input)


def materialise(dataset: Dataset, party: str, directory: Path) -> Path:
    """The file the runner reads, named after the dataset (so the job charges the dataset's own DP ledger):
    a link to the dataset's file, or a SQL table exported (owner-only) into ``directory``."""
    if dataset.kind != "sql":
        link = directory / f"{dataset.name}{Path(dataset.location).suffix}"
        link.symlink_to(dataset.location)
        return link
    target = directory / f"{dataset.name}.parquet"
    write_table(load(dataset.kind, dataset.location, dataset.sql_table, party), target, party=party)
    os.chmod(target, 0o600)
    return target
