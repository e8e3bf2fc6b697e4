"""Join semantics helpers: key encoding is injective and typed; expansion pairs rows consistently."""

from __future__ import annotations

import numpy as np
import pandas as pd

from accord.psi.join import encode_keys, expand_rows, group_keys


def test_composite_keys_do_not_collide_across_column_boundaries():
    df = pd.DataFrame({"a": ["ab", "a"], "b": ["c", "bc"]})
    _, keys = encode_keys(df, ["a", "b"], party="p")
    assert keys[0] != keys[1]


def test_kinds_are_part_of_the_key():
    _, as_str = encode_keys(pd.DataFrame({"k": ["1"]}), ["k"], party="p")
    kinds, as_int = encode_keys(pd.DataFrame({"k": [1]}), ["k"], party="p")
    assert kinds == ("int",) and as_str != as_int


def test_expansion_pairs_every_row_combination_once():
    mine = group_keys(("str",), [b"x", b"y", b"x", b"x"])  # x: rows 0, 2, 3; y: row 1
    theirs = group_keys(("str",), [b"x", b"x", b"y"])  # x: rows 0, 1; y: row 2
    outer = expand_rows(mine, np.array([0, 1]), theirs.counts[[0, 1]], outer=True)
    inner = expand_rows(theirs, np.array([0, 1]), mine.counts[[0, 1]], outer=False)
    pairs = sorted(zip(outer.tolist(), inner.tolist()))
    assert pairs == sorted([(a, b) for a in (0, 2, 3) for b in (0, 1)] + [(1, 2)])
