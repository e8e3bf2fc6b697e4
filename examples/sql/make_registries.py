"""Generate the three synthetic registries of the secure-SQL example in examples/sql/data/ (deterministic).

    python examples/sql/make_registries.py [--persons 60000]

A social-security agency (``social``) holds residents, their district and monthly benefit; a tax agency
(``tax``) holds taxpayers' income and arrears; a bank (``bank``) holds its customers' balances and
overdue loans. The registries overlap partly (not every resident pays tax or banks there), districts are
Zipf-skewed (a capital and many small towns), incomes log-normal, and arrears and benefits are mostly
zero with heavy tails: the shape of real registries, with synthetic values.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

DISTRICTS = ["Capital", "Northport", "Eastvale", "Riverton", "Lakeside", "Hillcrest", "Oakridge", "Millbrook",
             "Stonebridge", "Fairview", "Brookfield", "Westmoor", "Redcliff", "Elmstead", "Ashford", "Pinegate",
             "Foxhollow", "Harrowby", "Kingsmere", "Dunwick"]


def generate(persons: int = 60_000, seed: int = 17) -> dict[str, pd.DataFrame]:
    gen = np.random.default_rng(seed)  # not-secret: synthetic example data
    ids = np.array([f"P{i:07d}" for i in gen.permutation(persons * 3)[:persons]])
    weights = 1.0 / np.arange(1, len(DISTRICTS) + 1) ** 1.1
    district = gen.choice(DISTRICTS, persons, p=weights / weights.sum())
    age = gen.integers(18, 95, persons)
    poor = gen.random(persons) < 0.18 + 0.002 * (age > 67)
    benefit = np.where(poor, gen.gamma(2.0, 240.0, persons), 0.0).round(2)
    social = pd.DataFrame({"person_id": ids, "district": district, "age": age, "benefit": benefit})

    taxed = gen.random(persons) < 0.8
    income = np.exp(gen.normal(10.3, 0.7, persons)) * np.where(poor, 0.35, 1.0)
    arrears = np.where(gen.random(persons) < 0.07 + 0.1 * poor, gen.pareto(1.6, persons) * 900.0, 0.0)
    tax = pd.DataFrame({"person_id": ids, "income": income.round(2), "arrears": np.minimum(arrears, 9.9e5).round(2)})
    tax = tax[taxed].sample(frac=1.0, random_state=1)

    banked = gen.random(persons) < 0.55
    balance = np.exp(gen.normal(8.0, 1.4, persons)) * np.where(poor, 0.2, 1.0)
    overdue = (gen.random(persons) < 0.04 + 0.12 * poor).astype(int)
    bank = pd.DataFrame({"person_id": ids, "balance": np.minimum(balance, 9.9e6).round(2), "overdue_loans": overdue})
    bank = bank[banked].sample(frac=1.0, random_state=2)
    return {"social": social, "tax": tax, "bank": bank}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=60_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in generate(args.persons).items():
        frame.to_csv(args.out / f"{name}.csv", index=False)
        print(f"{name}: {len(frame)} rows -> {args.out / (name + '.csv')}")


if __name__ == "__main__":
    main()
