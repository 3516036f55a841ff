"""One named proxy: a listening socket, the connections it accepted and its chain of toxics.

Owns the listener's lifecycle (start, stop, re-listen on the same port), what a listen address
resolves to (a host name becomes the IP a listener would bind, as Go's resolver picks it), the
toxic chain the API edits, and the set of live connections those edits reach. It must not parse
HTTP or know other proxies; the registry creates, replaces and deletes proxies.

Every call returns without awaiting a connection: toxic edits are handed to each live link
synchronously and take effect on its next byte or timer; stopping aborts connections at once.
Randomness: each (toxic, connection) pair gets its own RNG from `rng.rng_for_link`, numbered by
the order in which this proxy accepted connections. Name lookups run off the event loop
(`loop.getaddrinfo`) and are bounded by `RESOLVE_TIMEOUT_S`; IP literals need no lookup.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from collections.abc import Sequence
from typing import Any

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

__all__ = ["RESOLVE_TIMEOUT_S", "Proxy", "bind_listener", "resolve_listen"]

LISTEN_BACKLOG = 1024
# Below the 5 s our client waits for an answer, so a slow resolver gives a 500 that says so
# rather than a client timeout. Loopback names resolve from /etc/hosts in microseconds.
RESOLVE_TIMEOUT_S = 2.0

_AddrInfo = tuple[Any, ...]  # (family, type, proto, canonname, sockaddr) from getaddrinfo


def bind_listener(listen: str) -> socket.socket:
    """A non-blocking TCP socket bound to `listen` (host:port) and listening.

    A host name binds its first IPv4 address if it has one, as Go's `net.Listen` does. The
    lookup blocks: pass what `resolve_listen` returned when running on the event loop.
    Raises `OSError` (address in use, unknown host, ...) with the OS's reason.
    """
    host, port = parse_address(listen, field_name="listen")
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = _first_preferring_ipv4(infos)
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


async def resolve_listen(listen: str) -> str:
    """The address a listener bound to `listen` reports: `localhost:7070` -> `127.0.0.1:7070`.

    Upstream compares listen addresses this way (`net.ResolveTCPAddr`, Toxiproxy #631), so a
    proxy given `localhost:PORT` is the same proxy as one listening on `127.0.0.1:PORT`. IP
    literals and an empty host (every interface) resolve without a lookup; a name is looked up
    off the event loop for at most `RESOLVE_TIMEOUT_S`. Port 0 stays 0 (it names no port yet).
    Raises `ApiError` 500 with Go's wording: `lookup NAME: no such host`, `lookup NAME: i/o
    timeout`.
    """
    host, port = parse_address(listen, field_name="listen")
    infos: Sequence[_AddrInfo]
    try:
        if host and not _is_ip_literal(host):
            lookup = asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            infos = await asyncio.wait_for(lookup, timeout=RESOLVE_TIMEOUT_S)
        else:  # no lookup: a literal, or None for every interface (as `bind_listener` binds)
            flags = socket.AI_PASSIVE | (socket.AI_NUMERICHOST if host else 0)
            infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=flags)
    except TimeoutError:
        raise ApiError(f"lookup {host}: i/o timeout", 500) from None
    except socket.gaierror as exc:
        raise ApiError(f"lookup {host}: {_lookup_reason(exc)}", 500) from None
    sockaddr = _first_preferring_ipv4(infos)[4]
    return format_address(sockaddr[0], sockaddr[1])


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _first_preferring_ipv4(infos: Sequence[_AddrInfo]) -> _AddrInfo:
    # Go's resolver, for "tcp": the first IPv4 address, else the first address.
    return next((info for info in infos if info[0] == socket.AF_INET), infos[0])


def _lookup_reason(exc: socket.gaierror) -> str:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return "no such host"  # Go's wording for a name that does not exist
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


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
            address = await resolve_listen(self.listen)
        except ApiError as exc:
            raise ApiError(f"listen tcp: {exc.message}", 500) from None  # Go's spelling
        try:
            sock = bind_listener(address)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            # Go's spelling, e.g. "listen tcp 127.0.0.1:80: bind: address already in use"
            raise ApiError(
                f"listen tcp {address}: bind: {reason[:1].lower()}{reason[1:]}", 500
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

    async def differs(self, new: ProxySpec) -> bool:
        """Whether `new` names another listen address or upstream (upstream's `Differs`).

        Listen addresses are compared resolved, so `localhost:7070` is the same as the
        `127.0.0.1:7070` this proxy listens on; `upstream` is compared as text, as upstream.
        `new.listen` is resolved first, as upstream does: a name that does not resolve is an
        `ApiError` 500 and nothing changes.
        """
        wanted = await resolve_listen(new.listen)
        if new.upstream != self.upstream:
            return True
        try:
            current = await resolve_listen(self.listen)
        except ApiError:
            return True  # a disabled proxy whose own name no longer resolves: replace it
        return wanted != current

    async def update(self, new: ProxySpec) -> None:
        """Apply a new listen/upstream/enabled, as upstream: only an address change restarts.

        A restart drops the live connections; the same address written another way
        (`localhost:7070` for `127.0.0.1:7070`) is no change. The toxics stay either way.
        """
        if await self.differs(new):
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
