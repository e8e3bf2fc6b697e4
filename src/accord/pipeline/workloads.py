"""Job files for the lookup workloads: a fraud-list lookup (keyword PIR), PSI-sum and joint debt.

.. code-block:: yaml

    job: fraud-check
    kind: pir_lookup                  # keyword PIR against the server's prebuilt table (`accord pir build`)
    server: telecom
    parties:
      telecom: {state: pir/telecom, key: phone, labels: [risk, since]}   # the labels the table was built with
      bank:    {input: data/applicants.csv, key: phone, state: pir/bank, output: out/bank}

    job: conversions
    kind: psi_sum                     # shared ids' count and the sum of one party's values over them
    to: [platform]                    # who receives the two numbers
    parties:
      platform:   {input: data/viewers.csv, key: id, output: out/platform}
      advertiser: {input: data/purchases.csv, key: id, value: cents}
    dp: {epsilon: 1.0, bound: 50000, ledger: {epsilon: 5.0}}   # optional: noise on both numbers

    job: joint-debt
    kind: joint_debt                  # each applicant's total over N >= 2 other lenders, to the asker only
    asker: bank
    parties:
      bank:    {input: data/applicants.csv, key: phone, output: out/bank}
      lender1: {input: data/lender1.csv, key: account, amount: outstanding}
      lender2: {input: data/lender2.csv, key: account, amount: outstanding}

Every party may add ``dataset`` (the name its node's column policies and DP ledger use; default its
input's file stem, the PIR server's state directory name). Key columns may have other names at each
party but the same number of columns. Paths follow :mod:`accord.pipeline.job`: inputs and states
resolve against the job file's directory; outputs must be relative and stay inside the party's own
output base. The whole file is checked before anything runs and every problem is reported in one
error naming the party and the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accord.dp.budget import Budget
from accord.errors import ConfigurationError

KINDS = ("pir_lookup", "psi_sum", "joint_debt")
_TOP = {"pir_lookup": {"server"}, "psi_sum": {"to", "dp"}, "joint_debt": {"asker"}}
_DP = {"epsilon", "delta", "bound", "ledger"}


@dataclass(frozen=True)
class WorkParty:
    """One party's part of a lookup job; ``column`` is its value or amount column, ``labels`` a PIR server's."""

    name: str
    input: Path
    key: list[str]
    output: Path | None = None
    dataset: str | None = None
    state: Path | None = None
    column: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class SumDP:
    """The ``dp:`` section of a PSI-sum job: the budget of both releases, the clamp, the ledgers' cap."""

    budget: Budget
    bound: int
    cap: Budget | None = None


@dataclass(frozen=True)
class WorkloadSpec:
    """A parsed, validated lookup job; ``lead`` is the server, the asker, or the values party."""

    name: str
    kind: str
    parties: dict[str, WorkParty]
    lead: str
    receivers: tuple[str, ...]
    digest: str
    sha256: str
    source: Path
    dp: SumDP | None = None
    state_dir: Path | None = None

    @property
    def participants(self) -> list[str]:
        """Every party of the job (there is no dealer)."""
        return list(self.parties)

    @property
    def others(self) -> list[str]:
        """The parties other than the lead, in the job file's order."""
        return [n for n in self.parties if n != self.lead]


