"""Serving a node: the web console and peer API over TLS with the party's certificate, until stopped.

Start-up opens (and migrates) the database, verifies the audit log, marks runs a killed node left
behind as interrupted, and imports new DP charges and TEE key releases into the audit log. Ctrl-C or
SIGTERM stops the server cleanly: running jobs are ended (they discard partial outputs and tell their
peers) and the stop is audited.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from accord.node.config import NodeConfig
from accord.node.events import import_events
from accord.node.runs import Runner
from accord.node.service import Node
from accord.node.web import create_app


def build(config: NodeConfig) -> tuple[Node, Runner, FastAPI]:
    """The node, its job runner and its web app, with the start-up checks done."""
    node = Node(config)
    node.store.verify_audit()
    runner = Runner(node)
    runner.recover()
    import_events(node)
    app = create_app(node, runner)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with node.store.write() as conn:
            node.store.audit(conn, "node start", listen=f"{config.host}:{config.port}", schema=node.store.version())
        yield
        runner.stop()
        import_events(node)
        with node.store.write() as conn:
            node.store.audit(conn, "node stop")
        node.store.close()

    app.router.lifespan_context = lifespan
    return node, runner, app


def serve(config: NodeConfig) -> None:
    """Run the node until Ctrl-C or SIGTERM."""
    _, _, app = build(config)
    cert = config.cluster.parties[config.party].cert_path
    print(f"accord node {config.party}: console at https://{config.host}:{config.port}/ (TLS with {cert.name}); "
          "Ctrl-C stops it", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, ssl_certfile=str(cert),
                                           ssl_keyfile=str(config.key_path), log_level="warning",
                                           timeout_graceful_shutdown=30))
    # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal; a stop asked for is a clean exit.
    previous = {s: signal.signal(s, _ignore) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _ignore(signum: int, frame: object) -> None:
    """Swallow the signal uvicorn re-raises after its graceful shutdown."""
