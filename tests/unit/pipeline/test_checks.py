"""Input checks before any protocol: every problem in one message, and peers told only what the job names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import accord
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.pipeline.checks import InputProblems, Problem, check_job, scoring_problems, training_problems
from accord.pipeline.job import PartySpec
from accord.runtime import Context, protocol
from tests.protocol.wiretap import tap

BANK = PartySpec("bank", Path("bank.csv"), ["id"], Path("out/bank"), label="default")


def table(**changes) -> pd.DataFrame:
    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "default": ["0", "1", "0", "1"], "income": ["1", "2", "3", "4"],
                       "age": ["30", "40", "50", "60"]})
    return df.assign(**changes)


def test_a_clean_table_has_no_problems():
    assert training_problems(table(), BANK) == []
    assert scoring_problems(table().drop(columns="default"), BANK, ["income"]) == []


def test_every_problem_of_a_table_is_reported_at_once():
    df = table(id=["a", None, "c", "d"], income=["1", "inf", "3", "4"], age=["5", "5", "5", "5"])
    problems = training_problems(df.rename(columns={"default": "defualt"}), BANK)
    error = InputProblems(problems, party="bank", source="bank.csv")
    text = str(error)
    assert text.startswith("party 'bank': input bank.csv has 4 problems")
    for part in ("key column 'id' has 1 missing value", "label column 'default' not found",
                 "column 'income' has 1 infinite value", "column 'age' is constant"):
        assert part in text
    assert isinstance(error, InputError) and error.exit_code == 3 and error.field == "id"
    # Peers learn the problems on columns the job file names, and only a count of the others.
    public = error.public()
    assert "key column 'id'" in public and "label column 'default' not found" in public and "2 more" in public
    assert "income" not in public and "age" not in public and "defualt" not in public


def test_label_values_and_missing_features_are_checked():
    problems = training_problems(table(default=["0", "2", "0", "1"], income=["1", "", "inf", "inf"]), BANK)
    assert [p.column for p in problems] == ["default", "income"]
    assert "binary" in problems[0].message and "2 infinite values" in problems[1].message
    assert problems[0].public == "label column 'default' cannot be used"  # values are not quoted to peers
    missing = scoring_problems(table(), BANK, ["income", "limit"])
    assert [p.message for p in missing] == ["column 'limit', which the saved model uses, is missing"]


def test_text_columns_missing_cells_and_a_text_label_are_accepted():
    party = PartySpec("bank", Path("bank.csv"), ["id"], Path("out/bank"), label="default", positive="bad",
                      categorical=("age", "region"))
    df = table(default=["bad", "good", "good", "bad"], income=["1", "", "3", None], city=["x", "y", "x", None])
    problems = training_problems(df, party)
    assert [p.message for p in problems] == ["column 'region', declared categorical, not found; the table has "
                                             "['id', 'default', 'income', 'age', 'city']"]
    assert training_problems(df.assign(city=["x", "x", "x", "x"]), BANK)[-1].message.startswith(
        "column 'city' is constant")
    assert [p.column for p in training_problems(df, BANK)] == ["default"]  # text label without a positive class


def test_check_job_tells_the_peers_only_the_public_summary(monkeypatch):
    failure = InputProblems(training_problems(table(default=["0"] * 4, income=["x"] * 4), BANK), party="bank",
                            source="bank.csv")
    received = tap(monkeypatch, "partner")
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(InputProblems, match="income"):  # the root cause, with the bank's own details
            cluster.run(check_job, {"bank": ("d", failure, failure.public()), "partner": ("d", None, "")})
    assert [value for _, value in received] == [
        {"digest": "d", "failed": "its input has 2 problems: label column 'default' cannot be used; 1 more on its "
                                  "other columns"}]


def test_different_job_files_are_refused():
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(ConfigurationError, match="different job file"):
            cluster.run(check_job, {"bank": ("d1", None, ""), "partner": ("d2", None, "")})


@protocol("test.bad-check", threat_model="test", leakage="everything")
def bad_check(ctx: Context) -> None:
    if ctx.me == "partner":
        ctx.send_all({"digest": "d", "failed": 3}, "check")
        return None
    return check_job(ctx, "d", None, "")


def test_a_malformed_check_is_refused_naming_the_peer():
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(MalformedMessage, match="party 'partner' sent a malformed job check"):
            cluster.run(bad_check, {"bank": (), "partner": ()})


def test_a_failed_input_check_tells_every_peer_only_its_public_summary():
    """With three parties a peer may learn of the failure from the abort rather than the check round:
    the abort too carries only the summary (not the failing table's other columns)."""
    import accord
    from accord.pipeline.prepare import agree

    def local(name):
        if name == "lender2":
            raise InputProblems([Problem("owed", "amount column 'owed' not found; the table has ['secret_col']",
                                         "amount column 'owed' not found")], party=name, source="lender2.csv")
        return None

    with pytest.raises(InputProblems):
        with accord.Cluster.simulate(["bank", "lender1", "lender2"]) as cluster:
            agree(cluster, ["bank", "lender1", "lender2"], "digest", local)
    hub = cluster._links["bank"]._hub
    told = [reason for inbox in hub.inboxes.values() for reason in inbox._aborted.values()]
    assert told and all("amount column 'owed' not found" in r and "secret_col" not in r for r in told)
