"""`python -m service --host H --port P --db-url URL --calendar-url URL`: run the service.

Settings come from `REHEARSAL_*` environment variables, then these flags. Prints one JSON ready
line on stdout once the socket accepts connections (`--port 0` picks a free port; the line says
which). Exits 2 with a clear message on bad settings
or a taken port; SIGTERM and Ctrl-C shut down gracefully (uvicorn drains requests, the lifespan
stops the relay and closes the database).

Crash arming (REHEARSAL_ALLOW_CRASH_ARMING=1: an HTTP call can end the process) is refused on a
bind address other hosts can reach unless forced with --force-crash-arming-off-loopback, and
whenever it is on, the start says so in a warning.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import random
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType

import uvicorn

from service.app import create_app
from service.json_logging import configure_logging
from service.settings import (
    Settings,
    SettingsError,
    crash_arming_refusal,
    is_loopback,
    unknown_variables,
)
from service.system_clock import SystemClock

log = logging.getLogger("service")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="The reference Appointment v2 service (settings also from REHEARSAL_* env vars).",
    )
    parser.add_argument("--host", help="interface to bind (REHEARSAL_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (REHEARSAL_PORT, default 8080)")
    parser.add_argument("--db-url", help="sqlite+aiosqlite:///path or postgresql+asyncpg://...")
    parser.add_argument("--calendar-url", help="base URL of the calendar provider")
    parser.add_argument("--profile", choices=["v2", "legacy"], help="protections profile")
    parser.add_argument("--no-relay", action="store_true", help="do not run the relay in-process")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (REHEARSAL_LOG_LEVEL)")
    parser.add_argument(
        "--force-crash-arming-off-loopback",
        action="store_true",
        help="start even though crash arming is on and --host is not a loopback address "
        "(REHEARSAL_FORCE_CRASH_ARMING_OFF_LOOPBACK=1)",
    )
    return parser.parse_args(argv)


def load_settings(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    env = dict(environ)
    if args.profile:
        env["REHEARSAL_PROFILE"] = args.profile  # a profile also switches protections
    settings = Settings.from_env(env)
    return settings.replace(
        host=args.host,
        port=args.port,
        db_url=args.db_url,
        calendar_url=args.calendar_url,
        log_level=args.log_level,
        relay_enabled=False if args.no_relay else None,
        force_crash_arming_off_loopback=True if args.force_crash_arming_off_loopback else None,
    )


def warn_about_crash_arming(settings: Settings) -> None:
    """Say, at start, that an HTTP call can end this process, and who can make it."""
    if not settings.allow_crash_arming:
        return
    who = "any client" if not settings.api_keys else "any client with an API key"
    where = (
        "on this machine"
        if is_loopback(settings.host)
        else f"that reaches {settings.host} (forced off loopback)"
    )
    log.warning(
        "CRASH ARMING IS ON: %s %s can end this process with POST /v1/admin/crash; "
        "unset REHEARSAL_ALLOW_CRASH_ARMING unless a fault timeline needs it",
        who,
        where,
        extra={"allow_crash_arming": True, "host": settings.host},
    )


def wait_for_gate(gate: Path) -> None:
    """Booted (imports done): wait until `gate` exists, then until the epoch second it holds.
    Connections stay refused meanwhile, as while the crashed process was down. Ends with the
    process when the runner stops it (SIGTERM) before the gate opens."""
    while not gate.exists():
        time.sleep(0.01)
    try:
        open_at = float(gate.read_text().strip())
    except ValueError:
        open_at = 0.0  # an unreadable gate opens at once
    hold_s = open_at - time.time()
    if hold_s > 0:
        time.sleep(hold_s)


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts so a taken port is a one-line error
    (and `--port 0` can report the port it got). Raises OSError with a readable message."""
    # proto=IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
    # and without it every response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # Lets a restart reuse a port in TIME_WAIT; a live listener still conflicts.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                f"port {port} on {host} is already in use; stop whatever holds it or pick "
                "another --port (0 picks a free one)"
            ) from None
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


class ServiceServer(uvicorn.Server):
    """Uvicorn that prints the JSON ready line once it accepts connections."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and sockets:
            # Everything loaded so far (modules, the app, its schemas) lives as long as the process:
            # out of the collector's sight (gc.freeze), a full collection no longer walks it — such a
            # walk stalled the event loop for 50–170 ms under load and timed out calls in flight.
            gc.freeze()
            host, port = sockets[0].getsockname()[:2]
            ready = {"event": "ready", "service": "appointment-v2", "url": f"http://{host}:{port}"}
            print(json.dumps(ready), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(args, dict(os.environ))
    except SettingsError as exc:
        print(f"python -m service: {exc}", file=sys.stderr)
        return 2
    refusal = crash_arming_refusal(settings)
    if refusal is not None:
        print(f"python -m service: {refusal}", file=sys.stderr)
        return 2
    if settings.listen_gate:
        wait_for_gate(Path(settings.listen_gate))
    try:
        sock = bind_listener(settings.host, settings.port)
    except OSError as exc:
        print(f"python -m service: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    warn_about_crash_arming(settings)
    unknown = unknown_variables(os.environ)
    if unknown:
        log.warning("environment variables no setting reads (typos?)", extra={"variables": unknown})
    rng = random.Random(settings.seed)
    try:
        app = create_app(settings, SystemClock(), rng)
    except (SettingsError, ValueError) as exc:
        sock.close()
        print(f"python -m service: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = ServiceServer(config)

    # Uvicorn handles SIGINT/SIGTERM while it serves (graceful shutdown, lifespan shutdown), then
    # re-raises the signal, whose default action would end us with -15 after a clean shutdown.
    # These handlers absorb that re-raise, and stop a server signalled before uvicorn's own
    # handlers were installed.
    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    server.run(sockets=[sock])  # uvicorn's loop choice: uvloop when installed
    if not server.started:
        print("python -m service: the service did not start; see the log above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
