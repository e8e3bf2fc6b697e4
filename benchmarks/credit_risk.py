"""Vertical credit-risk models on public tables, as separate processes over loopback mTLS.

    python -m benchmarks.credit_risk [--data uci,adult,uci-sf,wide] [--models secureboost,lr-ot,lr-dealer]
                                     [--max-bin N] [--he ou|paillier] [--reps N] [--mode loopback|sim]
                                     [--json out.json]
    python -m benchmarks.credit_risk --quick         # synthetic rows, tiny models: a smoke run

Tables (benchmarks/credit_data.py): ``uci``, the UCI credit-card data (numeric columns), ``adult``, the
UCI Adult census table (string columns, missing values, mostly-zero columns, a text label), and ``wide``,
50,000 shared rows of 100 synthetic features. The bank holds some columns and the label, the partner
the others, and each holds 20% extra customers the other lacks. Each process aligns its table with
PSI, splits 70/30 by a public hash of the id, trains, and the bank scores the test rows. ``uci-sf`` is
the UCI file exactly as SecretFlow's SGB benchmark used it (this project's anchors,
``secretflow/prep_data.py`` and ``REPORT.md``): the same 12 + 20 columns (one-hot levels as in the
file), every customer at both parties, and the anchor's 21,000 training and 9,000 test rows. Workloads:

- ``secureboost``: 5 trees, depth 5, learning rate 0.3, Okamoto-Uchiyama 2048 (``--he paillier``:
  Paillier 2048) (two processes);
- ``lr-ot``: secure logistic regression, two processes, correlated randomness by OT (no third party);
- ``lr-dealer``: the same with a third process dealing correlated randomness.

For comparison the same models are trained in plaintext on the joined rows: XGBoost with its default
``hist`` settings (256 bins, native categorical splits, learned missing directions) and the same trees,
depth and learning rate, and scikit-learn's LogisticRegression on one-hot, mean-imputed, standardised
features; a baseline whose library is not installed is skipped with a note (its AUC is then null).
SecretFlow's figures for the UCI task are in ``../shared/anchors/secretflow/REPORT.md`` (beside this
repository). ``--quick`` trains one depth-2 tree with 1024-bit keys and one epoch of LR on 2,000
``synthetic`` customers in the UCI layout (benchmarks/credit_data.py), with no download. ``--reps N``
runs each workload N times in fresh processes (the figures are the median run's, plus ``runs``).
``--mode sim`` runs every party in one fresh process (``Cluster.simulate``; key ``<table>/<workload>/sim``,
without ``peak_rss_bytes_per_party``).
``cpu_seconds`` is each party's user + system time for training, its HE worker processes included
(``{"all parties": ...}`` in simulation), ``cpu_seconds_total`` their sum; ``peak_rss_bytes`` is each
party's main process (its HE worker processes are not counted). ``--json`` writes
``{"<table>/<workload>": {"seconds", "cpu_seconds", "cpu_seconds_total", "bytes", "rounds", "auc", "ks",
"train_rows", "plaintext_auc", "xgboost_auc", "sklearn_lr_auc", "psi_seconds", "rows", "load_average",
"peak_rss_bytes", "peak_rss_bytes_per_party"}}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from benchmarks.common import (
    ROOT,
    human_bytes,
    memory,
    options,
    party_memory,
    peak_rss_bytes,
    run_processes,
    write_json,
)
from benchmarks.credit_data import DATASETS, Dataset, anchor_split, load, split_parties

CACHE = Path.home() / ".cache" / "accord-benchmarks"
SPLIT_SEED = 7
FULL = {"trees": 5, "depth": 5, "epochs": 5, "batch": 1024, "workers": None, "key_bits": 2048}
QUICK = {"trees": 1, "depth": 2, "epochs": 1, "batch": 256, "workers": 1, "key_bits": 1024}


def _split(ids: pd.Series, anchor: dict[str, tuple[bool, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training and test positions of ``ids``: the anchor's (see :func:`_anchor`) if given, else 70/30 by id hash.

    The hash is public, so every party and the baselines pick the same rows.
    """
    if anchor is not None:
        side, rank = (np.array(v) for v in zip(*(anchor[i] for i in ids)))
        train, test = (np.flatnonzero(side == flag) for flag in (False, True))
        return train[np.argsort(rank[train])], test[np.argsort(rank[test])]
    test = np.array([hashlib.sha256(f"{SPLIT_SEED}|{i}".encode()).digest()[0] < 77 for i in ids])  # 77/256: 30%
    return np.flatnonzero(~test), np.flatnonzero(test)


