"""Checks before any protocol runs: each party validates its own input, then all parties agree to start.

A job fails where it can be seen to fail: a misspelt label column or a text feature is found at its
owner before PSI, not as a traceback after it. Each party checks its whole table against what the job
names (key columns, label, feature columns) and reports every problem in one :class:`InputProblems`
error. Then :func:`check_job` exchanges, in one round, the job file's digest and whether each party
passed, so every party stops within seconds when one of them cannot run.

What a peer learns from a failure is limited to what the job file already tells it: the failing
party's name, what failed (its input or its output location), how many problems, and those problems
that concern columns the job file names. Other column names, paths and values stay in the failing
party's own error message.

To add a check (categorical columns, missing values, ...), extend :func:`feature_problems` or the
function of the column kind it concerns; they return problems instead of raising, so one run reports
them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accord.errors import AccordError, ConfigurationError, InputError, MalformedMessage, PeerAborted
from accord.ml._checks import binary_labels
from accord.pipeline.job import PartySpec
from accord.psi.join import key_kind
from accord.runtime.context import Context
from accord.runtime.report import protocol

_MAX_SUMMARY = 2000


@dataclass(frozen=True)
class Problem:
    """One problem with a party's input.

    ``message`` is for the party's own operator. ``public``, set only for columns the job file names
    (whose names are no secret from the peers), is what a peer is told: it never quotes values or the
    table's other columns.
    """

    column: str
    message: str
    public: str | None = None


class InputProblems(InputError):
    """Every problem found in a party's input, in one message naming the party and the columns."""

    def __init__(self, problems: Sequence[Problem], *, party: str, source: str) -> None:
        lines = "".join(f"\n  - {p.message}" for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        super().__init__(f"input {source} has {count}:{lines}", party=party, field=problems[0].column)
        self.problems = list(problems)

    def public(self) -> str:
        """What the peers may learn: the number of problems and those on columns the job file names."""
        named = [p.public for p in self.problems if p.public is not None]
        others = len(self.problems) - len(named)
        parts = named + ([f"{others} more on its other columns"] if others else [])
        return f"its input has {len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}: " \
               + "; ".join(parts)


def training_problems(df: pd.DataFrame, party: PartySpec) -> list[Problem]:
    """Problems with a party's training table: keys, label (at the label holder) and feature columns."""
    if len(df) == 0:
        return [Problem("", "the table has no rows", "the table has no rows")]
    problems = key_problems(df, party.key, party.name)
    named = set(party.key)
    if party.label is not None:
        problems += label_problems(df, party.label, party.name, party.positive)
        named.add(party.label)
    if party.features is not None:
        problems += [Problem(c, f"feature column {c!r} not found{columns_hint(df)}", f"feature column {c!r} not found")
                     for c in party.features if c not in df.columns]
    features = [c for c in (party.features or df.columns) if c not in named and c in df.columns]
    if not features:
        problems.append(Problem("", "the table has no feature columns besides the key and the label"))
    problems += [Problem(c, f"column {c!r}, declared categorical, not found{columns_hint(df)}",
                         f"declared categorical column {c!r} not found")
                 for c in party.categorical if c not in features]
    return problems + feature_problems(df, features, categorical=party.categorical)


def scoring_problems(df: pd.DataFrame, party: PartySpec, needed: Sequence[str]) -> list[Problem]:
    """Problems with a party's rows to score: keys, and the feature columns its saved models use."""
    if len(df) == 0:
        return [Problem("", "the table has no rows", "the table has no rows")]
    problems = key_problems(df, party.key, party.name)
    missing = [c for c in needed if c not in df.columns]
    problems += [Problem(c, f"column {c!r}, which the saved model uses, is missing") for c in missing]
    return problems + feature_problems(df, [c for c in needed if c in df.columns], constant_ok=True,
                                       categorical=party.categorical)


def key_problems(df: pd.DataFrame, keys: Sequence[str], party: str) -> list[Problem]:
    """Key columns that are missing, hold missing values or mix value types."""
    problems = []
    for column in keys:
        if column not in df.columns:
            problems.append(Problem(column, f"key column {column!r} not found{columns_hint(df)}",
                                    f"key column {column!r} not found"))
            continue
        try:
            key_kind(df[column], party=party, column=column)
        except InputError as exc:
            problems.append(Problem(column, _detail(exc, party), f"key column {column!r} cannot be used"))
    return problems


def label_problems(df: pd.DataFrame, label: str, party: str, positive: str | None = None) -> list[Problem]:
    """A label column that is missing, or not binary (0/1, or holding the declared positive class) with both classes."""
    if label not in df.columns:
        return [Problem(label, f"label column {label!r} not found{columns_hint(df)}",
                        f"label column {label!r} not found")]
    try:
        binary_labels(df[[label]], len(df), party, positive)
    except InputError as exc:
        return [Problem(label, f"label column {label!r}: {_detail(exc, party)}",
                        f"label column {label!r} cannot be used")]
    return []


def feature_problems(df: pd.DataFrame, columns: Sequence[str], *, constant_ok: bool = False,
                     categorical: Sequence[str] = ()) -> list[Problem]:
    """Feature columns the models cannot use: no value at all, infinite values, or (in training) one value only.

    Text columns (and the ``categorical`` ones) are categorical and empty cells are missing values:
    both models take them (:mod:`accord.ml.columns`, :mod:`accord.ml.preprocess`).
    """
    problems = []
    for column in columns:
        raw = df[column]
        present = raw[raw.notna() & (raw.astype(str).str.strip() != "")]
        if not len(present):
            problems.append(Problem(str(column), f"column {column!r} has no values"))
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        one_value = len(present) == len(raw) and present.astype(str).nunique() == 1
        if column not in categorical and numbers.notna().all():
            infinite = int(np.isinf(numbers.to_numpy(dtype=np.float64)).sum())
            if infinite:
                problems.append(Problem(str(column), f"column {column!r} has {infinite} infinite "
                                                     f"value{'s' if infinite > 1 else ''}"))
                continue
        if not constant_ok and one_value:
            problems.append(Problem(str(column), f"column {column!r} is constant ({present.iloc[0]}); it carries no "
                                                 "information, drop it"))
    return problems


def columns_hint(df: pd.DataFrame) -> str:
    """'; the table has [...]': the first 20 column names, for a message about a missing column."""
    names = list(map(str, df.columns))
    return f"; the table has {names[:20]}{' ...' if len(names) > 20 else ''}"


def _detail(exc: InputError, party: str) -> str:
    return str(exc).removeprefix(f"party {party!r}: ")


def public_summary(exc: BaseException) -> str:
    """The part of a local failure that peers may learn (see the module docstring)."""
    if isinstance(exc, InputProblems):
        return exc.public()[:_MAX_SUMMARY]
    what = "input" if isinstance(exc, InputError) else "settings or output location"
    return f"its {what} cannot be used ({type(exc).__name__}; the details are in its own error message)"


@protocol("pipeline.check-job", threat_model="semi-honest parties",
          leakage="a digest of the job file; whether each party's input and output location passed its own "
                  "checks, how many problems were found and those on columns the job file names")
def check_job(ctx: Context, digest: str, failure: AccordError | None, summary: str) -> None:
    """Start only if every party holds the same job file and passed its own checks.

    A party that failed raises its own error; the others raise :class:`~accord.errors.PeerAborted`
    naming it and carrying ``summary`` (what it chose to tell).
    """
    theirs = ctx.exchange({"digest": digest, "failed": summary if failure is not None else ""}, "check")
    failed = {}
    for peer, message in theirs.items():
        if (not isinstance(message, dict) or set(message) != {"digest", "failed"}
                or not all(isinstance(v, str) and len(v) <= _MAX_SUMMARY for v in message.values())):
            raise MalformedMessage(f"party {peer!r} sent a malformed job check", party=peer, step=ctx.path)
        if message["digest"] != digest:
            raise ConfigurationError(f"party {peer!r} runs a different job file (digest {message['digest']!r}, ours "
                                     f"{digest!r}); every party must approve and run the same file")
        if message["failed"]:
            failed[peer] = message["failed"]
    if failure is not None:
        raise failure
    for peer, text in failed.items():
        raise PeerAborted(f"party {peer!r} cannot start the job: {text}", party=peer, step=ctx.path)

