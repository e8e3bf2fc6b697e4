"""Running approved jobs: the node launches its party's side as an `accord run` process and watches it.

A run starts only when every party of the job holds a valid approval of its exact job file at this
node; the process gets this party's signed approval (``--approval``), so the runtime's handshake
refuses to start unless every peer presents its own. The process writes its report, progress and
outputs into the run's private work directory. When it ends, the node records the outcome, what each
party learned (from the job report) and the metrics in the same transaction as the audit entries. A
node that stops ends its running jobs (they discard partial outputs); a node that was killed marks
them interrupted when it starts again and ends any leftover process of theirs.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from accord.errors import ConfigurationError, NotApproved
from accord.node import datasets as ds
from accord.node import schema
from accord.node.events import import_events
from accord.node.service import Node


class Runner:
    """Launches and watches this party's job processes."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def start(self, digest: str, actor: str, run_id: str | None = None) -> str:
        """Start this party's side of an approved job; returns the run id (shared by every party's node)."""
        node = self.node
        job = node.recheck(digest)  # against the policies in force now: one tightened since the approval wins
        if job is None:
            raise ConfigurationError(f"no job with digest {digest[:16]}... at this node")
        if job.violations:
            with node.store.write() as conn:
                node.store.audit(conn, "job start refused", job=job.name, digest=digest, actor=actor,
                                 violations=[v["text"] for v in job.violations])
            raise NotApproved(f"job {job.name!r} breaks the column policies now in force at {node.party!r}: "
                              + "; ".join(v["text"] for v in job.violations))
        approvals = node.approvals(digest)  # every party's, valid: else NotApproved names who is missing
        run_id = run_id or secrets.token_hex(8)
        if not run_id.isalnum() or len(run_id) > 32:
            raise ConfigurationError("a run id is up to 32 letters and digits")
        workdir = node.config.state / "runs" / run_id
        workdir.mkdir(parents=True, mode=0o700)
        (workdir / "job.yaml").write_text(job.text)
        spec = node.spec(job.text, workdir)
        if spec.sha256 != digest:
            raise NotApproved("the stored job file does not match its approved digest")
        (workdir / "approval.json").write_bytes(approvals[node.party].to_wire())
        command = [sys.executable, "-m", "accord", "run", str(workdir / "job.yaml"), "--cluster",
                   str(node.config.cluster_path), "--me", node.party, "--key", str(node.config.key_path),
                   "--approval", str(workdir / "approval.json"), "--out-dir", str(workdir / "out"),
                   "--report", str(workdir / "report.json"), "--progress-file", str(workdir / "progress.json"),
                   "--state-dir", str(node.config.state)]
        if node.party in spec.parties:
            with node.store.read() as conn:
                dataset = ds.get(conn, ds.dataset_of(spec.parties[node.party]))
            command += ["--input", str(ds.materialise(dataset, node.party, workdir))]
        with node.store.write() as conn:
            conn.execute(insert(schema.runs).values(id=run_id, digest=digest, status="running", started_at=time.time(),
                                                    workdir=str(workdir)))
            node.store.audit(conn, "job start", job=job.name, digest=digest, run=run_id, actor=actor,
                             approvals={p: a.approver for p, a in approvals.items()})
            log = open(workdir / "log.txt", "wb")
            env = {**os.environ, "GRPC_VERBOSITY": "NONE"}
            proc = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
            log.close()
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(pid=proc.pid))
        with self._lock:
            self._procs[run_id] = proc
        threading.Thread(target=self._watch, args=(run_id, job.name, digest, proc), daemon=True,
                         name=f"accord-run-{run_id}").start()
        return run_id

    def _watch(self, run_id: str, name: str, digest: str, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with self._lock:
            self._procs.pop(run_id, None)
        self._finish(run_id, name, digest, code)

    def _finish(self, run_id: str, name: str, digest: str, code: int | None, status: str | None = None) -> None:
        workdir = self.node.config.state / "runs" / run_id
        report = _read_json(workdir / "report.json")
        metrics = next((_read_json(p) for p in _glob(workdir / "out", "metrics.json")), None)
        status = status or ("succeeded" if code == 0 else "failed")
        error = None if status == "succeeded" else _last_error(workdir / "log.txt", code)
        learned = sorted({(e["protocol"], e["party"], e["learned"]) for e in (report or {}).get("learned", [])})
        with self.node.store.write() as conn:
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(
                status=status, ended_at=time.time(), error=error, report=json.dumps(report) if report else None,
                metrics=json.dumps(metrics) if metrics else None))
            self.node.store.audit(conn, "job end", job=name, digest=digest, run=run_id, status=status, exit_code=code,
                                  error=error, outputs=(report or {}).get("outputs", []))
            for protocol, party, what in learned:
                self.node.store.audit(conn, "revealed", job=name, run=run_id, protocol=protocol, to=party,
                                      learned=what)
        import_events(self.node)  # the DP charges the job made

    def recover(self) -> None:
        """Mark runs a killed node left behind as interrupted, ending any process of theirs still alive."""
        with self.node.store.read() as conn:
            stale = conn.execute(select(schema.runs).where(schema.runs.c.status == "running")).mappings().all()
        for run in stale:
            if run["pid"] and _is_our_run(int(run["pid"]), run["id"]):
                os.kill(int(run["pid"]), signal.SIGTERM)
            job = self.node.job(run["digest"])
            self._finish(run["id"], job.name if job else "", run["digest"], None, status="interrupted")

    def stop(self, timeout: float = 30.0) -> None:
        """End every running job (SIGTERM: the job tells its peers and discards partial outputs)."""
        with self._lock:
            procs = dict(self._procs)
        for proc in procs.values():
            proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def runs(self, digest: str | None = None) -> list[dict[str, Any]]:
        """Runs (of one job, or all), newest first, with their progress."""
        query = select(schema.runs).order_by(schema.runs.c.started_at.desc())
        if digest is not None:
            query = query.where(schema.runs.c.digest == digest)
        with self.node.store.read() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["progress"] = _read_json(Path(row["workdir"]) / "progress.json") if row["status"] == "running" else None
            for field in ("report", "metrics"):
                row[field] = json.loads(row[field]) if row[field] else None
        return rows

    def plots(self, run_id: str) -> list[Path]:
        """The plot images a run wrote into this party's outputs."""
        return _glob(self.node.config.state / "runs" / run_id / "out", "*.png")


def _glob(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching ``pattern``, sorted; a directory that vanishes meanwhile is skipped.

    A killed run's runner removes its staging directories while the node may be listing the outputs
    (``Path.rglob`` raises on such a directory; ``os.walk`` ignores it).
    """
    return sorted(Path(top) / name for top, _, names in os.walk(root) for name in fnmatch.filter(names, pattern))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _last_error(log: Path, code: int | None) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    errors = [line for line in lines if line.startswith("accord: ")]
    return (errors or lines or [f"exit status {code}"])[-1][:2000]


def _is_our_run(pid: int, run_id: str) -> bool:
    try:
        return run_id in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
