"""Party-local tables: clear errors for unreadable input, atomic output."""

from __future__ import annotations

import pandas as pd
import pytest

from accord.data.tables import read_table, write_table
from accord.errors import InputError


def test_missing_and_garbled_files_name_party_and_file(tmp_path):
    with pytest.raises(InputError, match=r"party 'bank': input file .*nope.csv does not exist"):
        read_table(tmp_path / "nope.csv", party="bank")
    garbage = tmp_path / "t.parquet"
    garbage.write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"party 'bank': cannot read .*t.parquet as parquet"):
        read_table(garbage, party="bank")


def test_csv_keys_keep_their_text(tmp_path):
    (tmp_path / "t.csv").write_text("id,v\n007,1\n,2\n")
    df = read_table(tmp_path / "t.csv", party="p")
    assert df["id"].tolist()[0] == "007" and pd.isna(df["id"].tolist()[1])


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"

    def explode(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    with pytest.raises(OSError, match="disk full"):
        write_table(pd.DataFrame({"a": [1]}), target, party="p")
    assert list(tmp_path.iterdir()) == []


def test_output_directory_must_exist(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "missing" / "out.csv", party="p")
