"""What the embedded Toxiproxy costs with no toxics: added latency and lost throughput.

    .venv/bin/python benchmarks/proxy_overhead.py [--upstream both] [--rounds 5] [--duration 1]

Starts, on loopback, a small keep-alive HTTP upstream and `python -m fakes.toxiproxy`, each as
its own process, then in rounds (direct and proxied interleaved, so drift hits both):
- latency: sequential requests on one keep-alive connection; p50/p99 direct vs proxied;
- throughput: requests/s over several keep-alive connections for `--duration` seconds;
- bulk: MB/s of one large response body over one connection.
Prints each figure as the median over rounds, the added p50/p99 and the throughput ratios,
against the targets (added p50 <= 0.3 ms, proxied >= 80% of direct). Two upstreams:
`asyncio`, a bare protocol that answers in a few microseconds (the proxy's worst case: its own
socket work is as large as the upstream's), and `uvicorn`, a minimal ASGI app on uvicorn (what
our fakes and service run on). Bounded: a fixed count of requests and a fixed duration per
round; every child process is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from fakes.toxiproxy.client import ToxiproxyClient  # noqa: E402
from fakes.toxiproxy.process import ToxiproxyProcess  # noqa: E402
from fakes.toxiproxy.server import loop_factory  # noqa: E402

SMALL_BODY = b'{"ok":true}'
BULK_BYTES = 64 * 1024 * 1024
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
BULK_REQUEST = b"GET /bulk HTTP/1.1\r\nHost: bench\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(SMALL_BODY),
    SMALL_BODY,
)
BULK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BULK_BYTES
TARGET_ADDED_P50_MS = 0.3
TARGET_RATIO = 0.80


# -- the upstream: a minimal keep-alive HTTP server (its own process) --------------------------


class _HttpUpstream(asyncio.Protocol):
    """Answers each request head with a fixed small response, or 64 MiB for /bulk."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            if head.startswith(b"GET /bulk"):
                self.transport.write(BULK_HEAD)  # type: ignore[attr-defined]
                block = b"b" * (1 << 20)
                for _ in range(BULK_BYTES >> 20):
                    self.transport.write(block)  # type: ignore[attr-defined]
            else:
                self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def _serve_asyncio_upstream() -> None:
    server = await asyncio.get_running_loop().create_server(_HttpUpstream, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


async def _asgi_upstream(scope: dict, receive: Callable, send: Callable) -> None:
    """The same two answers as `_HttpUpstream`, as a minimal ASGI app."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/bulk":
        length = str(BULK_BYTES).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        block = b"b" * (1 << 20)
        for _ in range(BULK_BYTES >> 20):
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(SMALL_BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": SMALL_BODY})


def _serve_uvicorn_upstream() -> None:
    import uvicorn

    sock = socket.create_server(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        _asgi_upstream, log_level="warning", access_log=False, lifespan="off", log_config=None
    )
    uvicorn.Server(config).run(sockets=[sock])


def _start_upstream(kind: str) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream", kind], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline())


# -- measurements ------------------------------------------------------------------------------


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> None:
    view = memoryview(bytearray(size))
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if not count:
            raise ConnectionError("upstream closed mid-response")
        got += count


def response_size(port: int, request: bytes = REQUEST) -> int:
    """Bytes in the upstream's answer to `request` (head + body; fixed for our upstreams)."""
    with _connect(port) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head_end = head.index(b"\r\n\r\n") + 4
        match = re.search(rb"(?i)content-length: *(\d+)", head[:head_end])
        assert match is not None, head
        return head_end + int(match.group(1))


def measure_latency_us(port: int, requests: int, size: int) -> list[float]:
    """Per-request round trips (µs), sequential, on one keep-alive connection."""
    with _connect(port) as sock:
        for _ in range(50):  # warm up
            sock.sendall(REQUEST)
            _recv_exactly(sock, size)
        samples = []
        for _ in range(requests):
            start = time.perf_counter_ns()
            sock.sendall(REQUEST)
            _recv_exactly(sock, size)
            samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


class _LoadClient(asyncio.Protocol):
    """One keep-alive connection issuing requests back to back until told to stop."""

    def __init__(self, counter: list[int], running: Callable[[], bool], size: int) -> None:
        self.counter, self.running, self.pending, self.size = counter, running, 0, size
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(REQUEST)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)
        while self.pending >= self.size:
            self.pending -= self.size
            self.counter[0] += 1
            if self.running():
                self.transport.write(REQUEST)  # type: ignore[attr-defined]
            elif not self.done.done():
                self.done.set_result(None)


async def _throughput(port: int, connections: int, duration_s: float, size: int) -> float:
    loop = asyncio.get_running_loop()
    counter = [0]
    stop_at = loop.time() + duration_s
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(
            lambda: _LoadClient(counter, lambda: loop.time() < stop_at, size), "127.0.0.1", port
        )
        clients.append(client)
    start = loop.time()
    await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), duration_s + 10)
    elapsed = loop.time() - start
    for client in clients:
        client.transport.close()
    return counter[0] / elapsed


