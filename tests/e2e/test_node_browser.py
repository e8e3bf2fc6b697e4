"""The whole approval flow in a real browser: two nodes, a credit-risk job rejected for a policy violation,
fixed, approved at both nodes, run, and its report and ROC/KS plot shown in the console."""

from __future__ import annotations

import time

import pytest

from tests.e2e.browser import artifacts, chromium
from tests.node_setup import PASSWORD, accord, deploy, job_text, start_node, stop_node

pytestmark = pytest.mark.slow


def _login(context, url, user):
    page = context.new_page()
    page.goto(url + "/")
    assert page.url.endswith("/login")  # nothing is visible without login
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    return page


def _propose(page, url, text):
    page.goto(url + "/jobs/new")
    page.fill("#job-text", text)
    page.click("#propose")
    page.wait_for_url(url + "/jobs/*")
    assert "Not delivered" not in page.content()
    return page.inner_text("#digest")


def _wait_for_status(page, url, run_id, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(f"{url}/runs/{run_id}")
        status = page.inner_text("#status")
        if status != "running":
            return status
        time.sleep(1.0)
    raise AssertionError(f"run {run_id} still running after {timeout} s")


def test_two_nodes_reject_fix_approve_run_and_show_the_report(tmp_path, request):
    shots = artifacts(request.node.name)
    deployment = deploy(tmp_path)
    urls = deployment.urls
    nodes = {p: start_node(deployment.configs[p], urls[p], tmp_path / f"{p}.log") for p in urls}
    try:
        with chromium() as browser:
            contexts = {p: browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
                        for p in urls}
            bank = _login(contexts["bank"], urls["bank"], "bank-op")
            partner = _login(contexts["partner"], urls["partner"], "partner-op")

            # 1. The first job uses every partner column as a feature, SEX included: partner's policy forbids it.
            first = _propose(bank, urls["bank"], job_text(features=False))
            assert bank.is_visible("#policy-ok")
            partner.goto(urls["partner"] + "/")
            assert "2 violation(s)" in partner.inner_text("#pending")  # SEX in each of the two models
            partner.goto(f"{urls['partner']}/jobs/{first}")
            violations = partner.inner_text("#violations")
            assert "SEX" in violations and "never used" in violations and "models.secureboost" in violations
            assert not partner.is_visible("#approve")  # no approval is possible
            partner.screenshot(path=str(shots / "1-partner-violation.png"), full_page=True)
            partner.fill("#reason", "SEX may never be used; list the features")
            partner.click("#reject")
            partner.wait_for_url(f"{urls['partner']}/jobs/{first}")
            assert "reject" in partner.inner_text(".decision-partner")
            bank.goto(f"{urls['bank']}/jobs/{first}")
            assert "reject" in bank.inner_text(".decision-partner")  # the rejection reached the proposer
            assert not bank.is_visible("#run")

            # 2. The fixed job lists the partner's features; both approve in the browser.
            second = _propose(bank, urls["bank"], job_text(features=True, dp=True))
            assert second != first
            bank.click("#approve")
            bank.wait_for_url(f"{urls['bank']}/jobs/{second}")
            partner.goto(f"{urls['partner']}/jobs/{second}")
            assert partner.is_visible("#policy-ok")
            assert "psi.rr22" in partner.inner_text("body") and "leakage:" in partner.inner_text("body")  # the default
            partner.screenshot(path=str(shots / "2-partner-approves.png"), full_page=True)
            partner.click("#approve")
            partner.wait_for_url(f"{urls['partner']}/jobs/{second}")

            # 3. Every party approved: the bank runs it; the partner's node starts its side.
            bank.goto(f"{urls['bank']}/jobs/{second}")
            assert "signed, valid" in bank.inner_text(".decision-partner")
            bank.click("#run")
            bank.wait_for_url(f"{urls['bank']}/runs/*")
            run_id = bank.url.rsplit("/", 1)[-1].split("?")[0]
            assert "Not delivered" not in bank.content()
            bank.screenshot(path=str(shots / "3-bank-running.png"), full_page=True)
            assert _wait_for_status(bank, urls["bank"], run_id) == "succeeded", bank.inner_text("body")
            assert _wait_for_status(partner, urls["partner"], run_id) == "succeeded", partner.inner_text("body")

            # 4. The report, metrics and plot at the label holder; the partner sees no metrics.
            metrics = bank.inner_text("#metrics")
            assert "secureboost" in metrics and "logistic_regression" in metrics
            assert "partner" in bank.inner_text("#learned") and "psi." in bank.inner_text("#costs")
            plot = bank.locator("img.plot").first
            plot.scroll_into_view_if_needed()
            assert bank.evaluate("img => img.complete && img.naturalWidth > 0", plot.element_handle())
            bank.screenshot(path=str(shots / "4-bank-report.png"), full_page=True)
            assert not partner.is_visible("#metrics") and not partner.is_visible("img.plot")
            partner.screenshot(path=str(shots / "4-partner-report.png"), full_page=True)

            # 5. The bank's DP summaries were charged to its dataset's ledger, shown in the console.
            bank.goto(urls["bank"] + "/ledgers")
            assert "cap ε=3" in bank.inner_text("body") and "job summaries" not in bank.inner_text("body")
            assert "credit-risk/" in bank.inner_text("body")  # the charges name the job
            bank.screenshot(path=str(shots / "5-bank-ledgers.png"), full_page=True)

            # 6. Both audit logs verify, in the console and on the command line.
            for party, page in (("bank", bank), ("partner", partner)):
                page.goto(urls[party] + "/audit")
                assert "every signature verify" in page.inner_text("#audit-status")
                events = page.inner_text("#audit")
                assert "job start" in events and "job end" in events and "revealed" in events
                assert ("dp charge" in events) == (party == "bank")
            partner.screenshot(path=str(shots / "6-partner-audit.png"), full_page=True)
    finally:
        codes = {p: stop_node(proc) for p, proc in nodes.items()}
    assert codes == {"bank": 0, "partner": 0}
    for party in urls:
        out = accord("audit", "verify", "--node", deployment.configs[party]).stdout
        assert "hash chain intact, every entry signed by" in out
