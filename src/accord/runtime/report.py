"""Declared security properties of protocols and the per-job report of what ran and who learned what.

Every protocol is registered with :func:`protocol`, which records its threat model and leakage; the
runtime copies those declarations into the :class:`JobReport` of each job that runs it, beside the
measured bytes, rounds and time of every party this process hosts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from accord.runtime.context import Counters

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ProtocolSpec:
    """What a protocol promises and what it gives away.

    Parameters
    ----------
    name:
        Dotted name shown in reports (``"psi.ecdh"``).
    threat_model:
        Who may be corrupted and how (``"semi-honest, 2 parties, no trusted third party"``).
    leakage:
        Everything a party learns beyond its own output.
    dealers:
        Parties that only supply correlated randomness (a trusted dealer); reports show their traffic
        as a share of what the other parties send, since a dealer is meant to be cheap.
    """

    name: str
    threat_model: str
    leakage: str
    dealers: tuple[str, ...] = ()


def protocol(name: str, *, threat_model: str, leakage: str, dealers: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorator declaring an SPMD protocol function's name, threat model, leakage and any dealers."""

    def wrap(fn: F) -> F:
        fn.__accord_protocol__ = ProtocolSpec(name, threat_model, leakage, tuple(dealers))  # type: ignore[attr-defined]
        return fn

    return wrap


def spec_of(fn: Callable[..., Any]) -> ProtocolSpec:
    """The declaration attached by :func:`protocol`, or a ``TypeError`` naming the function."""
    spec = getattr(fn, "__accord_protocol__", None)
    if spec is None:
        raise TypeError(f"{getattr(fn, '__qualname__', fn)!r} is not declared with @accord.runtime.protocol")
    return spec


@dataclass
class RunRecord:
    """One protocol run: declaration, outcome and the costs of the parties hosted here."""

    index: int
    spec: ProtocolSpec
    parties: tuple[str, ...]
    seconds: float = 0.0
    status: str = "running"
    learned: dict[str, str] = field(default_factory=dict)
    costs: dict[str, Counters] = field(default_factory=dict)
    ops: dict[str, dict[str, Counters]] = field(default_factory=dict)


@dataclass(frozen=True)
class PrivacySpend:
    """A differentially private release charged to a dataset's budget ledger."""

    party: str
    dataset: str
    release: str
    spent: float
    cap: float

    @property
    def remaining(self) -> float:
        """ε left on the dataset after this release."""
        return max(0.0, self.cap - self.spent)


