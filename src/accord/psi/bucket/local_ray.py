"""A one-machine Ray instance for one job (``ray_address="local"``), started outside the party's process.

Why not ``ray.init()`` in the party's process: that forks Ray's server processes (GCS, dashboard,
raylet) from a process whose gRPC link is running, and grpcio's fork handlers start threads in the
child, one of which can abort it before it runs the server (seen here: the child killed by SIGABRT
in about 1 of 15 starts, a core dump showing the abort in a grpcio thread, and the job then waiting
for a node that never comes). So the instance is started the way an operator starts one, by
``ray start --head --block`` in a fresh process (spawned, not forked with Python code in the child),
on loopback, with its own temporary directory; the party connects to it as a driver, which forks
nothing, and stops it at the end of the job.

It dies with the party: the child runs :func:`main`, which asks the kernel for SIGTERM when its
parent ends and then becomes ``ray start``; Ray's own processes share that one's fate. The instance
uses Ray's token authentication with the token in ``~/.ray/auth_token`` (Ray's default place, which
drivers read), created here readable by the owner only, at most once when two parties start at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accord.errors import ConfigurationError

OBJECT_STORE = 256 << 20    # bytes; bucket jobs pass file names, not data
START_SECONDS = 180.0       # Ray's start can take a minute on a loaded 2-core machine
STOP_SECONDS = 30.0
ADDRESS_FILE = "ray_current_cluster"  # where ``ray start`` writes the address of the cluster it started
PR_SET_PDEATHSIG = 1
# Ray's single-node switch: with it, Ray binds and names its node by loopback only (else by the machine's
# network address, even with --node-ip-address)
SINGLE_NODE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
AUTH_MODE = "RAY_AUTH_MODE"  # "token": every client of the instance presents the token
LOOPBACK = "127.0.0.1"


def prepare_driver() -> None:
    """Set what Ray reads when imported in a process that will connect to a local instance.

    Loopback only (Ray's single-node switch; else the driver swaps 127.0.0.1 in the address for the
    machine's network address), and token authentication as the instance (a driver does not turn it on
    by itself). Refuses a process that imported Ray before without the switch.
    """
    if "ray" not in sys.modules:
        os.environ.setdefault(SINGLE_NODE, "0")
        os.environ.setdefault(AUTH_MODE, "token")
    if os.environ.get(SINGLE_NODE) != "0":
        raise ConfigurationError(f"ray_address='local' needs {SINGLE_NODE}=0 in the environment when Ray is "
                                 "imported (this process imported Ray before)")


class LocalRay:
    """A Ray head of ``cpus`` CPUs on loopback, running until :meth:`stop`; ``address`` is its GCS address."""

    def __init__(self, cpus: int, timeout: float = START_SECONDS) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="accord-ray-"))
        self._log = self.temp / "ray-start.log"
        _ensure_token()
        env = {**os.environ, AUTH_MODE: os.environ.get(AUTH_MODE, "token"), SINGLE_NODE: "0",
               "RAY_gcs_server_port_wait_time_s": str(int(timeout)), "RAY_USAGE_STATS_ENABLED": "0"}
        if shutil.which("bash", path=env.get("PATH")) is None:  # Ray starts its workers through bash
            env["PATH"] = os.pathsep.join(p for p in (env.get("PATH"), os.defpath) if p)
        command = [sys.executable, "-m", __name__, str(os.getpid()), "start", "--head", "--block", "--port=0",
                   f"--node-ip-address={LOOPBACK}", f"--num-cpus={cpus}", "--num-gpus=0",
                   f"--object-store-memory={OBJECT_STORE}", f"--temp-dir={self.temp}",
                   "--include-dashboard=false", "--disable-usage-stats", "--dashboard-agent-listen-port=0",
                   # Ray Client's server cannot be turned off, and its default port would be shared by the
                   # instances of two parties on one machine (gRPC binds with SO_REUSEPORT)
                   f"--ray-client-server-port={_ephemeral_port()}"]
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,  # noqa: S603
                                          stderr=subprocess.STDOUT,
                                          env=env, start_new_session=True)
        try:
            self.address = self._wait(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        address_file = self.temp / ADDRESS_FILE
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ConfigurationError(f"a local Ray instance did not start (exit {self._proc.returncode}):\n"
                                         f"{self.log_tail()}")
            with contextlib.suppress(OSError):
                address = address_file.read_text().strip()
                if address:
                    return address
            time.sleep(0.1)
        raise ConfigurationError(f"a local Ray instance did not start within {timeout:.0f} s:\n{self.log_tail()}")

    def driver_options(self) -> dict[str, str]:
        """``ray.init`` options that connect this process to the instance (after :func:`prepare_driver`)."""
        return {"address": self.address, "_node_ip_address": LOOPBACK}

    def running(self) -> bool:
        """Whether the instance is still up (``ray start --block`` ends when any Ray process dies)."""
        return self._proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of ``ray start``'s output (for an error message)."""
        try:
            return self._log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """End the instance and its processes (SIGTERM, then SIGKILL), and remove its directory."""
        if self._proc.poll() is None:
            self._proc.terminate()  # Ray's clean shutdown, which ends every process it started
            try:
                self._proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        # Whatever outlived it (after a SIGKILL, Ray's agents do): its session's process group. The group
        # id cannot have been reused while any member lives.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)


def _ephemeral_port() -> int:
    """A free port from the kernel's ephemeral range. Not :func:`accord.runtime.launcher.free_ports`: its
    ports lie below that range, where Ray's worker ports (10002-19999) are, and Ray refuses the overlap."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _ensure_token() -> None:
    """Create Ray's default token file (``~/.ray/auth_token``, mode 0600) unless it exists; atomic."""
    path = Path.home() / ".ray" / "auth_token"
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, staged = tempfile.mkstemp(dir=path.parent, prefix=".auth_token-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))  # as Ray's own generator: 256 bits from the OS CSPRNG
        with contextlib.suppress(FileExistsError):  # another party made it first: use theirs
            os.link(staged, path)
    finally:
        os.unlink(staged)


def main(argv: list[str]) -> None:
    """Become ``ray <argv[1:]>``, with SIGTERM on the death of the process ``argv[0]`` (our parent)."""
    parent = int(argv[0])
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the request took hold
        sys.exit(1)
    os.execv(sys.executable, [sys.executable, "-m", "ray.scripts.scripts", *argv[1:]])  # noqa: S606


if __name__ == "__main__":
    main(sys.argv[1:])
