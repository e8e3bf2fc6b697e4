"""Generate the synthetic credit-risk example data in examples/data/ (deterministic).

    python examples/make_credit_data.py

The bank holds repayment status (PAY_*) and bill amounts (BILL_AMT*) and the default label; the data
partner holds credit limit, demographics and payment amounts (PAY_AMT*). Columns mimic the UCI
"default of credit card clients" data; values are synthetic. Both sides hold customers the other
lacks, so PSI matters, and the label depends on both sides' columns, so the joint model beats either.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def generate(n_shared: int = 2500, n_extra: int = 250, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    gen = np.random.default_rng(seed)  # not-secret: synthetic example data
    n = n_shared + 2 * n_extra
    ids = np.array([f"C{i:06d}" for i in gen.permutation(10 * n)[:n]])
    limit = gen.choice([20_000, 50_000, 80_000, 120_000, 200_000, 360_000], n)
    age = gen.integers(21, 70, n)
    risk = gen.normal(0, 1, n) - 0.25 * np.log(limit / 80_000)
    pay = np.clip(np.round(risk[:, None] + gen.normal(0, 0.8, (n, 6))), -2, 8).astype(int)
    bill = np.maximum(0, limit[:, None] * gen.uniform(0.05, 0.9, (n, 6))).round(0)
    pay_amt = np.maximum(0, bill * gen.uniform(0.0, 0.3, (n, 6)) * np.exp(-0.5 * risk[:, None])).round(0)
    logit = -1.4 + 0.6 * pay[:, 0] + 0.2 * pay[:, 1] - 0.7 * np.log1p(pay_amt[:, 0] / 1000) - 0.04 * (age - 40) \
        - 0.8 * np.log(limit / 80_000)
    default = (gen.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    full = pd.DataFrame({"id": ids, "LIMIT_BAL": limit, "SEX": gen.integers(1, 3, n),
                         "EDUCATION": gen.integers(1, 5, n), "MARRIAGE": gen.integers(1, 4, n), "AGE": age})
    for i, name in enumerate(["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]):
        full[name] = pay[:, i]
    for i in range(6):
        full[f"BILL_AMT{i + 1}"] = bill[:, i]
        full[f"PAY_AMT{i + 1}"] = pay_amt[:, i]
    full["default"] = default
    bank_cols = ["id", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6", *[f"BILL_AMT{i}" for i in range(1, 7)],
                 "default"]
    partner_cols = ["id", "LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE", *[f"PAY_AMT{i}" for i in range(1, 7)]]
    bank = full.iloc[np.r_[0:n_shared, n_shared:n_shared + n_extra]][bank_cols]
    partner = full.iloc[np.r_[0:n_shared, n_shared + n_extra:n]][partner_cols]
    return bank.sample(frac=1, random_state=1), partner.sample(frac=1, random_state=2)


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "data"
    out.mkdir(exist_ok=True)
    bank, partner = generate()
    bank.to_csv(out / "bank.csv", index=False)
    partner.to_csv(out / "partner.csv", index=False)
    print(f"wrote {out / 'bank.csv'} ({len(bank)} rows) and {out / 'partner.csv'} ({len(partner)} rows)")
