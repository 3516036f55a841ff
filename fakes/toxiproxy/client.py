"""Our handle on a Toxiproxy server: `toxiproxy-python`, pointed at one server, with timeouts.

    with connect_toxiproxy(seed=7) as tp:          # TOXIPROXY_URL if set, else embedded
        proxy = tp.create_proxy("calendar", upstream="127.0.0.1:9001")
        tp.add_toxic("calendar", "latency", latency=300, jitter=50)
        ...                                        # point the service at proxy.listen
        tp.remove_toxic("calendar", "latency_downstream")

Why a wrapper: `toxiproxy-python` keeps the server's host and port on a class (`APIConsumer`)
and calls `requests.get/post/delete` with no timeout, so a hung server hangs the caller. This
module swaps the `requests` reference inside `toxiproxy.api` for a shim that adds a timeout to
every call and turns transport failures and 5xx answers into `ToxiproxyError`s that say what to
check. Because the library's state is process-wide, each client call binds host, port and
timeout under one lock; library objects used directly afterwards (`Proxy.add_toxic`) keep the
last binding and still time out.

I/O: HTTP through `requests` (the library's own dependency). No clock, no randomness.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import toxiproxy
import toxiproxy.api
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound
from toxiproxy.proxy import Proxy

from fakes.toxiproxy.process import ToxiproxyProcess
from fakes.toxiproxy.server import EmbeddedToxiproxy

__all__ = [
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyTimeout",
    "ToxiproxyUnavailable",
    "connect_toxiproxy",
]

DEFAULT_TIMEOUT_S = 5.0

# toxiproxy-python keeps its target on a class; this lock serialises who points it where.
# A module-level lock is the one shared object here, and it guards third-party global state.
_LIBRARY_LOCK = threading.RLock()


class ToxiproxyError(Exception):
    """The Toxiproxy server failed or answered with a server error."""


class ToxiproxyTimeout(ToxiproxyError):
    """The Toxiproxy server did not answer within the client's timeout."""


class ToxiproxyUnavailable(ToxiproxyError):
    """Nothing answers at the Toxiproxy URL."""


