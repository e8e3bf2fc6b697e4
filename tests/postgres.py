"""The private PostgreSQL of the tests (`source .ci/postgres` starts it and exports its URL)."""

from __future__ import annotations

import os

import pytest


def postgres_url() -> str:
    """The test database's URL: skipped without one locally, a failure in CI (`.ci/run` starts a server)."""
    url = os.environ.get("ACCORD_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("ACCORD_TEST_POSTGRES_URL is unset in CI: .ci/run must source .ci/postgres")
        pytest.skip("PostgreSQL is tested when ACCORD_TEST_POSTGRES_URL names a database (.ci/run sets it)")
    return url
