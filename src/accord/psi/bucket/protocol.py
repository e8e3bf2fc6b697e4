"""Bucketed PSI: split both tables by a keyed hash and run a PSI bucket by bucket, with bounded memory.

Both parties:

1. send a hello: the call (mode, protocol, receivers), a bucket count (from their row count and
   memory bound), a SHA-256 commitment to a fresh 16-byte nonce, and the digest and completed buckets
   of a stored run of this call that they could resume;
2. if both hold the same stored run, resume it: the buckets both completed are kept and the others
   run again. Otherwise reveal the nonces, check them against the commitments, and key the bucket
   hash with ``SHA-256(nonce_1 || nonce_2)``: committing first means neither party chose its nonce
   after seeing the other's, so neither controls which keys share a bucket. The bucket count is the
   larger of the two proposals;
3. read their table in batches and spill each row to its bucket's Arrow IPC file in the state
   directory (:mod:`accord.psi.bucket.spill`), then tell each other which buckets hold rows;
4. run the chosen PSI (:mod:`accord.psi.rr22`, :mod:`accord.psi.kkrt` or :mod:`accord.psi.ecdh`) on
   each bucket that both hold rows in, under a sub-session of its own, and store each bucket's result
   atomically (a checkpoint); a bucket one side holds no rows in has an empty result. On workers (a
   process pool or Ray, :mod:`accord.psi.bucket.pool`) the buckets run in rounds: after each, both
   parties say which buckets they completed, and the ones either lost run again at both;
5. write the output from the bucket results in bucket order, under a temporary name renamed at the
   end, and delete the run's state.

Results are in a fixed order, so a resumed run writes exactly what an uninterrupted one with the same
bucket key writes: buckets in order; in join mode rows by canonical key bytes (ties in the shared
order of the per-bucket join), in semi mode in table order.

Memory: one input batch while spilling, then one bucket and its PSI at a time. Disk: about the input's
size (the spill) plus the output. Rounds: 2 (3 when drawing a fresh key) plus each bucket's PSI, plus one
per round of buckets on workers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from accord.dp.ledger import state_dir
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.psi._delivery import check_call
from accord.psi.bucket import spill
from accord.psi.bucket.messages import MAX_BUCKETS, MAX_RETRIES, MAX_WORKERS, Hello, Tag, check_nonce, check_ready
from accord.psi.bucket.pool import solve_remote
from accord.psi.bucket.solve import PROTOCOLS, BucketCall, solve_bucket
from accord.psi.bucket.state import Manifest, RunState
from accord.psi.ecdh import LEAKAGE as ECDH_LEAKAGE
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; 2 parties, no trusted third party; the bucket key is SHA-256 of two "
    "nonces, each committed (SHA-256 as a random oracle) before either is revealed; each bucket's PSI has the "
    "threat model of the protocol that runs it (RR22, KKRT or ECDH)"
)
BUCKET_LEAKAGE = (
    "both parties learn the number of buckets each party asked for (about its row count times "
    "1024 bytes over its memory bound), and, for every bucket, each party's number of distinct keys in it "
    "(so a histogram of each party's keys under a hash key neither party chose alone) and whether a resumable "
    "run of the call is stored and which of its buckets were completed; with buckets on workers, which buckets "
    "each party completed in each round (so which ones a failed worker lost); within each bucket, what that "
    "bucket's PSI reveals"
)
LEAKAGE = f"{BUCKET_LEAKAGE}. Per bucket, e.g. for ECDH: {ECDH_LEAKAGE}"
MODES = ("join", "semi")
ROW_BYTES = 1024           # peak memory per row of a bucket's PSI (measured: benchmarks/psi_scale.py)
SPILL_SECONDS = 120.0      # time a party waits for its peer to spill one bucket's worth of rows


@dataclass(frozen=True)
class BucketSettings:
    """How one party runs a bucketed PSI.

    Parameters
    ----------
    run:
        Name of the run (both parties use the same one); its state lives in ``<state dir>/psi/<run>/<party>``.
    mode:
        ``"join"`` (both receive their rows of the inner join) or ``"semi"`` (receivers get their
        matching rows).
    protocol:
        ``"rr22"``, ``"kkrt"`` or ``"ecdh"`` (resolved, not ``"auto"``).
    memory:
        Memory bound in bytes for one bucket's PSI at this party (default 4 GiB).
    buckets:
        A bucket count to ask for instead of one derived from ``memory``; the larger request wins.
    state_dir:
        The party's state directory (default: ``$ACCORD_STATE_DIR`` or the XDG state home).
    threads:
        ECDH's curve threads (ECDH only).
    batch_rows:
        Rows read at a time while spilling.
    workers:
        Buckets run at once, each in a worker process of this party (:mod:`accord.psi.bucket.pool`);
        both parties run the smaller of their two numbers, and ``memory`` is shared among them.
    ray_address:
        Run the buckets as tasks on this party's Ray cluster at this address (``"local"``: start one on
        this machine) instead of a local process pool, even with one worker.
    retries:
        Times a bucket whose worker failed (here or at the peer) runs again within the job.
    gateway_host:
        Address the party's gateway listens on for its workers: loopback, or the party's internal
        address when Ray runs workers on other machines.
    """

    run: str
    mode: str = "join"
    protocol: str = "rr22"
    memory: int = 4 << 30
    buckets: int | None = None
    state_dir: str | Path | None = None
    threads: int | None = None
    batch_rows: int = 1 << 20
    workers: int = 1
    ray_address: str | None = None
    retries: int = 2
    gateway_host: str = "127.0.0.1"


@protocol("psi.bucketed", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def bucketed_psi(ctx: Context, source: spill.Source, on: Sequence[str], receivers: Sequence[str],
                 output: str | Path | None, settings: BucketSettings) -> dict[str, Any]:
    """Run a bucketed PSI of ``source`` (a table, or a Parquet or CSV file) on the key columns ``on``.

    A receiver writes its result to ``output`` (``.parquet`` or ``.csv``). Returns this party's
    summary: rows written, buckets, buckets resumed and run, and the disk the run's state took.
    """
    receivers = check_call(ctx, "bucketed", settings.mode, MODES, receivers)
    if settings.protocol not in PROTOCOLS:
        raise ConfigurationError(f"bucketed PSI runs one of {sorted(PROTOCOLS)}, got {settings.protocol!r}")
    peer = ctx.peers[0]
    spill.check_source(source, party=ctx.me)
    out_path = _check_output(output, ctx.me) if ctx.me in receivers else None
    state = RunState(state_dir(settings.state_dir), settings.run, ctx.me)
    call = {"mode": settings.mode, "protocol": settings.protocol, "receivers": receivers, "on": list(on),
            "parties": list(ctx.parties), "source": spill.fingerprint(source), "output": str(out_path)}
    manifest, done, workers = _agree(ctx, state, call, settings, _proposal(source, settings))
    resumed = len(done)
    if manifest.kinds is None:
        state.clear_spill()
        kinds, rows = spill.spill(source, on, bytes.fromhex(manifest.key), manifest.buckets, state.spill,
                                  party=ctx.me, batch_rows=settings.batch_rows)
        manifest = replace(manifest, kinds=list(kinds), rows=rows.tolist())
        state.save(manifest)
    mine = np.asarray(manifest.rows, dtype=np.int64) > 0
    step = f"{ctx.path}/{Tag.READY.value}"
    theirs = check_ready(ctx.exchange(mine.astype(np.uint8), Tag.READY.value,
                                      timeout=ctx.timeout + SPILL_SECONDS * manifest.buckets)[peer],
                         manifest.buckets, peer, step)
    tally = _Tally(ctx, state, manifest.buckets, done)
    retried = _run_buckets(ctx, state, [b for b in range(manifest.buckets) if b not in done], mine & theirs, on,
                           receivers, settings, workers, tally)
    written = _write_output(state, manifest.buckets, out_path) if out_path is not None else 0
    state.clear()
    return {"rows": written, "buckets": manifest.buckets, "resumed": resumed,
            "ran": manifest.buckets - resumed, "retried": retried, "disk_bytes": tally.disk,
            "workers": max(workers, 1)}


def _run_buckets(ctx: Context, state: RunState, pending: list[int], both: np.ndarray, on: Sequence[str],
                 receivers: list[str], settings: BucketSettings, workers: int, tally: _Tally) -> int:
    """Run the pending buckets here one at a time (``workers=0``) or on ``workers`` workers; returns re-runs."""
    call = BucketCall(tuple(on), tuple(receivers), settings.mode, settings.protocol, settings.threads)
    remote = {}
    for b in pending:
        files = spill.bucket_path(state.spill, b), spill.bucket_path(state.out, b)
        if not both[b]:  # one side holds no rows here: the result is empty, with no message
            solve_bucket(None, *files, call)
            tally.completed(b, True)
        elif not workers:
            solve_bucket(ctx.sub(f"bucket{b}"), *files, call)
            tally.completed(b, True)
        else:
            remote[b] = files
    if not remote:
        return 0
    return solve_remote(ctx, remote, workers, call, tally.completed, ray_address=settings.ray_address,
                        retries=settings.retries, gateway_host=settings.gateway_host)


def _proposal(source: spill.Source, settings: BucketSettings) -> int:
    if not 1 <= settings.workers <= MAX_WORKERS:
        raise ConfigurationError(f"workers must be in [1, {MAX_WORKERS}], got {settings.workers}")
    if not 0 <= settings.retries <= MAX_RETRIES:
        raise ConfigurationError(f"retries must be in [0, {MAX_RETRIES}], got {settings.retries}")
    if settings.buckets is not None:
        if not 1 <= settings.buckets <= MAX_BUCKETS:
            raise ConfigurationError(f"buckets must be in [1, {MAX_BUCKETS}], got {settings.buckets}")
        return settings.buckets
    if settings.memory < 64 << 20:
        raise ConfigurationError(f"the memory bound must be at least 64 MiB, got {settings.memory} bytes")
    per_worker = settings.memory // settings.workers
    return min(MAX_BUCKETS, max(1, math.ceil(spill.count_rows(source) * ROW_BYTES / per_worker)))


def _agree(ctx: Context, state: RunState, call: dict[str, Any], settings: BucketSettings,
           proposal: int) -> tuple[Manifest, set[int], int]:
    """Agree on the run: resume a stored one both hold, or draw a fresh bucket key together."""
    peer = ctx.peers[0]
    stored = state.resumable(call)
    nonce = ctx.rng.bytes(16)
    hello = Hello(settings.mode, settings.protocol, call["receivers"], proposal, _commit(nonce),
                  stored.digest if stored else b"",
                  np.asarray(state.done(stored.buckets) if stored else [], dtype=np.int64), settings.workers,
                  settings.ray_address is not None)
    step = f"{ctx.path}/{Tag.HELLO.value}"
    theirs = Hello.from_wire(ctx.exchange(hello.to_wire(), Tag.HELLO.value)[peer], peer, step)
    if (theirs.mode, theirs.protocol, theirs.receivers) != (hello.mode, hello.protocol, hello.receivers):
        raise ConfigurationError(
            f"party {ctx.me!r} runs bucketed {hello.protocol} PSI in mode {hello.mode!r} with result to "
            f"{hello.receivers}, but party {peer!r} runs {theirs.protocol} in mode {theirs.mode!r} with result to "
            f"{theirs.receivers}: both must call it alike")
    if stored is not None and theirs.resume == stored.digest:
        done = set(state.done(stored.buckets)) & set(theirs.done.tolist())
        state.drop_results(set(range(stored.buckets)) - done)
        return stored, done, _workers(settings, hello, theirs)
    step = f"{ctx.path}/{Tag.REVEAL.value}"
    their_nonce = check_nonce(ctx.exchange(nonce, Tag.REVEAL.value)[peer], peer, step)
    if _commit(their_nonce) != theirs.commit:
        raise MalformedMessage(f"party {peer!r} revealed a nonce that does not match its commitment", party=peer,
                               step=step)
    nonces = {ctx.me: nonce, peer: their_nonce}
    key = hashlib.sha256(b"accord-bucket-key|" + b"".join(nonces[p] for p in ctx.parties)).digest()[:16]
    manifest = Manifest(key.hex(), max(proposal, theirs.buckets), call)
    state.start(manifest)
    return manifest, set(), _workers(settings, hello, theirs)


def _workers(settings: BucketSettings, hello: Hello, theirs: Hello) -> int:
    """Buckets both run at once: the smaller offer; 0 when both run them in their own process."""
    workers = min(settings.workers, theirs.workers)
    return workers if workers > 1 or hello.remote or theirs.remote else 0


def _commit(nonce: bytes) -> bytes:
    return hashlib.sha256(b"accord-bucket-commit|" + nonce).digest()


class _Tally:
    """Progress and peak disk use, updated as each bucket completes (from any worker)."""

    def __init__(self, ctx: Context, state: RunState, buckets: int, done: set[int]) -> None:
        self.ctx, self.state, self.buckets, self.done = ctx, state, buckets, set(done)
        self.disk = state.disk_bytes()

    def completed(self, bucket: int, ok: bool) -> None:
        """Bucket ``bucket`` completed here (``ok``), or must run again."""
        if ok:
            self.done.add(bucket)
        else:
            self.done.discard(bucket)
        self.disk = max(self.disk, self.state.disk_bytes())
        self.ctx.progress("buckets", len(self.done), self.buckets)


def _check_output(output: str | Path | None, me: str) -> Path:
    if output is None:
        raise InputError("this party receives the result but was given no output path", party=me)
    path = Path(output)
    if path.suffix.lower() not in spill.SUFFIXES:
        raise InputError(f"output {path} must be a .parquet or .csv file", party=me)
    if not path.parent.is_dir():
        raise InputError(f"the directory of output {path} does not exist", party=me)
    return path


def _write_output(state: RunState, buckets: int, path: Path) -> int:
    """Concatenate the bucket results into ``path`` (atomically), one bucket in memory at a time."""
    partial = path.with_name(path.name + ".partial")
    written = 0
    schema = spill.load_schema(spill.bucket_path(state.out, 0))
    schema = schema.remove(schema.get_field_index(spill.ROW))
    writer: Any = pq.ParquetWriter(partial, schema) if path.suffix.lower() == ".parquet" \
        else pacsv.CSVWriter(partial, schema)
    try:
        with writer:
            for b in range(buckets):
                table = spill.load(spill.bucket_path(state.out, b)).drop_columns([spill.ROW])
                writer.write_table(table)
                written += table.num_rows
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return written
