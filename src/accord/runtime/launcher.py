"""Run a cluster of local party processes over loopback mutual TLS and collect what each returns.

Tests, benchmarks and the ``accord`` command's local helpers share this one launcher:

* :func:`write_loopback_cluster` creates each party's key and certificate and a cluster file on free
  127.0.0.1 ports (:func:`write_cluster_file` is the writer ``accord certs --cluster`` uses too);
* :class:`PartyProcesses` starts one ``python -m accord.runtime.launcher`` process per party, which
  connects with :meth:`~accord.runtime.cluster.Cluster.connect` and calls a ``module:function``
  target as ``fn(cluster, me, args)``; whatever JSON value it returns comes back in a
  :class:`PartyRun` with the exit code, the output and the process's peak memory;
* :func:`run_parties` does both and waits.

Nothing is left behind: each party runs in a process group of its own (Paillier worker processes
included) that is killed when the run times out, when a party has failed and the others have not
finished within ``grace`` seconds (time to report the peer's abort), or when the caller leaves the
``with`` block early.

>>> import tempfile
>>> from pathlib import Path
>>> runs = run_parties(Path(tempfile.mkdtemp()), "accord.runtime.launcher:hosted_parties", ["bank", "partner"])
>>> runs["bank"].returncode, runs["bank"].result
(0, ['bank'])
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

RESULT_PREFIX = "ACCORD-RESULT:"
PEAK_RSS_PREFIX = "ACCORD-PEAK-RSS:"


@dataclass(frozen=True)
class PartyRun:
    """How one party process ended: exit code (negative: killed by that signal), its result and output."""

    party: str
    returncode: int
    result: Any
    stdout: str
    stderr: str
    peak_rss_bytes: int | None


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free on 127.0.0.1 a moment ago, below the ephemeral range if possible.

    A port from the kernel's ephemeral range (what binding port 0 returns) can be taken by any outgoing
    connection on the machine before the party process binds it; one below that range only by another
    listener, and picking at random among thousands makes that unlikely.
    """
    stop = _ephemeral_low()
    start = max(1024, stop - 16384)
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            socks.append(socket.socket())
            _bind_free(socks[-1], start, stop)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _bind_free(sock: socket.socket, start: int, stop: int) -> None:
    """Bind ``sock`` to a random free port in ``[start, stop)``, or to any port the kernel picks."""
    for _ in range(100 if stop > start else 0):
        try:
            sock.bind(("127.0.0.1", start + secrets.randbelow(stop - start)))
            return
        except OSError:
            continue
    sock.bind(("127.0.0.1", 0))


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768, the usual value, if it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def write_cluster_file(path: Path, certificates: Mapping[str, tuple[Path, Path]], ports: Sequence[int],
                       **settings: Any) -> Path:
    """A cluster file listing each party (``name: (key, cert)``) on 127.0.0.1 at its port, plus ``settings``."""
    import yaml

    entries = {party: {"address": f"127.0.0.1:{port}", "cert": str(Path(cert).resolve()),
                       "key": str(Path(key).resolve())}
               for (party, (key, cert)), port in zip(certificates.items(), ports, strict=True)}
    path.write_text(yaml.safe_dump({"parties": entries, **settings}, sort_keys=False))
    return path


def write_loopback_cluster(directory: Path, parties: Sequence[str], **settings: Any) -> Path:
    """Fresh certificates in ``directory/certs`` and ``directory/cluster.yaml`` on free loopback ports."""
    from accord.net.tls import write_party_certificate

    certificates = {party: write_party_certificate(party, directory / "certs") for party in parties}
    return write_cluster_file(directory / "cluster.yaml", certificates, free_ports(len(parties)), **settings)


