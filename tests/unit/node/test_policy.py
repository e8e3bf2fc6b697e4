"""Column policies against job plans: each violation names the column, the rule and the step."""

from __future__ import annotations

import pytest

from accord.errors import ConfigurationError
from accord.node.policy import check_uses, parse_policy
from accord.pipeline.plan import ColumnUse

SCHEMA = ["id", "LIMIT_BAL", "SEX", "AGE", "default"]


def _uses(*items):
    return [ColumnUse("partner", c, u, s) for c, u, s in items]


def test_allowed_uses_pass_and_each_forbidden_use_is_named():
    policy = parse_policy({"default": "never", "columns": {
        "id": "key", "LIMIT_BAL": {"use": "train", "with": ["bank"], "models": ["logistic_regression"]},
        "AGE": {"use": "aggregate", "min_group": 20}, "default": "train"}}, "test")
    fine = _uses(("id", "key", "psi"), ("LIMIT_BAL", "train", "models.logistic_regression"),
                 ("AGE", "train", "models.secureboost"), ("default", "label", "models.secureboost"))
    assert check_uses(policy, "partner", SCHEMA, fine, ["bank"]) == []
    broken = check_uses(policy, "partner", SCHEMA, _uses(
        ("SEX", "train", "models.secureboost"),             # unlisted: the default, never
        ("LIMIT_BAL", "train", "models.secureboost"),       # only in logistic regression
        ("AGE", "key", "psi"),                              # not a key
        ("id", "train", "models.secureboost"),              # a key only
        ("GONE", "train", "models.secureboost")), ["bank"])
    assert [(v.column, v.step) for v in broken] == [("SEX", "models.secureboost"), ("LIMIT_BAL", "models.secureboost"),
                                                    ("AGE", "psi"), ("id", "models.secureboost"),
                                                    ("GONE", "models.secureboost")]
    assert "rule 'never' (never used)" in str(broken[0]) and "uses it as a model feature" in str(broken[0])
    assert "only in logistic_regression" in broken[1].rule and "join key" in broken[2].reason
    assert "no such column" in broken[4].reason
    others = check_uses(policy, "partner", SCHEMA, _uses(("LIMIT_BAL", "train", "models.logistic_regression")),
                        ["bank", "insurer"])
    assert [v.reason for v in others] == ["uses it with insurer"]


def test_dp_columns_are_limited_to_their_epsilon():
    policy = parse_policy({"columns": {"AGE": {"use": "dp", "epsilon": 0.5}}}, "test")
    use = _uses(("AGE", "dp", "dp.summaries"))
    assert check_uses(policy, "partner", SCHEMA, use, [], {"AGE": 0.5}) == []
    [too_much] = check_uses(policy, "partner", SCHEMA, use, [], {"AGE": 0.75})
    assert "would spend ε=0.75" in too_much.reason and "at most ε=0.5" in too_much.rule


@pytest.mark.parametrize("raw", [
    {"columns": {"a": {"use": "sometimes"}}},
    {"columns": {"a": {"use": "aggregate"}}},                  # needs min_group
    {"columns": {"a": {"use": "train", "epsilon": 1}}},        # epsilon belongs to dp
    {"columns": {"a": {"use": "dp", "epsilon": -1}}},
    {"columns": {"a": {"use": "train", "models": ["forest"]}}},
    {"rules": {}},
])
def test_malformed_policies_are_refused(raw):
    with pytest.raises(ConfigurationError):
        parse_policy(raw, "test")


def test_dp_summaries_in_a_job_need_a_dp_rule_within_its_epsilon(nodes):
    from tests.node_setup import job_text

    bank, partner = nodes["bank"], nodes["partner"]
    assert bank.propose(job_text(features=True, dp=True), "bank-op").violations == []  # ε 1/3 ≤ 1 for PAY_0
    with bank.store.write() as conn:
        from accord.node import datasets as ds

        ds.set_policy(conn, "bank", parse_policy({"default": "train", "columns": {
            "id": "key", "PAY_0": {"use": "dp", "epsilon": 0.1}}}, "test"))
    strict = bank.propose(job_text(features=True, dp=True, trees=3), "bank-op")
    assert [(v["column"], v["step"]) for v in strict.violations] == [("PAY_0", "dp.summaries")]
    assert "would spend ε=0.333" in strict.violations[0]["reason"]
    assert partner.propose(job_text(features=True, dp=True), "x", proposer="bank").violations == []
