"""WOE/IV binning across parties: the label holder's labels meet a partner's bins only under encryption.

Protocol (the approach FATE and SecretFlow use for vertical WOE):

1. every party bins each of its own columns locally (equal-frequency; for chi-merge, into
   ``fine_bins`` first) and merges every bin holding fewer than the minimum number of rows into a
   neighbour, before anything about the column leaves; bin edges never leave their owner;
2. the label holder encrypts its 0/1 labels with Paillier and sends them; each partner adds them up
   per (column, bin) under encryption, packs many sums per ciphertext, re-randomises and returns them
   with its bin sizes;
3. the label holder decrypts the event counts per bin, merges adjacent bins by chi-square if asked,
   computes WOE and IV, and returns to each partner the WOE value of every (merged) bin of its columns
   and their IVs; each party then transforms its own columns locally.

The counts are exact integers, so the result equals the plaintext computation on the joined data.

**Minimum bin size.** Ties can collapse quantile edges so that a bin holds a single customer; its WOE
would then tell the partner that customer's label (and its counts would tell the label holder that the
partner's extreme value belongs to a defaulter). Every bin therefore holds at least
``max(min_bin_rows, ceil(min_bin_share * rows))`` rows: the feature owner merges smaller bins into
their smaller neighbour before it sends anything, and the label holder refuses to compute or return
WOE for a partner bin below that size. The defaults (5% of the rows and at least 30 rows) follow
FATE's ``OptimalBinningParam(min_bin_pct=0.05)`` (``federatedml/param/feature_binning_param.py``) and
the usual scorecard rule of 5% or 30 observations per bin (e.g. R monobin/PDtoolkit ``min.pct.obs``).
SecretFlow's ``VertWoeBinning`` enforces no minimum (it only drops empty quantile bins), so its WOE can
reveal a single row's label in exactly this way. With chi-merge, the fine bins obey the minimum too, so
at most ``1 / min_bin_share`` (20) fine bins take part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accord.devices.he import setup_paillier
from accord.errors import InputError, MalformedMessage
from accord.he.cipher_array import PackedCipherArray
from accord.he.packing import SlotPacking
from accord.ml._checks import binary_labels, build_params, check_bin_counts
from accord.ml.binning import WOETable, assign_bins, bin_counts, chi_merge, quantile_edges, woe_iv
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) parties, no trusted third party; labels travel encrypted under the label holder's "
    "Paillier key (2048-bit by default); sums are re-randomised before the label holder decrypts them"
)
LEAKAGE = (
    "the label holder learns, for every bin of every partner column, the number of rows and of events (label 1) "
    "in it, and each partner column's number of bins; each partner learns the WOE value of every bin of its own "
    "columns and their IVs (the event rate per bin, up to a monotone transform); every bin holds at least "
    "max(min_bin_rows, min_bin_share x rows) rows (default 30 and 5%), so no count or WOE describes fewer rows; "
    "raw values, bin edges and labels stay with their owners"
)
METHODS = ("quantile", "chimerge")


@dataclass(frozen=True)
class WOEParams:
    """How to bin: ``n_bins`` final bins by ``method`` (chi-merge starts from ``fine_bins``).

    Every bin holds at least ``max(min_bin_rows, ceil(min_bin_share * rows))`` rows (see the module
    docstring); smaller bins are merged into a neighbour.
    """

    n_bins: int = 10
    method: str = "quantile"
    fine_bins: int = 50
    min_bin_rows: int = 30
    min_bin_share: float = 0.05
    key_bits: int = 2048
    workers: int | None = None
    allow_insecure_key_size: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.n_bins < 2 or self.fine_bins < self.n_bins:
            raise ValueError("need n_bins >= 2 and fine_bins >= n_bins")
        if (not isinstance(self.min_bin_rows, int) or isinstance(self.min_bin_rows, bool) or self.min_bin_rows < 1
                or not 0 <= self.min_bin_share <= 0.5):
            raise ValueError("need min_bin_rows >= 1 and 0 <= min_bin_share <= 0.5, got "
                             f"{self.min_bin_rows!r} and {self.min_bin_share!r}")

    def min_rows(self, rows: int) -> int:
        """The fewest rows a bin of a ``rows``-row table may hold."""
        return max(self.min_bin_rows, math.ceil(self.min_bin_share * rows))


@dataclass
class WOEColumn:
    """One column's binning at its owner: inner bin edges (raw values), WOE per bin, IV."""

    edges: np.ndarray
    woe: np.ndarray
    iv: float
    events: np.ndarray | None = None
    non_events: np.ndarray | None = None


