"""Many clients in one process: the simulated client pool.

Clients run one after another in the calling thread, each built by the app's factory only while it
handles an instruction, so the memory of a simulation is one client's working set plus a few
kilobytes of SecAgg state per client (100 clients x 100,000 parameters fit in a few hundred MiB).
Every instruction and reply still goes through the typed codec, so byte counts and validation are
those of a networked run.

``vanish(client, round, stage)`` makes a client disappear from that stage of that round on (it
answers nothing more in the round), which is how tests and benchmarks drop clients at any stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from accord.crypto.random import Rng
from accord.errors import AccordError
from accord.fl.client import AGGREGATOR, ClientApp, NodeState
from accord.fl.messages import Instruction, Reply
from accord.fl.pool import Exchange, Traffic
from accord.net import codec

Vanish = Callable[[str, int, str], bool]


class SimulatedPool:
    """A :class:`~accord.fl.pool.ClientPool` whose clients run in this process.

    Parameters
    ----------
    app:
        The client app every simulated client runs.
    clients:
        Client ids.
    seed:
        Optional seed for the clients' CSPRNG streams (tests); default OS entropy.
    vanish:
        Optional dropout schedule ``vanish(client, round, stage) -> bool``.
    """

    def __init__(self, app: ClientApp, clients: Sequence[str], *, seed: bytes | None = None,
                 vanish: Vanish | None = None, run: str = "simulation") -> None:
        if len(set(clients)) != len(clients) or not clients:
            raise ValueError("clients must be a non-empty list of distinct ids")
        self.app = app
        self.clients = list(clients)
        self.run = run
        self.vanish = vanish
        self.traffic = Traffic()
        self._seed = seed
        self._nodes: dict[str, NodeState] = {}
        self._gone: set[tuple[str, int]] = set()
        self._next_id = 0

    def available(self) -> list[str]:
        return list(self.clients)

    def _node(self, client: str) -> NodeState:
        node = self._nodes.get(client)
        if node is None:
            seed = None if self._seed is None else self._seed + b"|" + client.encode()
            node = self._nodes[client] = NodeState(Rng(seed))
        return node

    def request(self, round_number: int, stage: str, bodies: Mapping[str, dict[str, Any]],
                timeout: float) -> Exchange:
        out = Exchange()
        for client, body in bodies.items():
            if client not in self.clients:
                raise ValueError(f"{client!r} is not a client of this simulation")
            self._next_id += 1
            raw = codec.encode(Instruction(self.run, round_number, stage, self._next_id, body).to_wire())
            if (client, round_number) in self._gone or (self.vanish and self.vanish(client, round_number, stage)):
                self._gone.add((client, round_number))
                self.traffic.add(client, len(raw), 0)
                out.failures[client] = "vanished (no reply)"
                continue
            ins = Instruction.from_wire(codec.decode(raw), AGGREGATOR)
            answer = codec.encode(self.app.handle(client, ins, self._node(client)).to_wire())
            self.traffic.add(client, len(raw), len(answer))
            try:
                reply = Reply.from_wire(codec.decode(answer), client)
            except AccordError as exc:
                out.failures[client] = str(exc)
                continue
            if reply.id != ins.id:
                out.failures[client] = f"answered instruction {reply.id}, not {ins.id}"
            elif reply.error:
                out.failures[client] = reply.error
            else:
                out.replies[client] = reply.body
        return out

    def close(self) -> None:
        self._nodes.clear()
