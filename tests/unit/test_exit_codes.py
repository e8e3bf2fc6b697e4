"""Exit codes tell failures apart: each documented code belongs to one kind of failure."""

from accord.errors import PolicyViolation
from accord.governance.chain import TamperedLog


def test_a_refused_sql_query_and_a_tampered_audit_log_exit_differently():
    """docs/operations.md: 11 is a tampered audit log, 12 a query a column policy refuses."""
    assert TamperedLog.exit_code == 11
    assert PolicyViolation.exit_code == 12
