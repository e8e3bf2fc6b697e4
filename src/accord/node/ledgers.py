"""The DP budget ledgers of a node's datasets, for the console and the audit log.

A party's ledgers live in its state directory (``<state>/dp/<dataset>.sqlite``, see
:mod:`accord.dp.ledger`); the jobs a node runs use the same state directory, so every DP release
they make is charged there. The node reads the ledgers only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accord.dp.ledger import Ledger, ledger_path
from accord.errors import AccordError


def ledger_summary(state: Path, dataset: str) -> dict[str, Any] | None:
    """Cap, spent, remaining and charges of ``dataset``'s ledger (``None`` when it has none)."""
    path = ledger_path(dataset, state)
    if not path.exists():
        return None
    try:
        ledger = Ledger(path, dataset)
        charges = ledger.charges()
        return {"cap": ledger.cap.epsilon, "delta": ledger.cap.delta, "spent": ledger.spent(),
                "remaining": ledger.remaining(),
                "charges": [{"release": c.release, "job": c.job, "spent_after": c.spent_after, "at": c.at,
                             "costs": [c2.describe() for c2 in c.costs]} for c in charges]}
    except AccordError as exc:
        return {"error": str(exc)}


def charges(state: Path, dataset: str) -> list[dict[str, Any]]:
    """Every charge of ``dataset``'s ledger as plain data (none when it has no ledger)."""
    summary = ledger_summary(state, dataset)
    return list((summary or {}).get("charges", []))
