"""One proxied TCP connection: the client socket, the upstream socket, the two links between.

Owns the sockets and the connection's lifecycle: dial the upstream for an accepted client, wire
the `upstream` link (client -> server) and the `downstream` link (server -> client), pass a
half-close on (`write_eof`), close when both directions have ended, and CLOSE (FIN after
flushing), RESET (SO_LINGER 0, so both peers see RST) or abort (proxy disabled) on demand. It
must not know about the HTTP API or other connections: its proxy (`ConnectionOwner`) hands it
the toxic chain and RNGs and is told when the connection is gone.

Time and randomness: none of its own; the links read the clock, the owner supplies the RNGs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from collections.abc import Callable
from typing import Any, Protocol, cast

from fakes.toxiproxy.link import Link
from fakes.toxiproxy.schema import Stream, ToxicSpec
from fakes.toxiproxy.toxics import EndKind

__all__ = ["Connection", "ConnectionOwner", "Side"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# Write-buffer high-water mark per socket: big enough that bulk transfers do not ping-pong
# between pause and resume, small enough to keep memory per connection modest.
WRITE_BUFFER_HIGH = 256 * 1024
_LINGER_ZERO = struct.pack("ii", 1, 0)


class ConnectionOwner(Protocol):
    """What a connection needs from its proxy."""

    name: str

    def toxic_chain(self, stream: Stream) -> list[ToxicSpec]: ...

    def rng_for(self, toxic_name: str, connection_index: int) -> random.Random: ...

    def connection_gone(self, connection: Connection) -> None: ...


class Side(asyncio.Protocol):
    """One socket of the connection (client or upstream), as an asyncio protocol."""

    def __init__(self, connection: Connection, role: str) -> None:
        self.connection = connection
        self.role = role
        self.transport: asyncio.Transport | None = None
        self.link_out: Link | None = None  # the link this socket feeds
        self.link_in: Link | None = None  # the link that writes to this socket
        self.lost = False
        self._early: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        # Replaced per instance by `route`; until then (links not wired yet, e.g. a server
        # greeting before the client side is ready) bytes wait here.
        self._early.append(data)

    def route(self, handler: Callable[[bytes], object]) -> None:
        """Deliver this socket's incoming bytes straight to `handler`.

        The hot path: on the fast path `handler` is the destination transport's `write`, so
        the event loop hands each read to it with no Python frame of ours in between (uvloop
        caches `protocol.data_received` per `set_protocol`, hence the refresh).
        """
        self.data_received = handler  # type: ignore[method-assign,assignment]
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.set_protocol(self)

    def take_early(self) -> list[bytes]:
        early, self._early = self._early, []
        return early

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have the same methods.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self.connection.side_made(self)

    def eof_received(self) -> bool:
        if self.link_out is not None:
            self.link_out.feed_end(EndKind.EOF)
        return True  # keep the write half open: a half-close is passed on, not a full close

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.connection.side_lost(self, exc)

    def pause_writing(self) -> None:
        if self.link_in is not None:
            self.link_in.set_dest_paused(True)

    def resume_writing(self) -> None:
        if self.link_in is not None:
            self.link_in.set_dest_paused(False)


class Connection:
    """A client connection accepted by a proxy, the upstream connection opened for it, and the
    two links between them."""

    def __init__(
        self,
        owner: ConnectionOwner,
        index: int,
        upstream: tuple[str, int],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.owner = owner
        self.index = index
        self.loop = loop
        self._upstream_address = upstream
        self.client = Side(self, "client")
        self.server = Side(self, "upstream")
        self.upstream_link = Link(self, self.client, self.server, Stream.UPSTREAM)
        self.downstream_link = Link(self, self.server, self.client, Stream.DOWNSTREAM)
        self._started = False
        self._closing = False
        self._gone_reported = False
        self._connect_task: asyncio.Task[None] | None = None

    def links(self) -> tuple[Link, Link]:
        return (self.upstream_link, self.downstream_link)

    def link_for(self, stream: Stream) -> Link:
        return self.upstream_link if stream is Stream.UPSTREAM else self.downstream_link

    # -- lifecycle ----------------------------------------------------------------------------

    def side_made(self, side: Side) -> None:
        if self._closing:
            assert side.transport is not None
            side.transport.abort()  # the upstream answered after the client was already gone
        elif side is self.client:
            assert side.transport is not None
            side.transport.pause_reading()  # nothing to forward to until upstream answers
            self._connect_task = self.loop.create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        host, port = self._upstream_address
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: self.server, host, port),
                timeout=CONNECT_TIMEOUT_S,
            )
        except asyncio.CancelledError:
            if self.server.transport is not None:
                self.server.transport.abort()
            raise
        except (OSError, TimeoutError) as exc:
            log.info(
                "toxiproxy: proxy %s cannot reach upstream %s:%s: %s",
                self.owner.name,
                host,
                port,
                exc,
            )
            self.close()
            return
        if self._closing:
            self.abort()
            return
        self._started = True
        self.upstream_link.start(self.owner.toxic_chain(Stream.UPSTREAM), self.index)
        self.downstream_link.start(self.owner.toxic_chain(Stream.DOWNSTREAM), self.index)
        client_transport = self.client.transport
        if client_transport is not None and not client_transport.is_closing():
            client_transport.resume_reading()

    def add_toxic(self, spec: ToxicSpec) -> None:
        if self._started and not self._closing:
            self.link_for(spec.stream).add_toxic(spec, self.index)

    def update_toxic(self, spec: ToxicSpec) -> None:
        if self._started and not self._closing:
            self.link_for(spec.stream).update_toxic(spec)

    def remove_toxic(self, spec: ToxicSpec) -> None:
        if self._started and not self._closing:
            self.link_for(spec.stream).remove_toxic(spec.name)

    def link_ended(self, link: Link, kind: EndKind) -> None:
        if kind is EndKind.RESET:
            self.reset()
        elif kind is EndKind.CLOSE:
            self.close()
        else:
            transport = link.dest.transport
            if transport is not None and not transport.is_closing() and transport.can_write_eof():
                transport.write_eof()
            if all(each.finished for each in self.links()):
                self.close()

    def side_lost(self, side: Side, exc: Exception | None) -> None:
        if self._closing:
            pass
        elif not self._started:
            self.close()
        else:
            # The socket failed under us: nothing more can reach it; what it sent still goes
            # through, then the other side is closed.
            if side.link_in is not None:
                side.link_in.abandon()
            if side.link_out is not None:
                side.link_out.feed_end(EndKind.CLOSE)
            if all(each.finished for each in self.links()):
                self.close()
        self._report_if_gone()

    def close(self) -> None:
        """Close both sockets after flushing what they were sent (FIN)."""
        self._teardown(lambda transport: transport.close())

    def abort(self) -> None:
        """Drop both sockets now, flushing nothing (the proxy is disabled or deleted)."""
        self._teardown(lambda transport: transport.abort())

    def reset(self) -> None:
        """Reset both sockets: SO_LINGER 0, so closing sends RST (reset_peer)."""

        def reset_one(transport: asyncio.Transport) -> None:
            sock: Any = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
                except OSError:
                    pass  # already closed: nothing left to reset
            transport.abort()

        self._teardown(reset_one)

    def _teardown(self, finish: Callable[[asyncio.Transport], object]) -> None:
        first = not self._closing
        self._closing = True
        for link in self.links():
            link.finished = True
            link.stop()
        if self._connect_task is not None and not self._connect_task.done():
            if self._connect_task is not asyncio.current_task():
                self._connect_task.cancel()
        for side in (self.client, self.server):
            if side.transport is not None and not side.lost:
                finish(side.transport)
        if first:
            self._report_if_gone()

    def _report_if_gone(self) -> None:
        sides_done = all(side.lost or side.transport is None for side in (self.client, self.server))
        if self._closing and sides_done and not self._gone_reported:
            self._gone_reported = True
            self.owner.connection_gone(self)
