"""One named proxy: a listening socket, the connections it accepted and its chain of toxics.

Owns the listener's lifecycle (start, stop, re-listen on the same port), the toxic chain the API
edits, and the set of live connections those edits reach. It must not parse HTTP or know other
proxies; the registry creates, replaces and deletes proxies.

Every call returns without awaiting a connection: toxic edits are handed to each live link
synchronously and take effect on its next byte or timer; stopping aborts connections at once.
Randomness: each (toxic, connection) pair gets its own RNG from `rng.rng_for_link`, numbered by
the order in which this proxy accepted connections.
"""

from __future__ import annotations

import asyncio
import random
import socket

from fakes.toxiproxy.connection import Connection
from fakes.toxiproxy.rng import rng_for_link
from fakes.toxiproxy.schema import (
    ApiError,
    ProxySpec,
    Stream,
    ToxicSpec,
    format_address,
    parse_address,
    parse_toxic_update,
    proxy_to_json,
)

__all__ = ["Proxy", "bind_listener"]

LISTEN_BACKLOG = 1024


def bind_listener(listen: str) -> socket.socket:
    """A non-blocking TCP socket bound to `listen` (host:port) and listening.

    Raises `OSError` (address in use, unknown host, ...) with the OS's reason.
    """
    host, port = parse_address(listen, field_name="listen")
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As Go does: re-enabling a proxy must not trip over its own TIME_WAIT connections.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Proxy:
    """A Toxiproxy proxy: listen on `listen`, connect each client to `upstream`, apply toxics."""

    def __init__(self, spec: ProxySpec, *, seed: int, loop: asyncio.AbstractEventLoop) -> None:
        self.name = spec.name
        self.listen = spec.listen
        self.upstream = spec.upstream
        self.enabled = False
        self._seed = seed
        self._loop = loop
        self._toxics: dict[str, ToxicSpec] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._accepted = 0

    @property
    def spec(self) -> ProxySpec:
        return ProxySpec(self.name, self.listen, self.upstream, self.enabled)

    def toxics(self) -> list[ToxicSpec]:
        """The toxics as upstream lists them: upstream stream first, each in order added."""
        return self.toxic_chain(Stream.UPSTREAM) + self.toxic_chain(Stream.DOWNSTREAM)

    def to_json(self) -> dict[str, object]:
        return proxy_to_json(self.spec, self.toxics())

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- listening ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on `listen` (port 0 picks one, and `listen` then names it); 500 on failure."""
        if self.enabled:
            return
        try:
            sock = bind_listener(self.listen)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            # Go's spelling, e.g. "listen tcp 127.0.0.1:80: bind: address already in use"
            raise ApiError(
                f"listen tcp {self.listen}: bind: {reason[:1].lower()}{reason[1:]}", 500
            ) from exc
        host, port = sock.getsockname()[:2]
        self.listen = format_address(host, port)
        self._server = await self._loop.create_server(self._accept, sock=sock)
        self.enabled = True

    def stop(self) -> None:
        """Stop listening and drop every connection (clients see their sockets close)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.enabled = False
        for connection in list(self._connections):
            connection.abort()

    async def update(self, new: ProxySpec) -> None:
        """Apply a new listen/upstream/enabled, as upstream: an address change restarts."""
        if new.listen != self.listen or new.upstream != self.upstream:
            self.stop()
            self.listen, self.upstream = new.listen, new.upstream
        if new.enabled and not self.enabled:
            await self.start()
        elif not new.enabled and self.enabled:
            self.stop()

    def _accept(self) -> asyncio.Protocol:
        index = self._accepted
        self._accepted += 1
        connection = Connection(
            self, index, parse_address(self.upstream, field_name="upstream"), self._loop
        )
        self._connections.add(connection)
        return connection.client

    def restart_numbering(self) -> None:
        """Number the next connection 0 again, so draws repeat after `/reset`."""
        self._accepted = 0

    # -- toxics -------------------------------------------------------------------------------

    def get_toxic(self, name: str) -> ToxicSpec:
        try:
            return self._toxics[name]
        except KeyError:
            raise ApiError.toxic_not_found() from None

    def add_toxic(self, spec: ToxicSpec) -> ToxicSpec:
        if spec.name in self._toxics:
            raise ApiError.toxic_already_exists()
        self._toxics[spec.name] = spec
        for connection in list(self._connections):
            connection.add_toxic(spec)
        return spec

    def update_toxic(self, name: str, body: object) -> ToxicSpec:
        spec = parse_toxic_update(self.get_toxic(name), body)
        self._toxics[name] = spec
        for connection in list(self._connections):
            connection.update_toxic(spec)
        return spec

    def remove_toxic(self, name: str) -> None:
        spec = self.get_toxic(name)
        del self._toxics[name]
        for connection in list(self._connections):
            connection.remove_toxic(spec)

    def remove_all_toxics(self) -> None:
        for name in list(self._toxics):
            self.remove_toxic(name)

    # -- what connections ask of their proxy (link.ConnectionOwner) ---------------------------

    def toxic_chain(self, stream: Stream) -> list[ToxicSpec]:
        return [spec for spec in self._toxics.values() if spec.stream is stream]

    def rng_for(self, toxic_name: str, connection_index: int) -> random.Random:
        return rng_for_link(self._seed, self.name, toxic_name, connection_index)

    def connection_gone(self, connection: Connection) -> None:
        self._connections.discard(connection)
