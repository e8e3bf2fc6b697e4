"""The two SPMD protocols: training among all parties, and joint scoring revealed to the label holder."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accord.devices.he import setup_paillier
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.he.encoding import FixedPoint
from accord.he.engine import OU, HEEngine
from accord.he.ou import OUPublicKey
from accord.he.workers import WorkerPool
from accord.ml._checks import binary_labels, check_layout
from accord.ml.columns import MISSING
from accord.ml.secureboost.active import Active
from accord.ml.secureboost.params import (
    FIT_LEAKAGE,
    PREDICT_LEAKAGE,
    THREAT_MODEL,
    BoosterPart,
    BoostParams,
    bin_table,
)
from accord.ml.secureboost.passive import Passive
from accord.ml.tree import sigmoid
from accord.runtime.context import Context
from accord.runtime.report import protocol


@protocol("ml.secureboost.fit", threat_model=THREAT_MODEL, leakage=FIT_LEAKAGE)
def secureboost_fit(ctx: Context, table: pd.DataFrame, label: Any, active: str, params: BoostParams) -> BoosterPart:
    """Train SecureBoost among the parties of ``ctx``; ``label`` is given only at ``active``.

    Returns this party's :class:`BoosterPart`.
    """
    binned = bin_table(table, params, ctx.me)
    n_rows = len(binned.bins)
    theirs = ctx.exchange({"rows": n_rows, "params": params.public(), "bins": binned.layout()}, "hello")
    for peer, info in theirs.items():
        if not isinstance(info, dict) or info.get("params") != params.public():
            raise ConfigurationError(f"party {peer!r} trains with different parameters than {ctx.me!r}")
        if info.get("rows") != n_rows:
            raise InputError(f"has {n_rows} rows but party {peer!r} has {info.get('rows')}: align the tables "
                             "with accord.psi.align first", party=ctx.me)
    setup = setup_ou if params.he == "ou" else setup_paillier
    engine: HEEngine = setup(ctx.sub("he.setup"), active, params.key_bits, params.frac_bits, params.workers,
                             params.allow_insecure_key_size)
    if ctx.me == active:
        layouts = {peer: check_layout(info.get("bins"), params.max_bin, peer) for peer, info in theirs.items()}
        y = binary_labels(label, n_rows, ctx.me)
        return Active(ctx, engine, binned, y, params, layouts).fit()
    return Passive(ctx, engine, binned, active, params).fit()


OU_THREAT_MODEL = (
    "semi-honest (passive) parties, no trusted third party; Okamoto-Uchiyama in Coron-Naccache-Paillier's form: "
    "one-way if factoring n = p^2 q is hard, semantically secure under the p-subgroup assumption plus "
    "indistinguishability of H^r for 2*kappa-bit r; re-randomisation by H^r' with |n| + kappa-bit r' is statistical"
)
OU_SETUP_LEAKAGE = "every party learns the key owner's public key (n, G, H and the plaintext bound); nothing else"


@protocol("he.ou.setup", threat_model=OU_THREAT_MODEL, leakage=OU_SETUP_LEAKAGE)
def setup_ou(ctx: Context, owner: str, bits: int, frac_bits: int, workers: int | None,
             allow_insecure_key_size: bool) -> OU:
    """Generate an Okamoto-Uchiyama key at ``owner`` and give every other party its public key (one round).

    The same steps and checks as :func:`accord.devices.he.setup_paillier`.
    """
    options: dict[str, Any] = {"encoding": FixedPoint(frac_bits=frac_bits, scalar_frac_bits=frac_bits),
                               "rng": ctx.rng.child("he"), "pool": WorkerPool(workers), "party": ctx.me}
    if ctx.me == owner:
        engine = OU.generate(bits, allow_insecure_key_size=allow_insecure_key_size, **options)
        ctx.send_all(engine.public_key.to_wire(), "public-key")
        return engine
    key = OUPublicKey.from_wire(ctx.recv(owner, "public-key"), party=owner, step=f"{ctx.path}/public-key",
                                allow_insecure_key_size=allow_insecure_key_size)
    if key.bits != bits:
        raise ConfigurationError(f"party {owner!r} sent a {key.bits}-bit key, but this job expects {bits} bits")
    return OU(key, **options)


@protocol("ml.secureboost.predict", threat_model=THREAT_MODEL, leakage=PREDICT_LEAKAGE)
def secureboost_predict(ctx: Context, part: BoosterPart, table: pd.DataFrame) -> np.ndarray | None:
    """Scores (probabilities) of the aligned rows of ``table``, returned at the label holder only."""
    names = {str(c): c for c in table.columns}
    missing = [c for c in part.columns if c not in names]
    if missing:
        raise InputError(f"the model needs columns {missing} that the table lacks", party=ctx.me, field=missing[0])
    bins = [spec.assign(table[names[spec.column]]) for spec in part.bins]
    n_rows = len(table)
    theirs = ctx.exchange({"rows": n_rows, "trees": len(part.trees)}, "hello")
    for peer, info in theirs.items():
        if info != {"rows": n_rows, "trees": len(part.trees)}:
            raise InputError(f"has {n_rows} rows and {len(part.trees)} trees but party {peer!r} reports {info}",
                             party=ctx.me)
    masks = []
    for tree in part.trees:
        decisions = {n.id: part.split(n.split_ref).goes_left(bins[part.splits[n.split_ref][0]], MISSING)
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
