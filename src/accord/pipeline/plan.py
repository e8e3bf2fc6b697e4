"""What a job file will do, before it runs: its steps, the columns each step uses, and the protocols it runs.

A node shows this plan beside the job file when an operator decides on a job, and checks its column
policies against it (:mod:`accord.node.policy`). The threat models and leakage come from the
protocols' own ``@protocol`` declarations, so the plan says what the job report will say.

Each column use names the party, the column, how the step uses it (``key``: PSI join key, whose
matches the receivers learn; ``train``: model input that stays secret except for the model's declared
leakage; ``label``: the label holder's target; ``dp``: released with DP noise; ``aggregate``: summed
over a PSI intersection and released; ``reveal``: released row by row, as a PIR label) and the step
(``psi``, ``models.secureboost``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.ml.secureboost.protocols import secureboost_fit, secureboost_predict
from accord.mpc.session import LEAKAGE as MPC_LEAKAGE
from accord.mpc.setup import engine_spec
from accord.pipeline.checks import check_job
from accord.pipeline.job import JobSpec
from accord.pipeline.workloads import WorkloadSpec
from accord.pir.debt import joint_debt
from accord.pir.protocol import pir_query, pir_sync
from accord.pir.psi_sum import intersection_sum
from accord.psi.api import choose_protocol
from accord.psi.ecdh import ecdh_psi
from accord.psi.kkrt.protocol import kkrt_psi
from accord.psi.rr22.protocol import rr22_psi
from accord.runtime.report import ProtocolSpec, spec_of

USES = ("key", "label", "train", "dp", "aggregate", "reveal")


@dataclass(frozen=True)
class ColumnUse:
    """One column of one party used by one step."""

    party: str
    column: str
    use: str
    step: str


@dataclass(frozen=True)
class Step:
    """One step of the job: its name, what it is for, and the protocols it runs."""

    name: str
    purpose: str
    protocols: tuple[ProtocolSpec, ...]
    uses: tuple[ColumnUse, ...] = ()


@dataclass(frozen=True)
class JobPlan:
    """The steps of a job in order; ``unknown`` lists parties whose feature columns are not known here."""

    steps: tuple[Step, ...]
    unknown: tuple[str, ...] = field(default=())

    def uses(self, party: str | None = None) -> list[ColumnUse]:
        """Every column use, or those of one party."""
        return [u for s in self.steps for u in s.uses if party in (None, u.party)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for display and storage."""
        return {"steps": [{"name": s.name, "purpose": s.purpose,
                           "protocols": [{"name": p.name, "threat_model": p.threat_model, "leakage": p.leakage,
                                          "dealers": list(p.dealers)} for p in s.protocols],
                           "uses": [{"party": u.party, "column": u.column, "use": u.use} for u in s.uses]}
                          for s in self.steps],
                "unknown": list(self.unknown)}


def plan_job(spec: JobSpec | WorkloadSpec, columns: Mapping[str, Sequence[str]] | None = None) -> JobPlan:
    """The plan of ``spec``; ``columns[party]`` lists a party's table columns, needed for a party whose
    ``features`` the job leaves implicit (every column but key and label)."""
    if isinstance(spec, WorkloadSpec):
        return workload_plan(spec)
    columns = columns or {}
    features: dict[str, list[str]] = {}
    unknown: list[str] = []
    for name, party in spec.parties.items():
        if party.features is not None:
            features[name] = list(party.features)
        elif name in columns:
            features[name] = [c for c in columns[name] if c not in (*party.key, party.label)]
        else:
            features[name], unknown = [], [*unknown, name]
    keys = tuple(ColumnUse(n, c, "key", "psi") for n, p in spec.parties.items() for c in p.key)
    chosen = choose_protocol("join", spec.psi_protocol)  # as accord.psi.align will choose it
    psi = {"rr22": rr22_psi, "kkrt": kkrt_psi, "ecdh": ecdh_psi}[chosen]
    steps = [Step("check", "every party checks its input and the job file's digest; all start or none does",
                  (spec_of(check_job),)),
             Step("psi", f"align the parties' rows on their keys ({chosen} PSI)", (spec_of(psi),), keys)]
    label = spec.parties[spec.label_party]
    for kind, params in spec.models:
        step = f"models.{kind}"
        uses = [ColumnUse(label.name, str(label.label), "label", step)]
        uses += [ColumnUse(n, c, "train", step) for n, cs in features.items() for c in cs]
        steps.append(Step(step, f"train {kind} on the aligned training rows; score the test rows for the label "
                                "holder", _model_protocols(kind, params), tuple(uses)))
    steps.append(Step("evaluate", f"metrics and plots from the test scores, at {label.name} only (local)", ()))
    if spec.dp is not None:
        released = tuple(ColumnUse(n, c, "dp", "dp.summaries") for n, cs in spec.dp.columns.items() for c in cs)
        steps.append(Step("dp.summaries", f"each listed party releases a noisy row count and, per column, a noisy "
                          f"mean and median (pure ε-DP, ε={spec.dp.budget.epsilon:g} per party in total), charged "
                          "to its dataset's budget ledger first", (), released))
    return JobPlan(tuple(steps), tuple(unknown))


