"""Helpers shared by the vertical models: label checks naming the party, atomic model files."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from accord.errors import ConfigurationError, InputError, MalformedMessage

T = TypeVar("T")


def binary_labels(label: Any, n_rows: int, party: str, positive: Any = None) -> np.ndarray:
    """The label as a float 0/1 vector of ``n_rows`` values.

    Without ``positive`` the label must read as 0/1 (CSV text such as ``"1"`` is accepted); with it,
    rows equal to ``positive`` (compared as text, so ``"bad"``, ``1`` and ``"1"`` all work) are 1 and
    the others 0.
    """
    raw = label.iloc[:, 0] if isinstance(label, pd.DataFrame) else pd.Series(np.asarray(label).ravel())
    if len(raw) != n_rows:
        raise InputError(f"the label has {len(raw)} values but the features have {n_rows} rows", party=party,
                         field="label")
    if raw.isna().any():
        raise InputError("the label has missing values", party=party, field="label")
    if positive is not None:
        text = raw.astype(str).to_numpy()
        if not (text == str(positive)).any():
            values = sorted(set(text.tolist()))[:5]
            raise InputError(f"the positive class {positive!r} does not occur in the label (values {values})",
                             party=party, field="label")
        y = (text == str(positive)).astype(np.float64)
    else:
        y = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(y).any():
            values = sorted({str(v) for v in raw.unique()})[:5]
            raise InputError(f"the label holds text ({values}); declare which value is the positive class",
                             party=party, field="label")
        if not np.isin(y, (0.0, 1.0)).all():
            values = sorted({float(v) for v in np.unique(y)})[:5]
            raise InputError(f"the label must be binary 0/1, got values {values}; or declare the positive class",
                             party=party, field="label")
    if y.min() == y.max():
        raise InputError("the label holds a single class; there is nothing to learn", party=party, field="label")
    return y


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON atomically (temporary file, then rename): no partial model files."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_params(cls: type[T], kwargs: dict[str, Any], what: str) -> T:
    """``cls(**kwargs)`` for a parameter dataclass, naming unknown keywords and invalid values."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ConfigurationError(f"unknown {what} parameters {unknown}; valid ones are {sorted(names)}")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ConfigurationError(f"{what}: {exc}") from None


def read_part(path: Path, party: str, fmt: str) -> dict[str, Any]:
    """A saved model part (JSON) of format ``fmt``, with errors naming the party and the file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"model file {path} does not exist", party=party, field=str(path)) from None
    except ValueError as exc:
        raise InputError(f"model file {path} is not JSON: {exc}", party=party, field=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise InputError(f"model file {path} is not an accord {fmt} model part", party=party, field=str(path))
    return data


def check_bin_counts(value: object, n_bins: int, peer: str) -> list[int]:
    """A peer's bins-per-column list: a non-empty list of integers in ``[1, n_bins]``."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= n_bins for v in value)):
        raise MalformedMessage(f"party {peer!r} sent invalid bin counts", party=peer, step="hello")
    return value


def check_layout(value: object, max_bin: int, peer: str) -> list[list[int]]:
    """A peer's per-feature ``[bins, has_missing, categorical]`` list, bins in ``[1, max_bin]``, flags 0/1."""
    def ok(entry: object) -> bool:
        return (isinstance(entry, list) and len(entry) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) for v in entry)
                and 1 <= entry[0] <= max_bin and entry[1] in (0, 1) and entry[2] in (0, 1))
    if not isinstance(value, list) or not value or not all(ok(v) for v in value):
        raise MalformedMessage(f"party {peer!r} sent an invalid column layout", party=peer, step="hello")
    return value