def _anchor(data: Dataset, table: pd.DataFrame) -> dict[str, tuple[bool, int]] | None:
    """For ``uci-sf``: each customer's side of the anchor's split and its place there, or None.

    Rows keep the anchor's order: XGBoost's quantile sketch depends on it (0.7683 in the anchor's
    order, as its report has, 0.7698 in id order); SecureBoost's binning does not.
    """
    if not data.anchor:
        return None
    train, test = anchor_split(len(table))
    ids = table["id"].to_numpy()
    return {**{ids[p]: (False, r) for r, p in enumerate(train)}, **{ids[p]: (True, r) for r, p in enumerate(test)}}


def _cpu_seconds() -> float:
    """CPU time of this process and its live worker processes (Linux ``/proc``; 0 for workers elsewhere)."""
    total = sum(os.times()[:4])  # own user + system, and children already reaped
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """One party of one workload: PSI, split, train, evaluate (a dealer takes part in MPC steps only)."""
    return _workload(cluster, [me], args)[me]


def simulate_main(args: dict[str, Any]) -> dict[str, Any]:
    """The workload with every party in this process (``Cluster.simulate``); run in a fresh process."""
    import accord

    parties = ["bank", "partner", "carol"] if args["workload"] == "lr-dealer" else ["bank", "partner"]
    with accord.Cluster.simulate(parties, job="bench-credit-risk") as cluster:
        results = _workload(cluster, parties, args)
    return {"parties": results, "peak_rss_bytes": peak_rss_bytes()}


def _simulate(args: dict[str, Any]) -> dict[str, Any]:
    """:func:`simulate_main` in a fresh Python process (a main process: its worker pools stop at exit)."""
    code = ("import json, sys; from accord.runtime import allocator; allocator.tune(); from benchmarks.credit_risk "
            "import simulate_main; print(json.dumps(simulate_main(json.loads(sys.argv[1]))))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=3600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"the simulation failed with exit code {done.returncode}:\n{done.stderr[-3000:]}")
    return cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))


