"""`accord node init / user / dataset / approval` through the CLI entry point (in process)."""

from __future__ import annotations

import re
import shlex
import sys

import pandas as pd
import pytest
import yaml

from accord.cli.main import main
from accord.errors import UnsupportedError
from accord.governance.approval import parse_approval
from accord.node.config import load_node_config
from accord.node.service import Node
from tests.node_setup import PASSWORD, job_text
from tests.procs import ROOT


def test_init_user_sql_dataset_and_approval_export(tmp_path, cluster, frames, monkeypatch, capsys):
    config = tmp_path / "bank-node.yaml"
    assert main(["node", "init", "--party", "bank", "--cluster", str(cluster), "--listen", "127.0.0.1:8443",
                 "--peer", "partner=https://127.0.0.1:8444", "--out", str(config)]) == 0
    loaded = load_node_config(config)
    assert loaded.peers == {"partner": "https://127.0.0.1:8444"} and loaded.database.startswith("sqlite:///")
    assert main(["node", "init", "--party", "bank", "--cluster", str(cluster), "--out", str(config)]) == 2
    monkeypatch.setenv("BANK_PASSWORD", PASSWORD)
    assert main(["node", "user", "alice", "--config", str(config), "--password-env", "BANK_PASSWORD"]) == 0
    monkeypatch.setenv("SHORT", "short")
    assert main(["node", "user", "bob", "--config", str(config), "--password-env", "SHORT"]) == 2
    database = tmp_path / "warehouse.sqlite"
    frames[0].to_sql("customers", f"sqlite:///{database}", index=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": "train", "columns": {"id": "key"}}))
    assert main(["node", "dataset", "bank", "--config", str(config), "--sql", f"sqlite:///{database}",
                 "--table", "customers", "--policy", str(policy)]) == 0
    assert f"dataset bank ({len(frames[0])} rows, {frames[0].shape[1]} columns)" in capsys.readouterr().out
    assert main(["node", "dataset", "other", "--config", str(config), "--sql", f"sqlite:///{database}",
                 "--table", "missing"]) == 2
    node = Node(load_node_config(config))
    job = node.propose(job_text(features=True), "alice")
    assert main(["node", "approval", job.digest, "--config", str(config), "--out", str(tmp_path / "a.json")]) == 10
    node.decide(job.digest, "alice", approve=True)
    node.record_peer_decision("partner", _partner_approval(tmp_path, cluster, frames, job_text(features=True)))
    assert main(["node", "approval", job.digest, "--config", str(config), "--out", str(tmp_path / "a.json")]) == 0
    assert parse_approval((tmp_path / "a.json").read_bytes(), "bank").digest == job.digest
    exported = pd.read_parquet(_materialised(node, tmp_path))
    pd.testing.assert_frame_equal(exported, frames[0].reset_index(drop=True), check_dtype=False)


def _partner_approval(tmp_path, cluster, frames, text):
    from tests.unit.node.conftest import make_node

    partner = make_node(tmp_path, cluster, "partner", frames[1])
    job = partner.propose(text, "x", proposer="bank")
    return partner.decide(job.digest, "partner-op", approve=True)


def _materialised(node, tmp_path):
    from accord.node import datasets as ds

    with node.store.read() as conn:
        return ds.materialise(ds.get(conn, "bank"), "bank", tmp_path)


@pytest.mark.parametrize("policy", ["columns: {nope: key}", "columns: {id: {use: maybe}}"])
def test_dataset_policies_are_checked_at_registration(tmp_path, cluster, frames, policy):
    config = tmp_path / "n.yaml"
    main(["node", "init", "--party", "bank", "--cluster", str(cluster), "--out", str(config)])
    frames[0].to_csv(tmp_path / "bank.csv", index=False)
    (tmp_path / "p.yaml").write_text(policy)
    assert main(["node", "dataset", "bank", "--config", str(config), "--csv", str(tmp_path / "bank.csv"),
                 "--policy", str(tmp_path / "p.yaml")]) == 2


def _commands(path, heading):
    """The `accord` commands of the first bash block after ``heading`` in ``path`` (continuations joined)."""
    text = (ROOT / path).read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index(heading):], re.S).group(1)
    lines = [shlex.split(line.split("  #")[0]) for line in block.replace("\\\n", " ").splitlines()]
    return [line[1:] for line in lines if line and line[0] == "accord"]


@pytest.mark.parametrize("path, heading", [("README.md", "## A node per party"),
                                           ("docs/node.md", "## Quick start")])
def test_the_documented_node_set_up_runs_as_written_and_the_example_job_passes_its_policies(
        tmp_path, monkeypatch, capsys, path, heading):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.setenv("ACCORD_TEST_PASSWORD", PASSWORD)
    commands = [["certs", "--party", "bank", "--party", "partner", "--out", "certs", "--cluster", "cluster.yaml"]]
    commands += [c for c in _commands(path, heading) if c[:2] != ["node", "serve"] and c[:2] != ["node", "console"]
                 and c[0] != "certs"]
    assert [c[1] for c in commands[1:]].count("dataset") >= 1
    for command in commands:
        if command[:2] == ["node", "user"]:
            command += ["--password-env", "ACCORD_TEST_PASSWORD"]  # instead of the terminal prompt
        assert main(command) == 0, command
    text = (ROOT / "examples/credit_risk.yaml").read_text()
    for config in sorted(tmp_path.glob("*-node.yaml")):
        node = Node(load_node_config(config))
        job = node.propose(text, "test", proposer="bank")
        assert job.violations == [], (config.name, job.violations)
        node.store.close()


@pytest.mark.parametrize("command", [["node", "serve", "--config", "node.yaml"],
                                     ["node", "user", "alice", "--config", "node.yaml"],
                                     ["audit", "verify", "--node", "node.yaml"]])
def test_without_the_node_extra_the_commands_name_the_install(monkeypatch, capsys, command):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if FastAPI were not installed
    assert main(command) == 2
    assert "pip install 'accord[node]'" in capsys.readouterr().err


def test_a_postgresql_url_without_its_driver_names_the_postgres_extra(tmp_path, monkeypatch, nodes):
    from accord.node.store import Store

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(UnsupportedError, match=r"pip install 'accord\[postgres\]'"):
        Store(f"postgresql+psycopg://accord@/db?host={tmp_path}", nodes["bank"].signer)


def test_core_modules_the_cli_and_the_node_package_import_none_of_the_node_extras():
    import subprocess

    heavy = ["fastapi", "uvicorn", "starlette", "sqlalchemy", "argon2", "jinja2", "psycopg", "playwright"]
    code = ("import sys, accord, accord.errors, accord.cli.main, accord.governance.approval, "
            "accord.governance.chain, accord.runtime.cluster, accord.pipeline.plan, accord.node, accord.node.policy; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
