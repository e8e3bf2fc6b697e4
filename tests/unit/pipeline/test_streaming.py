"""Batched scoring's local steps: checks and column types batch by batch equal those of the whole table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.pipeline import prepare
from accord.pipeline.checks import InputProblems, scoring_problems
from accord.pipeline.job import PartySpec
from accord.pipeline.streaming import _exact, _kinds, _numeric, stage

BANK = PartySpec("bank", Path("bank.csv"), ["id"], Path("out/bank"), categorical=["grade"])
CELLS = st.sampled_from(["1", "2.5", "-3", "", "x", "inf", "7"])


def _frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"k{i}" for i in range(len(rows))], "income": [r[0] for r in rows],
                         "region": [r[1] for r in rows], "grade": [r[2] for r in rows]})


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(CELLS, CELLS, CELLS), min_size=1, max_size=30), batch=st.integers(1, 8))
def test_batched_checks_and_types_equal_the_whole_tables(tmp_path_factory, rows, batch):
    """Oracle: the unbatched checks (scoring_problems) and types (prepare.features) of the whole table."""
    tmp = tmp_path_factory.mktemp("stage")
    df = _frame(rows)
    df.to_csv(tmp / "in.csv", index=False)
    whole = pd.read_csv(tmp / "in.csv", dtype=str, keep_default_na=False, na_values=[""])
    columns = ["income", "region", "grade"]
    expected = scoring_problems(whole, BANK, columns)
    if expected:
        with pytest.raises(InputProblems) as caught:
            stage(tmp / "in.csv", BANK, columns, tmp / "staged.parquet", batch)
        assert sorted(p.message for p in caught.value.problems) == sorted(p.message for p in expected)
        return
    staged = stage(tmp / "in.csv", BANK, columns, tmp / "staged.parquet", batch)
    kinds = _kinds(staged, columns, BANK)
    reference = prepare._numeric(whole, BANK, columns)
    start = 0
    for frame in _exact(staged, ["id", *columns], batch):
        got, want = _numeric(frame, columns, kinds), reference.iloc[start:start + len(frame)].reset_index(drop=True)
        assert [_kind(t) for t in got.dtypes] == [_kind(t) for t in want.dtypes]
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False)
        start += len(frame)
    assert start == len(whole)


def _kind(dtype: object) -> str:
    return "category" if isinstance(dtype, pd.CategoricalDtype) else "number" if pd.api.types.is_numeric_dtype(
        dtype) else "text"


def test_batches_have_the_agreed_size_whatever_the_row_groups(tmp_path):
    pq.write_table(pd.DataFrame({"id": [str(i) for i in range(10)]}).pipe(__import__("pyarrow").Table.from_pandas),
                   tmp_path / "a.parquet", row_group_size=3)
    assert [len(f) for f in _exact(tmp_path / "a.parquet", ["id"], 4)] == [4, 4, 2]


def test_a_missing_model_column_is_found_before_reading_the_rows(tmp_path):
    _frame([("1", "2", "3")]).drop(columns="region").to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(InputProblems, match="column 'region', which the saved model uses, is missing"):
        stage(tmp_path / "in.csv", BANK, ["income", "region"], tmp_path / "staged.parquet", 10)


def test_a_column_reads_as_numbers_only_when_every_present_cell_does():
    from accord.pipeline.prepare import as_numbers

    numbers = as_numbers(pd.Series(["1", "2.5", None, "-3"]))
    assert numbers is not None and numbers.tolist()[:2] == [1.0, 2.5] and numbers.isna().tolist() == [False, False,
                                                                                                      True, False]
    assert as_numbers(pd.Series(["1", "two", "3"])) is None
