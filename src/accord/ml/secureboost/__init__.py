"""SecureBoost: gradient-boosted trees on vertically split data with homomorphically encrypted gradients.

Protocol (Cheng et al., "SecureBoost: A Lossless Federated Learning Framework", IEEE IS 2021, section 4),
between the *active* party, which holds the label, and one or more *passive* parties:

1. every party bins its own columns locally (:mod:`accord.ml.columns`: quantile bins that respect
   distinct values, one bin per categorical level; edges and levels never leave it), and tells the
   others each column's number of bins, whether it is categorical and whether it has missing values;
2. per tree, the active party computes logistic-loss gradients and hessians, packs each row's
   ``(g, h)`` into one plaintext (:class:`~accord.he.packing.SlotPacking`), encrypts it under its
   Okamoto-Uchiyama key (:mod:`accord.he.ou`; Paillier with ``he="paillier"``) and sends the
   ciphertexts to the passive parties;
3. per tree level, each passive party sums the ciphertexts per (node, feature, bin) for the smaller
   node of each pair of siblings, leaving out each feature's most populated cell (bin or missing
   bucket, fixed by the first tree's rows), shifts many sums into each ciphertext (``compress``),
   re-randomises and returns them; the active party decrypts them, derives each left-out cell as
   the node's total minus the feature's other cells and each larger sibling as the decrypted
   parent minus the smaller one (the passive party does the same under encryption only for nodes a
   later level needs as parents), adds its own plaintext
   histograms and picks every node's best split across all parties (:mod:`accord.ml.splits`, XGBoost's
   ``hist`` search: a learned direction for missing values, whose sums are one more cell per feature;
   one-vs-rest or sorted-partition splits of categorical levels);
4. a split on the active party's column stays with it; a split on a passive party's column is sent
   to that party as "your feature k, bin j" (or "these levels go right") with the side for missing
   values, and only it learns the threshold or level names. The owner of each split
   sends the resulting left/right partition of the node's rows to the others;
5. leaf weights are known only to the active party. Prediction needs every party: each one sends, per
   row and tree, the leaves its own splits allow; the active party intersects them and scores.

Costs per tree: ``rows`` encryptions at the active party; at most
``rows * features * (1 + (depth - 1) / 2)`` ciphertext additions (less the rows in each feature's
largest cell: half of them on the UCI credit data's one-hot and mostly-zero columns) and one
compression per pair of sibling nodes at each passive party; a few decryptions per pair at the
active party. The compressed
histograms grow with the bins in use (``max_bin``, plus one missing-value cell per feature that has
missing values). Rounds: ``1 + 2 * depth`` per tree.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.ml.secureboost.params import BoosterPart, BoostParams, params_from
    from accord.ml.secureboost.protocols import secureboost_fit, secureboost_predict

__all__ = ["BoostParams", "BoosterPart", "params_from", "secureboost_fit", "secureboost_predict"]
__getattr__, __dir__ = exports(__name__, {
    "accord.ml.secureboost.params": ["BoosterPart", "BoostParams", "params_from"],
    "accord.ml.secureboost.protocols": ["secureboost_fit", "secureboost_predict"],
})
