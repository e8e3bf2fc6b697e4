"""Column policies: how each column of a dataset may be used, and by whom; checked against a job's plan.

.. code-block:: yaml

    default: never                          # for columns not listed
    columns:
      id:        {use: key}                 # PSI join key only (the receivers learn the matches)
      default:   {use: train}               # label or feature for training, never revealed
      LIMIT_BAL: {use: train, with: [partner], models: [logistic_regression]}
      AGE:       {use: aggregate, min_group: 50}       # may also be released in groups of >= 50 rows
      PAY_0:     {use: dp, epsilon: 1.0}    # may also be released with DP noise, charged to the ledger
      SEX:       {use: never}
      risk:      {use: reveal, with: [bank]}           # may be revealed row by row (a PIR label on a match)

Rules, from least to most permissive for model inputs: ``never``; ``key`` (only as a join key);
``train`` (label or feature of a model: the value stays secret, and only what the model's protocol
declares leaks, which the approval page shows; ``models`` restricts which models); ``aggregate``
and ``dp`` (as ``train``, and also released as aggregates over at least ``min_group`` rows, or with
differential-privacy noise within ``epsilon`` per job, charged to the dataset's budget ledger).
``reveal`` is the most permissive: the column may be revealed row by row to the job's receivers
(a PIR label on a match, a joint-debt total, which may be one lender's amount alone, or a PSI-sum total
without DP, whose intersection may be a single key). ``with`` lists the parties a column may be used
with (default: any). No step of today's job files
releases group aggregates, so ``aggregate`` columns are used like ``train`` ones until one does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.errors import ConfigurationError
from accord.pipeline.job import MODEL_KINDS
from accord.pipeline.plan import ColumnUse

RULES = ("never", "key", "train", "aggregate", "dp", "reveal")
DESCRIPTIONS = {
    "never": "never used",
    "key": "join key only",
    "train": "feature for training (never revealed)",
    "aggregate": "revealed only aggregated above a minimum group size",
    "dp": "revealed only with DP noise within a budget",
    "reveal": "may be revealed row by row to the job's receivers",
}
_ALLOWED = {"key": {"key", "reveal"}, "label": {"train", "aggregate", "dp", "reveal"},
            "train": {"train", "aggregate", "dp", "reveal"}, "dp": {"dp", "reveal"}, "aggregate": {"reveal"},
            "reveal": {"reveal"}}


@dataclass(frozen=True)
class ColumnRule:
    """The policy of one column."""

    use: str
    with_parties: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    min_group: int | None = None
    epsilon: float | None = None

    def describe(self) -> str:
        """The rule in words, for violations and the console."""
        text = f"'{self.use}' ({DESCRIPTIONS[self.use]}"
        if self.min_group is not None:
            text += f", groups of at least {self.min_group}"
        if self.epsilon is not None:
            text += f", at most ε={self.epsilon:g} per job"
        if self.with_parties is not None:
            text += f", only with {', '.join(self.with_parties) or 'no party'}"
        if self.models is not None:
            text += f", only in {', '.join(self.models)}"
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        """The rule as the policy file writes it."""
        out: dict[str, Any] = {"use": self.use}
        for name, value in (("with", self.with_parties), ("models", self.models), ("min_group", self.min_group),
                            ("epsilon", self.epsilon)):
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Policy:
    """The column policy of one dataset."""

    columns: dict[str, ColumnRule]
    default: ColumnRule = ColumnRule("never")

    def rule(self, column: str) -> ColumnRule:
        """The rule of ``column`` (the default for unlisted columns)."""
        return self.columns.get(column, self.default)

    def to_dict(self) -> dict[str, Any]:
        """The policy as a policy file writes it."""
        return {"default": self.default.use, "columns": {c: r.to_dict() for c, r in self.columns.items()}}


@dataclass(frozen=True)
class Violation:
    """A column use the policy forbids: the column, the rule, and the step of the job that breaks it."""

    dataset: str
    column: str
    rule: str
    step: str
    reason: str

    def __str__(self) -> str:
        return f"column {self.column!r} of dataset {self.dataset!r}: rule {self.rule}; step {self.step} {self.reason}"

    def to_dict(self) -> dict[str, str]:
        """Plain data for storage and display."""
        return {"dataset": self.dataset, "column": self.column, "rule": self.rule, "step": self.step,
                "reason": self.reason, "text": str(self)}


def parse_policy(raw: Any, where: str) -> Policy:
    """Validate a policy (a mapping as in the module docstring); errors name the column and field."""
    if raw is None:
        return Policy({})
    if not isinstance(raw, Mapping) or set(raw) - {"default", "columns"}:
        raise ConfigurationError(f"{where}: a policy has 'columns' and optionally 'default', got {raw!r}")
    default = _rule(raw.get("default", "never"), f"{where}: default")
    columns = raw.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise ConfigurationError(f"{where}: 'columns' must map column names to rules")
    return Policy({str(c): _rule(r, f"{where}: columns.{c}") for c, r in columns.items()}, default)


def _rule(raw: Any, where: str) -> ColumnRule:
    if isinstance(raw, str):
        raw = {"use": raw}
    if not isinstance(raw, Mapping) or raw.get("use") not in RULES or \
            set(raw) - {"use", "with", "models", "min_group", "epsilon"}:
        raise ConfigurationError(f"{where}: a rule is {{use: one of {', '.join(RULES)}}} with optional 'with', "
                                 f"'models', 'min_group' (aggregate) or 'epsilon' (dp), got {raw!r}")
    use = raw["use"]
    parties, models = _names(raw.get("with"), f"{where}.with"), _names(raw.get("models"), f"{where}.models")
    if models is not None and set(models) - set(MODEL_KINDS):
        raise ConfigurationError(f"{where}.models: unknown models {sorted(set(models) - set(MODEL_KINDS))}")
    min_group, epsilon = raw.get("min_group"), raw.get("epsilon")
    if (use == "aggregate") != (min_group is not None) or (
            min_group is not None and (isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 2)):
        raise ConfigurationError(f"{where}: 'aggregate' needs min_group (an integer of at least 2), and only it "
                                 f"takes one, got {raw!r}")
    if (use == "dp") != (epsilon is not None) or (
            epsilon is not None and (isinstance(epsilon, bool) or not isinstance(epsilon, (int, float))
                                     or not epsilon > 0)):
        raise ConfigurationError(f"{where}: 'dp' needs epsilon (a positive number), and only it takes one, got {raw!r}")
    return ColumnRule(use, parties, models, min_group, None if epsilon is None else float(epsilon))


def _names(raw: Any, where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ConfigurationError(f"{where} must be a list of names, got {raw!r}")
    return tuple(raw)


def check_uses(policy: Policy, dataset: str, schema: Sequence[str], uses: Sequence[ColumnUse],
               peers: Sequence[str], dp_epsilon: Mapping[str, float] | None = None) -> list[Violation]:
    """Every use in ``uses`` (one party's) that the policy forbids, with the rule and the step.

    ``peers`` are the other parties of the job; ``dp_epsilon[column]`` is what the job would spend on
    the column's DP releases.
    """
    violations = []
    for use in uses:
        rule = policy.rule(use.column)

        def broken(reason: str, rule: ColumnRule = rule, use: ColumnUse = use) -> None:
            violations.append(Violation(dataset, use.column, rule.describe(), use.step, reason))

        if use.column not in schema:
            broken(f"uses it as {_as(use.use)}, but the dataset has no such column")
        elif rule.use not in _ALLOWED[use.use]:
            broken(f"uses it as {_as(use.use)}")
        elif rule.with_parties is not None and set(peers) - set(rule.with_parties):
            broken(f"uses it with {', '.join(sorted(set(peers) - set(rule.with_parties)))}")
        elif rule.models is not None and use.step.startswith("models.") and \
                use.step.removeprefix("models.") not in rule.models:
            broken(f"uses it in {use.step.removeprefix('models.')}")
        elif use.use == "dp" and rule.epsilon is not None and (dp_epsilon or {}).get(use.column, 0.0) > rule.epsilon:
            broken(f"would spend ε={(dp_epsilon or {})[use.column]:g} on it")
    return violations


def _as(use: str) -> str:
    return {"key": "a PSI join key (its matches are revealed)", "label": "the label of the models",
            "train": "a model feature", "dp": "a DP-noised release",
            "aggregate": "a sum over a PSI intersection released without DP noise (the intersection may be one key)",
            "reveal": "a value revealed row by row"}[use]
