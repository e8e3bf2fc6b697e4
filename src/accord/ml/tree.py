"""Histogram gradient boosting for binary labels: gradients, histograms and tree bookkeeping, no I/O.

Conventions follow XGBoost: logistic loss with gradient ``g = p - y`` and hessian ``h = p (1 - p)``;
a leaf's weight is ``-G / (H + lambda)``. The split search is in :mod:`accord.ml.splits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def gradients(y: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic-loss gradient and hessian at the current margins."""
    p = sigmoid(margin)
    return p - y, p * (1 - p)


def histograms(bins: np.ndarray, g: np.ndarray, h: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature, per-bin sums of ``g`` and ``h`` for rows ``bins`` (rows x features)."""
    features = bins.shape[1]
    flat = (bins + np.arange(features) * n_bins).ravel()
    hg = np.bincount(flat, weights=np.repeat(g, features), minlength=features * n_bins)
    hh = np.bincount(flat, weights=np.repeat(h, features), minlength=features * n_bins)
    return hg.reshape(features, n_bins), hh.reshape(features, n_bins)


@dataclass
class Node:
    """A tree node. Split nodes name the party that owns the split; only that party knows its threshold."""

    id: int
    depth: int
    owner: str | None = None
    split_ref: int = -1
    left: int = -1
    right: int = -1
    weight: float = 0.0

    @property
    def is_leaf(self) -> bool:
        """Whether the node has no children."""
        return self.left < 0


@dataclass
class Tree:
    """Structure shared by both parties; each party's split thresholds live in its own model part's ``splits``."""

    nodes: list[Node] = field(default_factory=list)

    def add(self, depth: int) -> Node:
        """Append a node and return it."""
        node = Node(len(self.nodes), depth)
        self.nodes.append(node)
        return node

    def leaves(self) -> list[Node]:
        """Leaf nodes in id order."""
        return [n for n in self.nodes if n.is_leaf]

    def leaf_masks(self, decisions: dict[int, np.ndarray], n_rows: int) -> np.ndarray:
        """Which leaves each row may reach given the go-left ``decisions`` a party knows (others: both ways).

        Returns a boolean ``rows x leaves`` array. The AND of both parties' masks has exactly one
        ``True`` per row: the leaf the row lands in.
        """
        leaf_index = {n.id: i for i, n in enumerate(self.leaves())}
        out = np.zeros((n_rows, len(leaf_index)), dtype=bool)
        stack = [(0, np.ones(n_rows, dtype=bool))]
        while stack:
            node_id, reach = stack.pop()
            node = self.nodes[node_id]
            if node.is_leaf:
                out[:, leaf_index[node_id]] = reach
                continue
            go_left = decisions.get(node_id)
            left_reach = reach if go_left is None else reach & go_left
            right_reach = reach if go_left is None else reach & ~go_left
            stack += [(node.left, left_reach), (node.right, right_reach)]
        return out

    def to_dict(self) -> dict[str, list]:
        """Plain-data form for saving (no thresholds: those stay in each party's split table)."""
        return {"nodes": [[n.id, n.depth, n.owner or "", n.split_ref, n.left, n.right, n.weight] for n in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> Tree:
        """Inverse of :meth:`to_dict`."""
        nodes = [Node(int(i), int(d), o or None, int(r), int(lft), int(rgt), float(w))
                 for i, d, o, r, lft, rgt, w in data["nodes"]]
        return cls(nodes)
