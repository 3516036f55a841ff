"""`python -m fakes.calendar --host 127.0.0.1 --port P --seed N`: the fake provider as a process.

The edge where the process meets the OS: arguments, the listening socket, signals, stdout. Binds the
socket itself before starting uvicorn, so a taken port is a one-line error and exit status 1 (bad
arguments: argparse's exit status 2). Prints `fake calendar listening on http://HOST:PORT` once it
accepts connections (`--port 0` picks a free port and prints it). SIGTERM and Ctrl-C shut it down
cleanly — in-flight calls get `GRACE_S` to finish — and it exits 0.
"""

from __future__ import annotations

import argparse
import errno
import gc
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn

from fakes.calendar.app import create_app
from fakes.calendar.provider import FakeCalendar

GRACE_S = 2
BACKLOG = 2048


class StartupError(Exception):
    """The provider cannot start; the message says why and what to do."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fakes.calendar",
        description="Fake calendar provider: events API with seeded faults, plus /_control/.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, required=True, help="TCP port to bind; 0 picks a free one"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the default fault profile (default 1)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default warning)",
    )
    return parser.parse_args(argv)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer 0-65535 (got {text!r})") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be an integer 0-65535 (got {port})")
    return port


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port), or `StartupError` saying what went wrong."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise StartupError(f"cannot resolve --host {host!r}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # SO_REUSEADDR lets a restart reuse a port in TIME_WAIT; a live listener still conflicts.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; stop whatever holds it or pick "
                "another --port (0 picks a free one)"
            ) from None
        if error.errno == errno.EACCES:
            raise StartupError(
                f"not allowed to bind {host}:{port}; ports below 1024 need privileges"
            ) from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise StartupError(f"--host {host} is not an address of this machine") from None
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


class _ProviderServer(uvicorn.Server):
    """Uvicorn that prints the ready line once it accepts connections and, when it shuts down,
    first tells the provider, so hung calls end at once instead of after the grace period."""

    def __init__(self, config: uvicorn.Config, calendar: FakeCalendar, url: str) -> None:
        super().__init__(config)
        self._calendar = calendar
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            # Everything loaded so far (modules, the app, its schemas) lives as long as the process:
            # out of the collector's sight (gc.freeze), a full collection no longer walks it — such a
            # walk stalled the event loop for 50–170 ms under load and timed out calls in flight.
            gc.freeze()
            print(f"fake calendar listening on {self._url}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._calendar.close()
        await super().shutdown(sockets=sockets)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the provider until SIGTERM or Ctrl-C; the process exit status (argparse exits 2 itself)."""
    args = parse_args(argv)
    try:
        sock = bind_listener(args.host, args.port)
    except StartupError as error:
        print(f"fake calendar: {error}", file=sys.stderr)
        return 1
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    app = create_app(seed=args.seed)
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACE_S,
    )
    server = _ProviderServer(config, app.state.calendar, f"http://{shown_host}:{bound_port}")

    # Uvicorn handles SIGINT/SIGTERM while it serves, then re-raises the signal once it has shut
    # down, whose default action would kill us after a clean shutdown. These handlers absorb
    # that, and stop a server that was signalled before uvicorn installed its own handlers.
    stopped_by: list[int] = []

    def note_signal(signum: int, frame: FrameType | None) -> None:
        stopped_by.append(signum)
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, note_signal)
    server.run(sockets=[sock])
    if stopped_by:
        print(f"fake calendar stopped ({signal.Signals(stopped_by[0]).name})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
