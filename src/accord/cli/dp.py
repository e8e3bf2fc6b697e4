"""``accord dp``: a data owner's view of its privacy-budget ledgers."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from accord.errors import ConfigurationError

if TYPE_CHECKING:
    from accord.dp.budget import Budget


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``accord dp ledger`` to the command's subparsers."""
    dp = sub.add_parser("dp", help="differential privacy: show or set a dataset's budget ledger")
    commands = dp.add_subparsers(dest="dp_command", required=True)
    ledger = commands.add_parser("ledger", help="a dataset's cap, what it spent, and every charge")
    ledger.add_argument("dataset", help="the dataset's name (its ledger is <state dir>/dp/<dataset>.sqlite)")
    ledger.add_argument("--state-dir", type=Path, default=None,
                        help="this party's state directory (default: $ACCORD_STATE_DIR, else ~/.local/state/accord)")
    ledger.add_argument("--path", type=Path, default=None, help="the ledger file itself, instead of the state dir")
    ledger.add_argument("--create", metavar="EPSILON[,DELTA]", default=None, help="create the ledger with this cap")
    ledger.add_argument("--set-cap", metavar="EPSILON[,DELTA]", default=None, help="change the dataset's cap")
    ledger.set_defaults(func=_ledger)


def _budget(text: str) -> Budget:
    from accord.dp.budget import Budget

    try:
        parts = [float(p) for p in text.split(",")]
        return Budget(*parts)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"a cap is EPSILON or EPSILON,DELTA, got {text!r}: {exc}") from None


def _ledger(args: argparse.Namespace) -> int:
    from accord.dp import Ledger
    from accord.dp.ledger import ledger_path

    path = args.path or ledger_path(args.dataset, args.state_dir)
    if args.create and path.exists():
        raise ConfigurationError(f"{path} exists already; use --set-cap to change its cap")
    ledger = Ledger(path, args.dataset, cap=_budget(args.create) if args.create else None)
    if args.set_cap:
        ledger.set_cap(_budget(args.set_cap))
    spent = ledger.spent()
    print(f"dataset {args.dataset!r} ({path})")
    print(f"  cap:       ε={ledger.cap.epsilon:g} at δ={ledger.cap.delta:g}")
    print(f"  spent:     ε={spent:.6g} (composed by dp-accounting at the cap's δ)")
    print(f"  remaining: ε={max(0.0, ledger.cap.epsilon - spent):.6g}")
    for charge in ledger.charges():
        when = datetime.datetime.fromtimestamp(charge.at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        costs = "; ".join(c.describe() for c in charge.costs)
        print(f"  {when}  {charge.release}  {costs}  -> ε spent {charge.spent_after:.6g}")
    return 0