def parse_workload(raw: dict[str, Any], text: str, source: Path, base: Path,
                   cluster: tuple[str, ...] | None = None) -> WorkloadSpec:
    """Validate a lookup job file's content; one :class:`ConfigurationError` lists every problem.

    ``cluster`` lists the cluster file's parties, where known: the job must name only those.
    """
    problems: list[str] = []
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigurationError(f"job file {source}: kind must be one of {', '.join(KINDS)} or 'model', got {kind!r}")
    unknown = set(raw) - {"job", "kind", "parties"} - _TOP[kind]
    problems += [f"{u}: unknown field for kind {kind}" for u in sorted(unknown)]
    entries = raw.get("parties")
    if not isinstance(entries, dict) or not entries:
        raise ConfigurationError(f"job file {source}: 'parties' must map party names to their parts")
    names = [str(n) for n in entries]
    if cluster is not None:
        problems += [f"parties.{n}: not in the cluster file (it lists {list(cluster)})" for n in names
                     if n not in cluster]
    lead, receivers = _roles(kind, raw, names, entries, problems)
    parties = {}
    for name, entry in entries.items():
        party = _party(kind, str(name), entry, lead, source.parent, base, problems)
        if party is not None:
            parties[str(name)] = party
    problems += [f"parties.{n}.output: missing ({n} receives the result)" for n in receivers
                 if n in parties and parties[n].output is None and "output" not in entries[n]]
    widths = {len(p.key) for p in parties.values()}
    if len(widths) > 1:
        problems.append(f"parties.*.key: every party names the same number of key columns, got "
                        f"{ {n: p.key for n, p in parties.items()} }")
    dp = _dp(raw.get("dp"), problems) if kind == "psi_sum" else None
    if problems:
        lines = "".join(f"\n  - {p}" for p in problems)
        raise ConfigurationError(f"job file {source} has {len(problems)} problem{'s' * (len(problems) > 1)}:{lines}")
    return WorkloadSpec(name=str(raw.get("job", source.stem)), kind=kind, parties=parties, lead=lead,
                        receivers=receivers, dp=dp, digest=hashlib.sha256(text.encode()).hexdigest()[:16],
                        sha256=hashlib.sha256(text.encode()).hexdigest(), source=source)


def _roles(kind: str, raw: dict[str, Any], names: list[str], entries: dict[str, Any],
           problems: list[str]) -> tuple[str, tuple[str, ...]]:
    """The lead party (server, asker or values party) and who receives the result."""
    if kind == "psi_sum":
        holders = [n for n in names if isinstance(entries[n], dict) and "value" in entries[n]]
        if len(names) != 2 or len(holders) != 1:
            problems.append(f"parties: psi_sum takes two parties, exactly one with a 'value' column, got {names} "
                            f"with values at {holders}")
        to = raw.get("to")
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not to or not all(isinstance(t, str) and t in names for t in to):
            problems.append(f"to: must name one or both parties of the job ({names}), got {raw.get('to')!r}")
            to = []
        return (holders[0] if holders else ""), tuple(to)
    role = "server" if kind == "pir_lookup" else "asker"
    lead = raw.get(role)
    if not isinstance(lead, str) or lead not in names:
        problems.append(f"{role}: must name a party of the job ({names}), got {lead!r}")
        lead = ""
    if kind == "pir_lookup" and len(names) != 2:
        problems.append(f"parties: pir_lookup takes the server and one client, got {names}")
    if kind == "joint_debt" and len(names) < 3:
        problems.append(f"parties: joint_debt takes the asker and at least two lenders, got {names}")
    receiver = next((n for n in names if n != lead), "") if kind == "pir_lookup" else lead
    return lead, (receiver,) if receiver else ()


def _party(kind: str, name: str, entry: Any, lead: str, jobdir: Path, base: Path,
           problems: list[str]) -> WorkParty | None:
    where = f"parties.{name}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a map of its fields, got {entry!r}")
        return None
    allowed, required = _fields(kind, name == lead)
    problems += [f"{where}.{f}: unknown field here (this party takes {sorted(allowed)})"
                 for f in sorted(set(entry) - allowed)]
    problems += [f"{where}.{f}: missing" for f in sorted(required - set(entry))]
    key = entry.get("key")
    keys = [key] if isinstance(key, str) else key
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        if "key" in entry:
            problems.append(f"{where}.key: must be a column name or a list of them, got {key!r}")
        keys = []
    column = entry.get("value", entry.get("amount"))
    if column is not None and not (isinstance(column, str) and column):
        problems.append(f"{where}.{'value' if 'value' in entry else 'amount'}: must be a column name, got {column!r}")
    labels = entry.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(c, str) and c for c in labels):
        problems.append(f"{where}.labels: must be a list of column names, got {labels!r}")
        labels = []
    dataset = entry.get("dataset")
    if dataset is not None:
        try:
            from accord.dp.ledger import check_dataset

            check_dataset(dataset)
        except ConfigurationError as exc:
            problems.append(f"{where}.dataset: {exc}")
    state = _path(entry.get("state"), jobdir, f"{where}.state", problems)
    source = state if kind == "pir_lookup" and name == lead else _path(entry.get("input"), jobdir, f"{where}.input",
                                                                        problems)
    output = _output(entry.get("output"), base, f"{where}.output", problems)
    return WorkParty(name, source or jobdir, list(keys), output, dataset, state,
                     str(column) if column else None, tuple(labels))