def _workload(cluster: Any, hosted: list[str], args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """PSI, split, train and evaluate; figures for each party in ``hosted`` (CPU and time: this process's)."""
    import accord

    data = DATASETS[args["data"]]
    full = load(data.name, CACHE)
    anchor = _anchor(data, full)
    bank_df, partner_df = split_parties(full, data=data)
    frames = {"bank": bank_df, "partner": partner_df}
    tables = {p: cluster.party(p).put(frames[p]) if p in hosted else cluster.party(p).remote_table()
              for p in ("bank", "partner")}
    start = time.perf_counter()
    a, b = accord.psi.align(tables["bank"], tables["partner"], on="id")
    psi_seconds = time.perf_counter() - start
    mine = a if "bank" in hosted else b if "partner" in hosted else None
    rows = len(cluster.party(mine.owner).apply(lambda df: df["id"], mine).get()) if mine is not None else None

    def pick(t: Any, test: bool) -> Any:
        return cluster.party(t.owner).apply(
            lambda df: df.iloc[_split(df["id"], anchor)[int(test)]].reset_index(drop=True), t)

    a_tr, a_te, b_tr, b_te = pick(a, False), pick(a, True), pick(b, False), pick(b, True)
    train = [a_tr[data.bank], b_tr[data.partner]]
    test = [a_te[data.bank], b_te[data.partner]]
    before = len(cluster.report().runs)
    cpu = _cpu_seconds()
    start = time.perf_counter()
    if args["workload"] == "secureboost":
        extra = {"max_bin": args["max_bin"]} if args.get("max_bin") else {}
        extra.update({"he": args["he"]} if args.get("he") else {})
        model = accord.ml.SecureBoost(label=a_tr[data.label], positive=data.positive, n_trees=args["trees"],
                                      max_depth=args["depth"], learning_rate=args["lr"], workers=args["workers"],
                                      key_bits=args["key_bits"], allow_insecure_key_size=args["key_bits"] < 2048,
                                      **extra)
    else:
        engine = cluster.mpc(["bank", "partner"], dealer="carol") if args["workload"] == "lr-dealer" \
            else cluster.mpc(["bank", "partner"], mode="ot")
        model = accord.ml.LogisticRegression(label=a_tr[[data.label]], positive=data.positive, engine=engine,
                                             epochs=args["epochs"], batch_size=args["batch"],
                                             learning_rate=args["lr_step"])
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu
    runs = cluster.report().runs[before:]
    metrics = model.evaluate(test, a_te[data.label])
    bank = "bank" in hosted
    return {me: {
        "rows": rows, "psi_seconds": psi_seconds, "seconds": fit_seconds, "cpu_seconds": cpu,
        "train_rows": len(a_tr.get()) if bank else None,
        "bytes": sum(r.costs[me].bytes_sent for r in runs if me in r.costs),
        "rounds": sum(r.costs[me].rounds for r in runs if me in r.costs),
        "auc": metrics.get()["auc"] if bank else None, "ks": metrics.get()["ks"] if bank else None,
        "phases": {op: round(c[me].seconds, 2) for r in runs for op, c in r.ops.items() if me in c and c[me].seconds},
    } for me in hosted}


def plaintext_baselines(name: str, trees: int, depth: int, lr: float) -> dict[str, float]:
    """Test AUC of XGBoost (default ``hist``) and scikit-learn logistic regression on the joined rows, same split."""
    from accord.ml.columns import is_categorical
    from accord.ml.metrics import roc_auc

    data = DATASETS[name]
    full = load(name, CACHE)
    bank_df, partner_df = split_parties(full, data=data)
    joined = bank_df.merge(partner_df, on="id")  # the rows PSI finds
    train, test = _split(joined["id"], _anchor(data, full))
    x = joined[data.bank + data.partner].copy()
    y = (joined[data.label].astype(str) == str(data.positive)).to_numpy().astype(int)
    categorical = [c for c in x.columns if is_categorical(x[c])]
    out: dict[str, float] = {}
    try:
        import xgboost

        boosted = x.astype({c: "category" for c in categorical})
        booster = xgboost.XGBClassifier(n_estimators=trees, max_depth=depth, learning_rate=lr, tree_method="hist",
                                        enable_categorical=True)
        booster.fit(boosted.iloc[train], y[train])
        out["xgboost"] = roc_auc(y[test], booster.predict_proba(boosted.iloc[test])[:, 1])
    except ImportError:
        print("xgboost not installed: pip install xgboost-cpu for the plaintext boosting baseline")
    try:
        from sklearn.linear_model import LogisticRegression

        numeric = x.drop(columns=categorical).astype(float)
        numeric = numeric.fillna(numeric.iloc[train].mean())
        dummies = [pd.get_dummies(x[categorical], dtype=float)] if categorical else []
        wide = pd.concat([numeric, *dummies], axis=1).to_numpy()
        mean, std = wide[train].mean(axis=0), wide[train].std(axis=0)
        std[std == 0] = 1.0
        model = LogisticRegression(max_iter=5000).fit((wide[train] - mean) / std, y[train])
        out["sklearn_lr"] = roc_auc(y[test], model.decision_function((wide[test] - mean) / std))
    except ImportError:
        print("scikit-learn not installed: pip install scikit-learn for the plaintext LR baseline")
    return out


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--data", default=None, help="tables, comma-separated: uci, adult, uci-sf, wide, "
                        "synthetic "
                        "(default uci,adult; synthetic with --quick)")
    parser.add_argument("--models", default="secureboost,lr-ot,lr-dealer", help="workloads, comma-separated")
    parser.add_argument("--max-bin", type=int, default=0, help="SecureBoost max_bin (default: accord's)")
    parser.add_argument("--he", default="", help="SecureBoost encryption: ou or paillier (default: accord's)")
    parser.add_argument("--trees", type=int, default=None, help="SecureBoost trees (default 5)")
    parser.add_argument("--depth", type=int, default=None, help="SecureBoost depth (default 5)")
    parser.add_argument("--lr", type=float, default=0.3, help="SecureBoost learning rate")
    parser.add_argument("--epochs", type=int, default=None, help="logistic regression epochs (default 5)")
    parser.add_argument("--batch", type=int, default=None, help="logistic regression batch size (default 1024)")
    parser.add_argument("--lr-step", type=float, default=2.0, help="logistic regression step size")
    parser.add_argument("--workers", type=int, default=None, help="HE processes per party (default: cores)")
    parser.add_argument("--reps", type=int, default=1, help="runs of each workload (fresh processes each)")
    parser.add_argument("--mode", choices=["loopback", "sim"], default="loopback",
                        help="loopback: a process per party over mTLS; sim: every party in one process")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    sizes.update({k: getattr(args, k) for k in ("trees", "depth", "epochs", "batch", "workers")
                  if getattr(args, k) is not None})
    figures: dict[str, dict[str, Any]] = {}
    for name in (args.data or ("synthetic" if args.quick else "uci,adult")).split(","):
        load(name, CACHE)  # fetch once before the parties start
        baselines = plaintext_baselines(name, sizes["trees"], sizes["depth"], args.lr)
        for workload in args.models.split(","):
            parties = ["bank", "partner", "carol"] if workload == "lr-dealer" else ["bank", "partner"]
            settings = {**sizes, "lr": args.lr, "lr_step": args.lr_step, "max_bin": args.max_bin, "he": args.he,
                        "mode": args.mode}
            runs = [_run(name, workload, parties, settings, baselines) for _ in range(args.reps)]
            key = f"{name}/{workload}" + ("/sim" if args.mode == "sim" else "")
            median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            figures[key] = {**median, "runs": runs} if len(runs) > 1 else median
    write_json(args.json, figures)


