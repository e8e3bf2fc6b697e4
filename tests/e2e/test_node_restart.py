"""A node killed in the middle of a job: the job stops at every party, nothing partial is kept, and the
restarted node records the run as interrupted with its audit log intact. Nothing runs unapproved."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.node_setup import Console, accord, deploy, job_text, start_node, stop_node

pytestmark = pytest.mark.slow


def _run_status(console, run_id, until, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, page, _ = console.get(f"/runs/{run_id}")
        if status == 200 and 'id="status">running<' not in page and until(page):
            return page
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish: {page}")


def test_killed_node_interrupts_its_job_everywhere_and_restarts_consistently(tmp_path):
    deployment = deploy(tmp_path)
    urls, configs = deployment.urls, deployment.configs
    nodes = {p: start_node(configs[p], urls[p], tmp_path / f"{p}.log") for p in urls}
    try:
        bank, partner = Console(urls["bank"], "bank-op"), Console(urls["partner"], "partner-op")
        _, _, where = bank.post("/jobs", {"text": job_text(features=True, trees=3)})
        digest = where.rsplit("/", 1)[-1]
        bank.post(f"/jobs/{digest}/decide", {"decision": "approve"}, form=f"/jobs/{digest}")
        status, page, _ = bank.post(f"/jobs/{digest}/run", {}, form=f"/jobs/{digest}")
        assert status == 400 and "lacks a valid approval from partner" in page  # nothing runs unapproved
        partner.post(f"/jobs/{digest}/decide", {"decision": "approve"}, form=f"/jobs/{digest}")
        _, _, where = bank.post(f"/jobs/{digest}/run", {}, form=f"/jobs/{digest}")
        run_id = where.rsplit("/", 1)[-1].split("?")[0]

        nodes["bank"].send_signal(signal.SIGKILL)  # the bank's node dies; its job process lives on
        nodes["bank"].wait()
        workdir = tmp_path / "bank" / "state" / "runs" / run_id
        nodes["bank"] = start_node(configs["bank"], urls["bank"], tmp_path / "bank-2.log")
        bank = Console(urls["bank"], "bank-op")
        page = _run_status(bank, run_id, lambda p: True)
        assert 'id="status">interrupted<' in page
        _, audit, _ = bank.get("/audit")
        assert "status=interrupted" in audit and "every signature verify" in audit
        page = _run_status(partner, run_id, lambda p: True)
        assert 'id="status">failed<' in page and "bank" in page  # the partner's side stopped too, naming bank
        assert not list((workdir / "out").rglob("metrics.json"))  # no partial output at the bank
        for proc_dir in os.listdir("/proc"):
            if proc_dir.isdigit():
                try:
                    cmdline = open(f"/proc/{proc_dir}/cmdline", "rb").read()
                except OSError:
                    continue
                assert run_id.encode() not in cmdline, "a job process outlived the interrupted run"
    finally:
        codes = {p: stop_node(proc) for p, proc in nodes.items()}
    assert codes == {"bank": 0, "partner": 0}
    for party in urls:
        assert "hash chain intact" in accord("audit", "verify", "--node", configs[party]).stdout
