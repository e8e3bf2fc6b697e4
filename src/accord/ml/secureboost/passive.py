"""A partner's side of SecureBoost: encrypted histograms per node, its own splits and thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np

from accord.errors import MalformedMessage
from accord.he.cipher_array import PackedCipherArray
from accord.he.engine import HEEngine
from accord.ml.secureboost.grower import Grower
from accord.ml.secureboost.params import Binned, BoosterPart, BoostParams, sent_cells
from accord.ml.tree import Tree
from accord.runtime.context import Context


class Passive(Grower):
    def __init__(self, ctx: Context, engine: HEEngine, binned: Binned, active: str, params: BoostParams) -> None:
        super().__init__(ctx, binned, params)
        self.engine = engine
        self.active = active
        self.derived = np.zeros(0, dtype=np.int64)  # per feature, the cell the label holder derives

    def fit(self) -> BoosterPart:
        ctx, p = self.ctx, self.params
        for _ in range(p.n_trees):
            sub = ctx.sub("tree")
            message = sub.recv(self.active, "gradients", timeout=ctx.timeout + self.n_rows / 500)
            if isinstance(message, dict) and message.get("continue") is False:
                break
            rows, cipher = self._parse_gradients(sub, message)
            if not self.trees:  # each feature's most populated cell among the first tree's rows
                self.derived = np.array([np.bincount(column, minlength=p.width).argmax()
                                         for column in self.binned.bins[rows].T], dtype=np.int64)
            tree, node_of = self.new_tree()
            self._grow(sub, tree, node_of, rows, cipher)
        gains = ctx.recv(self.active, "importance")
        if not isinstance(gains, dict):
            raise MalformedMessage(f"party {self.active!r} sent malformed importances", party=self.active,
                                   step="importance")
        if not all(str(f).isdigit() and int(f) < len(self.binned.columns) and isinstance(v, float)
                   for f, v in gains.items()):
            raise MalformedMessage(f"party {self.active!r} sent malformed importances", party=self.active,
                                   step="importance")
        importance = {self.binned.columns[int(f)]: v for f, v in gains.items()}
        return BoosterPart(ctx.me, self.active, self.binned.columns, self.trees, self.splits, self.binned.specs, 0.0,
                           importance, dropped=self.binned.dropped)

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
        position = self.positions(rows)
        cache: dict[int, PackedCipherArray] = {}
        pending: dict[int, tuple[int, int]] = {}
        parent_of: dict[int, int] = {}
        level = [0]
        for _depth in range(p.max_depth):
            counts, candidates = self.candidates(tree, node_of, rows, level)
            if not candidates:
                break
            with ctx.timed("histogram sums"):
                direct = self._histograms(tree, node_of, rows, position, cipher, features, candidates, counts, cache,
                                          pending, parent_of)
            cells = sent_cells(self.binned.layout(), features, p.width, self.derived[features])
            with ctx.timed("compress"):
                level_hists = _pick([cache[n] for n in direct], cells).compress()
            with ctx.timed("re-randomise"):
                level_hists = level_hists.rerandomize()
            ctx.send(self.active, {"features": features.astype(np.int64), "direct": np.array(direct, dtype=np.int64),
                                   "derived": self.derived[features], "hists": level_hists.to_wire()}, "histograms")
            message = ctx.recv(self.active, "decisions", timeout=ctx.timeout + 60 * len(candidates))
            decisions, masks = self._parse_decisions(message, candidates, node_of)
            mine = {str(d[0]): self.own_mask(node_of, d) for d in decisions if d[1] == ctx.me}
            if mine:
                ctx.send(self.active, mine, "masks")
                masks.update(mine)
            if len(ctx.peers) > 1:
                others = ctx.recv(self.active, "all-masks")
                if not isinstance(others, dict):
                    raise MalformedMessage(f"party {self.active!r} sent malformed partitions", party=self.active,
                                           step="all-masks")
                for node_id, owner, *_ in decisions:
                    if owner and owner not in (ctx.me, self.active):
                        masks[str(node_id)] = self.check_mask(others.get(str(node_id)), node_of, node_id,
                                                              self.active, "all-masks")
            level = self.apply_decisions(tree, node_of, decisions, masks)
            for node in tree.nodes:
                if not node.is_leaf:
                    parent_of[node.left] = parent_of[node.right] = node.id

    def _histograms(self, tree: Tree, node_of: np.ndarray, rows: np.ndarray, position: np.ndarray,
                    cipher: PackedCipherArray, features: np.ndarray, candidates: list[int], counts: np.ndarray,
                    cache: dict[int, PackedCipherArray], pending: dict[int, tuple[int, int]],
                    parent_of: dict[int, int]) -> list[int]:
        """Encrypted (feature, bin) sums of the level's nodes; returns the nodes summed directly, to be sent.

        Each feature's derived cell (its most populated) is left out (its sums stay wrong here and are
        never sent): the label holder derives it from the node's total. The larger of two siblings is
        the parent minus the smaller one: the label holder derives it from the decrypted parent, so it
        is not sent; here it is derived under encryption only when a later level needs it as a parent
        (``pending`` until then).
        """
        direct: list[int] = []

        def materialise(node_id: int) -> PackedCipherArray:
            if node_id not in cache:
                parent, sibling = pending.pop(node_id)
                cache[node_id] = _subtract(materialise(parent), cache[sibling])
            return cache[node_id]

        for node_id in candidates:
            if node_id in cache:  # summed directly earlier in this level, as a smaller sibling
                continue
            parent = parent_of.get(node_id)
            sibling = None
            if parent is not None:
                node = tree.nodes[parent]
                sibling = node.right if node.left == node_id else node.left
            if (parent in cache or parent in pending) and sibling is not None and counts[sibling] <= counts[node_id]:
                if sibling not in cache:
                    cache[sibling] = self._direct(node_of, rows, position, cipher, features, sibling)
                    direct.append(sibling)
                materialise(parent)
                pending[node_id] = (parent, sibling)
            else:
                cache[node_id] = self._direct(node_of, rows, position, cipher, features, node_id)
                direct.append(node_id)
        return direct

    def _direct(self, node_of: np.ndarray, rows: np.ndarray, position: np.ndarray, cipher: PackedCipherArray,
                features: np.ndarray, node_id: int) -> PackedCipherArray:
        in_node = rows[node_of[rows] == node_id]
        picked = cipher[position[in_node]]
        bins = self.binned.bins[np.ix_(in_node, features)]
        bins[bins == self.derived[features]] = -1  # rows in a feature's derived cell are not summed
        return picked.bucket_sum(bins, self.params.width)

    def _parse_decisions(self, message: object, candidates: list[int],
                         node_of: np.ndarray) -> tuple[list[list[Any]], dict[str, np.ndarray]]:
        peer = self.active
        if not isinstance(message, dict) or not isinstance(message.get("decisions"), list) \
                or not isinstance(message.get("masks"), dict):
            raise MalformedMessage(f"party {peer!r} sent malformed split decisions", party=peer, step="decisions")
        decisions = message["decisions"]
        well_formed = all(isinstance(d, list) and len(d) == 6 and isinstance(d[1], str) and isinstance(d[4], bool)
                          and all(_is_int(v) for v in (d[0], d[2], d[3])) and isinstance(d[5], list)
                          and all(_is_int(v) for v in d[5]) for d in decisions)
        if not well_formed or [d[0] for d in decisions] != candidates:
            raise MalformedMessage(f"party {peer!r} sent decisions for other nodes", party=peer, step="decisions")
        masks: dict[str, np.ndarray] = {}
        for node_id, owner, feature, split_bin, _, right in decisions:
            if owner == self.ctx.me and not self._valid_split(feature, split_bin, right):
                raise MalformedMessage(f"party {peer!r} chose an invalid split on our feature {feature!r}",
                                       party=peer, step="decisions")
            if owner and owner not in self.ctx.parties:
                raise MalformedMessage(f"party {peer!r} named an unknown split owner {owner!r}", party=peer,
                                       step="decisions")
            if owner == peer:
                masks[str(node_id)] = self.check_mask(message["masks"].get(str(node_id)), node_of, node_id, peer,
                                                      "decisions")
        return decisions, masks

    def _valid_split(self, feature: int, split_bin: int, right: list[int]) -> bool:
        """A numeric split names a bin in ``[-1, bins)``; a categorical one a non-empty set of its levels."""
        if not 0 <= feature < len(self.binned.specs):
            return False
        spec = self.binned.specs[feature]
        if spec.categorical:
            return split_bin == -1 and 0 < len(right) == len(set(right)) and all(0 <= v < spec.n_bins for v in right)
        return not right and -1 <= split_bin < spec.n_bins


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
