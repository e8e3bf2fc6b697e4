"""Checkpoints of the global model that a restarted aggregator resumes from.

A checkpoint is one codec-encoded file (no pickle): the last completed round, the global parameters,
the strategy's optimiser state and the round history. It is written to a temporary file and renamed,
so a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from accord.errors import CodecError, ConfigurationError
from accord.net import codec


def save(path: str | os.PathLike[str], round_number: int, parameters: list[np.ndarray], strategy_state: dict[str, Any],
         history: list[dict[str, Any]]) -> None:
    """Atomically replace the checkpoint at ``path``."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(codec.encode({"round": round_number, "parameters": list(parameters), "strategy": strategy_state,
                                  "history": history}))
    os.replace(tmp, target)


def load(path: str | os.PathLike[str], shapes: list[tuple[int, ...]]) -> tuple[int, list[np.ndarray], dict[str, Any],
                                                                              list[dict[str, Any]]]:
    """``(round, parameters, strategy state, history)``; raises :class:`ConfigurationError` if unusable."""
    try:
        state = codec.decode(Path(path).read_bytes())
    except (OSError, CodecError) as exc:
        raise ConfigurationError(f"checkpoint {path} cannot be read: {exc}") from None
    if not isinstance(state, dict) or set(state) != {"round", "parameters", "strategy", "history"}:
        raise ConfigurationError(f"checkpoint {path} is not an accord FL checkpoint")
    params = state["parameters"]
    if [tuple(p.shape) for p in params] != [tuple(s) for s in shapes]:
        raise ConfigurationError(f"checkpoint {path} holds a model of another shape than this job's")
    return int(state["round"]), params, state["strategy"], state["history"]
