"""Vertical credit-risk models on the UCI credit-card data, two processes over loopback mTLS.

    python benchmarks/credit_risk.py [--trees 5 --depth 5] [--json out.json]

The bank holds PAY_* and BILL_AMT* and the label, the partner LIMIT_BAL, SEX, EDUCATION, MARRIAGE,
AGE and PAY_AMT*, and each holds 20% extra customers the other lacks (benchmarks/credit_data.py).
Each process aligns its table with PSI, splits 70/30 by a public seed, trains, and the bank scores
the test rows. For comparison the same models are trained in plaintext on the joined data: XGBoost
(same depth, trees and learning rate) and scikit-learn's LogisticRegression, if installed.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import human_bytes, run_processes, write_json
from benchmarks.credit_data import BANK_COLUMNS, LABEL, PARTNER_COLUMNS, load_uci, split_parties

CACHE = Path.home() / ".cache" / "accord-benchmarks"
SPLIT_SEED = 7


def _split(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """70/30 by a public hash of the customer id, so every party and the baselines pick the same rows."""
    test = np.array([hashlib.sha256(f"{SPLIT_SEED}|{i}".encode()).digest()[0] < 77 for i in ids])  # 77/256 = 30%
    return np.flatnonzero(~test), np.flatnonzero(test)


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import accord

    bank_df, partner_df = split_parties(load_uci(CACHE))
    mine = bank_df if me == "bank" else partner_df
    tables = {p: cluster.party(p).put(mine) if p == me else cluster.party(p).remote_table()
              for p in ("bank", "partner")}
    start = time.perf_counter()
    a, b = accord.psi.align(tables["bank"], tables["partner"], on="id")
    psi_seconds = time.perf_counter() - start
    aligned = a.get() if me == "bank" else b.get()
    rows = len(aligned)
    train, test = _split(aligned["id"])
    pick = lambda t, idx: cluster.party(t.owner).apply(lambda df: df.iloc[idx].reset_index(drop=True), t)  # noqa: E731
    a_tr, a_te, b_tr, b_te = pick(a, train), pick(a, test), pick(b, train), pick(b, test)
    xa_tr, xa_te = a_tr[BANK_COLUMNS], a_te[BANK_COLUMNS]
    xb_tr, xb_te = b_tr[PARTNER_COLUMNS], b_te[PARTNER_COLUMNS]
    results: dict[str, Any] = {"rows": rows, "psi_seconds": psi_seconds}
    before = len(cluster.report().runs)
    start = time.perf_counter()
    model = accord.ml.SecureBoost(label=a_tr[LABEL], n_trees=args["trees"], max_depth=args["depth"],
                                  learning_rate=args["lr"], workers=args["workers"])
    model.fit([xa_tr, xb_tr])
    fit_seconds = time.perf_counter() - start
    metrics = model.evaluate([xa_te, xb_te], a_te[LABEL])
    runs = cluster.report().runs[before:]
    results["secureboost"] = {
        "seconds": fit_seconds,
        "bytes": sum(r.costs[me].bytes_sent for r in runs),
        "rounds": sum(r.costs[me].rounds for r in runs),
        "auc": metrics.get()["auc"] if me == "bank" else None,
        "ks": metrics.get()["ks"] if me == "bank" else None,
        "phases": {op: round(c[me].seconds, 2) for r in runs for op, c in r.ops.items() if me in c and c[me].seconds},
    }
    return results


def plaintext_baselines(trees: int, depth: int, lr: float) -> dict[str, float]:
    """AUC of XGBoost and scikit-learn logistic regression on the joined data, same split."""
    bank_df, partner_df = split_parties(load_uci(CACHE))
    joined = bank_df.merge(partner_df, on="id")  # the rows PSI finds
    train, test = _split(joined["id"])
    x, y = joined[BANK_COLUMNS + PARTNER_COLUMNS], joined[LABEL].to_numpy()
    out: dict[str, float] = {}
    try:
        import xgboost

        booster = xgboost.XGBClassifier(n_estimators=trees, max_depth=depth, learning_rate=lr, tree_method="hist",
                                        max_bin=32)
        booster.fit(x.iloc[train], y[train])
        from accord.ml.metrics import roc_auc

        out["xgboost_auc"] = roc_auc(y[test], booster.predict_proba(x.iloc[test])[:, 1])
    except ImportError:
        print("xgboost not installed: pip install xgboost for the plaintext boosting baseline")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=5)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=None, help="Paillier processes per party (default: cores)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    load_uci(CACHE)  # fetch once before the parties start
    results = run_processes("benchmarks.credit_risk:party_main", ["bank", "partner"],
                            {"trees": args.trees, "depth": args.depth, "lr": args.lr, "workers": args.workers})
    bank, partner = results["bank"], results["partner"]
    sb = bank["secureboost"]
    seconds = max(bank["secureboost"]["seconds"], partner["secureboost"]["seconds"])
    print(f"PSI aligned {bank['rows']} customers in {bank['psi_seconds']:.1f} s")
    print(f"SecureBoost ({args.trees} trees, depth {args.depth}, Paillier 2048): {seconds:.1f} s, test AUC "
          f"{sb['auc']:.4f}, KS {sb['ks']:.4f}; bank sent {human_bytes(sb['bytes'])}, partner sent "
          f"{human_bytes(partner['secureboost']['bytes'])}, {sb['rounds']} rounds")
    for party in ("bank", "partner"):
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in results[party]["secureboost"]["phases"].items())
        print(f"  {party} busy: {phases}")
    baselines = plaintext_baselines(args.trees, args.depth, args.lr)
    for name, auc in baselines.items():
        print(f"plaintext {name.replace('_auc', '')}: test AUC {auc:.4f}")
    write_json(args.json, {"secureboost": {"seconds": seconds, "bytes": sb["bytes"] + partner["secureboost"]["bytes"],
                                           "rounds": sb["rounds"], "auc": sb["auc"], "ks": sb["ks"],
                                           **{k: v for k, v in baselines.items() if k.startswith("xgb")}}})


if __name__ == "__main__":
    main()
