"""The key-broker transport: unary gRPC calls over mutual TLS carrying typed-codec messages.

A broker is a long-lived service that answers many jobs, so it is a plain request/response server
rather than a party of one job's :class:`~accord.runtime.Cluster`. It reuses accord's party
certificates (:mod:`accord.net.tls`): the broker presents its owner's certificate and accepts only
client certificates it was told to trust (the runner hosts'); the runner pins each broker's
certificate from the job file. Every call has a deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, cast

import grpc

from accord.enclave.messages import Step
from accord.errors import AuthenticationError, ConfigurationError, PeerTimeout, PeerUnavailable, TransportError

SERVICE = "accord.v1.KeyBroker"
_MAX_MESSAGE = 1 << 20


class BrokerServer:
    """Serves ``handlers[step](request_bytes, peer_fingerprint) -> reply_bytes`` on ``listen`` with mTLS."""

    def __init__(self, handlers: dict[Step, Callable[[bytes], bytes]], *, key_pem: bytes, cert_pem: bytes,
                 trusted_clients: Sequence[bytes], listen: str) -> None:
        if not trusted_clients:
            raise ConfigurationError("a broker needs at least one trusted runner certificate")
        methods: dict[str, grpc.RpcMethodHandler] = {step.value: grpc.unary_unary_rpc_method_handler(
            lambda request, context, fn=fn: fn(request)) for step, fn in handlers.items()}
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="accord-broker"),
                                   options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                                            ("grpc.max_send_message_length", _MAX_MESSAGE)])
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=b"".join(trusted_clients),
                                            require_client_auth=True)
        try:
            self.port = self._server.add_secure_port(listen, creds)
        except RuntimeError as exc:
            raise ConfigurationError(f"broker cannot listen on {listen}: {exc}") from None
        if self.port == 0:
            raise ConfigurationError(f"broker cannot listen on {listen} (address in use?)")
        self._server.start()

    def wait(self) -> None:
        """Block until the server stops."""
        self._server.wait_for_termination()

    def stop(self) -> None:
        """Stop serving (in-flight calls get one second)."""
        self._server.stop(1).wait()


class BrokerClient:
    """The runner's connection to one owner's broker, whose certificate is pinned."""

    def __init__(self, owner: str, address: str, *, broker_cert: bytes, key_pem: bytes, cert_pem: bytes,
                 timeout: float = 30.0) -> None:
        self.owner, self.address, self.timeout = owner, address, timeout
        creds = grpc.ssl_channel_credentials(root_certificates=broker_cert, private_key=key_pem,
                                             certificate_chain=cert_pem)
        self._channel = grpc.secure_channel(address, creds, options=[
            ("grpc.ssl_target_name_override", owner), ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE), ("grpc.enable_retries", 0)])

    def call(self, step: Step, request: bytes) -> bytes:
        """One request and its reply, or a :class:`TransportError` naming the owner."""
        try:
            method: Any = self._channel.unary_unary(f"/{SERVICE}/{step.value}")  # raw bytes in and out
            return cast(bytes, method(request, timeout=self.timeout, wait_for_ready=True))
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            where = f"broker of {self.owner!r} at {self.address} ({step.value})"
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PeerTimeout(f"{where} did not answer within {self.timeout} s", party=self.owner,
                                  step=step.value) from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise PeerUnavailable(f"{where} is unreachable or refused our certificate: {exc.details()}",
                                      party=self.owner, step=step.value) from None
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                raise AuthenticationError(f"{where}: {exc.details()}", party=self.owner, step=step.value) from None
            raise TransportError(f"{where} failed: {exc.details() if hasattr(exc, 'details') else exc}",
                                 party=self.owner, step=step.value) from None

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()
