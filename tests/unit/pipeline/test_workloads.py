"""Lookup job files: every problem in one error, outputs confined to the party's own directory, the plan."""

from __future__ import annotations

import pytest
import yaml

from accord.errors import ConfigurationError
from accord.pipeline.job import LocalSettings, load_job
from accord.pipeline.plan import dp_epsilon, plan_job
from accord.pipeline.workloads import WorkloadSpec

SUM = {"job": "sum", "kind": "psi_sum", "to": ["platform"],
       "parties": {"platform": {"input": "viewers.csv", "key": "id", "output": "out/platform"},
                   "advertiser": {"input": "purchases.csv", "key": "id", "value": "cents"}}}


def load(tmp_path, job, **local):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return load_job(path, **local)


def test_a_psi_sum_job_parses_into_its_roles_and_plan(tmp_path):
    spec = load(tmp_path, {**SUM, "dp": {"epsilon": 1.0, "bound": 500}})
    assert isinstance(spec, WorkloadSpec) and (spec.lead, spec.receivers) == ("advertiser", ("platform",))
    assert spec.parties["platform"].output == (tmp_path / "out" / "platform").resolve()
    assert spec.dp is not None and (spec.dp.budget.epsilon, spec.dp.bound) == (1.0, 500)
    uses = {(u.party, u.column, u.use) for u in plan_job(spec).uses()}
    assert uses == {("platform", "id", "key"), ("advertiser", "id", "key"), ("advertiser", "cents", "dp")}
    assert dp_epsilon(spec, "advertiser") == {"cents": 1.0} and dp_epsilon(spec, "platform") == {}


def test_every_problem_is_listed_in_one_error_naming_party_and_field(tmp_path):
    job = {**SUM, "to": ["nobody"], "extra": 1, "dp": {"epsilon": -1, "bound": 0, "noise": "x"},
           "parties": {"platform": {"input": "viewers.csv", "key": ["id", "day"], "colour": "red"},
                       "advertiser": {"key": "id", "value": "cents", "output": "/abs"}}}
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, job, local=LocalSettings(cluster=("platform", "other")))
    text = str(caught.value)
    for expected in ("extra: unknown field", "parties.platform.colour: unknown field", "to: must name one or both",
                     "parties.advertiser.input: missing", "parties.advertiser.output: output paths must be relative",
                     "parties.advertiser: not in the cluster file", "parties.*.key: every party names the same number",
                     "dp.noise: unknown field", "dp.bound:", "dp: "):
        assert expected in text, expected
    assert "10 problems" in text


@pytest.mark.parametrize("output", ["../elsewhere", "/tmp/x"])
def test_outputs_stay_inside_the_party_output_directory(tmp_path, output):
    job = {**SUM, "parties": {**SUM["parties"], "platform": {**SUM["parties"]["platform"], "output": output}}}
    with pytest.raises(ConfigurationError, match="must be relative"):
        load(tmp_path, job)


def test_a_symbolic_link_out_of_the_output_directory_is_refused(tmp_path, tmp_path_factory):
    (tmp_path / "out").symlink_to(tmp_path_factory.mktemp("elsewhere"))
    with pytest.raises(ConfigurationError, match="not inside the output directory"):
        load(tmp_path, SUM, me="platform")
    assert load(tmp_path, SUM, me="advertiser").parties["advertiser"].output is None  # only the host's own paths


def test_a_receiver_needs_an_output_and_a_pir_server_takes_no_input(tmp_path):
    job = {"job": "f", "kind": "pir_lookup", "server": "telecom",
           "parties": {"telecom": {"state": "s/t", "key": "phone"},
                       "bank": {"input": "a.csv", "key": "phone", "state": "s/b", "output": "out/bank"}}}
    with pytest.raises(ConfigurationError, match="takes no input"):
        load(tmp_path, job, me="telecom", local=LocalSettings(input=tmp_path / "x.csv"))
    debt = {"job": "d", "kind": "joint_debt", "asker": "bank",
            "parties": {"bank": {"input": "b.csv", "key": "id"}, "l1": {"input": "1.csv", "key": "id", "amount": "a"},
                        "l2": {"input": "2.csv", "key": "id", "amount": "a"}}}
    with pytest.raises(ConfigurationError, match=r"parties\.bank\.output: missing"):
        load(tmp_path, debt)
    both = {**SUM, "to": ["platform", "advertiser"]}
    with pytest.raises(ConfigurationError, match=r"parties\.advertiser\.output: missing \(advertiser receives"):
        load(tmp_path, both, me="platform")
