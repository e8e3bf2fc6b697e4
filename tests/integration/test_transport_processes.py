"""The cluster file's memory limits between two processes: a peer that passes them aborts the job, named."""

from __future__ import annotations

import re

import pytest

from tests.procs import run_parties

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("how", "reason"), [("backlog", r"would have \d+ bytes buffered at 'bank', more than the "
                                                         r"limit of 1048576 \(max_buffered"),
                                             ("invented", "session 'made-up-0#1' is not one of the job")],
                         ids=["backlog", "invented-session"])
def test_a_peer_flooding_a_partys_memory_is_refused_and_the_job_fails_naming_it(tmp_path, how, reason):
    runs = run_parties(tmp_path, "tests.integration.transport_drivers:flood_driver", ["bank", "partner"],
                       {"how": how, "blocks": 40, "size": 256 << 10}, timeout=90,
                       max_buffered="1 MiB", max_message="512 KiB")
    bank, partner = runs["bank"], runs["partner"]
    assert bank.returncode == 5 and bank.result["error"] == "MessageRefused", bank.stderr
    assert "refused a message from party 'partner'" in bank.result["message"]
    assert re.search(reason, bank.result["message"]), bank.result
    assert partner.returncode != 0 and "refused" in partner.result["message"], partner.result