def measure_throughput_rps(port: int, connections: int, duration_s: float, size: int) -> float:
    with asyncio.Runner(loop_factory=loop_factory("auto")) as runner:
        return runner.run(_throughput(port, connections, duration_s, size))


def measure_bulk_mb_s(port: int, size: int) -> float:
    with _connect(port) as sock:
        start = time.perf_counter()
        sock.sendall(BULK_REQUEST)
        _recv_exactly(sock, size)
        return BULK_BYTES / 1e6 / (time.perf_counter() - start)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- the run -----------------------------------------------------------------------------------


def measure(kind: str, args: argparse.Namespace) -> dict[str, float]:
    """Medians over rounds of every figure, direct and proxied, against one upstream kind."""
    upstream, upstream_port = _start_upstream(kind)
    rows: dict[str, list[float]] = {}
    try:
        with ToxiproxyProcess(seed=0, loop=args.loop) as child:
            tp = ToxiproxyClient(child.url)
            listen = tp.create_proxy("bench", upstream=f"127.0.0.1:{upstream_port}").listen
            proxy_port = int(listen.rsplit(":", 1)[1])
            size = response_size(upstream_port)
            bulk_size = response_size(upstream_port, BULK_REQUEST) if args.bulk else 0
            for _ in range(args.rounds):
                for path, port in (("direct", upstream_port), ("proxied", proxy_port)):
                    samples = measure_latency_us(port, args.requests, size)
                    figures = {
                        "p50": _percentile(samples, 0.50),
                        "p99": _percentile(samples, 0.99),
                        "rps": measure_throughput_rps(port, args.connections, args.duration, size),
                    }
                    if args.bulk:
                        figures["mbps"] = measure_bulk_mb_s(port, bulk_size)
                    for name, value in figures.items():
                        rows.setdefault(f"{path}.{name}", []).append(value)
    finally:
        upstream.terminate()
        upstream.wait(10)
    return {key: statistics.median(values) for key, values in rows.items()}


def report(kind: str, med: dict[str, float], args: argparse.Namespace) -> bool:
    """Print one upstream's figures; True if both targets are met."""
    added_p50_ms = (med["proxied.p50"] - med["direct.p50"]) / 1000
    added_p99_ms = (med["proxied.p99"] - med["direct.p99"]) / 1000
    rps_ratio = med["proxied.rps"] / med["direct.rps"]
    print(f"\nupstream: {kind}")
    print(f"  latency, {args.requests} sequential requests on one keep-alive connection:")
    for path in ("direct", "proxied"):
        print(f"    {path:8} p50 {med[path + '.p50']:7.1f} us   p99 {med[path + '.p99']:7.1f} us")
    latency_ok = added_p50_ms <= TARGET_ADDED_P50_MS
    print(
        f"    added    p50 {added_p50_ms:7.3f} ms   p99 {added_p99_ms:7.3f} ms"
        f"   target p50 <= {TARGET_ADDED_P50_MS} ms: {'ok' if latency_ok else 'MISSED'}"
    )
    print(f"  throughput, {args.connections} keep-alive connections, {args.duration:g} s each:")
    for path in ("direct", "proxied"):
        print(f"    {path:8} {med[path + '.rps']:9.0f} req/s")
    throughput_ok = rps_ratio >= TARGET_RATIO
    print(
        f"    ratio    {rps_ratio:9.1%}"
        f"         target >= {TARGET_RATIO:.0%}: {'ok' if throughput_ok else 'MISSED'}"
    )
    if "direct.mbps" in med:
        print(f"  bulk, one {BULK_BYTES >> 20} MiB body on one connection:")
        for path in ("direct", "proxied"):
            print(f"    {path:8} {med[path + '.mbps']:9.0f} MB/s")
        print(f"    ratio    {med['proxied.mbps'] / med['direct.mbps']:9.1%}")
    return latency_ok and throughput_ok


def run(args: argparse.Namespace) -> int:
    kinds = ["asyncio", "uvicorn"] if args.upstream == "both" else [args.upstream]
    print(
        f"embedded toxiproxy, no toxics, loopback; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start; proxy loop {args.loop}; "
        f"medians of {args.rounds} rounds"
    )
    for kind in kinds:
        report(kind, measure(kind, args), args)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", choices=["asyncio", "uvicorn", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="per latency measurement")
    parser.add_argument("--connections", type=int, default=8, help="for the throughput test")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per throughput run")
    parser.add_argument("--no-bulk", dest="bulk", action="store_false", help="skip the bulk test")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--serve-upstream", choices=["asyncio", "uvicorn"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream == "uvicorn":
        _serve_uvicorn_upstream()
        return 0
    if args.serve_upstream == "asyncio":
        with asyncio.Runner(loop_factory=loop_factory("auto")) as runner:
            runner.run(_serve_asyncio_upstream())
        return 0
    if not (1 <= args.rounds <= 50 and 100 <= args.requests <= 100_000):
        parser.error("--rounds must be 1..50 and --requests 100..100000 (keeps the run bounded)")
    if not (1 <= args.connections <= 64 and 0.1 <= args.duration <= 10):
        parser.error("--connections must be 1..64 and --duration 0.1..10 s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
