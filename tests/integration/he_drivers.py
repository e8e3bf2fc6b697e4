"""Driver functions the HE integration tests run as separate processes (see tests/procs.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

import accord
from accord.he import SlotPacking


def bucket_labels_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """The bank encrypts its labels; the partner sums them per bucket; the bank decrypts.

    Each process reads only its own party's data from ``args``; the other side is a placeholder.
    """
    bank, partner = cluster.parties("bank", "partner")
    labels = bank.put(np.array(args["labels"]) if me == "bank" else None)
    groups = partner.put(np.array(args["groups"]) if me == "partner" else None)
    with cluster.he(key_owner="bank", bits=args["bits"], workers=args["workers"],
                    allow_insecure_key_size=args["bits"] < 2048) as he:
        at_partner = he.send(he.encrypt(labels), to="partner")
        sums = partner.apply(lambda c, g: c.bucket_sum(g, args["n_groups"]), at_partner, groups)
        result = he.decrypt(sums)
        layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=len(args["labels"]), frac_bits=20)
        pairs = bank.put(np.stack([np.array(args["labels"]) * 0.5, -np.array(args["labels"]) * 0.25], axis=1)
                         if me == "bank" else None)
        packed = he.send(he.encrypt_packed(pairs, layout), to="partner")
        histogram = he.decrypt(partner.apply(lambda c, g: c.bucket_sum(g, args["n_groups"]).compress(), packed,
                                             groups))
    report = cluster.report().to_dict()
    out: dict[str, Any] = {"notes": report["notes"], "protocols": sorted(report["protocols"])}
    if me == "bank":
        out["sums"] = result.get().tolist()
        out["histogram"] = histogram.get().tolist()
    else:
        out["bytes_received"] = report["protocols"]["he.paillier.send"]["costs"][me]["bytes_received"]
    return out