def _fields(kind: str, lead: bool) -> tuple[set[str], set[str]]:
    """The fields a party's entry takes, and those it must give."""
    if kind == "pir_lookup":
        return ({"state", "key", "labels", "dataset"}, {"state", "key"}) if lead else \
            ({"input", "key", "state", "output", "dataset"}, {"input", "key", "state", "output"})
    if kind == "psi_sum":
        return ({"input", "key", "value", "output", "dataset"}, {"input", "key", "value"}) if lead else \
            ({"input", "key", "output", "dataset"}, {"input", "key"})
    return ({"input", "key", "output", "dataset"}, {"input", "key", "output"}) if lead else \
        ({"input", "key", "amount", "dataset"}, {"input", "key", "amount"})


def _path(value: Any, jobdir: Path, where: str, problems: list[str]) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: must be a path, got {value!r}")
        return None
    return (jobdir / value).resolve()


def _output(value: Any, base: Path, where: str, problems: list[str]) -> Path | None:
    """``base / value`` for a relative path without ``..`` (see :func:`accord.pipeline.job._output`)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or Path(value).is_absolute() or ".." in Path(value).parts:
        problems.append(f"{where}: output paths must be relative and stay inside the party's output directory "
                        f"(no absolute paths, no '..'), got {value!r}")
        return None
    return base / value


def _dp(raw: Any, problems: list[str]) -> SumDP | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"dp: must be {{epsilon, bound, delta?, ledger?}}, got {raw!r}")
        return None
    problems += [f"dp.{u}: unknown field (dp takes {sorted(_DP)})" for u in sorted(set(raw) - _DP)]
    bound = raw.get("bound")
    if isinstance(bound, bool) or not isinstance(bound, int) or bound < 1:
        problems.append(f"dp.bound: each key's total is clamped to [0, bound]; a positive integer, got {bound!r}")
    budget = _budget({k: raw[k] for k in ("epsilon", "delta") if k in raw}, "dp", problems)
    cap = _budget(raw["ledger"], "dp.ledger", problems) if raw.get("ledger") is not None else None
    if budget is None or not isinstance(bound, int):
        return None
    return SumDP(budget, int(bound), cap)


def _budget(raw: Any, where: str, problems: list[str]) -> Budget | None:
    try:
        if not isinstance(raw, dict) or "epsilon" not in raw or set(raw) - {"epsilon", "delta"}:
            raise ValueError(f"needs epsilon (and optionally delta), got {raw!r}")
        return Budget(float(raw["epsilon"]), float(raw.get("delta", 0.0)))
    except (TypeError, ValueError, ConfigurationError) as exc:
        problems.append(f"{where}: {exc}")
        return None


def localise(spec: WorkloadSpec, me: str | None, *, input: Path | None, output: Path | None,
             state_dir: Path | None, root: Path) -> WorkloadSpec:
    """The hosted parties' paths: this party's own settings, else the job file's, confined to ``root``."""
    if me is not None and me not in spec.parties:
        raise ConfigurationError(f"party {me!r} takes no part in job {spec.name!r}; it names {spec.participants}")
    if (input is not None or output is not None) and me is None:
        raise ConfigurationError("local paths (input, output) need the party they belong to (--me)")
    parties = dict(spec.parties)
    for name in [n for n in parties if me in (None, n)]:
        own = parties[name]
        if input is not None and spec.kind == "pir_lookup" and name == spec.lead:
            raise ConfigurationError(f"party {name!r} serves its prebuilt table from parties.{name}.state; it takes "
                                     "no input")
        out = output.resolve() if output is not None else (_within(own.output, root, name)
                                                           if own.output is not None else None)
        parties[name] = replace(own, input=input.resolve() if input is not None else own.input, output=out)
    return replace(spec, parties=parties, state_dir=state_dir.resolve() if state_dir is not None else None)


def _within(path: Path, root: Path, party: str) -> Path:
    resolved = path.resolve()
    if resolved == root or not resolved.is_relative_to(root.resolve()):
        raise ConfigurationError(f"parties.{party}.output resolves to {resolved}, which is not inside the output "
                                 f"directory {root}")
    return resolved
