"""The ``dp:`` section of a job file: differentially private summaries each party publishes of its columns.

.. code-block:: yaml

    dp:
      ledger: {epsilon: 3.0, delta: 1.0e-6}       # cap of each party's dataset ledger (created if missing)
      summaries:
        epsilon: 1.0                              # what each party spends on its summaries, in total
        bank: {PAY_0: [-2, 8], BILL_AMT1: [-10000, 500000]}      # columns and their public clamping bounds
        partner: {AGE: [18, 80], LIMIT_BAL: [0, 1000000]}

Each party releases, from its own input table, a noisy row count and, per listed column, a noisy mean
and a noisy median within the declared bounds; the budget is split evenly over those releases. Before
any protocol runs, every party checks that its ledger can pay for them (a refusal stops the job at all
parties with exit 8, through the start-up agreement); each release is then charged when it is made.
The summaries go to ``dp_summary.json`` in the party's output directory and into the job report.
Bounds must be public (written in the job file, not taken from the data): data-dependent bounds leak.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from accord.dp.accounting import ApproxDPCost, Cost
from accord.dp.budget import Budget
from accord.dp.ledger import Ledger, ledger_path
from accord.dp.mechanisms import numeric_values, plan_count, plan_sum
from accord.dp.table import PrivateTable
from accord.errors import ConfigurationError


@dataclass(frozen=True)
class DPJob:
    """The parsed ``dp:`` section."""

    cap: Budget | None
    budget: Budget
    columns: dict[str, dict[str, tuple[float, float]]]

    def parts(self, party: str) -> int:
        """How many releases share ``party``'s budget: the count, then a mean and a median per column."""
        return 1 + 2 * len(self.columns.get(party, {}))

    def share(self, party: str) -> Budget:
        """The budget of one release of ``party``."""
        return self.budget.split(self.parts(party))


def parse_dp(raw: Any, parties: list[str], where: str) -> DPJob | None:
    """Validate the ``dp:`` section (``None`` when absent); errors name the field."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"ledger", "summaries"} or "summaries" not in raw:
        raise ConfigurationError(f"{where}: 'dp' takes 'summaries' and optionally 'ledger', got {raw!r}")
    cap = _budget(raw["ledger"], f"{where}: dp.ledger") if raw.get("ledger") is not None else None
    summaries = raw["summaries"]
    if not isinstance(summaries, dict) or "epsilon" not in summaries:
        raise ConfigurationError(f"{where}: dp.summaries needs an 'epsilon' and each party's columns")
    budget = _budget({k: summaries[k] for k in ("epsilon", "delta") if k in summaries}, f"{where}: dp.summaries")
    columns: dict[str, dict[str, tuple[float, float]]] = {}
    for name, entry in summaries.items():
        if name in ("epsilon", "delta"):
            continue
        if name not in parties:
            raise ConfigurationError(f"{where}: dp.summaries.{name} is not a party of the job ({parties})")
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where}: dp.summaries.{name} must map column names to [lower, upper]")
        columns[name] = {str(c): _bounds(b, f"{where}: dp.summaries.{name}.{c}") for c, b in entry.items()}
    return DPJob(cap, budget, columns)


def _budget(raw: Any, where: str) -> Budget:
    if not isinstance(raw, dict) or set(raw) - {"epsilon", "delta"}:
        raise ConfigurationError(f"{where} must be {{epsilon: ..., delta: ...}}, got {raw!r}")
    try:
        return Budget(float(raw["epsilon"]), float(raw.get("delta", 0.0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _bounds(raw: Any, where: str) -> tuple[float, float]:
    if (not isinstance(raw, (list, tuple)) or len(raw) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in raw)
            or not raw[0] < raw[1]):
        raise ConfigurationError(f"{where} must be [lower, upper] with finite lower < upper, got {raw!r}")
    return float(raw[0]), float(raw[1])


def dataset_name(input_path: Path) -> str:
    """A party's dataset name for its ledger: its input file's stem, made file-name safe."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", input_path.stem)[:128].lstrip(".-_") or "dataset"


def planned_costs(dp: DPJob, party: str, frame: pd.DataFrame) -> list[Cost]:
    """Every cost ``party``'s summaries will be charged (checked against its ledger before PSI)."""
    share = dp.share(party)
    costs = [plan_count(share).cost]
    half = share.split(2)
    for column, (lower, upper) in dp.columns.get(party, {}).items():
        if column not in frame.columns:
            raise ConfigurationError(f"dp.summaries.{party}.{column}: party {party!r} has no column {column!r}")
        numeric_values(frame[column], column, party)  # missing or non-numeric cells stop the job before PSI
        costs += [plan_sum(lower, upper, half, _step(lower, upper, 1e6), column=column, party=party).cost,
                  plan_count(half).cost, ApproxDPCost(share.epsilon, 0.0)]
    return costs


def open_ledger(dp: DPJob, party: str, dataset: str, state_dir: Path | None) -> Ledger:
    """``party``'s ledger of ``dataset`` in its state directory (created with the job's cap if missing)."""
    path = ledger_path(dataset, state_dir)
    return Ledger(path, dataset, cap=dp.cap if not path.exists() else None)


def summaries(dp: DPJob, party: str, frame: pd.DataFrame, ledger: Ledger, job: str) -> dict[str, Any]:
    """Release ``party``'s summaries, each charged to its ledger first; returns them as plain data."""
    share = dp.share(party)
    if share.delta:
        raise ConfigurationError("dp.summaries releases means and medians with pure ε-DP: leave out 'delta'")
    table = PrivateTable(frame, ledger.dataset, ledger=ledger, party=party, job=job)
    out: dict[str, Any] = {"dataset": ledger.dataset, "epsilon": dp.budget.epsilon,
                           "rows": table.count(share).value, "columns": {}}
    for column, (lower, upper) in dp.columns.get(party, {}).items():
        out["columns"][column] = {
            "bounds": [lower, upper],
            "mean": table.mean(column, bounds=(lower, upper), budget=share, grid=_step(lower, upper, 1e6)).value,
            "median": table.quantile(column, 0.5, bounds=(lower, upper), budget=share,
                                     grid=_step(lower, upper, 1e3)).value,
        }
    out["spent"], out["cap"] = ledger.spent(), ledger.cap.epsilon
    return out


def _step(lower: float, upper: float, points: float) -> float:
    """A round grid step (a power of ten) giving about ``points`` points or more across the bounds."""
    return float(10 ** math.floor(math.log10((upper - lower) / points)))
