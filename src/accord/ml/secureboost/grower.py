"""What both SecureBoost roles share while a tree grows: the row-to-node map, splits and masks."""

from __future__ import annotations

import math

import numpy as np

from accord.errors import MalformedMessage
from accord.ml.secureboost.params import Binned, BoostParams, SplitRecord
from accord.ml.splits import Split
from accord.ml.tree import Tree
from accord.runtime.context import Context


class Grower:
    """State shared by both roles while a tree grows: the row-to-node map and the tree shape."""

    def __init__(self, ctx: Context, binned: Binned, params: BoostParams) -> None:
        self.ctx = ctx
        self.binned = binned
        self.params = params
        self.n_rows = len(binned.bins)
        self.splits: list[SplitRecord] = []
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

    def own_mask(self, node_of: np.ndarray, decision: list) -> np.ndarray:
        """Go-left flags of the rows of a node that this party's split (a decision entry) divides."""
        node_id, _, feature, split_bin, default_left, right = decision
        split = Split(0.0, feature, split_bin, default_left, tuple(right))
        return split.goes_left(self.binned.bins[node_of == node_id, feature], self.params.width - 1)

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

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Index of each sampled row in the tree's gradient arrays (-1 for rows not sampled)."""
        position = np.full(self.n_rows, -1)
        position[rows] = np.arange(len(rows))
        return position

    @staticmethod
    def candidates(tree: Tree, node_of: np.ndarray, rows: np.ndarray, level: list[int]) -> tuple[np.ndarray, list[int]]:
        """Sampled-row counts per node, and the nodes of ``level`` with enough rows to split."""
        counts = np.bincount(node_of[rows], minlength=len(tree.nodes))
        return counts, [n for n in level if counts[n] >= 2]

    def apply_decisions(self, tree: Tree, node_of: np.ndarray, decisions: list[list], masks: dict[str, np.ndarray]
                        ) -> list[int]:
        """Split every node the level's decisions name; returns the next level's nodes."""
        level: list[int] = []
        for node_id, owner, feature, split_bin, default_left, right in decisions:
            if not owner:
                continue
            ref = -1
            if owner == self.ctx.me:
                self.splits.append((feature, split_bin, bool(default_left), tuple(right)))
                ref = len(self.splits) - 1
            self.apply_split(tree, node_of, node_id, owner, ref, masks[str(node_id)])
            level += [tree.nodes[node_id].left, tree.nodes[node_id].right]
        return level
