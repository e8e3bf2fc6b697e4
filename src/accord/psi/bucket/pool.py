"""Buckets in parallel inside one party, on worker processes or Ray tasks behind the party's gateway.

The workers get neither the party's private key nor ports of their own: each worker reaches the peer
through a :class:`~accord.net.gateway.GatewayLink` to the :class:`~accord.net.gateway.Gateway` that the
party's process runs over its one mTLS link, and runs one bucket's PSI under that bucket's own
sub-session path, so the gateway multiplexes any number of buckets over the link. The workers are a
local process pool or the party's Ray cluster (:mod:`accord.psi.bucket.executors`), the same code path.

Retry: the buckets run in rounds. After a round each party tells the other which of its buckets
completed (one message each way); a bucket that failed at either party (its worker killed, its machine
lost) runs again at both in the next round under a fresh path ``bucket<b>/try<n>``, so no message of the
failed attempt can reach the new one. Once a bucket fails, the party starts no further bucket in the
round, so that its report (and the release of the peer's worker waiting on the lost bucket) comes as
soon as its running buckets end; the buckets not started run next round. When the peer's list arrives
first, the gateway cancels the receives of the buckets the peer failed, so the worker waiting on the
dead peer stops at once. A bucket stored at one party but failed at the other is overwritten by its
re-run; the output is written only from buckets completed at both. After ``retries`` rounds of retries
the job fails with an error naming the buckets.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accord.crypto.random import Rng
from accord.errors import AccordError, ProtocolAbort
from accord.net.gateway import TOKEN_BYTES, Gateway, GatewayLink
from accord.psi.bucket.executors import Executor, executor
from accord.psi.bucket.messages import Tag, check_round
from accord.psi.bucket.solve import BucketCall, solve_bucket
from accord.runtime.context import Context, Counters

_log = logging.getLogger("accord.psi")
BUCKET_SECONDS = 600.0  # longest a bucket of ~10^6 keys may take (for the wait on the peer's round report)


class BucketFailed(AccordError):
    """A bucket failed in every attempt the job allowed."""


@dataclass(frozen=True)
class BucketJob:
    """Everything a worker needs to run one bucket's PSI as its party (picklable: no key, no link)."""

    me: str
    parties: tuple[str, ...]
    gateway: tuple[str, int]
    token: bytes
    session: str
    path: str
    timeout: float
    rows_file: Path
    out_file: Path
    call: BucketCall
    bucket: int


def run_job(job: BucketJob) -> Counters:
    """Run one bucket in this worker; returns its traffic counters for the party's report."""
    link = GatewayLink(job.me, [p for p in job.parties if p != job.me], job.gateway, job.token)
    try:
        ctx = Context(job.me, job.parties, link, job.session, Rng(), timeout=job.timeout, path=job.path, op="bucket")
        solve_bucket(ctx, job.rows_file, job.out_file, job.call)
        return ctx.accounting.total.counters
    finally:
        link.close()


def solve_remote(ctx: Context, buckets: dict[int, tuple[Path, Path]], workers: int, call: BucketCall,
                 done: Callable[[int, bool], None], *, ray_address: str | None = None, retries: int = 2,
                 gateway_host: str = "127.0.0.1") -> int:
    """Run each bucket ``b: (rows file, result file)`` on ``workers`` workers, retrying failed ones.

    ``done(b, True)`` when bucket ``b`` completes here, ``done(b, False)`` when it must run again.
    Returns the number of bucket re-runs. If the job fails, the gateway closes first (every worker's
    pending receive fails at once), and the error is raised once the workers have stopped.
    """
    token = ctx.rng.bytes(TOKEN_BYTES)
    with contextlib.ExitStack() as stack:  # on the way out: the gateway closes first, then the workers stop
        pool = executor(workers, ray_address)
        stack.callback(pool.close)
        gateway = Gateway(ctx.link, token, gateway_host)
        stack.callback(gateway.close)
        pending, reruns = sorted(buckets), 0
        for attempt in range(retries + 1):
            jobs = {b: BucketJob(ctx.me, ctx.parties, gateway.address, token, ctx.session,
                                 f"{ctx.path}/bucket{b}/try{attempt}", ctx.timeout, *buckets[b], call, b)
                    for b in pending}
            pending = _round(ctx, gateway, pool, jobs, attempt, workers, done)
            if not pending:
                return reruns
            for b in pending:
                done(b, False)
            if attempt < retries:
                _log.warning("party %s: bucket(s) %s failed (attempt %d of %d); running them again", ctx.me,
                             pending, attempt + 1, retries + 1)
                reruns += len(pending)
        raise BucketFailed(f"bucketed PSI: bucket(s) {pending} failed in all {retries + 1} attempts "
                           f"(at {ctx.me!r} or its peer; see the log for each cause)")


def _round(ctx: Context, gateway: Gateway, pool: Executor, jobs: dict[int, BucketJob], attempt: int,
           workers: int, done: Callable[[int, bool], None]) -> list[int]:
    """Run one round of bucket jobs; returns the buckets that failed at either party, in order."""
    peer, tag = ctx.peers[0], f"{Tag.ROUND.value}{attempt}"
    theirs: set[int] = set()
    errors: list[BaseException] = []

    def listen() -> None:  # the peer's report can come while our workers still wait on its dead ones
        try:
            theirs.update(check_round(ctx.recv(peer, tag, timeout=ctx.timeout + BUCKET_SECONDS * math.ceil(
                len(jobs) / workers)), set(jobs), peer, f"{ctx.path}/{tag}"))
            for b in set(jobs) - theirs:
                gateway.cancel(jobs[b].path)
        except BaseException as exc:
            errors.append(exc)
            gateway.close()  # our workers stop too

    listener = threading.Thread(target=listen, name="accord-bucket-round", daemon=True)
    listener.start()
    ok: set[int] = set()
    lost: list[int] = []  # once one is lost here, start no further bucket: end the round, and tell the peer
    for job, outcome in pool.run(run_job, list(jobs.values()), stop=lambda: bool(lost)):
        if isinstance(outcome, Counters):
            ctx.accounting.total.counters.add(outcome)
            ctx.accounting.tracker("bucket").counters.add(outcome)
            ok.add(job.bucket)
            done(job.bucket, True)
        elif errors:
            raise errors[0]
        elif isinstance(outcome, ProtocolAbort):
            raise outcome  # a peer's misbehaviour is not retried
        else:
            _log.warning("party %s: bucket %d (attempt %d) failed: %s: %s", ctx.me, job.bucket, attempt + 1,
                         type(outcome).__name__, outcome)
            lost.append(job.bucket)
    ctx.send(peer, np.asarray(sorted(ok), dtype=np.int64), tag)
    listener.join()
    if errors:
        raise errors[0]
    return sorted(b for b in jobs if b not in ok or b not in theirs)
