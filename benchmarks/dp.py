"""Differential privacy: sampler throughput, release utility on the UCI credit data, joint DP releases.

    python -m benchmarks.dp [--quick] [--json out.json] [--anchors ../shared/anchors/dp]

1. Throughput of accord's exact samplers (discrete Gaussian σ and discrete Laplace scale b in {1, 100,
   1e4}; one call of n draws, median of reps, one thread) beside OpenDP 0.16's exact samplers
   (``dp.m.make_gaussian`` / ``make_laplace`` on i64 vectors, as ../shared/anchors/dp/bench_opendp.py
   runs them) when ``opendp`` is importable.
2. Utility: mean absolute error of count, clamped sums of AGE [18, 80] and LIMIT_BAL [0, 1e6] and the
   EDUCATION histogram (7 levels) over the 30,000 UCI rows, at ε in {0.1, 1, 10}, pure ε-DP (discrete
   Laplace) and (ε, 1e-6)-DP (discrete Gaussian). Beside it, OpenDP's mechanisms at the scales OpenDP's
   own calibration chose (``results/opendp_n1e6_reps3_util1000.json`` of the anchors) when opendp and
   the anchors are available.
3. Joint releases between two processes over loopback mTLS: a DP intersection count of the bank's and
   the partner's customer ids, and a DP histogram of late payments (bank: PAY_*) by age band (partner:
   AGE) over the PSI-aligned rows, noised under the shares: seconds, bytes, peak memory per party.

``--quick`` runs small sizes on synthetic rows in the UCI layout (benchmarks/credit_data.py), with no
download. ``--json`` writes ``{"throughput": {"<library>/<kind>/scale=<s>": {"samples_per_s", "n"}},
"utility": {"<family>/<query>/eps=<e>": {"mae", "mae_relative", "reps", ...}}, "joint":
{"<release>/<party>": {"seconds", "bytes_sent", "peak_rss_mib"}}, "meta": {...}}``.
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import human_bytes, memory, options, run_processes, write_json
from benchmarks.credit_data import load_uci, split_parties, synthetic_uci

SCALES = (1.0, 100.0, 10_000.0)
EPSILONS = (0.1, 1.0, 10.0)
DELTA = 1e-6
QUERIES = {"count": ("AGE", None), "sum_age": ("AGE", (18, 80)), "sum_limit_bal": ("LIMIT_BAL", (0, 1_000_000)),
           "hist_education": ("EDUCATION", list(range(7)))}


# ---------------------------------------------------------------------------------- throughput
def throughput(n: int, reps: int) -> dict[str, Any]:
    from accord.crypto.random import Rng
    from accord.dp.samplers import discrete_gaussian, discrete_laplace

    rng = Rng()
    out: dict[str, Any] = {}
    for kind, draw in (("gaussian", lambda s: discrete_gaussian(rng, Fraction(s) ** 2, n)),
                       ("laplace", lambda s: discrete_laplace(rng, Fraction(s), n))):
        for scale in SCALES:
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                draw(scale)
                times.append(time.perf_counter() - start)
            out[f"accord/{kind}/scale={scale:g}"] = {"samples_per_s": n / statistics.median(times), "n": n}
    try:
        import opendp.prelude as dp
    except ImportError:
        print("opendp not installed: `pip install opendp==0.16.0` to time its samplers beside accord's")
        return out
    dp.enable_features("contrib")
    zeros = np.zeros(n, dtype=np.int64)
    domain = dp.vector_domain(dp.atom_domain(T=dp.i64))
    for kind, metric in (("gaussian", dp.l2_distance(T=dp.i64)), ("laplace", dp.l1_distance(T=dp.i64))):
        for scale in SCALES:
            m = getattr(dp.m, f"make_{kind}")(domain, metric, scale=scale)
            m(zeros[:1000])
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                m(zeros)
                times.append(time.perf_counter() - start)
            out[f"opendp/{kind}/scale={scale:g}"] = {"samples_per_s": n / statistics.median(times), "n": n}
    return out


# ------------------------------------------------------------------------------------- utility
def _exact(df: pd.DataFrame, query: str) -> np.ndarray:
    column, arg = QUERIES[query]
    if query == "count":
        return np.array([len(df)])
    if query == "hist_education":
        return np.array([(df[column] == level).sum() for level in arg])
    return np.array([df[column].clip(*arg).sum()])


def _accord_release(df: pd.DataFrame, query: str, budget: Any, rng: Any) -> np.ndarray:
    from accord.dp import mechanisms as mech

    column, arg = QUERIES[query]
    if query == "count":
        return np.array([mech.count(len(df), budget, rng).value])
    if query == "hist_education":
        return np.array(list(mech.histogram(df[column], arg, budget, rng).value.values()))
    return np.array([mech.total(df[column], arg[0], arg[1], budget, rng).value])


def utility(df: pd.DataFrame, reps: int, anchors: Path | None) -> dict[str, Any]:
    from accord.crypto.random import Rng
    from accord.dp import Budget

    rng = Rng()
    theirs = _opendp_scales(anchors)
    out: dict[str, Any] = {}
    for family in ("laplace", "gaussian"):
        for eps in EPSILONS:
            budget = Budget(eps, 0.0 if family == "laplace" else DELTA)
            for query in QUERIES:
                exact = _exact(df, query)
                errors = [np.abs(_accord_release(df, query, budget, rng) - exact).mean() for _ in range(reps)]
                entry = {"mae": float(np.mean(errors)), "mae_relative": float(np.mean(errors) / exact.mean()),
                         "reps": reps}
                key = f"{family}/{query}/eps={eps:g}"
                if key in theirs:
                    entry["opendp_mae"] = _opendp_mae(family, theirs[key], exact, reps)
                    entry["opendp_scale"] = theirs[key]
                out[key] = entry
    return out


def _opendp_scales(anchors: Path | None) -> dict[str, float]:
    if anchors is None:
        return {}
    path = anchors / "results" / "opendp_n1e6_reps3_util1000.json"
    try:
        import opendp.prelude  # noqa: F401
        return {k: v["scale"] for k, v in json.loads(path.read_text())["utility"].items()}
    except (ImportError, OSError, KeyError, ValueError):
        print(f"OpenDP utility skipped (needs `pip install opendp==0.16.0` and {path})")
        return {}


def _opendp_mae(family: str, scale: float, exact: np.ndarray, reps: int) -> float:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    metric = dp.l2_distance(T=dp.i64) if family == "gaussian" else dp.l1_distance(T=dp.i64)
    m = getattr(dp.m, f"make_{family}")(dp.vector_domain(dp.atom_domain(T=dp.i64)), metric, scale=scale)
    values = exact.astype(np.int64)
    return float(np.mean([np.abs(np.asarray(m(values)) - values).mean() for _ in range(reps)]))


# ------------------------------------------------------------------------------- joint releases
def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import accord
    from accord.dp import Budget

    df = pd.read_csv(args["tables"][me])
    tables = {p: cluster.party(p).put(df) if p == me else cluster.party(p).remote_table() for p in ("bank", "partner")}
    figures: dict[str, Any] = {}
    start = time.perf_counter()
    accord.psi.count(tables["bank"], tables["partner"], on="id", to="bank", dp=Budget(1.0))
    figures["dp_count"] = _costs(cluster, me, start)
    start = time.perf_counter()
    a, b = accord.psi.align(tables["bank"], tables["partner"], on="id", protocol="kkrt")
    spu = cluster.mpc(["bank", "partner"], mode="ot")
    bank, partner = cluster.parties("bank", "partner")
    late = spu.share(bank.apply(lambda t: (t[[f"PAY_{i}" for i in (0, 2, 3, 4, 5, 6)]] > 0).sum(axis=1)
                                .to_numpy(np.int64), a))
    bands = spu.share(partner.apply(lambda t: np.eye(6, dtype=np.int64)[np.clip((t["AGE"].to_numpy() - 20) // 10,
                                                                                 0, 5)], b))
    hist = spu.run(lambda o, v: (o * v.reshape(-1, 1)).sum(axis=0), bands, late)
    spu.reveal(hist, to="bank", dp=Budget(1.0), sensitivity=6)
    figures["dp_histogram"] = _costs(cluster, me, start)
    return figures


def _costs(cluster: Any, me: str, start: float) -> dict[str, Any]:
    seconds = time.perf_counter() - start
    report = cluster.report()
    sent = sum(run.costs[me].bytes_sent for run in report.runs if me in run.costs)
    previous = getattr(cluster, "_bench_sent", 0)
    cluster._bench_sent = sent
    return {"seconds": seconds, "bytes_sent": sent - previous,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def joint(df: pd.DataFrame, rows: int) -> dict[str, Any]:
    bank, partner = split_parties(df.iloc[:rows].reset_index(drop=True))
    with tempfile.TemporaryDirectory(prefix="accord-dp-bench-") as tmp:
        tables = {"bank": str(Path(tmp) / "bank.csv"), "partner": str(Path(tmp) / "partner.csv")}
        bank.to_csv(tables["bank"], index=False)
        partner[["id", "AGE"]].to_csv(tables["partner"], index=False)
        results = run_processes("benchmarks.dp:party_main", ["bank", "partner"], {"tables": tables})
    print(memory({party: r["peak_rss_bytes"] for party, r in results.items()}))
    return {f"{what}/{party}": figures for party, r in results.items() for what, figures in r.items()
            if what != "peak_rss_bytes"}  # the process's peak at exit, beside each release's peak so far


def main() -> None:
    parser = options(__doc__)  # --quick: small sizes on synthetic rows (seconds), what the test suite runs
    parser.add_argument("--anchors", type=Path, default=Path(__file__).resolve().parents[2] / "shared/anchors/dp",
                        help="the DP anchors folder (OpenDP's calibrated scales)")
    args = parser.parse_args()
    n, reps, util_reps, rows = (20_000, 1, 20, 3_000) if args.quick else (1_000_000, 3, 1000, 30_000)
    figures: dict[str, Any] = {}
    figures["throughput"] = throughput(n, reps)
    for key, value in figures["throughput"].items():
        print(f"{key:>32}: {value['samples_per_s']:>12,.0f} samples/s")
    df = synthetic_uci(rows) if args.quick else load_uci(Path(tempfile.gettempdir()) / "accord-bench-cache")
    figures["utility"] = utility(df, util_reps, args.anchors if args.anchors.exists() else None)
    for key, value in figures["utility"].items():
        other = f"  OpenDP {value['opendp_mae']:.4g}" if "opendp_mae" in value else ""
        print(f"{key:>36}: MAE {value['mae']:.4g} ({value['mae_relative']:.2e} relative){other}")
    figures["joint"] = joint(df, rows)
    for key, value in figures["joint"].items():
        print(f"{key:>24}: {value['seconds']:.2f} s, sent {human_bytes(value['bytes_sent'])}, "
              f"peak {value['peak_rss_mib']:.0f} MiB")
    figures["meta"] = {"quick": args.quick, "rows": rows, "cpu_seconds": resource.getrusage(
        resource.RUSAGE_SELF).ru_utime, "theory_dlap_mae_eps1": 2 * math.exp(-1) / (1 - math.exp(-2))}
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
