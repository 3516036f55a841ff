"""Run the embedded Toxiproxy: the HTTP API and its proxies on one event loop.

`ToxiproxyServer` is the server on the caller's running loop (the CLI uses it).
`EmbeddedToxiproxy` runs one on a background thread with its own loop, for tests and for code
that wants a server in-process (`with EmbeddedToxiproxy(seed=1) as tp: tp.url`).

Owns startup (bind the API socket first, so a taken port fails fast with the OS's reason) and
clean shutdown (stop every proxy, let uvicorn finish). No module state: every server builds
its own registry and app. Time and randomness: none here; the seed goes to the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Literal

import uvicorn

from fakes.toxiproxy.api import create_app
from fakes.toxiproxy.proxy import bind_listener
from fakes.toxiproxy.registry import ProxyRegistry
from fakes.toxiproxy.schema import format_address

__all__ = ["EmbeddedToxiproxy", "LoopKind", "ToxiproxyServer", "loop_factory"]

LoopKind = Literal["auto", "asyncio", "uvloop"]


def loop_factory(kind: LoopKind = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """The event-loop constructor to run on: uvloop when installed (faster proxying) or asyncio."""
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise RuntimeError("--loop uvloop: uvloop is not installed") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


class _UvicornWithoutSignals(uvicorn.Server):
    """uvicorn's server, minus its signal handling: whoever embeds us owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29 spelled it this way
        return None


class ToxiproxyServer:
    """The embedded Toxiproxy on the running event loop: `await start()`, then `await stop()`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8474, seed: int = 0) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.registry: ProxyRegistry | None = None
        self._uvicorn: _UvicornWithoutSignals | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{format_address(self.host, self.port)}"

    async def start(self) -> None:
        """Bind the API port and serve. Raises `OSError` if the port is taken or the host bad."""
        loop = asyncio.get_running_loop()
        sock = bind_listener(format_address(self.host, self.port))
        self.port = sock.getsockname()[1]
        self.registry = ProxyRegistry(seed=self.seed, loop=loop)
        config = uvicorn.Config(
            create_app(self.registry),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = _UvicornWithoutSignals(config)
        self._serving = loop.create_task(self._uvicorn.serve(sockets=[sock]))
        while not self._uvicorn.started:
            if self._serving.done():
                sock.close()
                self._serving.result()  # raises what went wrong
                raise RuntimeError("toxiproxy: the HTTP API stopped during startup")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Stop every proxy (dropping their connections), then the HTTP API."""
        if self.registry is not None:
            self.registry.close()
        if self._uvicorn is not None and self._serving is not None:
            self._uvicorn.should_exit = True
            await self._serving


class EmbeddedToxiproxy:
    """A `ToxiproxyServer` on a daemon thread with its own event loop.

    Port 0 (the default) picks a free port; `url` names it once started. Use as a context
    manager, or call `start()`/`stop()`; `stop()` is idempotent and waits for the thread.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        loop: LoopKind = "auto",
    ) -> None:
        self._server = ToxiproxyServer(host=host, port=port, seed=seed)
        self._loop_kind: LoopKind = loop
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def seed(self) -> int:
        return self._server.seed

    def start(self, timeout_s: float = 10.0) -> EmbeddedToxiproxy:
        self._thread = threading.Thread(target=self._run, name="toxiproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"embedded toxiproxy did not start within {timeout_s}s")
        if self._error is not None:
            self._thread.join(timeout_s)
            raise self._error
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                raise TimeoutError(f"embedded toxiproxy did not stop within {timeout_s}s")
        self._thread = None

    def __enter__(self) -> EmbeddedToxiproxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=loop_factory(self._loop_kind)) as runner:
            runner.run(self._main())

    async def _main(self) -> None:
        try:
            await self._server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._server.stop()
