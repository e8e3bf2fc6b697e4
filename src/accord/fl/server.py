"""The aggregator: rounds of sampling, (secure) aggregation, server update, evaluation and checkpoints.

One :class:`Aggregator` drives a :class:`~accord.fl.pool.ClientPool`; the same code runs a simulation
and a production job. Each round samples clients with the CSPRNG, collects their updates (in the
clear, or through SecAgg+ so that only the sum is learned), applies the strategy's server update,
optionally evaluates (federated on clients' held-out data and/or centrally with ``evaluate_fn``),
writes a checkpoint, and stops early when the monitored metric stops improving. A restarted
aggregator given the same checkpoint path resumes after the last completed round.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.errors import MalformedMessage, ProtocolAbort
from accord.fl import checkpoint
from accord.fl.dp import DPFedAvg
from accord.fl.messages import EvaluateIns, EvaluateRes, FitIns, FitRes, JoinIns, Stage
from accord.fl.pool import ClientPool
from accord.fl.secagg.server import SPEC, SecAggParams, SecAggRound
from accord.fl.strategy import FedAvg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``metric`` (from central or federated evaluation) has not improved for ``patience`` evaluations."""

    metric: str = "accuracy"
    patience: int = 3
    mode: str = "max"
    min_delta: float = 0.0


