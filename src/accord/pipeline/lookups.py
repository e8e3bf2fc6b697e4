"""Run a lookup job file (:mod:`accord.pipeline.workloads`): fraud-list PIR, PSI-sum or joint debt.

As for modelling jobs (:mod:`accord.pipeline.runner`), every hosted party first checks its own input
(key columns, the value or amount column, a PIR server's table against the labels the job declares)
and all parties agree to start, so a problem at one stops all before any protocol. Results go to the
receivers' staging areas and are moved into their output directories only if the whole job succeeds:
``answers.csv`` (PIR client), ``result.json`` (PSI-sum receivers), ``totals.csv`` (joint-debt asker).
What each party learned is recorded in the job report by the protocols' drivers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

import accord
from accord.data.tables import read_table, write_table
from accord.dp.ledger import Ledger, ledger_path
from accord.errors import ConfigurationError
from accord.ml._checks import write_json
from accord.pipeline.checks import InputProblems, Problem, columns_hint, key_problems
from accord.pipeline.outputs import Outputs
from accord.pipeline.prepare import agree
from accord.pipeline.privacy import dataset_name
from accord.pipeline.workloads import WorkloadSpec, WorkParty
from accord.pir.server import ServerState
from accord.runtime.cluster import Cluster, PartyTable

AMOUNT = "amount"  # the lenders' amount column, renamed locally so that every lender passes the same name


def run_workload(cluster: Cluster, spec: WorkloadSpec) -> dict[str, Any]:
    """Run ``spec`` at the hosted parties; returns what the hosted receivers got (counts and file names)."""
    outputs = Outputs({n: p.output for n, p in spec.parties.items() if cluster.party(n).is_local
                       and n in spec.receivers and p.output is not None}, cluster.record_output)
    ledgers: dict[str, Ledger] = {}

    def local(name: str) -> pd.DataFrame | None:
        party = spec.parties[name]
        if spec.kind == "pir_lookup" and name == spec.lead:
            _check_server(party)
            return None
        frame = _read(spec, party)
        if name in outputs.final:
            outputs.prepare(name)
        if spec.dp is not None:  # can the ledger pay? (charged, at both parties, inside the protocol)
            dataset = party.dataset or dataset_name(party.input)
            path = ledger_path(dataset, spec.state_dir)
            ledgers[name] = Ledger(path, dataset, cap=spec.dp.cap if not path.exists() else None)
        return frame

    try:
        frames = agree(cluster, spec.participants, spec.digest, local)
        tables = {n: cluster.party(n).put(frames[n]) if n in frames else cluster.party(n).remote_table()
                  for n in spec.parties if not (spec.kind == "pir_lookup" and n == spec.lead)}
        summary = {"pir_lookup": _lookup, "psi_sum": _sum, "joint_debt": _debt}[spec.kind](
            cluster, spec, tables, outputs, ledgers)
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
    return summary


def _check_server(party: WorkParty) -> None:
    """The server's table opens under its key and was built with the key width and labels the job declares."""
    state = ServerState(party.input)
    problems = []
    if len(state.header.kinds) != len(party.key):
        problems.append(Problem(party.key[0], f"the table at {party.input} is keyed by {len(state.header.kinds)} "
                                f"columns, the job names {len(party.key)}", "its table's key width differs"))
    if tuple(party.labels) != state.header.label_columns:
        problems.append(Problem("labels", f"the table at {party.input} returns the labels "
                                f"{list(state.header.label_columns)}, the job declares {list(party.labels)}",
                                "its table returns other labels than the job declares"))
    if problems:
        raise InputProblems(problems, party=party.name, source=str(party.input))


def _read(spec: WorkloadSpec, party: WorkParty) -> pd.DataFrame:
    """The party's input, checked (keys; the value or amount column as integers) and renamed to the job's
    common names (the lead's, or the PIR client's own)."""
    frame = read_table(party.input, party=party.name)
    problems = [Problem("", "the table has no rows", "the table has no rows")] if not len(frame) else []
    problems += key_problems(frame, party.key, party.name)
    if party.column is not None:
        what = "value" if spec.kind == "psi_sum" else "amount"
        if party.column not in frame.columns:
            problems.append(Problem(party.column, f"{what} column {party.column!r} not found{columns_hint(frame)}",
                                    f"{what} column {party.column!r} not found"))
        else:
            numbers = pd.to_numeric(frame[party.column], errors="coerce")
            bad = int((numbers.isna() | (numbers != numbers.round())).sum())
            if bad:
                problems.append(Problem(party.column, f"{what} column {party.column!r} has {bad} cells that are not "
                                        "integers (amounts are whole units, e.g. cents)",
                                        f"{what} column {party.column!r} holds non-integers"))
            else:
                frame[party.column] = numbers.astype("int64")
    if problems:
        raise InputProblems(problems, party=party.name, source=str(party.input))
    common = _common_key(spec)
    renames = dict(zip(party.key, common))
    if party.column is not None and spec.kind == "joint_debt":
        renames[party.column] = AMOUNT
    return frame[[*party.key, *([party.column] if party.column else [])]].rename(columns=renames)


def _common_key(spec: WorkloadSpec) -> list[str]:
    """The key column names every party uses in the protocol: the receiving side's."""
    name = spec.receivers[0] if spec.kind != "psi_sum" else next(n for n in spec.parties if n != spec.lead)
    return spec.parties[name].key


def _lookup(cluster: Cluster, spec: WorkloadSpec, tables: dict[str, PartyTable], outputs: Outputs,
            ledgers: dict[str, Ledger]) -> dict[str, Any]:
    client = spec.receivers[0]
    state = {n: str(p.state) for n, p in spec.parties.items()}
    accord.pir.sync(cluster, server=spec.lead, client=client, state=state)
    answers = accord.pir.query(tables[client], on=_common_key(spec), server=spec.lead, state=state)
    if not answers.is_local:
        return {}
    frame = answers.get()
    target = outputs.path(client, "answers.csv")
    write_table(frame, target, party=client)
    return {"asked": len(frame), "matched": int(frame["matched"].sum()), "file": "answers.csv"}


def _sum(cluster: Cluster, spec: WorkloadSpec, tables: dict[str, PartyTable], outputs: Outputs,
         ledgers: dict[str, Ledger]) -> dict[str, Any]:
    ids = next(n for n in spec.parties if n != spec.lead)
    dp = spec.dp
    results = accord.pir.intersection_sums(
        tables[ids], tables[spec.lead], on=_common_key(spec), value=str(spec.parties[spec.lead].column),
        to=list(spec.receivers), dp=dp.budget if dp else None, bound=dp.bound if dp else None, ledgers=ledgers)
    summary: dict[str, Any] = {}
    for name, result in results.items():
        if result.is_local:
            write_json(outputs.path(name, "result.json"), result.get())
            summary = {**result.get(), "file": "result.json"}
    return summary


def _debt(cluster: Cluster, spec: WorkloadSpec, tables: dict[str, PartyTable], outputs: Outputs,
          ledgers: dict[str, Ledger]) -> dict[str, Any]:
    if len(spec.others) < 2:
        raise ConfigurationError("joint debt needs at least two lenders besides the asker")
    totals = accord.pir.joint_debt(tables[spec.lead], [tables[n] for n in spec.others], on=_common_key(spec),
                                   amount=AMOUNT)
    if not totals.is_local:
        return {}
    frame = totals.get()
    write_table(frame, outputs.path(spec.lead, "totals.csv"), party=spec.lead)
    return {"applicants": len(frame), "file": "totals.csv"}
