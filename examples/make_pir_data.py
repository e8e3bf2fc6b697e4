"""Generate synthetic inputs for keyword PIR, PSI-sum and joint debt at realistic scale (deterministic).

    python -m examples.make_pir_data --out data/pir [--phones 1000000] [--applicants 3000]

Writes ``flagged.csv`` (a telecom's list of flagged numbers: phone, risk, since), ``applicants.csv``
(a bank's applicants, about a tenth of them flagged), ``viewers.csv`` / ``purchases.csv`` (an ad
platform's viewers, an advertiser's purchases in cents) and ``lender{1,2,3}.csv`` (outstanding amounts
per account id, some applicants at several lenders). Use ``--phones 10000000`` for the 10^7 list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def phones(numbers: np.ndarray) -> list[str]:
    """Mainland-style 11-digit mobile numbers."""
    return [f"1{n:010d}" for n in numbers]


def generate(out: Path, n_phones: int, n_applicants: int, seed: int = 18) -> None:
    gen = np.random.default_rng(seed)  # not-secret: synthetic example data
    out.mkdir(parents=True, exist_ok=True)
    flagged = np.unique(gen.integers(3_000_000_000, 9_999_999_999, int(n_phones * 1.01)))[:n_phones]
    gen.shuffle(flagged)
    pd.DataFrame({"phone": phones(flagged), "risk": gen.choice(["high", "medium", "low"], len(flagged)),
                  "since": pd.Timestamp("2025-01-01") + pd.to_timedelta(gen.integers(0, 365, len(flagged)), "D")}
                 ).to_csv(out / "flagged.csv", index=False)
    listed = gen.choice(flagged, n_applicants // 10, replace=False)
    applicants = np.concatenate([listed, gen.integers(3_000_000_000, 9_999_999_999, n_applicants - len(listed))])
    gen.shuffle(applicants)
    pd.DataFrame({"phone": phones(applicants)}).to_csv(out / "applicants.csv", index=False)
    viewers = gen.permutation(n_phones)[: n_phones // 2]
    buyers = gen.integers(0, n_phones, n_phones // 4)
    pd.DataFrame({"id": [f"u{i:08d}" for i in viewers]}).to_csv(out / "viewers.csv", index=False)
    pd.DataFrame({"id": [f"u{i:08d}" for i in buyers], "cents": gen.integers(199, 50_000, len(buyers))}
                 ).to_csv(out / "purchases.csv", index=False)
    ids = [f"p{i:08d}" for i in range(n_applicants)]
    pd.DataFrame({"id": ids}).to_csv(out / "borrowers.csv", index=False)
    for k in (1, 2, 3):
        accounts = gen.integers(0, 4 * n_applicants, 2 * n_applicants)
        pd.DataFrame({"id": [f"p{i:08d}" for i in accounts], "owed": gen.integers(0, 5_000_000, len(accounts))}
                     ).to_csv(out / f"lender{k}.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/pir"))
    parser.add_argument("--phones", type=int, default=1_000_000)
    parser.add_argument("--applicants", type=int, default=3_000)
    args = parser.parse_args()
    generate(args.out, args.phones, args.applicants)
    print(f"wrote {sorted(p.name for p in args.out.iterdir())} to {args.out}")


if __name__ == "__main__":
    main()