@dataclass
class History:
    """Per-round records: sampled clients, survivors, failures, evaluation, bytes, seconds, ε."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    declarations: list[dict[str, str]] = field(default_factory=list)

    def last(self, key: str) -> Any:
        """The latest recorded value of ``key`` (``None`` if no round recorded it)."""
        for record in reversed(self.rounds):
            if key in record:
                return record[key]
        return None


def flatten(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([a.reshape(-1).astype(np.float64) for a in arrays]) if arrays else np.zeros(0)


def unflatten(flat: np.ndarray, like: list[np.ndarray]) -> list[np.ndarray]:
    out, pos = [], 0
    for a in like:
        out.append(flat[pos:pos + a.size].reshape(a.shape))
        pos += a.size
    return out


class Aggregator:
    """Runs a federated job over a client pool.

    Parameters
    ----------
    pool:
        The clients (simulated or connected over gRPC).
    strategy:
        FedAvg, FedProx, FedAdam or FedYogi (sampling, config, server update).
    initial:
        The initial global parameters.
    rounds:
        Rounds to run (including those already completed in a resumed checkpoint).
    secure:
        SecAgg+ settings; ``None`` aggregates updates in the clear (the aggregator then sees each update).
    dp:
        Optional DP-FedAvg settings (:class:`accord.fl.dp.DPFedAvg`); requires ``secure``.
    evaluate_fn:
        Optional central evaluation ``fn(parameters) -> {metric: value}`` on the aggregator's own data.
    evaluate_every:
        Evaluate every this many rounds (and after the last).
    early_stopping:
        Optional early-stopping rule.
    checkpoint_path:
        Where to save the global model after each round and resume from on restart.
    timeout:
        Seconds each stage waits for replies before counting missing clients as dropped.
    rng:
        The aggregator's CSPRNG (default OS entropy).
    """

    def __init__(self, pool: ClientPool, strategy: FedAvg, initial: list[np.ndarray], *, rounds: int,
                 secure: SecAggParams | None = None, dp: DPFedAvg | None = None,
                 evaluate_fn: Callable[[list[np.ndarray]], dict[str, float]] | None = None,
                 evaluate_every: int = 1, early_stopping: EarlyStopping | None = None,
                 checkpoint_path: str | os.PathLike[str] | None = None, timeout: float = 120.0,
                 rng: Rng | None = None, job: str = "fl") -> None:
        if rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {rounds}")
        if dp is not None and secure is None:
            raise ValueError("DP-FedAvg adds noise at the clients before masking: it needs secure aggregation")
        self.pool, self.strategy, self.rounds = pool, strategy, rounds
        self.params = [np.asarray(p, dtype=np.float32) for p in initial]
        self.secure, self.dp = secure, dp
        self.evaluate_fn, self.evaluate_every, self.early_stopping = evaluate_fn, evaluate_every, early_stopping
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.timeout, self.rng, self.job = timeout, rng or Rng(), job
        self.history = History()
        self.refused: set[str] = set()
        if secure is not None:
            self.history.declarations.append({"protocol": SPEC.name, "threat_model": SPEC.threat_model,
                                              "leakage": SPEC.leakage})
        if dp is not None:
            self.history.declarations.append(dp.declaration())

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [p.shape for p in self.params]

    def run(self) -> History:
        """Run (or resume) the job; returns the history. The final model is :attr:`params`."""
        start = 0
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            start, self.params, state, self.history.rounds = checkpoint.load(self.checkpoint_path, self.shapes)
            self.strategy.load_state(state)
            log.info("resuming %s after round %d from %s", self.job, start, self.checkpoint_path)
        if self.dp is not None and start == 0:
            self._join()
        best, stale = None, 0
        for r in range(start + 1, self.rounds + 1):
            record = self._round(r)
            if self._evaluate_now(r):
                record.update(self._evaluate(r))
            self.history.rounds.append(record)
            if self.checkpoint_path is not None:
                checkpoint.save(self.checkpoint_path, r, self.params, self.strategy.state(), self.history.rounds)
            rule = self.early_stopping
            if rule is not None and rule.metric in record:
                value = record[rule.metric] * (1 if rule.mode == "max" else -1)
                if best is None or value > best + rule.min_delta:
                    best, stale = value, 0
                else:
                    stale += 1
                    if stale >= rule.patience:
                        self.history.stopped_early = True
                        break
        return self.history

    def _join(self) -> None:
        """Send the privacy plan to every client; those whose ledger refuses are left out of the job."""
        if self.dp is None:
            return
        body = JoinIns(self.job, self.dp.plan(self.job)).to_wire()
        exchange = self.pool.request(0, Stage.JOIN.value, {c: body for c in self.pool.available()}, self.timeout)
        self.refused.update(exchange.failures)
        for client, why in exchange.failures.items():
            log.warning("client %s does not join %s: %s", client, self.job, why)
        if len(exchange.replies) < 2:
            raise ProtocolAbort(f"job {self.job!r}: only {len(exchange.replies)} clients accepted the privacy plan "
                                f"({self.dp.plan(self.job)}); refusals: {exchange.failures}", step=Stage.JOIN.value)

    def _evaluate_now(self, r: int) -> bool:
        return r % self.evaluate_every == 0 or r == self.rounds

    def _round(self, r: int) -> dict[str, Any]:
        started, bytes_before = time.perf_counter(), self.pool.traffic.total
        available = [c for c in self.pool.available() if c not in self.refused]
        sampled = self.strategy.sample(self.rng, available) if self.dp is None else self.dp.sample(self.rng, available)
        fit = FitIns(self.params, self.strategy.fit_config(r))
        if self.dp is not None and len(sampled) < 2:  # nothing can be aggregated securely; release nothing
            return {"round": r, "sampled": len(sampled), "skipped": True, "epsilon": self.dp.epsilon(r)}
        if self.secure is not None:
            mean, info = self._secure_round(r, sampled, fit)
        else:
            mean, info = self._plain_round(r, sampled, fit)
        self.params = self.strategy.apply(self.params, unflatten(mean, self.params), r)
        if not all(np.all(np.isfinite(p)) for p in self.params):
            raise ProtocolAbort(f"round {r}: the global model became NaN or infinite (lower the learning rate)",
                                step=Stage.FIT.value)
        return {"round": r, "sampled": len(sampled), **info, "seconds": time.perf_counter() - started,
                "bytes": self.pool.traffic.total - bytes_before}

    def _plain_round(self, r: int, sampled: list[str], fit: FitIns) -> tuple[np.ndarray, dict[str, Any]]:
        exchange = self.pool.request(r, Stage.FIT.value, {c: fit.to_wire() for c in sampled}, self.timeout)
        failures = dict(exchange.failures)
        total, weight, used = np.zeros(sum(p.size for p in self.params)), 0, 0
        for client, body in exchange.replies.items():
            try:
                res = FitRes.from_wire(body, client, self.shapes, None)
            except MalformedMessage as exc:  # NaN, wrong shape or dtype: the client is left out of this round
                failures[client] = str(exc)
                continue
            total += res.num_examples * flatten(res.delta)
            weight += res.num_examples
            used += 1
        if weight == 0:
            raise ProtocolAbort(f"round {r}: no client returned a usable update ({failures})", step=Stage.FIT.value)
        return total / weight, {"survivors": used, "failures": failures}

    def _secure_round(self, r: int, sampled: list[str], fit: FitIns) -> tuple[np.ndarray, dict[str, Any]]:
        dim = sum(p.size for p in self.params)
        if self.secure is None:
            raise ValueError("a secure round needs SecAggParams")
        params, noise = self.secure, None
        if self.dp is not None:
            noise = self.dp.spec(dim)
            params = dataclasses.replace(self.secure, ring_bits=self.dp.ring_bits(dim, len(sampled)))
        result = SecAggRound(self.pool, r, sampled, params, dim, self.rng, self.timeout, noise).run(fit)
        info: dict[str, Any] = {"survivors": len(result.survivors), "failures": result.failures,
                                "dropped": {k: len(v) for k, v in result.dropped.items()}}
        if self.dp is not None:
            info["epsilon"] = self.dp.epsilon(r)
            info["honest_noise_shares"] = len(result.survivors)
            return self.dp.mean(result.weighted_sum), info
        if not result.total_weight > 0:
            raise ProtocolAbort(f"round {r}: the surviving clients carry no weight", step="secagg.unmask")
        return result.weighted_sum / result.total_weight, info

    def _evaluate(self, r: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.evaluate_fn is not None:
            out.update({k: float(v) for k, v in self.evaluate_fn(self.params).items()})
        if self.strategy.fraction_evaluate > 0:
            chosen = self.strategy.sample(self.rng, self.pool.available(), self.strategy.fraction_evaluate)
            ins = EvaluateIns(self.params, {"round": r}).to_wire()
            exchange = self.pool.request(r, Stage.EVALUATE.value, dict.fromkeys(chosen, ins), self.timeout)
            results = []
            for client, body in exchange.replies.items():
                try:
                    results.append(EvaluateRes.from_wire(body, client))
                except MalformedMessage as exc:
                    log.warning("round %d evaluation: %s", r, exc)
            n = sum(res.num_examples for res in results)
            if n:
                out["federated_loss"] = sum(res.loss * res.num_examples for res in results) / n
                for key in {k for res in results for k in res.metrics}:
                    out[f"federated_{key}"] = sum(res.metrics.get(key, math.nan) * res.num_examples
                                                  for res in results) / n
        return out