def workload_plan(spec: WorkloadSpec) -> JobPlan:
    """The plan of a lookup job: which columns each party gives, and what is revealed to whom.

    Key columns are ``key`` uses (their matches are revealed to the receivers). A PIR label or a
    per-applicant debt total is revealed row by row (``reveal``; a total may be one lender's amount
    alone); a PSI-sum total is ``dp`` with a ``dp:`` section, else ``aggregate`` over an intersection
    whose size no policy can check before the run.
    """
    check = Step("check", "every party checks its input and the job file's digest; all start or none does",
                 (spec_of(check_job),))
    keys = tuple(ColumnUse(n, c, "key", spec.kind) for n, p in spec.parties.items() for c in p.key)
    lead, to = spec.parties[spec.lead], ", ".join(spec.receivers)
    if spec.kind == "pir_lookup":
        labels = tuple(ColumnUse(lead.name, c, "reveal", spec.kind) for c in lead.labels)
        steps = [Step("pir.sync", f"{to} downloads {lead.name}'s encoded table (once per build)", (spec_of(pir_sync),)),
                 Step(spec.kind, f"{to} looks its keys up; for each key it learns whether {lead.name} lists it and "
                      f"its labels ({', '.join(lead.labels) or 'none'}); {lead.name} learns the number of keys asked",
                      (spec_of(pir_query),), keys + labels)]
    elif spec.kind == "psi_sum":
        use = "dp" if spec.dp is not None else "aggregate"
        noise = f" with DP noise (ε={spec.dp.budget.epsilon:g})" if spec.dp is not None else ""
        steps = [Step(spec.kind, f"{to} learn{'s' * (len(spec.receivers) == 1)} the number of shared keys and the "
                      f"sum of {lead.name}'s {lead.column} over them{noise}", (spec_of(intersection_sum),),
                      (*keys, ColumnUse(lead.name, str(lead.column), use, spec.kind)))]
    else:
        amounts = tuple(ColumnUse(n, str(spec.parties[n].column), "reveal", spec.kind) for n in spec.others)
        steps = [Step(spec.kind, f"{lead.name} learns each applicant's total over all lenders; each lender learns "
                      "the number of applicants asked",
                      (spec_of(joint_debt),), keys + amounts)]
    return JobPlan((check, *steps))


def dp_epsilon(spec: JobSpec | WorkloadSpec, party: str) -> dict[str, float]:
    """The ε each of ``party``'s columns is charged in the job's DP summaries (a mean and a median each)."""
    if isinstance(spec, WorkloadSpec):  # PSI-sum: the whole budget, on the values party's column
        if spec.dp is None or party != spec.lead:
            return {}
        return {str(spec.parties[party].column): spec.dp.budget.epsilon}
    if spec.dp is None:
        return {}
    share = spec.dp.share(party).epsilon
    return {column: 2 * share for column in spec.dp.columns.get(party, {})}


def _model_protocols(kind: str, params: Mapping[str, Any]) -> tuple[ProtocolSpec, ...]:
    if kind == "secureboost":
        return spec_of(secureboost_fit), spec_of(secureboost_predict)
    settings = dict(params.get("mpc") or {"mode": "ot"})
    mode = "dealer" if settings.get("dealer") else str(settings.get("mode", "ot"))
    name, threat = engine_spec(mode)
    dealers = (str(settings["dealer"]),) if settings.get("dealer") else ()
    return (ProtocolSpec(f"mpc.{name}", threat, MPC_LEAKAGE, dealers),)
