"""The FL transport over loopback gRPC with mutual TLS: secure rounds, restarts, duplicate replies and connections."""

from __future__ import annotations

import queue
import threading
import time

import grpc
import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.errors import AuthenticationError
from accord.fl._frames import CONNECT, GRPC_OPTIONS, Reassembler, frames
from accord.fl.grpc_client import connect
from accord.fl.grpc_server import GRPCPool
from accord.fl.messages import Instruction, Reply
from accord.fl.secagg.server import SecAggParams
from accord.fl.server import Aggregator
from accord.fl.strategy import FedAvg
from accord.net.tls import create_party_certificate
from tests.fl_helpers import fixed_app, updates

AGG = create_party_certificate("aggregator")
CLIENTS = {f"c{i:03d}": create_party_certificate(f"c{i:03d}") for i in range(4)}


def make_pool(port=0):
    return GRPCPool(f"127.0.0.1:{port}", key_pem=AGG[0], cert_pem=AGG[1], clients=[c for _, c in CLIENTS.values()])


def start_client(port, name, app, results, **kw):
    def run():
        try:
            results[name] = connect(f"127.0.0.1:{port}", app, me=name, key_pem=CLIENTS[name][0],
                                    cert_pem=CLIENTS[name][1], aggregator_cert_pem=AGG[1], **kw)
        except Exception as exc:  # reported to the test through results
            results[name] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_secure_rounds_survive_an_aggregator_restart(tmp_path):
    ups = updates(4, 50, seed=4)
    app = fixed_app(ups)
    pool = make_pool()
    port, results = pool.port, {}
    threads = [start_client(port, n, app, results, connect_timeout=30) for n in CLIENTS]
    pool.wait_for_clients(4, 20)
    ckpt = tmp_path / "ckpt"
    init = [np.zeros(50, np.float32)]
    Aggregator(pool, FedAvg(), init, rounds=2, secure=SecAggParams(clip=2.0), checkpoint_path=ckpt,
               rng=Rng(b"a")).run()
    pool._server.stop(None).wait(5)  # the aggregator process dies between rounds (no goodbye to the clients)
    pool = make_pool(port)
    pool.wait_for_clients(4, 30)  # the clients reconnect on their own
    agg = Aggregator(pool, FedAvg(), init, rounds=4, secure=SecAggParams(clip=2.0), checkpoint_path=ckpt,
                     rng=Rng(b"b"))
    history = agg.run()
    pool.close()
    for t in threads:
        t.join(10)
    assert [r["round"] for r in history.rounds] == [1, 2, 3, 4]
    mean = sum(u.astype(np.float64) for u in ups.values()) / 4
    assert np.allclose(agg.params[0], 4 * mean, atol=1e-4)
    assert all(isinstance(v, int) and v > 0 for v in results.values()), results


def test_a_second_connection_under_one_name_is_refused():
    pool = make_pool()
    results = {}
    first = start_client(pool.port, "c000", fixed_app(updates(4, 2)), results)
    pool.wait_for_clients(1, 20)
    second = start_client(pool.port, "c000", fixed_app(updates(4, 2)), results)
    second.join(20)
    assert isinstance(results["c000"], AuthenticationError) and "already connected" in str(results["c000"])
    pool.close()
    first.join(10)


def test_a_repeated_reply_is_dropped_and_counted():
    pool = make_pool()
    key, cert = CLIENTS["c001"]
    creds = grpc.ssl_channel_credentials(root_certificates=AGG[1], private_key=key, certificate_chain=cert)
    channel = grpc.secure_channel(f"127.0.0.1:{pool.port}", creds,
                                  options=[*GRPC_OPTIONS, ("grpc.ssl_target_name_override", "aggregator")])
    out: queue.Queue = queue.Queue()
    stream = channel.stream_stream(CONNECT)(iter(out.get, None))

    def misbehave():
        reassembler = Reassembler(1 << 20)
        try:
            for frame in stream:
                value = reassembler.add(frame)
                if value is not None:
                    ins = Instruction.from_wire(value, "aggregator")
                    for _ in range(2):  # answer twice
                        for f in frames(Reply(ins.id, {"x": 1}).to_wire()):
                            out.put(f)
        except grpc.RpcError:
            return  # the test cancelled the stream

    threading.Thread(target=misbehave, daemon=True).start()
    pool.wait_for_clients(1, 20)
    exchange = pool.request(1, "fit", {"c001": {}}, timeout=10)
    assert exchange.replies == {"c001": {"x": 1}}
    deadline = time.monotonic() + 5
    while pool.rejected("c001") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.rejected("c001") == 1
    out.put(None)
    stream.cancel()
    channel.close()
    pool.close()


def test_an_unlisted_certificate_is_refused():
    pool = make_pool()
    stranger = create_party_certificate("c000")  # right name, wrong key: not the pinned certificate
    with pytest.raises(AuthenticationError, match=r"refused|mutual TLS"):
        connect(f"127.0.0.1:{pool.port}", fixed_app(updates(1, 2)), me="c000", key_pem=stranger[0],
                cert_pem=stranger[1], aggregator_cert_pem=AGG[1], connect_timeout=5)
    pool.close()


def test_only_the_first_reply_to_an_instruction_counts():
    from accord.fl.grpc_server import _Session

    pool = make_pool()
    session = _Session("c000")
    session.pending = 7
    pool._deliver(session, Reply(7, {"update": 1}))
    pool._deliver(session, Reply(7, {"update": 2}))  # a second answer while the first is still unread
    assert session.reply.body == {"update": 1} and session.rejected == 1
    pool.close()


def test_a_client_process_dying_mid_round_is_a_dropout():
    from accord.fl.client import ClientApp

    ups = updates(4, 30, seed=8)

    class Dies(ClientApp):
        def handle(self, cid, ins, node):
            if cid == "c002" and ins.stage == "secagg.collect":
                raise RuntimeError("the client process dies")  # ends its connection without a reply
            return super().handle(cid, ins, node)

    app = Dies(fixed_app(ups).client_fn)
    pool = make_pool()
    results = {}
    threads = [start_client(pool.port, n, app, results) for n in CLIENTS]
    pool.wait_for_clients(4, 20)
    agg = Aggregator(pool, FedAvg(), [np.zeros(30, np.float32)], rounds=1, secure=SecAggParams(clip=2.0),
                     rng=Rng(b"d"))
    history = agg.run()
    pool.close()
    for t in threads:
        t.join(10)
    assert history.rounds[0]["survivors"] == 3 and history.rounds[0]["failures"]["c002"].endswith("disconnected")
    assert np.allclose(agg.params[0], sum(ups[c] for c in ups if c != "c002") / 3, atol=1e-5)