class _TimeoutRequests:
    """Stands in for the `requests` module inside `toxiproxy.api`: same calls, with a timeout."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def get(self, url: str, params: Any = None, **kwargs: Any) -> requests.Response:
        return self._send("GET", url, params=params, **kwargs)

    def post(
        self, url: str, data: Any = None, json: Any = None, **kwargs: Any
    ) -> requests.Response:
        return self._send("POST", url, data=data, json=json, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("DELETE", url, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        try:
            response = requests.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise ToxiproxyTimeout(
                f"toxiproxy: {method} {url} got no answer within {kwargs['timeout']}s; "
                "is the server overloaded or stuck? Check its log, or raise timeout_s."
            ) from exc
        except requests.ConnectionError as exc:
            raise ToxiproxyUnavailable(
                f"toxiproxy: {method} {url} could not connect; is the server running there? "
                "Start `python -m fakes.toxiproxy` or fix TOXIPROXY_URL."
            ) from exc
        if response.status_code >= 500:
            try:
                message = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = response.text.strip()
            raise ToxiproxyError(
                f"toxiproxy: {method} {url} failed with {response.status_code}: {message}"
            )
        return response


class ToxiproxyClient:
    """toxiproxy-python bound to one server URL, every call with a timeout of `timeout_s`."""

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(url if "//" in url else f"http://{url}")
        if parts.scheme != "http" or parts.hostname is None or parts.path not in ("", "/"):
            raise ValueError(
                f"toxiproxy URL {url!r} must look like http://host:8474 "
                "(toxiproxy-python speaks plain HTTP at the server root)"
            )
        self.url = f"http://{parts.netloc}"
        self.host = parts.hostname
        self.port = parts.port or 8474
        self.timeout_s = timeout_s

    @contextlib.contextmanager
    def bound(self) -> Iterator[toxiproxy.Toxiproxy]:
        """Point toxiproxy-python at this server, with this timeout, for the duration."""
        with _LIBRARY_LOCK:
            shim = toxiproxy.api.requests
            if not isinstance(shim, _TimeoutRequests):
                shim = _TimeoutRequests(self.timeout_s)
                toxiproxy.api.requests = shim
            shim.timeout_s = self.timeout_s
            APIConsumer.host, APIConsumer.port = self.host, self.port
            yield toxiproxy.Toxiproxy()

    def version(self) -> str:
        """The server's version string (raw body); also a liveness check."""
        with self.bound():
            # Not Toxiproxy.version(): it probes with a raw connect that has no timeout.
            return str(APIConsumer.get("/version").text.strip())

    def proxies(self) -> dict[str, Proxy]:
        with self.bound() as server:
            return dict(server.proxies())

    def get_proxy(self, name: str) -> Proxy | None:
        with self.bound() as server:
            proxy: Proxy | None = server.get_proxy(name)
            return proxy

    def create_proxy(
        self, name: str, *, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> Proxy:
        """Create a proxy; `listen` port 0 picks a free port, named in the returned `listen`."""
        with self.bound() as server:
            proxy: Proxy = server.create(
                upstream=upstream, name=name, listen=listen, enabled=enabled
            )
            return proxy

    def destroy_proxy(self, name: str) -> None:
        with self.bound():
            APIConsumer.delete(f"/proxies/{name}")

    def destroy_all(self) -> None:
        with self.bound() as server:
            server.destroy_all()

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a proxy (disabled: its connections drop, new ones are refused)."""
        with self.bound():
            APIConsumer.post(f"/proxies/{name}", json={"enabled": enabled})

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        stream: Literal["upstream", "downstream"] = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        **attributes: int,
    ) -> str:
        """Add a toxic; returns its name (default `<type>_<stream>`, as upstream)."""
        toxic_name = name or f"{type}_{stream}"
        with self.bound() as server:
            target = server.get_proxy(proxy)
            if target is None:
                raise NotFound(f"proxy {proxy!r} not found")
            target.add_toxic(
                type=type,
                stream=stream,
                name=toxic_name,
                toxicity=toxicity,
                attributes=attributes,
            )
        return toxic_name

    def update_toxic(
        self, proxy: str, toxic: str, *, toxicity: float | None = None, **attributes: int
    ) -> dict[str, Any]:
        """Change a toxic's attributes or toxicity on live connections; returns its JSON."""
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        with self.bound():
            response = APIConsumer.post(f"/proxies/{proxy}/toxics/{toxic}", json=body)
            result: dict[str, Any] = response.json()
            return result

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        with self.bound():
            APIConsumer.delete(f"/proxies/{proxy}/toxics/{toxic}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        with self.bound() as server:
            server.reset()


@contextlib.contextmanager
def connect_toxiproxy(
    *,
    seed: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    embedded: Literal["thread", "process"] = "thread",
    env: Mapping[str, str] | None = None,
) -> Iterator[ToxiproxyClient]:
    """A client for `TOXIPROXY_URL` if set, else for an embedded server started for the block.

    The embedded server listens on a free loopback port, with `seed` for its draws, either on a
    background thread (`embedded="thread"`) or as a child process (`"process"`, which keeps
    proxying off the caller's GIL). A real server is checked with `version()` before use.
    """
    url = (os.environ if env is None else env).get("TOXIPROXY_URL", "").strip()
    if url:
        client = ToxiproxyClient(url, timeout_s=timeout_s)
        client.version()
        yield client
        return
    if embedded == "process":
        with ToxiproxyProcess(seed=seed) as child:
            yield ToxiproxyClient(child.url, timeout_s=timeout_s)
    else:
        with EmbeddedToxiproxy(seed=seed) as server:
            yield ToxiproxyClient(server.url, timeout_s=timeout_s)
