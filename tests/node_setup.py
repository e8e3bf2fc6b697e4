"""Two parties' nodes for tests: certificates, cluster file, data, datasets with policies, operators.

``deploy(tmp_path)`` writes everything; ``start_node`` runs ``accord node serve`` as a process and
waits until its console answers. The credit-risk jobs are small (400 shared customers, 1024-bit keys
allowed for speed), and :func:`job_text` gives the job with or without the partner's feature list,
which is what the partner's policy (``SEX: never``) turns on.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.procs import ROOT, free_ports, write_cluster

PASSWORD = "correct horse battery"
PARTNER_FEATURES = ["LIMIT_BAL", "EDUCATION", "MARRIAGE", "AGE", "PAY_AMT1", "PAY_AMT2", "PAY_AMT3"]
POLICIES = {
    "bank": {"default": "train", "columns": {"id": {"use": "key"}, "PAY_0": {"use": "dp", "epsilon": 1.0}}},
    "partner": {"default": "train", "columns": {"id": {"use": "key"}, "SEX": {"use": "never"}}},
}


@dataclass
class Deployment:
    root: Path
    cluster: Path
    configs: dict[str, Path]
    urls: dict[str, str]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "GRPC_VERBOSITY": "NONE", "ACCORD_TEST_PASSWORD": PASSWORD}


def accord(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "accord", *map(str, args)], capture_output=True, text=True,
                          env=env(), cwd=ROOT, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"accord {' '.join(map(str, args))} failed ({done.returncode}): {done.stderr}")
    return done


def deploy(root: Path, database: dict[str, str] | None = None) -> Deployment:
    """Two parties, each with a node configuration, its dataset, policy and an operator."""
    from examples.make_credit_data import generate

    cluster = write_cluster(root, ["bank", "partner"], timeout=60, connect_timeout=10)
    bank, partner = generate(n_shared=400, n_extra=40, seed=5)
    ports = free_ports(2)
    urls = {p: f"https://127.0.0.1:{port}" for p, port in zip(("bank", "partner"), ports)}
    configs = {}
    for party, frame in (("bank", bank), ("partner", partner)):
        home = root / party
        home.mkdir()
        frame.to_csv(home / f"{party}.csv", index=False)
        (home / "policy.yaml").write_text(yaml.safe_dump(POLICIES[party]))
        config = {"party": party, "cluster": str(cluster), "listen": urls[party].removeprefix("https://"),
                  "state": str(home / "state"), "peers": {p: u for p, u in urls.items() if p != party},
                  "approval_days": 7}
        if database and party in database:
            config["database"] = database[party]
        configs[party] = home / "node.yaml"
        configs[party].write_text(yaml.safe_dump(config))
        _register(configs[party], party, home / f"{party}.csv")
    return Deployment(root, cluster, configs, urls)


def _register(config: Path, party: str, csv: Path) -> None:
    """What `accord node dataset` and `accord node user` do (tests/unit/node/test_cli.py runs those), in
    this process to save two interpreter starts per party."""
    from accord.node import auth
    from accord.node import datasets as ds
    from accord.node.config import load_node_config
    from accord.node.policy import parse_policy
    from accord.node.service import Node

    node = Node(load_node_config(config))
    with node.store.write() as conn:
        found = ds.register(conn, party, party, "csv", str(csv), None, parse_policy(POLICIES[party], "test"))
        node.store.audit(conn, "dataset registered", dataset=party, kind="csv", rows=found.rows)
        auth.add_user(conn, f"{party}-op", PASSWORD)
        node.store.audit(conn, "operator set", user=f"{party}-op")
    node.store.close()


def job_text(features: bool, trees: int = 2, dp: bool = False) -> str:
    partner = {"input": "partner.csv", "key": "id", "output": "out/partner"}
    if features:
        partner["features"] = PARTNER_FEATURES
    job = {
        "job": "credit-risk",
        "parties": {"bank": {"input": "bank.csv", "key": "id", "label": "default", "output": "out/bank"},
                    "partner": partner},
        "split": {"test_fraction": 0.3, "seed": 1},
        "models": [{"secureboost": {"n_trees": trees, "max_depth": 3, "allow_insecure_key_size": True,
                                    "workers": 1}},
                   {"logistic_regression": {"epochs": 2, "batch_size": 128, "mpc": {"mode": "ot"}}}],
        "evaluate": {"plots": True},
        "security": {"key_bits": 1024},
    }
    if dp:  # the bank publishes DP summaries of PAY_0, which its policy allows up to ε=1 per job
        job["dp"] = {"ledger": {"epsilon": 3.0, "delta": 1e-6},
                     "summaries": {"epsilon": 0.5, "bank": {"PAY_0": [-2, 8]}}}
    return yaml.safe_dump(job, sort_keys=False)


def start_node(config: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    """``accord node serve`` for ``config``, once its console answers (or an error with its log)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "accord", "node", "serve", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, env=env(), cwd=ROOT)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node {config} exited with {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", context=context, timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"node {config} did not answer within 60 s: {log.read_text()}")


def stop_node(proc: subprocess.Popen[bytes]) -> int:
    proc.terminate()
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Console:
    """A logged-in operator's HTTPS session with a node's console (no browser: forms posted directly)."""

    def __init__(self, url: str, user: str) -> None:
        import http.cookiejar

        self.url = url
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                                  urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.post("/login", {"user": user, "password": PASSWORD}, form="/login")

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.url + path))

    def post(self, path: str, data: dict[str, str], form: str = "/jobs/new") -> tuple[int, str, str]:
        import re
        from urllib.parse import urlencode

        _, page, _ = self.get(form)
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        body = urlencode({**data, "csrf": token.group(1) if token else ""}).encode()
        return self._open(urllib.request.Request(self.url + path, data=body, method="POST"))

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        import urllib.error

        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, answer.read().decode(), answer.url
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), err.url
