"""Charging a joint release to every data party's privacy ledger, all or none.

A release computed together must not start unless every party whose data it uses may spend its cost:
each party checks its own ledger, all exchange their verdicts, and only when every verdict is empty
does each party charge. A refusal names the party whose ledger refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.dp.accounting import Cost
from accord.dp.ledger import Ledger
from accord.errors import MalformedMessage, PrivacyBudgetExceeded
from accord.runtime.context import Context


def charge_together(ctx: Context, ledger: Ledger | None, costs: Cost | Sequence[Cost], release: str) -> float | None:
    """Check ``ledger`` (this party's, ``None`` if it holds none), agree with the peers, then charge.

    Returns the ledger's total ε after the charge, or ``None`` without a ledger. Raises
    :class:`~accord.errors.PrivacyBudgetExceeded` at every party when any party's ledger refuses.
    """
    refusal = ""
    if ledger is not None:
        try:
            ledger.check(costs)
        except PrivacyBudgetExceeded as exc:
            refusal = str(exc)
    verdicts = ctx.exchange(refusal, "budget")
    if refusal:
        raise PrivacyBudgetExceeded(f"party {ctx.me!r}: {refusal}")
    for peer, verdict in verdicts.items():
        if not isinstance(verdict, str):
            raise MalformedMessage(f"party {peer!r} sent a malformed budget verdict", party=peer,
                                   step=f"{ctx.path}/budget")
        if verdict:
            raise PrivacyBudgetExceeded(f"party {peer!r} refused the release: {verdict}")
    if ledger is None:
        return None
    return ledger.charge(costs, release=release, job=ctx.session).spent_after
