"""`python -m fakes.toxiproxy`: the embedded Toxiproxy-compatible server as a process.

    python -m fakes.toxiproxy --host 127.0.0.1 --port 8474 --seed 7

Prints one ready line on stdout (`toxiproxy: listening on http://HOST:PORT ...`; with
`--port 0` it names the port picked) and serves until SIGTERM or Ctrl-C, then stops every proxy
and exits 0. Bad arguments exit 2 (argparse); a taken port or an unusable host exits 1 with the
reason and what to do. Unlike upstream (whose `-seed` does nothing since 2.9), `--seed` seeds
every random draw (jitter, toxicity, slicer sizes), so runs repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys

from fakes.toxiproxy.api import TOXIPROXY_API_VERSION
from fakes.toxiproxy.server import ToxiproxyServer, loop_factory


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, 0 picks a free port (got {value})")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fakes.toxiproxy",
        description="Embedded Toxiproxy-compatible server (Toxiproxy HTTP API + TCP proxies).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8474, help="API port (default 8474)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for every random draw (default 0)"
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop (default: uvloop when installed)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    server = ToxiproxyServer(host=args.host, port=args.port, seed=args.seed)
    try:
        await server.start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"toxiproxy: cannot listen on {args.host}:{args.port}: {reason}. "
            "Is another Toxiproxy running there? Stop it or pick another --port.",
            file=sys.stderr,
        )
        return 1
    # Everything loaded so far (modules, the app, its schemas) lives as long as the process:
    # out of the collector's sight (gc.freeze), a full collection no longer walks it — such a
    # walk stalled the event loop for 50–170 ms under load and timed out calls in flight.
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"toxiproxy: listening on {server.url} "
        f"(Toxiproxy {TOXIPROXY_API_VERSION} API, seed {args.seed})",
        flush=True,
    )
    await stop.wait()
    print("toxiproxy: shutting down", file=sys.stderr, flush=True)
    await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        factory = loop_factory(args.loop)
    except RuntimeError as exc:
        print(f"toxiproxy: {exc}", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
