"""One bucket's PSI, the same in the party's process and in a worker process: load, intersect, store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from accord.psi.bucket import spill
from accord.psi.ecdh import ecdh_psi
from accord.psi.join import encode_keys
from accord.psi.kkrt import kkrt_psi
from accord.psi.rr22 import rr22_psi
from accord.runtime.context import Context

PROTOCOLS = {"rr22": rr22_psi, "kkrt": kkrt_psi, "ecdh": ecdh_psi}


@dataclass(frozen=True)
class BucketCall:
    """What every bucket of a run runs: the key columns, receivers, mode, protocol and ECDH threads."""

    on: tuple[str, ...]
    receivers: tuple[str, ...]
    mode: str
    protocol: str
    threads: int | None


def solve_bucket(ctx: Context | None, rows_file: Path, out_file: Path, call: BucketCall) -> None:
    """Run the call's PSI on the bucket in ``rows_file`` under ``ctx``; store this party's result in ``out_file``.

    ``ctx`` is ``None`` when either party holds no rows in the bucket: the result is then empty. A
    non-receiver stores an empty result too, so that a stored file always marks a completed bucket.
    """
    schema = spill.load_schema(rows_file)
    table = schema.empty_table()
    if ctx is not None:
        extra = (call.threads,) if call.protocol == "ecdh" else ()
        rows = spill.load(rows_file).to_pandas()
        with ctx.timed("bucket"):
            result = PROTOCOLS[call.protocol](ctx, rows, list(call.on), list(call.receivers), call.mode, *extra)
        del rows
        if isinstance(result, pd.DataFrame) and len(result):
            ordered = _ordered(result, call.on, call.mode, ctx.me)
            table = pa.Table.from_pandas(ordered, preserve_index=False).cast(schema)
    spill.store(table, out_file)


def _ordered(result: pd.DataFrame, on: Sequence[str], mode: str, me: str) -> pd.DataFrame:
    """Join rows sorted by canonical key bytes (stable: ties keep the shared order); semi rows as given."""
    if mode == "semi":
        return result
    keys = np.array(encode_keys(result, on, party=me)[1], dtype=object)
    return result.iloc[np.argsort(keys, kind="stable")]
