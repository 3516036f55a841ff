"""The set of named proxies one server manages: create, replace, delete, populate, reset.

Owns the name -> proxy map and upstream's rules across proxies (names are unique; `/populate`
validates everything before changing anything and keeps a proxy whose addresses did not
change, comparing listen addresses resolved; `/reset` re-enables every proxy and removes every
toxic). It must not parse HTTP; the API hands it validated specs and renders what it returns.

One registry per server, built by the server (no module state). All methods run on the
server's event loop; none waits on a connection. Changes to the set of proxies (create, update,
delete, populate, reset) take turns on one lock, as upstream's collection lock: resolving a
host name can suspend a change, and another must not slip in between its look and its act.
"""

from __future__ import annotations

import asyncio

from fakes.toxiproxy.proxy import Proxy
from fakes.toxiproxy.schema import ApiError, ProxySpec

__all__ = ["ProxyRegistry"]


class ProxyRegistry:
    """The proxies of one Toxiproxy server, by name."""

    def __init__(self, *, seed: int, loop: asyncio.AbstractEventLoop) -> None:
        self.seed = seed
        self._loop = loop
        self._proxies: dict[str, Proxy] = {}
        self._changing = asyncio.Lock()

    def all(self) -> list[Proxy]:
        return list(self._proxies.values())

    def get(self, name: str) -> Proxy:
        try:
            return self._proxies[name]
        except KeyError:
            raise ApiError.proxy_not_found() from None

    async def create(self, spec: ProxySpec) -> Proxy:
        """Add a proxy, listening at once if enabled. 409 if the name is taken."""
        async with self._changing:
            if spec.name in self._proxies:
                raise ApiError.proxy_already_exists()
            proxy = Proxy(spec, seed=self.seed, loop=self._loop)
            if spec.enabled:
                await proxy.start()
            self._proxies[spec.name] = proxy
            return proxy

    async def update(self, spec: ProxySpec) -> Proxy:
        """Apply `spec` to the proxy of that name (see `Proxy.update`). 404 if there is none."""
        async with self._changing:
            proxy = self.get(spec.name)
            await proxy.update(spec)
            return proxy

    async def delete(self, name: str) -> None:
        async with self._changing:
            self.get(name).stop()
            del self._proxies[name]

    async def populate(self, specs: list[ProxySpec]) -> list[Proxy]:
        """Create or replace each proxy in order; keep one whose listen and upstream match.

        Listen addresses match when they resolve to the same address (`localhost:7070` and a
        proxy on `127.0.0.1:7070`), as upstream since #631; a kept proxy keeps its toxics, its
        connections and its enabled state. Replacing stops the old proxy (its connections and
        toxics go). The first failure (a listen name that does not resolve, a taken port) stops
        the run with an `ApiError`; proxies handled before it stay as they now are (upstream).
        """
        async with self._changing:
            result: list[Proxy] = []
            for spec in specs:
                existing = self._proxies.get(spec.name)
                if existing is not None:
                    if not await existing.differs(spec):
                        result.append(existing)
                        continue
                    existing.stop()
                proxy = Proxy(spec, seed=self.seed, loop=self._loop)
                if spec.enabled:
                    await proxy.start()
                self._proxies[spec.name] = proxy
                result.append(proxy)
            return result

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic; connection numbering starts again at 0."""
        async with self._changing:
            for proxy in self.all():
                await proxy.start()
                proxy.remove_all_toxics()
                proxy.restart_numbering()

    def close(self) -> None:
        """Stop every proxy (server shutdown)."""
        for proxy in self.all():
            proxy.stop()
