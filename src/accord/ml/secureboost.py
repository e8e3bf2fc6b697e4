"""SecureBoost: gradient-boosted trees on vertically split data with Paillier-encrypted gradients.

Protocol (Cheng et al., "SecureBoost: A Lossless Federated Learning Framework", IEEE IS 2021, section 4),
between the *active* party, which holds the label, and one or more *passive* parties:

1. every party bins its own columns locally into equal-frequency bins (edges never leave it);
2. per tree, the active party computes logistic-loss gradients and hessians, packs each row's
   ``(g, h)`` into one Paillier plaintext (:class:`~accord.he.packing.SlotPacking`) and sends the
   ciphertexts to the passive parties;
3. per tree level, each passive party sums the ciphertexts per (node, feature, bin), deriving the
   larger sibling by homomorphic subtraction from the parent, shifts many sums into each ciphertext
   (``compress``), re-randomises and returns them; the active party decrypts, adds its own plaintext
   histograms and picks every node's best split across all parties;
4. a split on the active party's column stays with it; a split on a passive party's column is sent
   to that party as "your feature k, bin j", and only it learns the threshold. The owner of each split
   sends the resulting left/right partition of the node's rows to the others;
5. leaf weights are known only to the active party. Prediction needs every party: each one sends, per
   row and tree, the leaves its own splits allow; the active party intersects them and scores.

Costs per tree: ``rows`` Paillier encryptions at the active party; about
``rows * features * (1 + (depth - 1) / 2)`` ciphertext additions and one compression per node at each
passive party; a few decryptions per node at the active party. Rounds: ``1 + 2 * depth`` per tree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.he.cipher_array import PackedCipherArray
from accord.he.device import setup_paillier
from accord.he.engine import Paillier
from accord.he.packing import SlotPacking
from accord.ml._checks import binary_labels
from accord.ml.binning import assign_bins, quantile_edges
from accord.ml.tree import Tree, best_split, gradients, histograms, sigmoid
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) parties, no trusted third party; gradients are protected by Paillier (2048-bit by "
    "default, decisional composite residuosity with Damgard-Jurik-Nielsen short-exponent randomness); "
    "histogram sums are re-randomised before the label holder decrypts them"
)
FIT_LEAKAGE = (
    "passive parties learn the number of rows, which rows are used for training in each tree, and the left/right "
    "partition of the rows at every tree node (the instance space), plus which of their own (feature, bin) pairs "
    "were chosen as splits and their features' total gain; the label holder learns, per node, the sums of gradients "
    "and hessians in every bin of every passive feature (not the values or thresholds), the row partition at every "
    "node, and which passive feature index and bin each passive split uses; labels, gradients and passive feature "
    "values never leave their owners"
)
PREDICT_LEAKAGE = (
    "the label holder learns, for every scored row and tree, which leaves the passive parties' splits allow (the "
    "outcome of each passive split for that row) and the scores; passive parties learn the number of rows only"
)
_BLOCK_ROWS = 1 << 16


@dataclass(frozen=True)
class BoostParams:
    """Hyper-parameters; every party must use the same values (checked at the start of training).

    Parameters
    ----------
    n_trees, max_depth, learning_rate:
        As in XGBoost (defaults 5, 5, 0.3).
    reg_lambda, gamma, min_child_weight:
        L2 on leaf weights, minimum gain to split, minimum hessian per child (defaults 1.0, 0.0, 1.0).
    n_bins:
        Equal-frequency bins per feature (default 32).
    row_subsample, col_subsample:
        Fraction of training rows (chosen by the label holder) and of each party's own columns (chosen
        by that party) used per tree (default 1.0).
    validation_fraction, early_stopping_rounds:
        Rows the label holder holds out and the rounds without improvement of their log-loss after
        which training stops (0 disables early stopping).
    key_bits, frac_bits:
        Paillier modulus size (2048 by default; smaller only with ``allow_insecure_key_size`` in
        tests) and fixed-point fractional bits of gradients and hessians (default 20).
    workers:
        Processes for Paillier batches at each party (default: all cores).
    """

    n_trees: int = 5
    max_depth: int = 5
    learning_rate: float = 0.3
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0
    n_bins: int = 32
    row_subsample: float = 1.0
    col_subsample: float = 1.0
    validation_fraction: float = 0.0
    early_stopping_rounds: int = 0
    key_bits: int = 2048
    frac_bits: int = 20
    workers: int | None = None
    allow_insecure_key_size: bool = False

    def __post_init__(self) -> None:
        for name in ("n_trees", "max_depth", "n_bins"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_bins < 2:
            raise ValueError("n_bins must be at least 2")
        for name in ("row_subsample", "col_subsample"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if self.early_stopping_rounds and not self.validation_fraction:
            raise ValueError("early_stopping_rounds needs validation_fraction > 0")

    def public(self) -> dict[str, Any]:
        """The values every party must agree on."""
        return {k: v for k, v in asdict(self).items() if k != "workers"}


@dataclass
class BoosterPart:
    """One party's share of a trained model: tree shapes, its own splits, and (label holder) leaf weights."""

    party: str
    active: str
    columns: list[str]
    trees: list[Tree]
    splits: list[tuple[int, float]]
    base_margin: float = 0.0
    importance: dict[str, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for saving as JSON (no pickle)."""
        return {"format": "accord.secureboost.v1", "party": self.party, "active": self.active,
                "columns": self.columns, "trees": [t.to_dict() for t in self.trees],
                "splits": [[c, t] for c, t in self.splits], "base_margin": self.base_margin,
                "importance": self.importance, "history": self.history}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoosterPart:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "accord.secureboost.v1":
            raise ConfigurationError("not an accord SecureBoost model file")
        return cls(data["party"], data["active"], list(data["columns"]), [Tree.from_dict(t) for t in data["trees"]],
                   [(int(c), float(t)) for c, t in data["splits"]], float(data["base_margin"]),
                   dict(data["importance"]), list(data["history"]))


@dataclass
class _Binned:
    columns: list[str]
    bins: np.ndarray  # rows x features, int64
    edges: list[np.ndarray]

    def bin_counts(self) -> list[int]:
        """Bins in use per feature (equal-frequency binning of repeated values gives fewer)."""
        return [len(e) + 1 for e in self.edges]


def _bin_counts(value: object, n_bins: int, peer: str) -> list[int]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= n_bins for v in value)):
        raise MalformedMessage(f"party {peer!r} sent invalid bin counts", party=peer, step="hello")
    return value


def _cells(bin_counts: list[int], features: np.ndarray, n_bins: int) -> np.ndarray:
    """Flat (feature, bin) positions, in a features x n_bins grid, of the bins the sampled features use."""
    return np.concatenate([i * n_bins + np.arange(bin_counts[f]) for i, f in enumerate(features.tolist())])


def _bin_table(table: pd.DataFrame, n_bins: int, party: str) -> _Binned:
    if not isinstance(table, pd.DataFrame) or table.shape[1] == 0:
        raise InputError("expected a table with at least one feature column", party=party)
    edges = [quantile_edges(table[c].to_numpy(), n_bins, party=party, column=str(c)) for c in table.columns]
    bins = np.stack([assign_bins(table[c].to_numpy(), e) for c, e in zip(table.columns, edges)], axis=1)
    return _Binned([str(c) for c in table.columns], bins.astype(np.int64), edges)


@protocol("ml.secureboost.fit", threat_model=THREAT_MODEL, leakage=FIT_LEAKAGE)
def secureboost_fit(ctx: Context, table: pd.DataFrame, label: Any, active: str, params: BoostParams) -> BoosterPart:
    """Train SecureBoost among the parties of ``ctx``; ``label`` is given only at ``active``.

    Returns this party's :class:`BoosterPart`.
    """
    binned = _bin_table(table, params.n_bins, ctx.me)
    n_rows = len(binned.bins)
    theirs = ctx.exchange({"rows": n_rows, "params": params.public(), "bins": binned.bin_counts()}, "hello")
    for peer, info in theirs.items():
        if not isinstance(info, dict) or info.get("params") != params.public():
            raise ConfigurationError(f"party {peer!r} trains with different parameters than {ctx.me!r}")
        if info.get("rows") != n_rows:
            raise InputError(f"has {n_rows} rows but party {peer!r} has {info.get('rows')}: align the tables "
                             "with accord.psi.align first", party=ctx.me)
    engine = setup_paillier(ctx.sub("he.setup"), active, params.key_bits, params.frac_bits, params.workers,
                            params.allow_insecure_key_size)
    if ctx.me == active:
        bins = {peer: _bin_counts(info.get("bins"), params.n_bins, peer) for peer, info in theirs.items()}
        return _Active(ctx, engine, binned, binary_labels(label, n_rows, ctx.me), params, bins).fit()
    return _Passive(ctx, engine, binned, active, params).fit()


class _Grower:
    """State shared by both roles while a tree grows: the row-to-node map and the tree shape."""

    def __init__(self, ctx: Context, binned: _Binned, params: BoostParams) -> None:
        self.ctx = ctx
        self.binned = binned
        self.params = params
        self.n_rows = len(binned.bins)
        self.splits: list[tuple[int, float]] = []
        self.trees: list[Tree] = []

    def new_tree(self) -> tuple[Tree, np.ndarray]:
        tree = Tree()
        tree.add(0)
        self.trees.append(tree)
        return tree, np.zeros(self.n_rows, dtype=np.int64)

    def own_features(self) -> np.ndarray:
        count = len(self.binned.columns)
        keep = max(1, math.ceil(self.params.col_subsample * count))
        if keep == count:
            return np.arange(count)
        return np.sort(self.ctx.rng.permutation(count)[:keep])

    def record_split(self, feature: int, split_bin: int) -> int:
        edges = self.binned.edges[feature]
        threshold = float(edges[split_bin]) if split_bin < len(edges) else math.inf
        self.splits.append((feature, threshold))
        return len(self.splits) - 1

    @staticmethod
    def apply_split(tree: Tree, node_of: np.ndarray, node_id: int, owner: str, ref: int,
                    go_left: np.ndarray) -> None:
        """Split ``node_id``: rows of the node with ``go_left`` True move to the new left child."""
        depth = tree.nodes[node_id].depth + 1
        left, right = tree.add(depth), tree.add(depth)
        node = tree.nodes[node_id]
        node.owner, node.split_ref, node.left, node.right = owner, ref, left.id, right.id
        rows = np.flatnonzero(node_of == node_id)
        node_of[rows[go_left]] = left.id
        node_of[rows[~go_left]] = right.id

    def check_mask(self, value: object, node_of: np.ndarray, node_id: int, peer: str, step: str) -> np.ndarray:
        size = int(np.sum(node_of == node_id))
        if not isinstance(value, np.ndarray) or value.dtype != np.bool_ or value.shape != (size,):
            raise MalformedMessage(f"party {peer!r} sent a malformed partition for node {node_id}", party=peer,
                                   step=step)
        return value


class _Active(_Grower):
    def __init__(self, ctx: Context, engine: Paillier, binned: _Binned, y: np.ndarray, params: BoostParams,
                 passive_bins: dict[str, list[int]]) -> None:
        super().__init__(ctx, binned, params)
        self.engine = engine
        self.y = y
        self.passives = list(ctx.peers)
        self.passive_bins = passive_bins

    def fit(self) -> BoosterPart:
        ctx, p = self.ctx, self.params
        order = ctx.rng.permutation(self.n_rows)
        n_valid = round(p.validation_fraction * self.n_rows)
        valid = np.sort(order[:n_valid])
        train = np.sort(order[n_valid:])
        rate = float(np.clip(self.y[train].mean(), 1e-6, 1 - 1e-6))
        base = math.log(rate / (1 - rate))
        margin = np.full(self.n_rows, base)
        layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=max(1, len(train)), frac_bits=p.frac_bits)
        importance: dict[tuple[str, int], float] = {}
        history: list[float] = []
        best, since_best = math.inf, 0
        for t in range(p.n_trees):
            sub = ctx.sub("tree")
            if p.early_stopping_rounds and since_best >= p.early_stopping_rounds:
                sub.send_all({"continue": False}, "gradients")
                break
            rows = train if p.row_subsample >= 1 else np.sort(
                train[ctx.rng.permutation(len(train))[: max(2, int(len(train) * p.row_subsample))]])
            g, h = gradients(self.y[rows], margin[rows])
            with ctx.timed("encrypt gradients"):
                cipher = self.engine.encrypt_packed(np.stack([g, h], axis=1), layout)
            sub.send_all({"continue": True, "rows": rows, "gh": cipher.to_wire()}, "gradients")
            tree, node_of = self.new_tree()
            self._grow(sub, tree, node_of, rows, g, h, importance)
            weights = np.zeros(len(tree.nodes))
            gsum = np.bincount(node_of[rows], weights=g, minlength=len(tree.nodes))
            hsum = np.bincount(node_of[rows], weights=h, minlength=len(tree.nodes))
            for node in tree.leaves():
                node.weight = -p.learning_rate * gsum[node.id] / (hsum[node.id] + p.reg_lambda)
                weights[node.id] = node.weight
            margin += weights[node_of]
            if n_valid:
                loss = _logloss(self.y[valid], margin[valid])
                history.append(loss)
                best, since_best = (loss, 0) if loss < best - 1e-12 else (best, since_best + 1)
            ctx.progress("SecureBoost trees", t + 1, p.n_trees)
        own = {self.binned.columns[f]: gain for (owner, f), gain in importance.items() if owner == ctx.me}
        for peer in self.passives:
            ctx.send(peer, {str(f): gain for (owner, f), gain in importance.items() if owner == peer}, "importance")
        return BoosterPart(ctx.me, ctx.me, self.binned.columns, self.trees, self.splits, base, own, history)

    def _grow(self, ctx: Context, tree: Tree, node_of: np.ndarray, rows: np.ndarray, g: np.ndarray,
              h: np.ndarray, importance: dict[tuple[str, int], float]) -> None:
        p = self.params
        features = self.own_features()
        position = np.full(self.n_rows, -1)
        position[rows] = np.arange(len(rows))
        level = [0]
        for _depth in range(p.max_depth):
            counts = np.bincount(node_of[rows], minlength=len(tree.nodes))
            candidates = [n for n in level if counts[n] >= 2]
            if not candidates:
                break
            remote = {peer: self._receive_histograms(ctx, peer, len(candidates)) for peer in self.passives}
            decisions: list[list[Any]] = []
            masks: dict[str, np.ndarray] = {}
            for i, node_id in enumerate(candidates):
                in_node = rows[node_of[rows] == node_id]
                hg, hh = histograms(self.binned.bins[np.ix_(in_node, features)], g[position[in_node]],
                                    h[position[in_node]], p.n_bins)
                options = [(best_split(hg, hh, p.reg_lambda, p.min_child_weight, p.gamma), ctx.me, features)]
                for peer, hists in remote.items():
                    rg, rh = hists[i][..., 0], hists[i][..., 1]
                    options.append((best_split(rg, rh, p.reg_lambda, p.min_child_weight, p.gamma), peer, None))
                found = [(s, owner, f) for s, owner, f in options if s is not None]
                if not found:
                    decisions.append([node_id, "", -1, -1])
                    continue
                split, owner, feats = max(found, key=lambda o: o[0].gain)
                feature = int(feats[split.feature]) if owner == ctx.me else split.feature
                importance[(owner, feature)] = importance.get((owner, feature), 0.0) + split.gain
                decisions.append([node_id, owner, feature, split.bin])
                if owner == ctx.me:
                    masks[str(node_id)] = self.binned.bins[node_of == node_id, feature] <= split.bin
            ctx.send_all({"decisions": decisions, "masks": masks}, "decisions")
            for peer in self.passives:
                if any(d[1] == peer for d in decisions):
                    theirs = ctx.recv(peer, "masks")
                    if not isinstance(theirs, dict):
                        raise MalformedMessage(f"party {peer!r} sent malformed partitions", party=peer, step="masks")
                    for node_id, _, _, _ in (d for d in decisions if d[1] == peer):
                        masks[str(node_id)] = self.check_mask(theirs.get(str(node_id)), node_of, node_id, peer,
                                                              "masks")
            if len(self.passives) > 1:
                ctx.send_all(masks, "all-masks")
            level = []
            for node_id, owner, feature, split_bin in decisions:
                if not owner:
                    continue
                ref = self.record_split(feature, split_bin) if owner == ctx.me else -1
                self.apply_split(tree, node_of, node_id, owner, ref, masks[str(node_id)])
                level += [tree.nodes[node_id].left, tree.nodes[node_id].right]

    def _receive_histograms(self, ctx: Context, peer: str, count: int) -> list[np.ndarray]:
        """Decrypt a passive party's histograms into ``(features, n_bins, 2)`` grids (unsampled: zero)."""
        data = ctx.recv(peer, "histograms", timeout=ctx.timeout + 60 * count)
        counts = self.passive_bins[peer]
        n_features, n_bins = len(counts), self.params.n_bins
        features = data.get("features") if isinstance(data, dict) else None
        if (not isinstance(features, np.ndarray) or features.dtype != np.int64 or features.ndim != 1
                or not len(features) or features.min() < 0 or features.max() >= n_features
                or np.any(np.diff(features) <= 0)):
            raise MalformedMessage(f"party {peer!r} sent malformed histograms", party=peer, step="histograms")
        cells = _cells(counts, features, n_bins)
        array = self.engine.receive(data.get("hists"), party=peer, step=f"{ctx.path}/histograms")
        if not isinstance(array, PackedCipherArray) or array.shape != (count * len(cells),):
            raise MalformedMessage(f"party {peer!r} sent histograms of the wrong shape", party=peer,
                                   step="histograms")
        with ctx.timed("decrypt histograms"):
            sums = self.engine.decrypt(array).reshape(count, len(cells), 2)
        positions = (features[:, None] * n_bins + np.arange(n_bins)).ravel()[cells]
        out = []
        for node_sums in sums:
            grid = np.zeros((n_features * n_bins, 2))
            grid[positions] = node_sums
            out.append(grid.reshape(n_features, n_bins, 2))
        return out


class _Passive(_Grower):
    def __init__(self, ctx: Context, engine: Paillier, binned: _Binned, active: str, params: BoostParams) -> None:
        super().__init__(ctx, binned, params)
        self.engine = engine
        self.active = active

    def fit(self) -> BoosterPart:
        ctx, p = self.ctx, self.params
        for _ in range(p.n_trees):
            sub = ctx.sub("tree")
            message = sub.recv(self.active, "gradients", timeout=ctx.timeout + self.n_rows / 500)
            if isinstance(message, dict) and message.get("continue") is False:
                break
            rows, cipher = self._parse_gradients(sub, message)
            tree, node_of = self.new_tree()
            self._grow(sub, tree, node_of, rows, cipher)
        gains = ctx.recv(self.active, "importance")
        if not isinstance(gains, dict):
            raise MalformedMessage(f"party {self.active!r} sent malformed importances", party=self.active,
                                   step="importance")
        importance = {self.binned.columns[int(f)]: float(v) for f, v in gains.items()
                      if str(f).isdigit() and int(f) < len(self.binned.columns)}
        return BoosterPart(ctx.me, self.active, self.binned.columns, self.trees, self.splits, 0.0, importance)

    def _parse_gradients(self, ctx: Context, message: object) -> tuple[np.ndarray, PackedCipherArray]:
        if not isinstance(message, dict) or message.get("continue") is not True:
            raise MalformedMessage(f"party {self.active!r} sent a malformed gradient message", party=self.active,
                                   step="gradients")
        rows = message.get("rows")
        if (not isinstance(rows, np.ndarray) or rows.dtype != np.int64 or rows.ndim != 1 or len(rows) < 2
                or rows.min() < 0 or rows.max() >= self.n_rows or np.any(np.diff(rows) <= 0)):
            raise MalformedMessage(f"party {self.active!r} sent invalid training rows", party=self.active,
                                   step="gradients")
        cipher = self.engine.receive(message.get("gh"), party=self.active, step=f"{ctx.path}/gradients")
        if not isinstance(cipher, PackedCipherArray) or cipher.shape != (len(rows),) or cipher.layout.slots != 2:
            raise MalformedMessage(f"party {self.active!r} sent gradients of the wrong shape", party=self.active,
                                   step="gradients")
        return rows, cipher

    def _grow(self, ctx: Context, tree: Tree, node_of: np.ndarray, rows: np.ndarray,
              cipher: PackedCipherArray) -> None:
        p = self.params
        features = self.own_features()
        position = np.full(self.n_rows, -1)
        position[rows] = np.arange(len(rows))
        cache: dict[int, PackedCipherArray] = {}
        parent_of: dict[int, int] = {}
        level = [0]
        for _depth in range(p.max_depth):
            counts = np.bincount(node_of[rows], minlength=len(tree.nodes))
            candidates = [n for n in level if counts[n] >= 2]
            if not candidates:
                break
            with ctx.timed("histogram sums"):
                hists = self._histograms(tree, node_of, rows, position, cipher, features, candidates, counts, cache,
                                         parent_of)
            cells = _cells(self.binned.bin_counts(), features, p.n_bins)
            with ctx.timed("compress"):
                level_hists = _pick([hists[n] for n in candidates], cells).compress()
            with ctx.timed("re-randomise"):
                level_hists = level_hists.rerandomize()
            ctx.send(self.active, {"features": features.astype(np.int64), "hists": level_hists.to_wire()},
                     "histograms")
            message = ctx.recv(self.active, "decisions", timeout=ctx.timeout + 60 * len(candidates))
            decisions, masks = self._parse_decisions(message, candidates, node_of)
            mine = {}
            for node_id, owner, feature, split_bin in decisions:
                if owner == ctx.me:
                    mine[str(node_id)] = self.binned.bins[node_of == node_id, feature] <= split_bin
            if mine:
                ctx.send(self.active, mine, "masks")
                masks.update(mine)
            if len(ctx.peers) > 1:
                others = ctx.recv(self.active, "all-masks")
                if not isinstance(others, dict):
                    raise MalformedMessage(f"party {self.active!r} sent malformed partitions", party=self.active,
                                           step="all-masks")
                for node_id, owner, _, _ in decisions:
                    if owner and owner not in (ctx.me, self.active):
                        masks[str(node_id)] = self.check_mask(others.get(str(node_id)), node_of, node_id,
                                                              self.active, "all-masks")
            level = []
            for node_id, owner, feature, split_bin in decisions:
                if not owner:
                    continue
                ref = self.record_split(feature, split_bin) if owner == ctx.me else -1
                self.apply_split(tree, node_of, node_id, owner, ref, masks[str(node_id)])
                left, right = tree.nodes[node_id].left, tree.nodes[node_id].right
                parent_of[left] = parent_of[right] = node_id
                level += [left, right]

    def _histograms(self, tree: Tree, node_of: np.ndarray, rows: np.ndarray, position: np.ndarray,
                    cipher: PackedCipherArray, features: np.ndarray, candidates: list[int], counts: np.ndarray,
                    cache: dict[int, PackedCipherArray], parent_of: dict[int, int]) -> dict[int, PackedCipherArray]:
        """Encrypted (feature, bin) sums per candidate node; the larger sibling by subtraction from the parent."""
        out: dict[int, PackedCipherArray] = {}
        for node_id in candidates:
            if node_id in cache:
                out[node_id] = cache[node_id]
                continue
            parent = parent_of.get(node_id)
            sibling = None
            if parent is not None:
                node = tree.nodes[parent]
                sibling = node.right if node.left == node_id else node.left
            if parent in cache and sibling is not None and counts[sibling] <= counts[node_id]:
                if sibling not in cache:
                    cache[sibling] = self._direct(node_of, rows, position, cipher, features, sibling)
                out[node_id] = _subtract(cache[parent], cache[sibling])
            else:
                out[node_id] = self._direct(node_of, rows, position, cipher, features, node_id)
            cache[node_id] = out[node_id]
        return out

    def _direct(self, node_of: np.ndarray, rows: np.ndarray, position: np.ndarray, cipher: PackedCipherArray,
                features: np.ndarray, node_id: int) -> PackedCipherArray:
        in_node = rows[node_of[rows] == node_id]
        picked = cipher[position[in_node]]
        return picked.bucket_sum(self.binned.bins[np.ix_(in_node, features)], self.params.n_bins)

    def _parse_decisions(self, message: object, candidates: list[int],
                         node_of: np.ndarray) -> tuple[list[list[Any]], dict[str, np.ndarray]]:
        peer = self.active
        if not isinstance(message, dict) or not isinstance(message.get("decisions"), list) \
                or not isinstance(message.get("masks"), dict):
            raise MalformedMessage(f"party {peer!r} sent malformed split decisions", party=peer, step="decisions")
        decisions = message["decisions"]
        well_formed = all(isinstance(d, list) and len(d) == 4 and isinstance(d[1], str)
                          and all(isinstance(v, int) and not isinstance(v, bool) for v in (d[0], d[2], d[3]))
                          for d in decisions)
        if not well_formed or [d[0] for d in decisions] != candidates:
            raise MalformedMessage(f"party {peer!r} sent decisions for other nodes", party=peer, step="decisions")
        masks: dict[str, np.ndarray] = {}
        for node_id, owner, feature, split_bin in decisions:
            if owner == self.ctx.me and not (isinstance(feature, int) and 0 <= feature < len(self.binned.columns)
                                             and isinstance(split_bin, int) and 0 <= split_bin < self.params.n_bins):
                raise MalformedMessage(f"party {peer!r} chose an invalid split on our feature {feature!r}",
                                       party=peer, step="decisions")
            if owner and owner not in self.ctx.parties:
                raise MalformedMessage(f"party {peer!r} named an unknown split owner {owner!r}", party=peer,
                                       step="decisions")
            if owner == peer:
                masks[str(node_id)] = self.check_mask(message["masks"].get(str(node_id)), node_of, node_id, peer,
                                                      "decisions")
        return decisions, masks


def _pick(hists: list[PackedCipherArray], cells: np.ndarray) -> PackedCipherArray:
    """The used (feature, bin) cells of several nodes' histogram grids, as one ``(nodes * cells,)`` array.

    One array per tree level lets compression, re-randomisation and decryption run as large batches
    spread over the worker processes.
    """
    picked = cells.tolist()
    values = [hist.values[i] for hist in hists for i in picked]
    terms = max(hist.terms for hist in hists)
    return PackedCipherArray(hists[0].engine, values, (len(hists) * len(cells),), hists[0].layout, terms=terms)


def _subtract(total: PackedCipherArray, part: PackedCipherArray) -> PackedCipherArray:
    """``total - part`` slot-wise (the sibling's histogram)."""
    engine = total.engine
    values = engine.multiply(total.values, engine.invert(part.values))
    return PackedCipherArray(engine, values, total.shape, total.layout, terms=total.terms)


def _logloss(y: np.ndarray, margin: np.ndarray) -> float:
    p = np.clip(sigmoid(margin), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@protocol("ml.secureboost.predict", threat_model=THREAT_MODEL, leakage=PREDICT_LEAKAGE)
def secureboost_predict(ctx: Context, part: BoosterPart, table: pd.DataFrame) -> np.ndarray | None:
    """Scores (probabilities) of the aligned rows of ``table``, returned at the label holder only."""
    missing = [c for c in part.columns if c not in table.columns]
    if missing:
        raise InputError(f"the model needs columns {missing} that the table lacks", party=ctx.me, field=missing[0])
    values = table[part.columns].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise InputError("the features hold NaN or infinite values", party=ctx.me)
    n_rows = len(values)
    theirs = ctx.exchange({"rows": n_rows, "trees": len(part.trees)}, "hello")
    for peer, info in theirs.items():
        if info != {"rows": n_rows, "trees": len(part.trees)}:
            raise InputError(f"has {n_rows} rows and {len(part.trees)} trees but party {peer!r} reports {info}",
                             party=ctx.me)
    masks = []
    for tree in part.trees:
        decisions = {n.id: values[:, part.splits[n.split_ref][0]] <= part.splits[n.split_ref][1]
                     for n in tree.nodes if not n.is_leaf and n.owner == ctx.me}
        masks.append(tree.leaf_masks(decisions, n_rows))
    mine = np.concatenate(masks, axis=1) if masks else np.zeros((n_rows, 0), dtype=bool)
    if ctx.me != part.active:
        ctx.send(part.active, mine, "leaves")
        return None
    for peer in ctx.peers:
        other = ctx.recv(peer, "leaves")
        if not isinstance(other, np.ndarray) or other.dtype != np.bool_ or other.shape != mine.shape:
            raise MalformedMessage(f"party {peer!r} sent malformed leaf masks", party=peer, step="leaves")
        mine &= other
    margin = np.full(n_rows, part.base_margin)
    offset = 0
    for tree in part.trees:
        leaves = tree.leaves()
        block = mine[:, offset : offset + len(leaves)]
        if not (block.sum(axis=1) == 1).all():
            raise MalformedMessage("the parties' leaf masks do not single out one leaf per row; the model parts "
                                   "do not belong together", step="leaves")
        margin += np.array([leaf.weight for leaf in leaves])[block.argmax(axis=1)]
        offset += len(leaves)
    return sigmoid(margin)


def params_from(kwargs: dict[str, Any]) -> BoostParams:
    """Build :class:`BoostParams`, naming unknown keywords."""
    names = {f.name for f in fields(BoostParams)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise TypeError(f"unknown SecureBoost parameters {unknown}; valid ones are {sorted(names)}")
    return BoostParams(**kwargs)
