"""Driver-level joint lookups: PSI with associated sums, and joint debt across lenders.

>>> import accord, pandas as pd
>>> with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
...     platform, advertiser = cluster.parties("platform", "advertiser")
...     viewers = platform.put(pd.DataFrame({"id": ["a", "b", "c"]}))
...     buyers = advertiser.put(pd.DataFrame({"id": ["b", "c", "c", "z"], "cents": [100, 250, 50, 999]}))
...     accord.pir.intersection_sum(viewers, buyers, on="id", value="cents", to="platform").get()
{'count': 2, 'sum': 400, 'noise': 'none'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.dp.budget import Budget
from accord.dp.ledger import Ledger
from accord.errors import ConfigurationError
from accord.pir.debt import joint_debt as joint_debt_protocol
from accord.pir.psi_sum import intersection_sum as intersection_sum_protocol
from accord.runtime.cluster import PartyObject, PartyTable


def intersection_sum(ids: PartyTable, values: PartyTable, on: str | Sequence[str], *, value: str,
                     to: str | Sequence[str], dp: Budget | None = None, bound: int | None = None,
                     ledgers: Mapping[str, Ledger] | None = None) -> PartyObject:
    """``{"count", "sum", "noise"}`` at ``to``: shared distinct keys and the total of ``value`` over them.

    ``ids`` and ``values`` belong to two parties of one cluster; ``value`` is an integer column of
    ``values`` (several rows of a key add up). With ``dp=Budget(...)`` both releases get noise from each
    party, and ``bound`` (required) clamps each key's total to ``[0, bound]``; each data owner's ledger in
    ``ledgers`` is checked at both parties and then charged before any key is touched. Returns the first
    receiver's handle (:func:`intersection_sums` returns every receiver's).
    """
    receivers = [to] if isinstance(to, str) else list(to)
    return intersection_sums(ids, values, on, value=value, to=to, dp=dp, bound=bound, ledgers=ledgers)[receivers[0]]


def intersection_sums(ids: PartyTable, values: PartyTable, on: str | Sequence[str], *, value: str,
                      to: str | Sequence[str], dp: Budget | None = None, bound: int | None = None,
                      ledgers: Mapping[str, Ledger] | None = None) -> dict[str, PartyObject]:
    """As :func:`intersection_sum`, with each receiver's handle."""
    if not isinstance(ids, PartyObject) or not isinstance(values, PartyObject) or ids.cluster is not values.cluster:
        raise ConfigurationError("intersection_sum takes two party-owned tables of one cluster")
    if ids.owner == values.owner:
        raise ConfigurationError(f"both tables belong to {ids.owner!r}")
    if dp is not None and not isinstance(dp, Budget):
        raise TypeError(f"dp= takes an accord.dp.Budget, got {type(dp).__name__}")
    receivers = [to] if isinstance(to, str) else list(to)
    if not receivers or any(r not in (ids.owner, values.owner) for r in receivers):
        raise ConfigurationError(f"`to` must name {ids.owner!r} and/or {values.owner!r}, got {to!r}")
    keys = [on] if isinstance(on, str) else list(on)
    unknown = set(ledgers or {}) - {ids.owner, values.owner}
    if unknown:
        raise ConfigurationError(f"ledgers given for parties {sorted(unknown)} that hold neither table")
    args = (keys, value, values.owner, receivers, dp, bound)
    learned = "the intersection size and the sum over it" + (" with DP noise" if dp is not None else "")
    mine = dict(ledgers or {})
    out = ids.cluster.run(intersection_sum_protocol, {ids.owner: (ids, *args, mine.get(ids.owner)),
                                                      values.owner: (values, *args, mine.get(values.owner))},
                          learned={p: learned if p in receivers else "both set sizes"
                                   for p in (ids.owner, values.owner)})
    return {r: out[r] for r in receivers}


def joint_debt(applicants: PartyTable, accounts: Sequence[PartyTable], on: str | Sequence[str], *,
               amount: str) -> PartyTable:
    """Per distinct applicant of ``applicants``, its ``total_debt`` over every lender's ``accounts``.

    The result lives at the applicants' owner (the asker); each lender's table has the key columns
    ``on`` and the integer column ``amount``.
    """
    owners = [t.owner for t in accounts]
    if len(set(owners)) != len(owners) or applicants.owner in owners or len(owners) < 2:
        raise ConfigurationError(f"joint debt needs the asker and at least 2 distinct lenders, got "
                                 f"{applicants.owner!r} and {owners}")
    keys = [on] if isinstance(on, str) else list(on)
    inputs: dict[str, tuple[object, ...]] = {applicants.owner: (applicants.owner, applicants, keys)}
    inputs.update({t.owner: (applicants.owner, t, keys, amount) for t in accounts})
    learned = {p: "the number of applicants asked" for p in owners}
    learned[applicants.owner] = "each applicant's total debt over all lenders"
    out = applicants.cluster.run(joint_debt_protocol, inputs, learned=learned)
    return out[applicants.owner].as_table()
