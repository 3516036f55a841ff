"""Fixtures for the embedded Toxiproxy tests: a server per test, loopback upstreams, sockets.

Every test gets a fresh `EmbeddedToxiproxy` (background thread, free port, seed 7) and a
`ToxiproxyClient` bound to it; upstreams are small threaded TCP servers on loopback. All of
them are torn down in fixture finalisers, so a failing test leaves no thread or socket behind.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fakes.toxiproxy.client import ToxiproxyClient
from fakes.toxiproxy.server import EmbeddedToxiproxy

SEED = 7
Handler = Callable[[socket.socket], None]


class TcpServer:
    """A loopback TCP server that runs `handle(sock)` on a thread per connection."""

    def __init__(self, handle: Handler) -> None:
        outer = self

        class _Request(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.accepted += 1
                try:
                    handle(self.request)
                except OSError:
                    pass  # the proxy or the test closed the connection: fine for these servers

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            block_on_close = False

        self.accepted = 0
        self._server = _Server(("127.0.0.1", 0), _Request)
        self.port = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def echo(sock: socket.socket) -> None:
    while data := sock.recv(65536):
        sock.sendall(data)


def reply_with(size: int) -> Handler:
    """After the first bytes of a request, send `size` bytes and close."""

    def handle(sock: socket.socket) -> None:
        if sock.recv(65536):
            sock.sendall(b"x" * size)
        sock.close()

    return handle


def send_and_close(payload: bytes) -> Handler:
    def handle(sock: socket.socket) -> None:
        sock.sendall(payload)
        sock.close()

    return handle


def stream_forever(sock: socket.socket) -> None:
    block = b"y" * 65536
    while True:
        sock.sendall(block)


@pytest.fixture
def tcp_server() -> Iterator[Callable[[Handler], TcpServer]]:
    servers: list[TcpServer] = []

    def start(handle: Handler) -> TcpServer:
        server = TcpServer(handle)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def echo_upstream(tcp_server: Callable[[Handler], TcpServer]) -> TcpServer:
    return tcp_server(echo)


@pytest.fixture
def embedded() -> Iterator[EmbeddedToxiproxy]:
    server = EmbeddedToxiproxy(seed=SEED)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tp(embedded: EmbeddedToxiproxy) -> ToxiproxyClient:
    return ToxiproxyClient(embedded.url, timeout_s=5.0)


@pytest.fixture
def sockets() -> Iterator[Callable[[str], socket.socket]]:
    """`connect("host:port")` -> a connected socket (10 s timeout), closed after the test."""
    opened: list[socket.socket] = []

    def connect(address: str) -> socket.socket:
        host, port = address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        opened.append(sock)
        return sock

    yield connect
    for sock in opened:
        sock.close()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def recv_until_closed(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def round_trip_s(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Send `payload` to an echo upstream and time until it is all back."""
    start = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - start


@pytest.fixture
def helpers() -> Any:
    """The socket helpers above, as attributes (conftest modules are not importable)."""

    class _Helpers:
        recv_exactly = staticmethod(recv_exactly)
        recv_until_closed = staticmethod(recv_until_closed)
        round_trip_s = staticmethod(round_trip_s)
        reply_with = staticmethod(reply_with)
        send_and_close = staticmethod(send_and_close)
        stream_forever = staticmethod(stream_forever)
        echo = staticmethod(echo)

    return _Helpers