def _run(name: str, workload: str, parties: list[str], settings: dict[str, Any],
         baselines: dict[str, float]) -> dict[str, Any]:
    """One run of one workload (processes over mTLS, or one simulating process); prints and returns its figures."""
    args = {**settings, "data": name, "workload": workload}
    if settings["mode"] == "sim":
        simulated = _simulate(args)
        results = simulated["parties"]
        cpu, memory_note = results["bank"]["cpu_seconds"], {"all parties": simulated["peak_rss_bytes"]}
        per_party_cpu = {"all parties": cpu}
        per_party: dict[str, Any] = {"peak_rss_bytes": simulated["peak_rss_bytes"]}
    else:
        results = run_processes("benchmarks.credit_risk:party_main", parties, args)
        cpu = sum(r["cpu_seconds"] for r in results.values())
        memory_note = {p: r["peak_rss_bytes"] for p, r in results.items()}
        per_party_cpu = {p: r["cpu_seconds"] for p, r in results.items()}
        per_party = party_memory(results)
    bank = results["bank"]
    seconds = max(r["seconds"] for r in results.values())
    baseline = baselines.get("xgboost" if workload == "secureboost" else "sklearn_lr")
    sent = ", ".join(f"{p} {human_bytes(r['bytes'])}" for p, r in results.items())
    split = ", ".join(f"{p} {c:.1f}" for p, c in per_party_cpu.items())
    print(f"{name} {workload} ({settings['mode']}): {seconds:.1f} s ({cpu:.1f} CPU s: {split}), test AUC "
          f"{bank['auc']:.4f} (plaintext {'n/a' if baseline is None else f'{baseline:.4f}'}), KS {bank['ks']:.4f}; "
          f"sent {sent}; {bank['rounds']} rounds; PSI {bank['psi_seconds']:.1f} s for {bank['rows']} rows, "
          f"{bank['train_rows']} training rows; {memory(memory_note)}; load average {os.getloadavg()[0]:.1f}")
    for party, r in results.items():
        if r["phases"]:
            print(f"  {party} busy: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items()))
    return {"seconds": seconds, "cpu_seconds": per_party_cpu, "cpu_seconds_total": cpu,
            "bytes": sum(r["bytes"] for r in results.values()),
            "rounds": bank["rounds"], "auc": bank["auc"], "ks": bank["ks"], "train_rows": bank["train_rows"],
            "plaintext_auc": baseline, "xgboost_auc": baselines.get("xgboost"),
            "sklearn_lr_auc": baselines.get("sklearn_lr"), "psi_seconds": bank["psi_seconds"], "rows": bank["rows"],
            "load_average": os.getloadavg()[0], **per_party}


if __name__ == "__main__":
    main()
