"""Buckets in parallel inside one party: a pool of local worker processes behind the party's gateway.

The workers get neither the party's private key nor ports of their own: each worker reaches the peer
through a :class:`~accord.net.gateway.GatewayLink` to the :class:`~accord.net.gateway.Gateway` that the
party's process runs over its one mTLS link, and runs one bucket's PSI under that bucket's own
sub-session path, so the gateway multiplexes any number of buckets over the link. This is the hook a
cluster backend (Ray) would use with workers on other machines of the party. Processes are spawned,
not forked, so that no worker inherits the gRPC threads of the party's process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from accord.crypto.random import Rng
from accord.net.gateway import TOKEN_BYTES, Gateway, GatewayLink
from accord.psi.bucket.solve import BucketCall, solve_bucket
from accord.runtime.context import Context, Counters


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


def run_job(job: BucketJob) -> Counters:
    """Run one bucket in this worker process; returns its traffic counters for the party's report."""
    link = GatewayLink(job.me, [p for p in job.parties if p != job.me], job.gateway, job.token)
    try:
        ctx = Context(job.me, job.parties, link, job.session, Rng(), timeout=job.timeout, path=job.path, op="bucket")
        solve_bucket(ctx, job.rows_file, job.out_file, job.call)
        return ctx.accounting.total.counters
    finally:
        link.close()


def solve_in_pool(ctx: Context, buckets: Sequence[tuple[Context, Path, Path]], workers: int, call: BucketCall,
                  done: Callable[[], None]) -> None:
    """Run each ``(bucket context, rows file, result file)`` on ``workers`` processes; ``done()`` after each.

    If any bucket fails, the gateway closes first (so every other worker's pending receive fails at
    once), no further bucket starts, and the error is raised once the workers have stopped.
    """
    spawn = multiprocessing.get_context("spawn")
    token = ctx.rng.bytes(TOKEN_BYTES)
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool, Gateway(ctx.link, token) as gateway:
        futures = [pool.submit(run_job, BucketJob(
            ctx.me, ctx.parties, gateway.address, token, sub.session, sub.path, ctx.timeout, rows, out, call))
            for sub, rows, out in buckets]
        try:
            for future in as_completed(futures):
                counters = future.result()
                ctx.accounting.total.counters.add(counters)
                ctx.accounting.tracker("bucket").counters.add(counters)
                done()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
