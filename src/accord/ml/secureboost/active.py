"""The label holder's side of SecureBoost: gradients, decryption, split search, leaf weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accord.errors import MalformedMessage
from accord.he.cipher_array import PackedCipherArray
from accord.he.engine import HEEngine
from accord.he.packing import SlotPacking
from accord.ml.metrics import log_loss
from accord.ml.secureboost.grower import Grower
from accord.ml.secureboost.params import Binned, BoosterPart, BoostParams, feature_cells, sent_cells
from accord.ml.splits import Split, best_split
from accord.ml.tree import Tree, gradients, histograms, sigmoid
from accord.runtime.context import Context


class Active(Grower):
    def __init__(self, ctx: Context, engine: HEEngine, binned: Binned, y: np.ndarray, params: BoostParams,
                 layouts: dict[str, list[list[int]]]) -> None:
        super().__init__(ctx, binned, params)
        self.engine = engine
        self.y = y
        self.passives = list(ctx.peers)
        self.layouts = layouts

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
                loss = log_loss(self.y[valid], sigmoid(margin[valid]))
                history.append(loss)
                best, since_best = (loss, 0) if loss < best - 1e-12 else (best, since_best + 1)
            ctx.progress("SecureBoost trees", t + 1, p.n_trees)
        own = {self.binned.columns[f]: gain for (owner, f), gain in importance.items() if owner == ctx.me}
        for peer in self.passives:
            ctx.send(peer, {str(f): gain for (owner, f), gain in importance.items() if owner == peer}, "importance")
        return BoosterPart(ctx.me, ctx.me, self.binned.columns, self.trees, self.splits, self.binned.specs, base, own,
                           history, self.binned.dropped)

    def _grow(self, ctx: Context, tree: Tree, node_of: np.ndarray, rows: np.ndarray, g: np.ndarray,
              h: np.ndarray, importance: dict[tuple[str, int], float]) -> None:
        p = self.params
        features = self.own_features()
        position = self.positions(rows)
        layout = self.binned.layout()
        grids: dict[str, dict[int, np.ndarray]] = {peer: {} for peer in self.passives}
        # The partner's plaintexts: gradients rounded to frac_bits, so derived cells come out exact.
        quantised = np.ldexp(np.rint(np.ldexp(np.stack([g, h], axis=1), p.frac_bits)), -p.frac_bits)
        level = [0]
        for _depth in range(p.max_depth):
            _, candidates = self.candidates(tree, node_of, rows, level)
            if not candidates:
                break
            totals = np.stack([np.bincount(node_of[rows], weights=quantised[:, i], minlength=len(tree.nodes))
                               for i in (0, 1)], axis=1)
            remote = {peer: self._receive_histograms(ctx, peer, tree, level, candidates, grids[peer], totals)
                      for peer in self.passives}
            decisions: list[list[Any]] = []
            masks: dict[str, np.ndarray] = {}
            for i, node_id in enumerate(candidates):
                in_node = rows[node_of[rows] == node_id]
                hist = histograms(self.binned.bins[np.ix_(in_node, features)], g[position[in_node]],
                                  h[position[in_node]], p.width)
                own = self._search(np.stack(hist, axis=-1), [layout[f] for f in features])
                options: list[tuple[Split | None, str, np.ndarray | None]] = [(own, ctx.me, features)]
                for peer, hists in remote.items():
                    options.append((self._search(hists[i], self.layouts[peer]), peer, None))
                found = [(s, owner, f) for s, owner, f in options if s is not None]
                if not found:
                    decisions.append([node_id, "", -1, -1, False, []])
                    continue
                split, owner, feats = max(found, key=lambda o: o[0].gain)
                feature = int(feats[split.feature]) if feats is not None else split.feature   # None: a peer's
                importance[(owner, feature)] = importance.get((owner, feature), 0.0) + split.gain
                decision = [node_id, owner, feature, split.bin, split.default_left, list(split.right_levels)]
                decisions.append(decision)
                if owner == ctx.me:
                    masks[str(node_id)] = self.own_mask(node_of, decision)
            for peer in self.passives:  # each passive party sees the feature and bins of its own splits only
                mine = [d if d[1] == peer else [d[0], d[1], -1, -1, False, []] for d in decisions]
                ctx.send(peer, {"decisions": mine, "masks": masks}, "decisions")
            for peer in self.passives:
                if any(d[1] == peer for d in decisions):
                    theirs = ctx.recv(peer, "masks")
                    if not isinstance(theirs, dict):
                        raise MalformedMessage(f"party {peer!r} sent malformed partitions", party=peer, step="masks")
                    for node_id in (d[0] for d in decisions if d[1] == peer):
                        masks[str(node_id)] = self.check_mask(theirs.get(str(node_id)), node_of, node_id, peer,
                                                              "masks")
            if len(self.passives) > 1:
                ctx.send_all(masks, "all-masks")
            level = self.apply_decisions(tree, node_of, decisions, masks)

    def _search(self, grid: np.ndarray, layout: list[list[int]]) -> Split | None:
        """Best split of a ``(features, width, 2)`` histogram grid whose last cell is the missing bucket."""
        return best_split(grid[:, :-1, 0], grid[:, :-1, 1], self.params.rules(), missing_g=grid[:, -1, 0],
                          missing_h=grid[:, -1, 1], categorical=np.array([c for _, _, c in layout], dtype=bool),
                          n_bins=np.array([n for n, _, _ in layout], dtype=np.int64))

    def _receive_histograms(self, ctx: Context, peer: str, tree: Tree, level: list[int], candidates: list[int],
                            grids: dict[int, np.ndarray], totals: np.ndarray) -> list[np.ndarray]:
        """A passive party's ``(features, width, 2)`` grids of the candidates (unsampled features: zero).

        It sends the nodes it summed directly, without each feature's derived cell, which is the
        node's total (``totals[node]``) minus the feature's other cells; the larger of two siblings
        is the decrypted parent minus the smaller one. ``grids`` keeps this tree's grids for the next
        level.
        """
        data = ctx.recv(peer, "histograms", timeout=ctx.timeout + 60 * len(candidates))
        layout = self.layouts[peer]
        n_features, width = len(layout), self.params.width
        features, direct, derived = (data.get(k) if isinstance(data, dict) else None
                                     for k in ("features", "direct", "derived"))
        if (not isinstance(features, np.ndarray) or features.dtype != np.int64 or features.ndim != 1
                or not len(features) or features.min() < 0 or features.max() >= n_features
                or np.any(np.diff(features) <= 0)
                or not isinstance(direct, np.ndarray) or direct.dtype != np.int64 or direct.ndim != 1
                or not set(direct.tolist()) <= set(level) or len(set(direct.tolist())) != len(direct)
                or not isinstance(derived, np.ndarray) or derived.dtype != np.int64 or derived.shape != features.shape
                or not all(d in feature_cells(layout[f], width) for f, d in zip(features.tolist(), derived.tolist()))):
            raise MalformedMessage(f"party {peer!r} sent malformed histograms", party=peer, step="histograms")
        cells = sent_cells(layout, features, width, derived)
        array = self.engine.receive(data.get("hists"), party=peer, step=f"{ctx.path}/histograms")
        if not isinstance(array, PackedCipherArray) or array.shape != (len(direct) * len(cells),):
            raise MalformedMessage(f"party {peer!r} sent histograms of the wrong shape", party=peer,
                                   step="histograms")
        with ctx.timed("decrypt histograms"):
            sums = self.engine.decrypt(array).reshape(len(direct), len(cells), 2) if len(direct) else np.zeros((0,))
        positions = (features[:, None] * width + np.arange(width)).ravel()[cells]
        for node_id, node_sums in zip(direct.tolist(), sums):
            flat = np.zeros((n_features * width, 2))
            flat[positions] = node_sums
            grid = flat.reshape(n_features, width, 2)
            grid[features, derived] = totals[node_id] - grid[features].sum(axis=1)
            grids[node_id] = grid
        parent_of = {child: n.id for n in tree.nodes if not n.is_leaf for child in (n.left, n.right)}
        for node_id in candidates:
            if node_id in grids:
                continue
            parent = parent_of.get(node_id, -1)
            sibling = tree.nodes[parent].left + tree.nodes[parent].right - node_id if parent >= 0 else -1
            if parent not in grids or sibling not in grids:
                raise MalformedMessage(f"party {peer!r} sent no histogram for node {node_id}", party=peer,
                                       step="histograms")
            grids[node_id] = grids[parent] - grids[sibling]
        return [grids[n] for n in candidates]