@dataclass
class WOEPart:
    """A party's WOE tables for its own columns."""

    party: str
    columns: dict[str, WOEColumn] = field(default_factory=dict)

    def transform(self, table: pd.DataFrame) -> pd.DataFrame:
        """Replace each binned column by the WOE of its bin (other columns pass through)."""
        out = table.copy()
        for name, col in self.columns.items():
            if name not in table.columns:
                raise InputError(f"column {name!r} is missing", party=self.party, field=name)
            out[name] = col.woe[assign_bins(table[name].to_numpy(), col.edges)]
        return out

    def iv(self) -> dict[str, float]:
        """Information value per column."""
        return {name: col.iv for name, col in self.columns.items()}


def _first_bins(table: pd.DataFrame, params: WOEParams, party: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Equal-frequency bins of every column, small bins merged away: nothing leaves before this."""
    start = params.fine_bins if params.method == "chimerge" else params.n_bins
    min_rows = params.min_rows(len(table))
    edges = []
    for c in table.columns:
        values = table[c].to_numpy()
        fine = quantile_edges(values, start, party=party, column=str(c))
        sizes = np.bincount(assign_bins(values, fine), minlength=len(fine) + 1)
        starts = merge_small_bins(sizes, min_rows)
        if not len(starts):
            raise InputError(f"column {c!r} cannot be split into two bins of at least {min_rows} rows each (of "
                             f"{len(table)}); use more rows or lower min_bin_rows / min_bin_share", party=party,
                             field=str(c))
        edges.append(fine[starts - 1])
    bins = np.stack([assign_bins(table[c].to_numpy(), e) for c, e in zip(table.columns, edges)], axis=1)
    return edges, bins.astype(np.int64)


def merge_small_bins(sizes: np.ndarray, min_rows: int) -> np.ndarray:
    """Merge adjacent bins until each holds at least ``min_rows`` rows (or one bin is left).

    From left to right, a bin below the minimum absorbs the next ones until it reaches it; a last bin
    still below it joins the one before. Bins already at the minimum stay as they are, and no other
    merge of adjacent bins leaves more bins. Returns, as :func:`accord.ml.binning.chi_merge` does, the
    index of the first input bin of every merged bin after the first (empty if one bin is left).
    """
    starts: list[int] = []
    total = 0
    for k, size in enumerate(sizes):
        if total >= min_rows:
            starts.append(k)
            total = 0
        total += int(size)
    if total < min_rows and starts:
        starts.pop()
    return np.asarray(starts, dtype=np.int64)


def _merge(name: str, events: np.ndarray, non_events: np.ndarray, params: WOEParams) -> tuple[np.ndarray, WOETable]:
    """Merge adjacent bins (chi-merge, if asked) and compute WOE/IV.

    Returns the fine-bin index where each merged bin after the first starts, and the WOE table.
    """
    starts = chi_merge(events, non_events, params.n_bins) if params.method == "chimerge" \
        else np.arange(1, len(events))
    groups = np.searchsorted(starts, np.arange(len(events)), side="right")
    merged_e = np.bincount(groups, weights=events).astype(np.int64)
    merged_n = np.bincount(groups, weights=non_events).astype(np.int64)
    return starts.astype(np.int64), woe_iv(name, merged_e, merged_n)


@protocol("ml.woe", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def woe_binning(ctx: Context, table: pd.DataFrame, label: Any, active: str, params: WOEParams) -> WOEPart:
    """Bin every party's columns and compute WOE/IV against the label held by ``active``."""
    if not isinstance(table, pd.DataFrame) or table.shape[1] == 0:
        raise InputError("expected a table with at least one column to bin", party=ctx.me)
    edges, bins = _first_bins(table, params, ctx.me)
    theirs = ctx.exchange({"rows": len(table), "bins": [len(e) + 1 for e in edges]}, "hello")
    for peer, info in theirs.items():
        if not isinstance(info, dict) or info.get("rows") != len(table):
            raise InputError(f"has {len(table)} rows but party {peer!r} has "
                             f"{info.get('rows') if isinstance(info, dict) else '?'}; align the tables first",
                             party=ctx.me)
    engine = setup_paillier(ctx.sub("he.setup"), active, params.key_bits, 0, params.workers,
                            params.allow_insecure_key_size)
    n = len(table)
    layout = SlotPacking(slots=1, value_bits=1, max_terms=max(1, n))
    part = WOEPart(ctx.me)
    columns = [str(c) for c in table.columns]
    if ctx.me == active:
        y = binary_labels(label, n, ctx.me).astype(np.int64)
        ctx.send_all(engine.encrypt_packed(y[:, None], layout).to_wire(), "labels")
        for i, name in enumerate(columns):
            starts, woe = _merge(name, *bin_counts(bins[:, i], y, len(edges[i]) + 1), params)
            part.columns[name] = WOEColumn(edges[i][starts - 1], woe.woe, woe.iv, woe.events, woe.non_events)
        first = params.fine_bins if params.method == "chimerge" else params.n_bins
        for peer, info in theirs.items():
            counts = check_bin_counts(info.get("bins"), first, peer)
            sums = engine.receive(ctx.recv(peer, "sums"), party=peer, step=f"{ctx.path}/sums")
            sizes = ctx.recv(peer, "sizes")
            total = sum(counts)
            if (not isinstance(sums, PackedCipherArray) or sums.shape != (total,) or not isinstance(sizes, np.ndarray)
                    or sizes.dtype != np.int64 or sizes.shape != (total,)):
                raise MalformedMessage(f"party {peer!r} sent malformed bin sums", party=peer, step="sums")
            _check_sizes(sizes, counts, n, params.min_rows(n), peer, ctx)
            events = engine.decrypt(sums)[:, 0].astype(np.int64)
            reply = []
            for lo, hi in zip(np.cumsum([0, *counts[:-1]]), np.cumsum(counts)):
                starts, woe = _merge(f"{peer} column", events[lo:hi], sizes[lo:hi] - events[lo:hi], params)
                reply.append({"starts": starts, "woe": woe.woe, "iv": woe.iv})
            ctx.send(peer, reply, "woe")
        return part
    labels = engine.receive(ctx.recv(active, "labels", timeout=ctx.timeout + n / 1000), party=active,
                            step=f"{ctx.path}/labels")
    if not isinstance(labels, PackedCipherArray) or labels.shape != (n,):
        raise MalformedMessage(f"party {active!r} sent malformed encrypted labels", party=active, step="labels")
    width = max(len(e) + 1 for e in edges)
    grid = labels.bucket_sum(bins, width)  # (columns, width)
    cells = np.concatenate([i * width + np.arange(len(e) + 1) for i, e in enumerate(edges)])
    picked = PackedCipherArray(engine, [grid.values[i] for i in cells.tolist()], (len(cells),), layout,
                               terms=grid.terms)
    ctx.send(active, picked.compress().rerandomize().to_wire(), "sums")
    ctx.send(active, np.concatenate([np.bincount(bins[:, i], minlength=len(e) + 1)
                                     for i, e in enumerate(edges)]).astype(np.int64), "sizes")
    reply = ctx.recv(active, "woe")
    if not isinstance(reply, list) or len(reply) != len(columns):
        raise MalformedMessage(f"party {active!r} sent malformed WOE tables", party=active, step="woe")
    for name, e, entry in zip(columns, edges, reply):
        cuts, values = (entry.get("starts"), entry.get("woe")) if isinstance(entry, dict) else (None, None)
        if (not isinstance(cuts, np.ndarray) or cuts.dtype != np.int64 or not isinstance(values, np.ndarray)
                or values.shape != (len(cuts) + 1,) or (len(cuts) and (cuts.min() < 1 or cuts.max() > len(e)))):
            raise MalformedMessage(f"party {active!r} sent a malformed WOE table for {name!r}", party=active,
                                   step="woe")
        iv = entry.get("iv")
        if not isinstance(iv, float):
            raise MalformedMessage(f"party {active!r} sent a malformed IV for {name!r}", party=active, step="woe")
        part.columns[name] = WOEColumn(e[cuts - 1], values, iv)
    return part


def _check_sizes(sizes: np.ndarray, counts: list[int], rows: int, min_rows: int, peer: str, ctx: Context) -> None:
    """Refuse bins below the minimum size before decrypting or returning anything about them."""
    step = f"{ctx.path}/sizes"
    for lo, hi in zip(np.cumsum([0, *counts[:-1]]), np.cumsum(counts)):
        column = sizes[lo:hi]
        if int(column.sum()) != rows or (column < 0).any():
            raise MalformedMessage(f"party {peer!r} sent bin sizes that do not add up to the {rows} rows",
                                   party=peer, step=step)
        if column.min() < min_rows:
            raise MalformedMessage(f"party {peer!r} sent a bin of {int(column.min())} rows, below the minimum of "
                                   f"{min_rows} rows per bin; its WOE would describe too few customers, so none "
                                   "is returned", party=peer, step=step)


def woe_params(kwargs: dict[str, Any]) -> WOEParams:
    """Build :class:`WOEParams`, naming unknown keywords."""
    return build_params(WOEParams, kwargs, "WOE")
