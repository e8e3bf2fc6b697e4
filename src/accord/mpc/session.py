"""The driver API: secret arrays placed on a set of computing parties, and operations on them.

>>> import numpy as np, accord
>>> with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
...     bank, partner = cluster.parties("bank", "partner")
...     spu = cluster.mpc(["bank", "partner"], dealer="carol")
...     x = spu.share(bank.put(np.array([1.5, -2.0])))
...     y = spu.share(partner.put(np.array([4.0, 0.25])))
...     z = spu.reveal(x * y + 1, to="bank")
...     z.get().tolist()
[7.0, 0.5]

Every operation is one SPMD run (:meth:`accord.Cluster.run`) among the computing parties (and the
dealer), so the job report lists it with the engine's threat model and its bytes and rounds, broken
down by protocol step. In production each process holds only its own shares and every process runs the
same driver code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.math.fixed import DEFAULT_FRAC, MAX_TRUNC_BITS, check_frac, decode, encode, encode_int
from accord.math.ring import to_signed
from accord.mpc.approximations import divide, reciprocal
from accord.mpc.owned import OWNED_FRAC, OWNED_LEAKAGE, Owned, OwnedArray, owned_body
from accord.mpc.setup import engine_spec, setup_engine
from accord.mpc.sharing import split_additive, split_replicated
from accord.mpc.tensor import KINDS, Machine, Shared, check_party_value
from accord.runtime.cluster import Cluster, PartyObject
from accord.runtime.context import Context
from accord.runtime.report import protocol

if TYPE_CHECKING:
    from accord.dp.budget import Budget
    from accord.dp.mechanisms import Noise

LEAKAGE = ("nothing beyond the values revealed to their named receivers; array shapes and kinds (fixed, int, "
           "bool) are public")
MODES = ("dealer", "ot", "insecure-self-dealer")
DP_LEAKAGE = ("the receivers learn the value plus one independent noise draw per computing party, each calibrated "
              "alone to the budget; array shapes are public; no party sees the exact value")
DP_THREAT_MODEL = ("differential privacy towards each computing party holds as long as one other computing party "
                   "adds its draw: a party that withholds its own learns nothing more, but can bias the result")


class MPC:
    """A secure-computation session: which parties compute, with which engine, in which number format.

    Parameters
    ----------
    cluster:
        The cluster the parties belong to.
    parties:
        Two or three computing parties. Three selects replicated sharing (honest majority, no dealer).
    dealer:
        Two-party mode with a trusted third party that deals correlated randomness (not a computing party).
    mode:
        For two parties: ``"dealer"`` (default when ``dealer`` is given), ``"ot"`` (the two parties make
        their correlations with oblivious transfer; no third party) or ``"insecure-self-dealer"``
        (INSECURE, tests only: the first party deals, holds both PRG keys and can learn the second
        party's inputs; refused unless the cluster is simulated and ``allow_insecure_test_mode=True``).
    frac:
        Fractional bits of the fixed-point encoding (default 18).
    allow_insecure_test_mode:
        The opt-in for ``mode="insecure-self-dealer"``, accepted only by :meth:`Cluster.simulate`
        clusters; the job report then carries an INSECURE note.
    """

    def __init__(self, cluster: Cluster, parties: Sequence[str], dealer: str | None = None, *,
                 mode: str | None = None, frac: int = DEFAULT_FRAC, allow_insecure_test_mode: bool = False) -> None:
        self.cluster = cluster
        self.parties = tuple(parties)
        self.frac = check_frac(frac)
        for p in (*self.parties, *([dealer] if dealer else [])):
            cluster.party(p)
        if len(set(self.parties)) != len(self.parties) or len(self.parties) not in (2, 3):
            raise ConfigurationError(f"MPC needs 2 or 3 distinct computing parties, got {list(self.parties)}")
        if len(self.parties) == 3:
            if dealer is not None or mode not in (None, "replicated"):
                raise ConfigurationError("three-party MPC uses replicated sharing and takes no dealer or mode")
            self.mode, self.dealer = "replicated", None
        else:
            self.mode = mode or ("dealer" if dealer else "")
            if self.mode not in MODES:
                raise ConfigurationError("two-party MPC needs dealer=<third party> or mode='ot' (no third party); "
                                         f"got dealer={dealer!r}, mode={mode!r}")
            if self.mode == "dealer" and (dealer is None or dealer in self.parties):
                raise ConfigurationError(f"the dealer must be a third party distinct from {list(self.parties)}")
            if self.mode != "dealer" and dealer is not None:
                raise ConfigurationError(f"mode {self.mode!r} takes no dealer")
            if self.mode == "insecure-self-dealer":
                _check_insecure_opt_in(cluster, self.parties, allow_insecure_test_mode)
            self.dealer = dealer
        self.participants = self.parties + ((self.dealer,) if self.dealer else ())
        self.engine_name, self.threat_model = engine_spec(self.mode)
        self._protocols: dict[str, Callable[..., Any]] = {}
        setup = self._protocol("setup", _setup_body)
        self._engines = self.cluster.run(setup, {p: (self.mode, self.parties, self.dealer, setup_engine,
                                                     allow_insecure_test_mode) for p in self.participants})

    # ---------------------------------------------------------------------------- plumbing
    def _protocol(self, op: str, body: Callable[..., Any], leakage: str = LEAKAGE,
                  threat_model: str | None = None) -> Callable[..., Any]:
        key = f"{op}:{id(body)}"
        if key not in self._protocols:
            dealers = (self.dealer,) if self.dealer else ()
            fn = protocol(f"mpc.{self.engine_name}.{op}", threat_model=threat_model or self.threat_model,
                          leakage=leakage, dealers=dealers)(_wrap(body))
            self._protocols[key] = fn
        return self._protocols[key]

    def _results(self, out: dict[str, PartyObject]) -> Any:
        local = [p for p, value in out.items() if value.is_local]
        if not local:
            raise ConfigurationError(
                f"this process hosts none of the MPC parties {list(self.participants)}: only they (and data owners "
                "sharing inputs) may run MPC steps; guard such steps in a driver that other parties also run")
        return out[local[0]].get()

    def _wrap_outputs(self, out: dict[str, PartyObject], metas: list[tuple[tuple[int, ...], str]]) -> list[SecretArray]:
        arrays = []
        for j, (shape, kind) in enumerate(metas):
            shares = {p: PartyObject(self.cluster, p, out[p].get()[0][j]) if out[p].is_local
                      else PartyObject(self.cluster, p) for p in self.participants}
            arrays.append(SecretArray(self, shares, shape, kind))
        return arrays

    # ---------------------------------------------------------------------------- public API
    def share(self, value: PartyObject, *, kind: str | None = None) -> SecretArray:
        """Secret-share a party's numpy array (floats become fixed point, ints int, bools bool)."""
        if not isinstance(value, PartyObject):
            raise TypeError("share() takes a party-owned value, e.g. cluster.party('bank').put(array)")
        owner = value.owner
        proto = self._protocol("share", _share_body)
        parties = self.participants + (() if owner in self.participants else (owner,))
        inputs = {p: (self._engines[p] if p in self.participants else None, self.frac, owner, parties, self.parties,
                      kind, value if p == owner else None) for p in parties}
        out = self.cluster.run(proto, inputs)
        res = self._results(out)  # the owner knows shape and kind even where it computes nothing
        return self._wrap_outputs(out, [res[1]])[0]

    def owned(self, value: PartyObject, bound: float, frac: int = OWNED_FRAC) -> OwnedArray:
        """Place a computing party's plaintext matrix in the session without sharing it.

        Inside :meth:`run` the function sees an :class:`~accord.mpc.owned.Owned` array: ``owned @ secret``
        is a secret array and the matrix never leaves its owner (vertical learning's feature blocks).
        ``bound`` is a public bound on the absolute values and ``frac`` their fractional bits (default
        10): the dealer-free engine makes one OT per bit of every entry once, here, and reuses them in
        every product. Every participant learns the shape.
        """
        if not isinstance(value, PartyObject) or value.owner not in self.parties:
            raise ConfigurationError(f"owned() takes a value of a computing party among {list(self.parties)}")
        if not bound > 0 or not 0 < frac <= MAX_TRUNC_BITS:
            raise ValueError(f"owned() needs bound > 0 and 1 <= frac <= {MAX_TRUNC_BITS}")
        magnitude = math.ceil(math.log2(bound * 2.0 ** frac + 1))
        proto = self._protocol("owned", owned_body, OWNED_LEAKAGE)
        out = self.cluster.run(proto, {p: (self._engines[p], value.owner, bound, frac, magnitude,
                                           value if p == value.owner else None) for p in self.participants})
        shape = self._results(out)[0]
        states = {p: PartyObject(self.cluster, p, out[p].get()[1]) if out[p].is_local else PartyObject(self.cluster, p)
                  for p in self.participants}
        return OwnedArray(self, value.owner, states, tuple(shape), frac)

    def run(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> Any:
        """Run ``fn`` on secret arrays in one SPMD step; ``fn`` sees :class:`Shared` arrays (and
        :class:`~accord.mpc.owned.Owned` ones for :meth:`owned` arrays) and returns one, or a tuple or
        list of them (public arguments are passed through)."""
        secrets = [a for a in args if isinstance(a, (SecretArray, OwnedArray))]
        for s in secrets:
            if s.session is not self:
                raise ConfigurationError("a secret array from another MPC session was passed")
        metas = [(s.shape, s.kind) if isinstance(s, SecretArray) else (s.shape, "owned", s.owner, s.frac)
                 for s in secrets]

        def call(*shared: Shared) -> Any:
            it = iter(shared)
            return fn(*[next(it) if isinstance(a, (SecretArray, OwnedArray)) else a for a in args])

        proto = self._protocol(name or str(getattr(fn, "__name__", "run")), _run_body)
        inputs = {p: (self._engines[p], self.frac, call, metas,
                      *[s.shares[p] if isinstance(s, SecretArray) else s.states[p] for s in secrets])
                  for p in self.participants}
        out = self.cluster.run(proto, inputs)
        _, out_metas, structure = self._results(out)
        arrays = self._wrap_outputs(out, out_metas)
        return arrays[0] if structure == "single" else tuple(arrays) if structure == "tuple" else arrays

    def reveal(self, x: SecretArray, to: str | Sequence[str], *, dp: Budget | None = None,
               sensitivity: int = 1) -> Any:
        """Open ``x`` to the named computing parties only; returns a party-owned numpy array (or a dict).

        With ``dp=Budget(...)`` the value is noised under the shares before it is opened: each computing
        party draws discrete Laplace (δ = 0) or discrete Gaussian (δ > 0) noise calibrated to the budget
        for an L1 (Laplace) / L2 (Gaussian) ``sensitivity`` of ``x`` in integer units, and adds it as a
        secret input, so nobody ever sees the exact value. Each party's draw alone meets the budget, so the
        release is DP towards every party, even one whose own draw is withheld (see docs/dp.md). ``x``
        must be an integer array: scale and round fixed-point values first, so that the sensitivity is exact.
        """
        targets = [to] if isinstance(to, str) else list(to)
        bad = [t for t in targets if t not in self.parties]
        if bad or not targets:
            raise ConfigurationError(f"reveal(to=...) must name computing parties among {list(self.parties)}, "
                                     f"got {targets}")
        noise = None
        what = f"the value of a secret {x.kind} array of shape {x.shape}"
        if dp is not None:
            from accord.dp.mechanisms import noise_for

            if x.kind != "int":
                raise ConfigurationError(f"a DP reveal takes an integer array (kind 'int'), got kind {x.kind!r}: "
                                         "scale and round the values so the sensitivity is an exact integer")
            noise = noise_for(dp, sensitivity)
            what = (f"a secret int array of shape {x.shape} plus {len(self.parties)} independent noise draws "
                    f"({noise.describe()}; ε={dp.epsilon:g}, δ={dp.delta:g}, sensitivity {sensitivity})")
        proto = (self._protocol("reveal", _reveal_body) if noise is None else
                 self._protocol("reveal-dp", _reveal_body, DP_LEAKAGE, f"{self.threat_model}; {DP_THREAT_MODEL}"))
        inputs = {p: (self._engines[p], self.frac, x.shares[p], x.shape, x.kind, targets, noise)
                  for p in self.participants}
        out = self.cluster.run(proto, inputs, learned={t: what for t in targets})
        return out[targets[0]] if len(targets) == 1 else {t: out[t] for t in targets}


def _check_insecure_opt_in(cluster: Cluster, parties: tuple[str, ...], allowed: bool) -> None:
    """Refuse the self-dealer mode unless a simulated cluster opts in explicitly; note it in the report."""
    why = (f"MPC mode 'insecure-self-dealer' is INSECURE: party {parties[0]!r} would hold both PRG keys and "
           f"could learn party {parties[1]!r}'s inputs")
    fix = "use dealer=<third party> or mode='ot'"
    if cluster.mode != "simulation":
        raise ConfigurationError(f"{why}; it is refused outside Cluster.simulate: {fix}")
    if not allowed:
        raise ConfigurationError(f"{why}; it exists for tests only and needs allow_insecure_test_mode=True in a "
                                 f"simulated cluster: otherwise {fix}")
    cluster.report().notes.append(f"{why} (test-only mode, opted in with allow_insecure_test_mode=True)")


class SecretArray:
    """A secret-shared array at the driver level: each computing party holds a share."""

    __array_priority__ = 1000

    def __init__(self, session: MPC, shares: dict[str, PartyObject], shape: tuple[int, ...], kind: str) -> None:
        self.session = session
        self.shares = shares
        self.shape = tuple(shape)
        self.kind = kind

    def __repr__(self) -> str:
        return f"<SecretArray {self.kind} {self.shape} on {list(self.session.parties)}>"

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def _op(self, name: str, fn: Callable[..., Any], *others: Any) -> Any:
        return self.session.run(fn, self, *others, name=name)

    def __truediv__(self, other: Any) -> Any:
        """``self / other``; a secret divisor goes through :func:`~accord.mpc.approximations.divide`."""
        if isinstance(other, SecretArray):
            return self._op("div", divide, other)
        return self._op("div", lambda a, b: a / b, other)

    def __rtruediv__(self, other: Any) -> Any:
        """``other / self`` for a public ``other``: ``other * reciprocal(self)``."""
        return self._op("div", lambda a, b: reciprocal(a) * b, other)


def _binary(name: str, op: str) -> Callable[..., Any]:
    def method(self: SecretArray, other: Any) -> Any:
        return self._op(name, lambda a, b: getattr(a, op)(b), other)

    method.__name__ = op
    return method


def _unary(name: str, op: str) -> Callable[..., Any]:
    def method(self: SecretArray, *args: Any, **kwargs: Any) -> Any:
        return self._op(name, lambda a: getattr(a, op)(*args, **kwargs))

    method.__name__ = op
    return method


for _name, _op in [("add", "__add__"), ("add", "__radd__"), ("sub", "__sub__"), ("sub", "__rsub__"),
                   ("mul", "__mul__"), ("mul", "__rmul__"), ("matmul", "__matmul__"), ("matmul", "__rmatmul__"),
                   ("lt", "__lt__"), ("le", "__le__"), ("gt", "__gt__"), ("ge", "__ge__"), ("eq", "__eq__"),
                   ("ne", "__ne__"), ("and", "__and__"), ("or", "__or__"), ("xor", "__xor__")]:
    setattr(SecretArray, _op, _binary(_name, _op))
for _name, _op in [("neg", "__neg__"), ("abs", "__abs__"), ("invert", "__invert__"), ("reshape", "reshape"),
                   ("transpose", "transpose"), ("sum", "sum"), ("mean", "mean"), ("getitem", "__getitem__"),
                   ("astype", "astype"), ("flatten", "flatten")]:
    setattr(SecretArray, _op, _unary(_name, _op))
SecretArray.__hash__ = None  # type: ignore[assignment]
SecretArray.T = property(lambda self: self.transpose())  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- SPMD bodies
def _wrap(body: Callable[..., Any]) -> Callable[..., Any]:
    def run(ctx: Context, *args: Any) -> Any:
        # Ring arithmetic wraps by design; numpy warns about that only for 0-d values.
        with np.errstate(over="ignore"):
            return body(ctx, *args)

    run.__name__ = body.__name__
    return run


def _setup_body(ctx: Context, mode: str, parties: tuple[str, ...], dealer: str | None,
                setup_engine: Callable[..., Any], allow_insecure_test_mode: bool) -> Any:
    return setup_engine(ctx, mode, parties, dealer, allow_insecure_test_mode=allow_insecure_test_mode)


def _share_body(ctx: Context, engine: Any, frac: int, owner: str, parties: Sequence[str], computing: Sequence[str],
                kind: str | None, value: Any) -> Any:
    if ctx.me == owner:
        arr = check_party_value(value, owner)
        kind = kind or ("bool" if arr.dtype.kind == "b" else "int" if arr.dtype.kind in "iu" else "fixed")
        if kind not in KINDS:
            raise InputError(f"kind must be one of {KINDS}, got {kind!r}", party=owner, field="kind")
        ring = encode(arr, frac, party=owner) if kind == "fixed" else encode_int(arr.astype(np.int64), party=owner)
        meta: dict[str, Any] = {"shape": list(arr.shape), "kind": kind}
        for p in parties:
            if p != owner:
                ctx.send(p, meta, "meta")
        shape: tuple[int, ...] = tuple(arr.shape)
        if engine is None:   # an owner outside the session only sends shares
            sub = ctx.sub("share")
            pieces = split_replicated(ring, ctx.rng) if len(computing) == 3 else list(split_additive(ring, ctx.rng))
            for p, piece in zip(computing, pieces):
                sub.send(p, piece, "share")
            return [None], (shape, kind)
    else:
        meta = ctx.recv(owner, "meta")
        if (not isinstance(meta, dict) or meta.get("kind") not in KINDS or not isinstance(meta.get("shape"), list)
                or not all(isinstance(d, int) and d >= 0 for d in meta["shape"])):
            raise MalformedMessage(f"party {owner!r} sent malformed array metadata", party=owner,
                                   step=f"{ctx.path}/meta")
        kind, shape, ring = meta["kind"], tuple(meta["shape"]), None
    raw = engine.share(ctx.sub("share"), owner, ring, shape)
    return [raw], (shape, kind)


def _run_body(ctx: Context, engine: Any, frac: int, call: Callable[..., Any], metas: list[Any], *raws: Any) -> Any:
    m = Machine(engine, ctx, frac)
    result = call(*[Owned(m, meta[2], r, meta[0], meta[3]) if meta[1] == "owned" else Shared(m, r, *meta)
                    for r, meta in zip(raws, metas)])
    if isinstance(result, Shared):
        items, structure = [result], "single"
    elif isinstance(result, (tuple, list)) and all(isinstance(r, Shared) for r in result):
        items, structure = list(result), "tuple" if isinstance(result, tuple) else "list"
    else:
        raise TypeError(f"an MPC function must return a Shared array or a tuple/list of them, got {type(result)}")
    return [r.raw for r in items], [(r.shape, r.kind) for r in items], structure


def _reveal_body(ctx: Context, engine: Any, frac: int, raw: Any, shape: tuple[int, ...], kind: str,
                 targets: list[str], noise: Noise | None = None) -> Any:
    if noise is not None:  # every computing party adds its own draw as a secret input before anything opens
        size = int(np.prod(shape))
        for owner in engine.computing:
            mine = noise.sample(ctx.rng, size).reshape(shape).astype(np.uint64) if ctx.me == owner else None
            drawn = engine.share(ctx.sub("noise"), owner, mine, shape)
            raw = engine.local(lambda a, b: a + b, raw, drawn)
    ring = engine.reveal(ctx.sub("reveal"), raw, shape, targets)
    if ring is None:
        return None
    if kind == "fixed":
        return decode(ring, frac)
    values = to_signed(ring)
    return values.astype(bool) if kind == "bool" else values.copy()
