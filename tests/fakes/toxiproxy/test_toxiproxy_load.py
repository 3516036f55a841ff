"""The control API stays responsive while proxies carry bulk transfers.

Upstream Toxiproxy's API can hang here (issues #412/#558): its handlers wait on links that are
blocked writing to a slow reader. Ours must not: the server runs as its own process (as in a
real run), proxies carry a saturating transfer, a stalled one (a client that never reads) and
one through a toxic, and every API call meanwhile must answer quickly.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

import pytest

from fakes.toxiproxy.client import ToxiproxyClient
from fakes.toxiproxy.process import ToxiproxyProcess

pytestmark = pytest.mark.integration


class _Reader:
    """Reads a socket as fast as it can on a thread, counting bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = 0
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buffer = bytearray(1 << 20)
        try:
            while count := self.sock.recv_into(buffer):
                self.received += count
        except OSError:
            pass
        self.ended.set()


@pytest.fixture
def server_process():
    with ToxiproxyProcess(seed=3) as child:
        yield child


def test_api_answers_quickly_while_proxies_carry_bulk_transfers(
    server_process, tcp_server, sockets, helpers
):
    tp = ToxiproxyClient(server_process.url, timeout_s=5.0)
    upstream = tcp_server(helpers.stream_forever)
    bulk = tp.create_proxy("bulk", upstream=upstream.address)
    toxic = tp.create_proxy("toxic", upstream=upstream.address)
    tp.add_toxic("toxic", "latency", latency=5)

    fast = _Reader(sockets(bulk.listen))
    through_toxic = _Reader(sockets(toxic.listen))
    stalled = sockets(bulk.listen)  # not read until the end: the proxy's writes to it back up
    time.sleep(0.3)
    start_bytes = fast.received
    assert start_bytes > 0 and through_toxic.received > 0

    calls = [
        lambda: tp.proxies(),
        lambda: tp.add_toxic("bulk", "bandwidth", rate=0),
        lambda: tp.update_toxic("bulk", "bandwidth_downstream", rate=0),
        lambda: tp.remove_toxic("bulk", "bandwidth_downstream"),
        lambda: tp.add_toxic("toxic", "slicer", average_size=4096, size_variation=1024),
        lambda: tp.remove_toxic("toxic", "slicer_downstream"),
        lambda: tp.version(),
    ]
    latencies = []
    deadline = time.perf_counter() + 1.5
    while time.perf_counter() < deadline:
        for call in calls:
            started = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - started)

    moved = fast.received - start_bytes
    assert moved > 20_000_000, f"only {moved} bytes moved: the load was not heavy"
    assert statistics.median(latencies) < 0.1, latencies
    assert max(latencies) < 1.0, latencies

    started = time.perf_counter()
    tp.set_enabled("bulk", False)
    assert time.perf_counter() - started < 1.0
    assert fast.ended.wait(5), "disabling the proxy must drop its connections"
    drained = _Reader(stalled)  # what the kernel had buffered, then the end
    assert drained.ended.wait(5), "disabling the proxy must drop a stalled connection too"
