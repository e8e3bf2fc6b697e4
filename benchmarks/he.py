"""Paillier throughput of accord.he on one core and on all cores, plus a two-party bucket-sum job.

Run (2048-bit keys by default; compare with ``../shared/anchors/bench_paillier.py``, beside this
repository, run in the same hour for HEU):

    python -m benchmarks.he [--bits 2048] [--json out.json]
    python -m benchmarks.he --quick                  # 1024-bit keys, batches a tenth the size: a smoke run

Each workload reports operations per second; "decrypt packed" counts decrypted *values* per second.
The one-core phase pins this process to one CPU (like ``taskset -c 0``) when the OS allows it. The
all-cores phase, bracketed by measurements of how many cores are really free, uses a WorkerPool of
every core (processes for encryption and bucket sums, threads for decryption). Plaintexts follow
the anchor script: ints in [0, 2**32) and multipliers in [1, 2**31).
When python-paillier (``phe``, in the test extra) is installed, its encrypt, decrypt, ct+ct and
ct×scalar run on the same core with the same plaintexts (``phe_<workload>.1core``); without it that
comparison is skipped with a note. ``--json`` writes ``{"<workload>": {"seconds", "bytes", "rounds",
"ops", "ops_per_s", "cores", "bits", "peak_rss_bytes"}}``; local workloads send nothing (bytes is the
size the result would have on the wire, rounds 0); peak memory is this process's so far (worker
processes not included).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import accord
from accord.crypto.random import Rng
from accord.he import Paillier, SlotPacking, WorkerPool
from accord.he.cipher_array import CipherArray
from benchmarks.common import memory, options, peak_rss_bytes, write_json


def _spin(seconds: float) -> float:
    """Square a 4096-bit number modulo an odd 4096-bit one for about ``seconds``; returns the time per step.

    The modulus need not be prime (finding a 4096-bit prime took longer than the measurement).
    """
    from gmpy2 import mpz

    modulus = mpz(3) ** 2580 + 2
    x, steps, start = mpz(7), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            x = x * x % modulus
        steps += 1000
    return (time.perf_counter() - start) / steps


def parallel_headroom(cores: int, when: str) -> dict[str, dict[str, Any]]:
    """How many cores are really free: one CPU-bound process alone versus ``cores`` of them at once.

    The all-cores figures are only meaningful when this is close to ``cores``; other jobs on the
    machine lower it.
    """
    import concurrent.futures
    import multiprocessing

    alone = _spin(0.5)
    with concurrent.futures.ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_spin, [0.05] * cores))
        together = max(pool.map(_spin, [0.5] * cores))
    return {f"calibration_free_cores_{when}": {"seconds": 0.5, "bytes": 0, "rounds": 0, "cores": cores,
                                                "effective_cores": round(cores * alone / together, 2),
                                                "peak_rss_bytes": peak_rss_bytes()}}


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Median wall time of ``reps`` runs of ``fn`` and the last result."""
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def suite(he: Paillier, sizes: dict[str, int], reps: int, cores: int) -> dict[str, dict[str, Any]]:
    """Every local workload with engine ``he``; returns figures keyed ``<workload>.<cores>``."""
    rng = np.random.default_rng(1)
    width = he.public_key.ciphertext_bytes
    tag = "1core" if cores == 1 else f"{cores}cores"
    out: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, ops: int, unit_bytes: int = width, **extra: Any) -> None:
        out[f"{name}.{tag}"] = {"seconds": seconds, "bytes": ops * unit_bytes, "rounds": 0, "ops": ops,
                               "ops_per_s": ops / seconds, "cores": cores, "peak_rss_bytes": peak_rss_bytes(), **extra}

    plain = rng.integers(0, 2**32, sizes["encrypt"], dtype=np.int64)
    seconds, cts = timed(lambda: he.encrypt(plain), reps)
    record("encrypt", seconds, len(plain))
    public = he.public()
    seconds, _ = timed(lambda: public.encrypt(plain), reps)
    record("encrypt_public_key", seconds, len(plain))

    few = cts[: sizes["decrypt"]]
    seconds, got = timed(lambda: he.decrypt(few), reps)
    assert np.array_equal(got, plain[: len(got)])
    record("decrypt", seconds, len(few), unit_bytes=8)

    many = CipherArray(he, (cts.values * (sizes["add"] // len(cts.values) + 1))[: sizes["add"]], (sizes["add"],), 0,
                       cts.bound_bits)
    seconds, _ = timed(lambda: many + many, reps)
    record("ct+ct", seconds, many.size)

    multipliers = rng.integers(1, 2**31, sizes["mul"], dtype=np.int64)
    subset = cts[: sizes["mul"]]
    seconds, prod = timed(lambda: subset * multipliers, reps)
    assert he.decrypt(prod[:3]).tolist() == (plain[:3].astype(object) * multipliers[:3].astype(object)).tolist()
    record("ct*scalar", seconds, len(multipliers))

    rows = CipherArray(he, (cts.values * (sizes["bucket"] // len(cts.values) + 1))[: sizes["bucket"]],
                       (sizes["bucket"],), 0, cts.bound_bits)
    groups = rng.integers(0, 100, rows.size)
    seconds, sums = timed(lambda: rows.bucket_sum(groups, 100), reps)
    repeated = np.resize(plain, rows.size).astype(object)
    assert he.decrypt(sums).tolist() == [int(repeated[groups == g].sum()) for g in range(100)]
    record("bucket_sum_1e5_into_100", seconds, rows.size, groups=100)

    weights = rng.normal(size=(sizes["dot"], 4))
    seconds, _ = timed(lambda: cts[: sizes["dot"]] @ weights, reps)
    record("dot_real_weights_4_columns", seconds, sizes["dot"] * 4)

    seconds, _ = timed(lambda: cts[: sizes["rerandomize"]].rerandomize(), reps)
    record("rerandomize", seconds, sizes["rerandomize"])

    # SecureBoost-style packed results: (gradient, hessian) bucket sums of up to 1e5 samples, compressed.
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=100_000, frac_bits=32)
    gh = np.stack([rng.uniform(-1, 1, sizes["packed"]), rng.uniform(0, 0.25, sizes["packed"])], axis=1)
    packed = he.encrypt_packed(gh, layout)
    seconds, compact = timed(packed.compress, 1)
    record("compress_packed", seconds, packed.size, per_ciphertext=layout.vectors_per_plaintext(he.public_key.bits))
    seconds, values = timed(lambda: he.decrypt(compact), reps)
    np.testing.assert_allclose(values, gh, atol=2.0**-32)
    record("decrypt_packed_values", seconds, values.size, unit_bytes=8, ciphertexts=compact.size,
           values_per_ciphertext=2 * compact.per_ciphertext)
    return out


def phe_suite(bits: int, sizes: dict[str, int], reps: int) -> dict[str, dict[str, Any]]:
    """python-paillier on the same plaintexts as :func:`suite`, one core; empty if phe is not installed."""
    try:
        import phe
    except ImportError:
        print("phe is not installed (pip install phe): skipping the python-paillier comparison")
        return {}
    rng = np.random.default_rng(1)
    public, private = phe.generate_paillier_keypair(n_length=bits)
    width = 2 * bits // 8
    out: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, ops: int, unit_bytes: int = width) -> None:
        out[f"phe_{name}.1core"] = {"seconds": seconds, "bytes": ops * unit_bytes, "rounds": 0, "ops": ops,
                                    "ops_per_s": ops / seconds, "cores": 1, "peak_rss_bytes": peak_rss_bytes(),
                                    "peer": f"phe {phe.__version__}"}

    plain = [int(v) for v in rng.integers(0, 2**32, sizes["phe"])]
    seconds, cts = timed(lambda: [public.encrypt(v) for v in plain], reps)
    record("encrypt", seconds, len(plain))
    seconds, got = timed(lambda: [private.decrypt(c) for c in cts], reps)
    if got != plain:
        raise SystemExit("phe decrypted something else than it encrypted")
    record("decrypt", seconds, len(cts), unit_bytes=8)
    many = cts * 20
    seconds, _ = timed(lambda: [a + b for a, b in zip(many, many)], reps)
    record("ct+ct", seconds, len(many))
    multipliers = [int(v) for v in rng.integers(1, 2**31, len(cts))]
    seconds, _ = timed(lambda: [c * m for c, m in zip(cts, multipliers)], reps)
    record("ct*scalar", seconds, len(cts))
    return out


def two_party_job(bits: int, samples: int, workers: int) -> dict[str, dict[str, Any]]:
    """Bank encrypts labels, partner sums them into 100 buckets and returns them; costs from the job report."""
    rng = np.random.default_rng(2)
    labels, groups = rng.integers(0, 2, samples), rng.integers(0, 100, samples)
    start = time.perf_counter()
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        with cluster.he(key_owner="bank", bits=bits, workers=workers, allow_insecure_key_size=bits < 2048) as he:
            at_partner = he.send(he.encrypt(bank.put(labels)), to="partner")
            sums = partner.apply(lambda c, g: c.bucket_sum(g, 100), at_partner, partner.put(groups))
            result = he.decrypt(sums).get()
        seconds = time.perf_counter() - start
        report = cluster.report().to_dict()["protocols"]
    assert result.tolist() == np.bincount(groups, weights=labels, minlength=100).astype(int).tolist()
    sent = sum(c["bytes_sent"] for p in report.values() for c in p["costs"].values())
    rounds = sum(max(c["rounds"] for c in p["costs"].values()) * p["runs"] for p in report.values())
    return {f"two_party_bucket_sum_{samples}.{workers}cores": {"seconds": seconds, "bytes": sent, "rounds": rounds,
                                                              "samples": samples, "groups": 100,
                                                              "peak_rss_bytes": peak_rss_bytes()}}


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--bits", type=int, default=None, help="Paillier modulus bits (default 2048, quick 1024)")
    parser.add_argument("--reps", type=int, default=None, help="runs per workload (median; default 5, quick 1)")
    args = parser.parse_args()
    bits = args.bits or (1024 if args.quick else 2048)
    reps = args.reps or (1 if args.quick else 5)
    scale = 10 if args.quick else 1
    sizes = {"encrypt": 4000 // scale, "decrypt": 1000 // scale, "add": 100_000 // scale, "mul": 2000 // scale,
             "bucket": 100_000 // scale, "dot": 2000 // scale, "rerandomize": 200 // scale,
             "packed": 4000 // scale, "phe": 200 // scale}
    cores = os.cpu_count() or 1
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    key = Paillier.generate(bits, allow_insecure_key_size=bits < 2048, rng=Rng())
    results: dict[str, dict[str, Any]] = {}

    if allowed:
        os.sched_setaffinity(0, {min(allowed)})
    one = Paillier(key.public_key, key.private_key, pool=WorkerPool(1))
    one.encrypt(np.arange(10))  # build the fixed-base tables outside the timings
    results.update(suite(one, sizes, reps, 1))
    results.update(phe_suite(bits, sizes, reps))
    if allowed:
        os.sched_setaffinity(0, allowed)

    results.update(parallel_headroom(cores, "before"))
    with WorkerPool(cores) as pool:
        every = Paillier(key.public_key, key.private_key, pool=pool)
        every.encrypt(np.arange(2000 // scale))  # start the workers and build their tables
        every.public().encrypt(np.arange(2000 // scale))
        results.update(suite(every, sizes, reps, cores))
    results.update(parallel_headroom(cores, "after"))
    results.update(two_party_job(bits, sizes["bucket"] // 10, cores))

    before, after = (results[f"calibration_free_cores_{w}"]["effective_cores"] for w in ("before", "after"))
    print(f"accord.he Paillier-{bits}, {cores} cores; free cores measured before/after the all-cores "
          f"phase: {before}/{after} (all-cores figures mean little unless both are near {cores})")
    print(f"{'workload':44s} {'ops/s':>12s} {'seconds':>9s}")
    for name, figures in results.items():
        if name.startswith("calibration"):
            continue
        rate = figures.get("ops_per_s")
        extra = f"{rate:12.0f}" if rate else f"{'':12s}"
        print(f"{name:44s} {extra} {figures['seconds']:9.3f}  bytes={figures['bytes']} rounds={figures['rounds']}")
    print(memory({"process": peak_rss_bytes()}))
    write_json(args.json, {name: {**figures, "bits": bits} for name, figures in results.items()})


if __name__ == "__main__":
    main()
