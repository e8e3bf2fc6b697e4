"""The node checks lookup jobs (PIR, PSI-sum, joint debt) against its column policies like modelling jobs."""

from __future__ import annotations

import pytest
import yaml

from accord.errors import ConfigurationError
from accord.node import datasets as ds
from accord.node.policy import parse_policy


def lookup_job(**changes) -> str:
    """A PIR lookup with the partner serving its table ``state/partner`` (dataset ``partner``)."""
    job = {"job": "lookup", "kind": "pir_lookup", "server": "partner",
           "parties": {"partner": {"state": "state/partner", "key": "id", "labels": ["SEX"]},
                       "bank": {"input": "bank.csv", "key": "id", "state": "state/bank", "output": "out/bank"}}}
    return yaml.safe_dump({**job, **changes})


def sum_job(value: str, dp: dict | None = None) -> str:
    job = {"job": "sum", "kind": "psi_sum", "to": ["bank"],
           "parties": {"bank": {"input": "bank.csv", "key": "id", "output": "out/bank"},
                       "partner": {"input": "partner.csv", "key": "id", "value": value}}}
    return yaml.safe_dump({**job, **({"dp": dp} if dp else {})})


def test_a_pir_label_the_policy_forbids_to_reveal_is_refused(nodes):
    partner = nodes["partner"]
    job = partner.propose(lookup_job(), "bank-op", proposer="bank")
    assert [(v["column"], v["step"]) for v in job.violations] == [("SEX", "pir_lookup")]
    assert "revealed row by row" in job.violations[0]["reason"]
    with pytest.raises(ConfigurationError, match="breaks this party's column policies"):
        partner.decide(job.digest, "partner-op", approve=True)
    uses = {(u["column"], u["use"]) for s in job.plan["steps"] for u in s["uses"] if u["party"] == "partner"}
    assert uses == {("id", "key"), ("SEX", "reveal")}
    with partner.store.write() as conn:  # a label the policy lets the bank see row by row
        ds.set_policy(conn, "partner", parse_policy({"default": "train", "columns": {
            "id": {"use": "key"}, "SEX": {"use": "reveal", "with": ["bank"]}}}, "test"))
    assert partner.recheck(job.digest).violations == []


def test_psi_sum_values_need_a_dp_rule_within_its_epsilon_or_reveal(nodes):
    partner = nodes["partner"]
    with partner.store.write() as conn:
        ds.set_policy(conn, "partner", parse_policy({"default": "train", "columns": {
            "id": {"use": "key"}, "LIMIT_BAL": {"use": "dp", "epsilon": 1.0},
            "AGE": {"use": "aggregate", "min_group": 50}}}, "test"))
    plain = partner.propose(sum_job("LIMIT_BAL"), "bank-op", proposer="bank")
    assert [(v["column"], v["step"]) for v in plain.violations] == [("LIMIT_BAL", "psi_sum")]
    too_much = partner.propose(sum_job("LIMIT_BAL", {"epsilon": 2.0, "bound": 10}), "bank-op", proposer="bank")
    assert "would spend ε=2" in too_much.violations[0]["reason"]
    assert partner.propose(sum_job("LIMIT_BAL", {"epsilon": 0.5, "bound": 10}), "bank-op",
                           proposer="bank").violations == []
    # A sum over an intersection of unknown size cannot be held to a minimum group size before the run.
    assert [v["column"] for v in partner.propose(sum_job("AGE"), "bank-op", proposer="bank").violations] == ["AGE"]


def test_a_joint_debt_amount_is_revealed_to_the_asker(tmp_path, cluster, frames):
    from tests.unit.node.conftest import make_node

    node = make_node(tmp_path, cluster, "partner", frames[1])
    try:
        job = {"job": "debt", "kind": "joint_debt", "asker": "bank",
               "parties": {"bank": {"input": "bank.csv", "key": "id", "output": "out/bank"},
                           "partner": {"input": "partner.csv", "key": "id", "amount": "LIMIT_BAL"},
                           "other": {"input": "other.csv", "key": "id", "amount": "owed"}}}
        with pytest.raises(ConfigurationError, match="does not name party"):
            node.propose(yaml.safe_dump({**job, "parties": {k: v for k, v in job["parties"].items()
                                                            if k != "partner"} | {"x": job["parties"]["other"]}}),
                         "bank-op", proposer="bank")
        proposed = node.propose(yaml.safe_dump(job), "bank-op", proposer="bank")
        assert [(v["column"], v["step"]) for v in proposed.violations] == [("LIMIT_BAL", "joint_debt")]
    finally:
        node.store.close()
