"""Synthetic customer tables for ``accord demo``: a bank and a data partner sharing half their customers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_demo_tables(directory: Path, rows: int) -> tuple[Path, Path]:
    """Write ``bank.csv`` and ``partner.csv`` with ``rows`` customers each, half of them shared."""
    if rows < 2:
        raise ValueError(f"the demo needs at least 2 rows per party, got {rows}")
    gen = np.random.default_rng(7)  # not-secret: synthetic demo data only
    shared = rows // 2
    ids = [f"C{i:08d}" for i in gen.permutation(10 * rows)[: 2 * rows - shared]]
    bank_ids = ids[:rows]
    partner_ids = ids[:shared] + ids[rows:]
    bank = pd.DataFrame({
        "customer_id": bank_ids,
        "income": gen.normal(5000, 1500, rows).round(2),
        "default": (gen.random(rows) < 0.2).astype(int),
    }).sample(frac=1.0, random_state=1)
    partner = pd.DataFrame({
        "customer_id": partner_ids,
        "monthly_data_gb": gen.gamma(2.0, 5.0, len(partner_ids)).round(1),
        "late_bills": gen.poisson(0.5, len(partner_ids)),
    }).sample(frac=1.0, random_state=2)
    bank_csv, partner_csv = directory / "bank.csv", directory / "partner.csv"
    bank.to_csv(bank_csv, index=False)
    partner.to_csv(partner_csv, index=False)
    return bank_csv, partner_csv