class PartyProcesses:
    """One process per party running ``target`` on ``cluster``; leaving the ``with`` block kills any left.

    ``pythonpath`` entries are put in front of ``PYTHONPATH`` so the target's module can be found;
    each party's output goes to ``<party>.stdout`` / ``<party>.stderr`` in ``logs`` (default: the
    cluster file's directory).
    """

    def __init__(self, cluster: Path, target: str, parties: Sequence[str], args: Mapping[str, Any] | None = None, *,
                 job: str = "local", pythonpath: Sequence[str | os.PathLike[str]] = (),
                 cwd: str | os.PathLike[str] | None = None, logs: Path | None = None) -> None:
        self.logs = logs or cluster.parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("GRPC_VERBOSITY", "NONE")  # as the accord command does: accord reports link failures itself
        command = [sys.executable, "-m", "accord.runtime.launcher", str(cluster), target, job,
                   json.dumps(dict(args or {}))]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._notes: dict[str, str] = {}
        try:
            for party in parties:
                with open(self._log(party, "stdout"), "wb") as out, open(self._log(party, "stderr"), "wb") as err:
                    # Our own interpreter and module; a session of its own so the group can be killed at once.
                    self.procs[party] = subprocess.Popen(  # noqa: S603
                        [*command, party], stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        except BaseException:
            self.close()
            raise

    def _log(self, party: str, stream: str) -> Path:
        return self.logs / f"{party}.{stream}"

    def output(self, party: str) -> str:
        """What ``party`` has printed so far."""
        return self._log(party, "stdout").read_text(errors="replace")

    def wait_for_output(self, party: str, text: str, timeout: float) -> None:
        """Block until ``party`` prints ``text``; ``TimeoutError`` if it does not in time or exits first."""
        deadline = time.monotonic() + timeout
        while text not in self.output(party):
            if self.procs[party].poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"party {party} did not print {text!r}")
            time.sleep(0.05)

    def kill(self, party: str, note: str = "killed") -> None:
        """Kill ``party``'s process group (the party and any worker processes it started) if it is running."""
        proc = self.procs[party]
        if proc.poll() is None:  # not reaped yet, so its group id is still ours
            self._notes[party] = note
            with contextlib.suppress(ProcessLookupError):
                if hasattr(os, "killpg"):
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
        proc.wait()

    def wait(self, timeout: float, grace: float = 10.0) -> dict[str, PartyRun]:
        """Wait for every party; kill the rest at ``timeout``, or ``grace`` seconds after a party fails."""
        deadline = time.monotonic() + timeout
        failed = False
        while any(proc.poll() is None for proc in self.procs.values()):
            if not failed and any(proc.poll() not in (None, 0) for proc in self.procs.values()):
                failed, deadline = True, min(deadline, time.monotonic() + grace)
            if time.monotonic() > deadline:
                for party in self.procs:
                    self.kill(party, f"killed by the launcher ({timeout} s timeout, or {grace} s after a failure)")
            time.sleep(0.02)
        return {party: self._collect(party) for party in self.procs}

    def _collect(self, party: str) -> PartyRun:
        out = self.output(party)
        err = self._log(party, "stderr").read_text(errors="replace")
        if party in self._notes:
            err += f"\n[launcher] party {party} {self._notes[party]}"
        result, peak = None, None
        for line in out.splitlines():
            if line.startswith(RESULT_PREFIX):
                result = json.loads(line[len(RESULT_PREFIX):])
            elif line.startswith(PEAK_RSS_PREFIX):
                peak = int(line[len(PEAK_RSS_PREFIX):])
        return PartyRun(party, self.procs[party].wait(), result, out, err, peak)

    def close(self) -> None:
        """Kill every party still running."""
        for party in self.procs:
            self.kill(party)

    def __enter__(self) -> PartyProcesses:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def run_parties(directory: Path, target: str, parties: Sequence[str], args: Mapping[str, Any] | None = None, *,
                timeout: float = 240.0, grace: float = 10.0, job: str = "local",
                pythonpath: Sequence[str | os.PathLike[str]] = (), cwd: str | os.PathLike[str] | None = None,
                cluster_settings: Mapping[str, Any] | None = None) -> dict[str, PartyRun]:
    """Write a loopback cluster in ``directory`` (with ``cluster_settings`` such as ``timeout``), run, and wait."""
    directory.mkdir(parents=True, exist_ok=True)
    cluster = write_loopback_cluster(directory, parties, **dict(cluster_settings or {}))
    with PartyProcesses(cluster, target, parties, args, job=job, pythonpath=pythonpath, cwd=cwd) as procs:
        return procs.wait(timeout, grace)


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def hosted_parties(cluster: Any, me: str, args: Mapping[str, Any]) -> list[str]:
    """A trivial target: the parties this process hosts (for the example above and smoke checks)."""
    return list(cluster.hosted)


def _main(argv: Sequence[str]) -> int:
    from accord.runtime import allocator

    allocator.tune()  # before the target's imports start threads: this process belongs to accord
    cluster_path, target, job, raw_args, party = argv
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    from accord.errors import AccordError
    from accord.runtime.cluster import Cluster

    args = json.loads(raw_args)
    code = 0
    try:
        with Cluster.connect(cluster_path, me=party, job=job) as cluster:
            result = fn(cluster, party, args)
    except AccordError as exc:
        result, code = {"error": type(exc).__name__, "message": str(exc)}, exc.exit_code
    print(f"{RESULT_PREFIX}{json.dumps(result)}", flush=True)
    print(f"{PEAK_RSS_PREFIX}{peak_rss_bytes()}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
