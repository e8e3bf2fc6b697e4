"""Clusters of parties, party-owned values, and running SPMD protocols among them.

A :class:`Cluster` is either *simulated* (every party in this process, one worker thread each,
in-memory links) or *connected* (this process is one party; peers are reached over gRPC with mutual
TLS). Driver code is identical in both: in production every party runs the same script with its own
name, executes only its own local steps, and meets its peers inside protocols.

Values that belong to a party are :class:`PartyObject` handles. A process that does not host the
owner holds only a placeholder, so reading another party's data is impossible by construction; the
only way data crosses is a protocol run through :meth:`Cluster.run`.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from accord.crypto.random import Rng
from accord.errors import (
    AccordError,
    AuthenticationError,
    ConfigurationError,
    NotLocalError,
    PeerAborted,
    PeerTimeout,
    PeerUnavailable,
)
from accord.net.base import Link
from accord.net.memory import MemoryHub
from accord.runtime import allocator
from accord.runtime._approvals import approval_exchange
from accord.runtime._handshake import check_agree, handshake
from accord.runtime.context import Accounting, Context
from accord.runtime.report import JobReport, PrivacySpend, ProtocolSpec, RunRecord, spec_of

if TYPE_CHECKING:
    import pandas as pd

    from accord.devices.he import HEDevice
    from accord.governance.approval import ApprovalGate
    from accord.mpc.session import MPC
_AUTH_LINGER = 3.0  # seconds a party that refused a peer's certificate keeps listening before it exits
_SECONDARY_ERRORS = (PeerAborted, PeerTimeout, PeerUnavailable)


class _Remote:
    def __repr__(self) -> str:
        return "<remote>"


REMOTE: Any = _Remote()


class PartyObject:
    """A value that lives at one party.

    Only a process hosting ``owner`` holds the value; elsewhere the handle is a placeholder that
    protocols and :meth:`Party.apply` can still be called with (in production, every party runs the
    same driver and each resolves only its own objects).
    """

    def __init__(self, cluster: Cluster, owner: str, value: Any = REMOTE) -> None:
        self.cluster = cluster
        self.owner = owner
        self._value = value

    @property
    def is_local(self) -> bool:
        """Whether this process holds the value."""
        return self._value is not REMOTE

    def get(self) -> Any:
        """The value, if this process hosts its owner; otherwise :class:`~accord.errors.NotLocalError`."""
        if self._value is REMOTE:
            raise NotLocalError(
                f"this value lives at party {self.owner!r}, and this process hosts "
                f"{list(self.cluster.hosted)}; only a protocol can move data between parties"
            )
        return self._value

    def as_table(self) -> PartyTable:
        """This handle as a :class:`PartyTable`, for a result that is a table at its owner.

        Protocols return plain handles; an API whose result is a table (such as PSI's) wraps it, so the
        handle has the table methods at every party and a non-owner's ``to_pandas()`` raises
        :class:`~accord.errors.NotLocalError` just as ``get()`` does.
        """
        if self.is_local and not _is_frame(self._value):
            raise TypeError(f"the value at party {self.owner!r} is a {type(self._value).__name__}, not a table")
        return PartyTable(self.cluster, self.owner, self._value)

    def __repr__(self) -> str:
        kind = type(self._value).__name__ if self.is_local else "remote"
        return f"<{type(self).__name__} at {self.owner!r}: {kind}>"


class PartyTable(PartyObject):
    """A table (pandas DataFrame) that lives at one party."""

    def to_pandas(self) -> Any:
        """The DataFrame (only where the owner is hosted)."""
        return self.get()

    def drop(self, columns: str | Sequence[str]) -> PartyTable:
        """The table without ``columns``, computed at the owner."""
        names = [columns] if isinstance(columns, str) else list(columns)
        return self.cluster.party(self.owner).apply(lambda df: _without(df, names, self.owner), self)

    def __getitem__(self, columns: str | Sequence[str]) -> PartyTable:
        """One column or a list of columns as a table, computed at the owner."""
        names = [columns] if isinstance(columns, str) else list(columns)
        return self.cluster.party(self.owner).apply(lambda df: _select(df, names, self.owner), self)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the table to ``path`` at the owner, atomically (temp file, then rename)."""
        from accord.data.tables import write_table

        if self.is_local:
            write_table(self.get(), path, party=self.owner)
            self.cluster.record_output(self.owner, str(Path(path).resolve()))

    def __len__(self) -> int:
        return len(self.get())


def _without(df: Any, names: list[str], owner: str) -> Any:
    from accord.data.tables import require_columns

    require_columns(df, names, party=owner)
    return df.drop(columns=names)


def _select(df: Any, names: list[str], owner: str) -> Any:
    from accord.data.tables import require_columns

    require_columns(df, names, party=owner)
    return df[names]


class Party:
    """A named party of a cluster: the place where its data is read and its local steps run."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    @property
    def is_local(self) -> bool:
        """Whether this process hosts the party."""
        return self.name in self.cluster.hosted

    @overload
    def put(self, value: pd.DataFrame) -> PartyTable: ...
    @overload
    def put(self, value: Any) -> PartyObject: ...
    def put(self, value: Any) -> PartyObject:
        """Wrap a value this party already holds (dropped in processes that do not host it)."""
        wrapper = PartyTable if _is_frame(value) else PartyObject
        return wrapper(self.cluster, self.name, value if self.is_local else REMOTE)

    @overload
    def apply(self, fn: Callable[..., pd.DataFrame], *args: Any, **kwargs: Any) -> PartyTable: ...
    @overload
    def apply(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> PartyObject: ...
    def apply(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> PartyObject:
        """Run ``fn`` locally at this party on its own objects; returns a handle to the result."""
        for value in (*args, *kwargs.values()):
            if isinstance(value, PartyObject) and value.owner != self.name:
                raise NotLocalError(f"party {self.name!r} cannot use a value owned by {value.owner!r}")
        if not self.is_local:
            return PartyTable(self.cluster, self.name)
        result = fn(*_resolve(args), **dict(zip(kwargs, _resolve(kwargs.values()))))
        return self.put(result)

    def read_csv(self, path: str | os.PathLike[str], **options: Any) -> PartyTable:
        """Read a CSV file that this party holds."""
        from accord.data.tables import read_table

        return self.apply(lambda: read_table(path, party=self.name, fmt="csv", **options))

    def read_table(self, path: str | os.PathLike[str], **options: Any) -> PartyTable:
        """Read a CSV or Parquet file (chosen by extension) that this party holds."""
        from accord.data.tables import read_table

        return self.apply(lambda: read_table(path, party=self.name, **options))

    def remote_table(self) -> PartyTable:
        """A handle for a table this party supplies in its own process (production drivers only)."""
        if self.is_local:
            raise ConfigurationError(f"party {self.name!r} is hosted here: read its table instead")
        return PartyTable(self.cluster, self.name)

    def read_parquet(self, path: str | os.PathLike[str], **options: Any) -> PartyTable:
        """Read a Parquet file that this party holds."""
        from accord.data.tables import read_table

        return self.apply(lambda: read_table(path, party=self.name, fmt="parquet", **options))

    def __repr__(self) -> str:
        return f"<Party {self.name!r}{' (local)' if self.is_local else ''}>"


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame"


def _resolve(values: Iterable[Any]) -> list[Any]:
    return [v.get() if isinstance(v, PartyObject) else v for v in values]


class Cluster:
    """Parties that compute together; create with :meth:`simulate` or :meth:`connect`.

    Examples
    --------
    >>> import accord
    >>> with accord.Cluster.simulate(["alice", "bob"]) as cluster:
    ...     alice, bob = cluster.parties("alice", "bob")
    ...     x = alice.put(3)
    ...     x.get()
    3
    """

    def __init__(
        self,
        *,
        mode: str,
        names: Sequence[str],
        links: Mapping[str, Link],
        session: str,
        job: str,
        timeout: float,
        rngs: Mapping[str, Rng],
        notes: Sequence[str] = (),
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.mode = mode
        self.names = tuple(names)
        self.hosted = tuple(links)
        self.job = job
        self.session = session
        self.timeout = timeout
        self.progress: Callable[[str, int, int], None] | None = None
        self._links = dict(links)
        self._rngs = dict(rngs)
        self._report = JobReport(job=job, mode=mode, parties=self.names, hosted=self.hosted, notes=list(notes))
        self._runs = 0
        self._lock = threading.Lock()
        self._on_close = on_close
        self._closed = False
        self._workers = (
            {p: concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"accord-{p}") for p in self.hosted}
            if mode == "simulation" else {}
        )

    # ---------------------------------------------------------------------------- construction
    @classmethod
    def simulate(cls, parties: Sequence[str], *, job: str = "simulation", timeout: float = 60.0,
                 seed: bytes | None = None) -> Cluster:
        """All ``parties`` in this process, linked in memory.

        ``seed`` makes every party's randomness deterministic, for reproducible tests only: it is
        insecure and the report says so.
        """
        allocator.tune()  # this process is about to compute for every party: see accord.runtime.allocator
        names = _check_names(parties)
        hub = MemoryHub(names)
        rngs = {p: Rng(seed=None if seed is None else seed + b"|" + p.encode()) for p in names}
        notes = ["deterministic randomness from a fixed seed: for tests only, NOT secure"] if seed else []
        session = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
        return cls(mode="simulation", names=names, links={p: hub.link(p) for p in names}, session=session,
                   job=job, timeout=timeout, rngs=rngs, notes=notes)

    @classmethod
    def connect(
        cls,
        config: str | os.PathLike[str],
        me: str,
        *,
        job: str = "default",
        key: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        startup_timeout: float | None = None,
        agree: Mapping[str, str | int] | None = None,
        approvals: ApprovalGate | None = None,
    ) -> Cluster:
        """This process becomes party ``me`` of the cluster described in the ``config`` file.

        Starts ``me``'s server, waits up to ``startup_timeout`` (default: the receive timeout) for every
        peer to answer, and agrees a fresh session with them. Every party must run the same accord
        version, pass the same ``job`` name, hold the same cluster file and pass equal values for every
        parameter in ``agree`` (e.g. ``{"protocol": "kkrt", "keys": 2}``), or the handshake fails at
        every party with a :class:`~accord.errors.ConfigurationError` naming each difference.

        With ``approvals``, the job starts only if this party's node approved exactly this job file
        (checked here, before the server starts) and every peer presents its own signed approval of it
        in the handshake (checked against the peer's certificate); otherwise
        :class:`~accord.errors.NotApproved` names the party and what differs. Every party must then pass
        ``approvals``: the handshake agrees on it like on ``agree``.
        """
        from accord.net import codec
        from accord.net.grpc_link import GRPCLink, Peer
        from accord.net.tls import check_key_matches
        from accord.runtime.config import load_cluster_config

        allocator.tune()  # this process is about to compute for party `me`: see accord.runtime.allocator
        agreed = check_agree(agree or {})
        cfg = load_cluster_config(config)
        if me not in cfg.parties:
            raise ConfigurationError(f"party {me!r} is not in cluster file {cfg.source}; it lists "
                                     f"{sorted(cfg.parties)}")
        mine = cfg.parties[me]
        key_path = Path(key) if key is not None else mine.key_path
        if key_path is None:
            raise ConfigurationError(f"party {me!r} has no private key: pass --key or set parties.{me}.key "
                                     f"in {cfg.source}")
        try:
            key_pem = key_path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"party {me!r}: cannot read private key {key_path}: {exc.strerror}") from None
        check_key_matches(key_pem, mine.cert_pem, f"party {me!r} key {key_path}")
        extra, check = approval_exchange(approvals, cfg, me, job) if approvals is not None else ({}, None)
        if approvals is not None:
            agreed["approvals"] = "required"
        timeout = cfg.timeout if timeout is None else timeout
        connect_timeout = cfg.connect_timeout if connect_timeout is None else connect_timeout
        peers = [Peer(p.name, p.address, p.cert_pem) for n, p in cfg.parties.items() if n != me]
        link = GRPCLink(me, peers, key_pem=key_pem, cert_pem=mine.cert_pem, listen=mine.listen,
                        connect_timeout=connect_timeout, limits=codec.Limits(max_bytes=cfg.max_message),
                        max_buffered=cfg.max_buffered)
        try:
            link.wait_for_peers(startup_timeout if startup_timeout is not None else timeout)
            session = handshake(link, me, job, cfg.digest(), timeout, agreed, extra, check)
        except AuthenticationError:
            # Keep our port open a moment: the peer diagnoses the same mismatch by reading our certificate,
            # and would otherwise find only a closed port ("connection refused") and a vaguer error.
            time.sleep(_AUTH_LINGER)
            link.close()
            raise
        except BaseException:
            link.close()
            raise
        names = tuple(cfg.parties)
        return cls(mode="production", names=names, links={me: link}, session=session, job=job,
                   timeout=timeout, rngs={me: Rng()}, on_close=None)

    # -------------------------------------------------------------------------------- parties
    @property
    def me(self) -> str | None:
        """This process's party in production; ``None`` in simulation."""
        return self.hosted[0] if self.mode == "production" else None

    def party(self, name: str) -> Party:
        """The party called ``name``."""
        if name not in self.names:
            raise ConfigurationError(f"no party {name!r} in this cluster; parties are {list(self.names)}")
        return Party(self, name)

    def parties(self, *names: str) -> tuple[Party, ...]:
        """Several parties at once (all of them when no name is given)."""
        return tuple(self.party(n) for n in (names or self.names))

    # ---------------------------------------------------------------------------------- running
    def run(
        self,
        fn: Callable[..., Any],
        inputs: Mapping[str, Sequence[Any]],
        *,
        learned: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run the SPMD protocol ``fn`` among the parties that are keys of ``inputs``.

        ``inputs[p]`` are the positional arguments party ``p`` calls ``fn(ctx, *args)`` with;
        :class:`PartyObject` arguments must be owned by ``p`` and are resolved to their values at
        ``p``. Returns each party's result as a :class:`PartyObject` (a placeholder for parties not
        hosted here). If any hosted party fails, the others are told to abort and the root-cause
        error is raised.
        """
        spec = spec_of(fn)
        parties = tuple(p for p in self.names if p in inputs)
        if len(parties) != len(inputs):
            raise ConfigurationError(f"{spec.name}: unknown parties {sorted(set(inputs) - set(self.names))}")
        for party, args in inputs.items():
            for value in args:
                if isinstance(value, PartyObject) and value.owner != party:
                    raise NotLocalError(f"{spec.name}: party {party!r} was given a value owned by {value.owner!r}")
        with self._lock:
            if self._closed:
                raise ConfigurationError("this cluster is closed")
            self._runs += 1
            index = self._runs
        record = RunRecord(index=index, spec=spec, parties=parties, learned=dict(learned or {}))
        self._report.runs.append(record)
        session = f"{self.session}#{index}"
        local = [p for p in parties if p in self.hosted]
        start = time.perf_counter()
        results: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}
        if self.mode == "simulation":
            pending = {p: self._workers[p].submit(self._run_at, p, fn, spec, parties, inputs[p], session, record,
                                                  options) for p in local}
            for party, future in pending.items():
                try:
                    results[party] = future.result()
                except BaseException as exc:
                    errors[party] = exc
        else:
            for party in local:
                try:
                    results[party] = self._run_at(party, fn, spec, parties, inputs[party], session, record, options)
                except BaseException as exc:
                    errors[party] = exc
        record.seconds = time.perf_counter() - start
        for link in self._links.values():
            link.forget(session)
        if errors:
            primary = _root_cause(errors)
            record.status = f"{type(primary).__name__}: {primary}"
            raise primary
        record.status = "ok"
        out: dict[str, Any] = {}
        for party in parties:
            value = results.get(party, REMOTE)
            out[party] = (PartyTable if _is_frame(value) else PartyObject)(self, party, value)
        return out

    def _run_at(self, party: str, fn: Callable[..., Any], spec: ProtocolSpec, parties: tuple[str, ...],
                args: Sequence[Any], session: str, record: RunRecord,
                options: Mapping[str, Any] | None) -> Any:
        accounting = Accounting()
        ctx = Context(party, parties, self._links[party], session, self._rngs[party], timeout=self.timeout,
                      path=spec.name, op=spec.name, accounting=accounting, progress=self.progress,
                      options=dict(options or {}))
        start = time.perf_counter()
        try:
            return fn(ctx, *_resolve(args))
        except BaseException as exc:
            if not isinstance(exc, PeerAborted):  # tell peers, so they stop waiting (a PeerAborted came from them)
                self._links[party].abort(session, abort_reason(exc))
            raise
        finally:
            accounting.total.counters.seconds = time.perf_counter() - start
            record.costs[party] = accounting.total.counters
            for op, tracker in accounting.ops.items():
                record.ops.setdefault(op, {})[party] = tracker.counters

    # The two facades below are the runtime's only upward imports (docs/architecture.md): drivers write
    # cluster.he(...) / cluster.mpc(...), while the devices and sessions live at the protocol layer.
    def he(self, key_owner: str, **kw: Any) -> HEDevice:
        """Homomorphic encryption under a key only ``key_owner`` holds (see :class:`accord.devices.he.HEDevice`)."""
        from accord.devices.he import HEDevice

        return HEDevice(self, key_owner, **kw)

    def mpc(self, parties: Sequence[str], dealer: str | None = None, **kw: Any) -> MPC:
        """A secure-computation session among ``parties`` (see :class:`accord.mpc.MPC`)."""
        from accord.mpc.session import MPC

        return MPC(self, parties, dealer, **kw)

    # ---------------------------------------------------------------------------------- output
    def record_output(self, party: str, where: str) -> None:
        """Note in the report that ``party`` wrote an output to ``where``."""
        self._report.outputs.append((party, where))

    def record_privacy(self, party: str, dataset: str, release: str, spent: float, cap: float) -> None:
        """Note in the report that a DP release charged ``dataset`` of ``party`` (ε spent so far, ε cap)."""
        self._report.privacy.append(PrivacySpend(party, dataset, release, spent, cap))

    def report(self) -> JobReport:
        """The job report so far: protocols, threat models, leakage, who learned what, costs."""
        return self._report

    # -------------------------------------------------------------------------------- lifetime
    def close(self, error: BaseException | None = None) -> None:
        """End the job: tell peers about a failure (if any), deliver pending messages, release links."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers.values():
            worker.shutdown(wait=True)
        for link in self._links.values():
            try:
                if error is not None and not isinstance(error, _SECONDARY_ERRORS):
                    link.abort(self.session, abort_reason(error))
                if error is not None:  # a failed job's pending messages matter little: do not wait on a gone peer
                    link.flush(timeout=2.0)
                else:
                    link.flush(timeout=self.timeout)
            except AccordError:
                pass
            finally:
                link.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(exc)


def _check_names(parties: Sequence[str]) -> tuple[str, ...]:
    names = tuple(parties)
    if len(names) < 2:
        raise ConfigurationError(f"a cluster needs at least 2 parties, got {list(names)}")
    if len(set(names)) != len(names):
        raise ConfigurationError(f"party names must be unique, got {list(names)}")
    for name in names:
        if not isinstance(name, str) or not name or any(c in name for c in "/#\\ \t\n"):
            raise ConfigurationError(f"party name {name!r} must be a non-empty string without spaces, '/' or '#'")
    return names


def _root_cause(errors: Mapping[str, BaseException]) -> BaseException:
    """The error that started a failure: peers' aborts and timeouts are consequences of it."""
    for exc in errors.values():
        if not isinstance(exc, _SECONDARY_ERRORS):
            return exc
    return next(iter(errors.values()))


def abort_reason(exc: BaseException) -> str:
    """What peers are told when this party stops: the error's ``public()`` text where it has one (an input
    check's error keeps its details, such as the table's other columns, for the party's own operator)."""
    public = getattr(exc, "public", None)
    return f"{type(exc).__name__}: {public() if callable(public) else exc}"