@dataclass
class JobReport:
    """What a job ran, under which security assumptions, at what cost, and who learned what."""

    job: str
    mode: str
    parties: tuple[str, ...]
    hosted: tuple[str, ...]
    runs: list[RunRecord] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    privacy: list[PrivacySpend] = field(default_factory=list)

    def protocols(self) -> dict[str, ProtocolSpec]:
        """Distinct protocols that ran, by name."""
        return {run.spec.name: run.spec for run in self.runs}

    def summary(self) -> dict[str, dict[str, Any]]:
        """Costs per protocol name: runs, seconds, and per hosted party bytes / rounds / messages."""
        out: dict[str, dict[str, Any]] = {}
        for run in self.runs:
            entry = out.setdefault(run.spec.name, {"runs": 0, "seconds": 0.0, "parties": {}, "ops": {}})
            entry["runs"] += 1
            entry["seconds"] += run.seconds
            for party, counters in run.costs.items():
                entry["parties"].setdefault(party, Counters()).add(counters)
            for op, per_party in run.ops.items():
                for party, counters in per_party.items():
                    entry["ops"].setdefault(op, {}).setdefault(party, Counters()).add(counters)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serialisable)."""
        summary = self.summary()
        return {
            "job": self.job,
            "mode": self.mode,
            "parties": list(self.parties),
            "hosted_here": list(self.hosted),
            "notes": list(self.notes),
            "protocols": {
                name: {
                    "threat_model": spec.threat_model,
                    "leakage": spec.leakage,
                    "runs": summary[name]["runs"],
                    "seconds": round(summary[name]["seconds"], 6),
                    "costs": {p: c.to_dict() for p, c in summary[name]["parties"].items()},
                    "dealer_fraction": _dealer_fractions(spec, summary[name]["parties"]),
                    "ops": {op: {p: c.to_dict() for p, c in pp.items()} for op, pp in summary[name]["ops"].items()},
                }
                for name, spec in self.protocols().items()
            },
            "learned": [
                {"run": run.index, "protocol": run.spec.name, "party": party, "learned": what}
                for run in self.runs for party, what in run.learned.items()
            ],
            "runs_failed": [
                {"run": run.index, "protocol": run.spec.name, "status": run.status}
                for run in self.runs if run.status not in ("ok", "running")
            ],
            "outputs": [{"party": p, "where": w} for p, w in self.outputs],
            "privacy": [{"party": e.party, "dataset": e.dataset, "release": e.release, "epsilon_spent": e.spent,
                         "epsilon_cap": e.cap, "epsilon_remaining": e.remaining} for e in self.privacy],
        }

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        lines = [f"accord job {self.job!r} ({self.mode}); parties: {', '.join(self.parties)}"]
        if self.mode != "simulation":
            lines.append(f"costs below are those measured by: {', '.join(self.hosted)}")
        lines.extend(f"NOTE: {note}" for note in self.notes)
        summary = self.summary()
        for name, spec in self.protocols().items():
            entry = summary[name]
            lines.append(f"\n[{name}] runs={entry['runs']} time={entry['seconds']:.3f}s")
            lines.append(f"  threat model: {spec.threat_model}")
            lines.append(f"  leakage:      {spec.leakage}")
            for party, c in sorted(entry["parties"].items()):
                lines.append(f"  {party:>12}: sent {_size(c.bytes_sent)}, received {_size(c.bytes_received)}, "
                             f"{c.rounds} rounds, {c.messages_sent} messages")
            for dealer, fraction in _dealer_fractions(spec, entry["parties"]).items():
                lines.append(f"  dealer {dealer} sent {fraction:.1%} as many bytes as the other parties together")
            if len(entry["ops"]) > 1:
                for op, per_party in sorted(entry["ops"].items()):
                    lines.append(f"    op {op:<18} {_op_line(per_party)}")
        learned = [(run, party, what) for run in self.runs for party, what in run.learned.items()]
        if learned:
            lines.append("\nwho learned what:")
            lines.extend(f"  {party:>12} learned {what} ({run.spec.name}, run {run.index})"
                         for run, party, what in learned)
        failed = [run for run in self.runs if run.status not in ("ok", "running")]
        for run in failed:
            lines.append(f"\nrun {run.index} ({run.spec.name}) FAILED: {run.status}")
        if self.privacy:
            lines.append("\nprivacy budgets (ε at each dataset's cap δ):")
            lines.extend(f"  {e.party:>12}: dataset {e.dataset!r} {e.release}: spent {e.spent:.4g} of {e.cap:g}, "
                         f"{e.remaining:.4g} left" for e in self.privacy)
        if self.outputs:
            lines.append("\noutputs:")
            lines.extend(f"  {party:>12}: {where}" for party, where in self.outputs)
        return "\n".join(lines)


def _op_line(per_party: dict[str, Counters]) -> str:
    """One operation's traffic, both directions per hosted party, so every party's report describes the
    same messages with the same figures (a sum of what the hosted parties sent would not: in production
    it is one party's share and differs from party to party)."""
    moved = {p: c for p, c in sorted(per_party.items()) if c.bytes_sent or c.bytes_received}
    traffic = "; ".join(f"{p} sent {_size(c.bytes_sent)}, received {_size(c.bytes_received)}"
                        for p, c in moved.items())
    rounds = max(c.rounds for c in per_party.values())
    busy = ", ".join(f"{p} {c.seconds:.2f}s" for p, c in sorted(per_party.items()) if c.seconds)
    return (f"{traffic}; {rounds} rounds" if moved else "no traffic") + (f"; time {busy}" if busy else "")


def _dealer_fractions(spec: ProtocolSpec, costs: dict[str, Counters]) -> dict[str, float]:
    """Each dealer's bytes sent over the other parties' (only when this process measured every party)."""
    others = [c.bytes_sent for p, c in costs.items() if p not in spec.dealers]
    if not others or not sum(others):
        return {}
    return {d: costs[d].bytes_sent / sum(others) for d in spec.dealers if d in costs}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} B"
