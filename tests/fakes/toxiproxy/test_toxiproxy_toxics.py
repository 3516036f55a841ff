"""Each toxic's effect, measured on loopback with real sockets, driven through toxiproxy-python.

Wall-clock tolerances are generous (two shared cores): lower bounds are what the toxic
promises, upper bounds only catch "the toxic did nothing sensible".
"""

from __future__ import annotations

import socket
import time

import pytest

from fakes.toxiproxy.rng import draw_applies, draw_latency_ms, rng_for_link

pytestmark = pytest.mark.integration


def test_no_toxic_passes_bytes_untouched(tp, echo_upstream, sockets, helpers):
    proxy = tp.create_proxy("plain", upstream=echo_upstream.address)
    sock = sockets(proxy.listen)
    payload = bytes(range(256)) * 1000
    sock.sendall(payload)
    assert helpers.recv_exactly(sock, len(payload)) == payload
    assert helpers.round_trip_s(sock) < 0.1


def test_latency_adds_at_least_its_value_and_applies_to_live_connections(
    tp, echo_upstream, sockets, helpers
):
    proxy = tp.create_proxy("slow", upstream=echo_upstream.address)
    sock = sockets(proxy.listen)
    assert helpers.round_trip_s(sock) < 0.1  # the connection exists before the toxic

    tp.add_toxic("slow", "latency", latency=200)
    delayed = helpers.round_trip_s(sock)
    assert 0.2 <= delayed < 0.6

    tp.add_toxic("slow", "latency", stream="upstream", latency=100)
    assert 0.3 <= helpers.round_trip_s(sock) < 0.8  # both directions add up

    tp.remove_toxic("slow", "latency_downstream")
    tp.remove_toxic("slow", "latency_upstream")
    assert helpers.round_trip_s(sock) < 0.1


def test_updating_a_toxic_changes_live_connections(tp, echo_upstream, sockets, helpers):
    proxy = tp.create_proxy("updated", upstream=echo_upstream.address)
    tp.add_toxic("updated", "latency", latency=300)
    sock = sockets(proxy.listen)
    assert helpers.round_trip_s(sock) >= 0.3
    body = tp.update_toxic("updated", "latency_downstream", latency=50)
    assert body["attributes"] == {"latency": 50, "jitter": 0}
    assert 0.05 <= helpers.round_trip_s(sock) < 0.25


def test_bandwidth_is_within_20_percent_of_the_rate(tp, tcp_server, sockets, helpers):
    size = 100_000  # bytes; at 100 KB/s (1 KB = 1000 B, as upstream) that is 1.0 s
    upstream = tcp_server(helpers.reply_with(size))
    proxy = tp.create_proxy("narrow", upstream=upstream.address)
    tp.add_toxic("narrow", "bandwidth", rate=100)
    sock = sockets(proxy.listen)
    start = time.perf_counter()
    sock.sendall(b"go")
    data = helpers.recv_until_closed(sock)
    elapsed = time.perf_counter() - start
    assert len(data) == size
    assert 0.8 <= elapsed <= 1.2, f"{size} bytes at 100 KB/s took {elapsed:.3f}s"


def test_timeout_closes_the_connection_after_its_time(tp, echo_upstream, sockets):
    proxy = tp.create_proxy("stall", upstream=echo_upstream.address)
    tp.add_toxic("stall", "timeout", timeout=300)
    sock = sockets(proxy.listen)
    start = time.perf_counter()
    sock.sendall(b"hello?")
    assert sock.recv(100) == b""  # nothing got through, then the close
    assert 0.28 <= time.perf_counter() - start < 1.5


def test_timeout_zero_holds_until_removed_then_closes(tp, echo_upstream, sockets):
    proxy = tp.create_proxy("hang", upstream=echo_upstream.address)
    tp.add_toxic("hang", "timeout", timeout=0)
    sock = sockets(proxy.listen)
    sock.sendall(b"hello?")
    sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        sock.recv(100)  # held open, data swallowed
    tp.remove_toxic("hang", "timeout_downstream")
    sock.settimeout(5)
    assert sock.recv(100) == b""  # as upstream: removing a timeout closes what it touched


def test_reset_peer_resets_the_connection(tp, echo_upstream, sockets):
    proxy = tp.create_proxy("rst", upstream=echo_upstream.address)
    tp.add_toxic("rst", "reset_peer", timeout=100)
    sock = sockets(proxy.listen)
    start = time.perf_counter()
    sock.sendall(b"knock")
    with pytest.raises(ConnectionResetError):
        sock.recv(100)
        sock.recv(100)  # the RST can trail a FIN-less close by one read on some kernels
    assert 0.09 <= time.perf_counter() - start < 1.5


def test_limit_data_closes_after_n_bytes(tp, tcp_server, sockets, helpers):
    upstream = tcp_server(helpers.reply_with(5000))
    proxy = tp.create_proxy("capped", upstream=upstream.address)
    tp.add_toxic("capped", "limit_data", bytes=1000)
    sock = sockets(proxy.listen)
    sock.sendall(b"go")
    assert helpers.recv_until_closed(sock) == b"x" * 1000


def test_slicer_splits_writes(tp, tcp_server, sockets, helpers):
    upstream = tcp_server(helpers.reply_with(1000))
    proxy = tp.create_proxy("sliced", upstream=upstream.address)
    tp.add_toxic("sliced", "slicer", average_size=100, size_variation=20, delay=10_000)
    sock = sockets(proxy.listen)
    start = time.perf_counter()
    sock.sendall(b"go")
    pieces = []
    while piece := sock.recv(65536):
        pieces.append(piece)
    elapsed = time.perf_counter() - start
    assert b"".join(pieces) == b"x" * 1000
    assert len(pieces) >= 4, [len(p) for p in pieces]  # one 1000-byte write came out in slices
    assert elapsed >= 0.05  # at least 6 gaps of 10 ms between about 8 slices


def test_slow_close_delays_the_close(tp, tcp_server, sockets):
    upstream = tcp_server(lambda sock: (sock.sendall(b"bye"), sock.close()))
    proxy = tp.create_proxy("lingering", upstream=upstream.address)
    tp.add_toxic("lingering", "slow_close", delay=300)
    sock = sockets(proxy.listen)
    start = time.perf_counter()
    assert sock.recv(100) == b"bye"
    assert time.perf_counter() - start < 0.2  # data is not delayed
    assert sock.recv(100) == b""
    assert time.perf_counter() - start >= 0.29  # the close is


def test_toxicity_zero_leaves_traffic_alone_and_one_always_hits(
    tp, echo_upstream, sockets, helpers
):
    proxy = tp.create_proxy("dice", upstream=echo_upstream.address)
    tp.add_toxic("dice", "latency", name="never", toxicity=0.0, latency=300)
    for _ in range(3):
        assert helpers.round_trip_s(sockets(proxy.listen)) < 0.15
    tp.update_toxic("dice", "never", toxicity=1.0)
    for _ in range(3):
        assert helpers.round_trip_s(sockets(proxy.listen)) >= 0.3


def test_toxicity_follows_the_seeded_draw_per_connection(
    embedded, tp, echo_upstream, sockets, helpers
):
    proxy = tp.create_proxy("coin", upstream=echo_upstream.address)
    tp.add_toxic("coin", "latency", name="flip", toxicity=0.5, latency=150)
    expected = [
        draw_applies(rng_for_link(embedded.seed, "coin", "flip", index), 0.5) for index in range(8)
    ]
    assert any(expected) and not all(expected)  # the seed gives a mix, or the test proves little
    measured = [helpers.round_trip_s(sockets(proxy.listen)) >= 0.1 for _ in range(8)]
    assert measured == expected


def _jitter_run(tp, echo_upstream, sockets, helpers, count):
    proxy = tp.create_proxy("jitter", upstream=echo_upstream.address)
    tp.add_toxic("jitter", "latency", stream="upstream", latency=100, jitter=100)
    sock = sockets(proxy.listen)
    return [helpers.round_trip_s(sock) * 1000 for _ in range(count)]


def test_two_runs_with_one_seed_give_identical_jitter(tcp_server, echo_upstream, sockets, helpers):
    from fakes.toxiproxy.client import ToxiproxyClient
    from fakes.toxiproxy.server import EmbeddedToxiproxy

    count, seed = 5, 11
    rng = rng_for_link(seed, "jitter", "latency_upstream", 0)
    draw_applies(rng, 1.0)  # the toxicity draw comes first on every toxic's RNG
    expected = [max(0, draw_latency_ms(rng, 100, 100)) for _ in range(count)]
    runs = []
    for _ in range(2):
        with EmbeddedToxiproxy(seed=seed) as server:
            runs.append(
                _jitter_run(ToxiproxyClient(server.url), echo_upstream, sockets, helpers, count)
            )
    for run in runs:
        for measured_ms, drawn_ms in zip(run, expected, strict=True):
            assert drawn_ms <= measured_ms < drawn_ms + 40, (run, expected)
    assert len(set(expected)) > 1


def test_disabled_proxy_refuses_and_drops_then_listens_again_on_the_same_port(
    tp, echo_upstream, sockets, helpers
):
    proxy = tp.create_proxy("flaky", upstream=echo_upstream.address)
    live = sockets(proxy.listen)
    assert helpers.round_trip_s(live) < 0.1

    tp.set_enabled("flaky", False)
    assert tp.get_proxy("flaky").enabled is False
    try:
        assert live.recv(100) == b""  # dropped
    except ConnectionResetError:
        pass  # dropped with unread data in flight: also a drop
    with pytest.raises(ConnectionRefusedError):
        sockets(proxy.listen)

    tp.set_enabled("flaky", True)
    assert tp.get_proxy("flaky").listen == proxy.listen
    assert helpers.round_trip_s(sockets(proxy.listen)) < 0.1


def test_half_close_is_passed_on(tp, tcp_server, sockets, helpers):
    def read_all_then_answer(sock: socket.socket) -> None:
        received = helpers.recv_until_closed(sock)
        sock.sendall(b"got %d" % len(received))
        sock.close()

    upstream = tcp_server(read_all_then_answer)
    proxy = tp.create_proxy("half", upstream=upstream.address)
    sock = sockets(proxy.listen)
    sock.sendall(b"z" * 5000)
    sock.shutdown(socket.SHUT_WR)
    assert helpers.recv_until_closed(sock) == b"got 5000"


def test_unreachable_upstream_closes_the_client(tp, sockets):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{spare.getsockname()[1]}"  # bound, not listening: refuses
        proxy = tp.create_proxy("nowhere", upstream=dead)
        sock = sockets(proxy.listen)
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass


def test_a_server_that_greets_and_hangs_up_at_once_is_relayed(tp, tcp_server, sockets, helpers):
    upstream = tcp_server(helpers.send_and_close(b"220 hello\r\n"))
    proxy = tp.create_proxy("greeter", upstream=upstream.address)
    for _ in range(5):  # the greeting may beat the proxy's wiring; it must wait, not vanish
        assert helpers.recv_until_closed(sockets(proxy.listen)) == b"220 hello\r\n"


def test_the_plain_asyncio_loop_runs_the_same_proxy(echo_upstream, sockets, helpers):
    from fakes.toxiproxy.client import ToxiproxyClient
    from fakes.toxiproxy.server import EmbeddedToxiproxy

    with EmbeddedToxiproxy(seed=1, loop="asyncio") as server:
        tp = ToxiproxyClient(server.url)
        proxy = tp.create_proxy("stdlib", upstream=echo_upstream.address)
        sock = sockets(proxy.listen)
        assert helpers.round_trip_s(sock) < 0.1
        tp.add_toxic("stdlib", "latency", latency=100)
        assert helpers.round_trip_s(sock) >= 0.1
        tp.remove_toxic("stdlib", "latency_downstream")
        assert helpers.round_trip_s(sock) < 0.1
        tp.add_toxic("stdlib", "reset_peer", timeout=0)
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
            sock.recv(100)


def test_slicer_with_variation_equal_to_average_slices_everything_through(
    tp, tcp_server, sockets, helpers
):
    upstream = tcp_server(helpers.reply_with(1000))
    proxy = tp.create_proxy("even", upstream=upstream.address)
    # upstream accepts size_variation == average_size: slices of 1..100 bytes here
    tp.add_toxic("even", "slicer", average_size=50, size_variation=50, delay=10_000)
    sock = sockets(proxy.listen)
    start = time.perf_counter()
    sock.sendall(b"go")
    pieces = []
    while piece := sock.recv(65536):
        pieces.append(piece)
    elapsed = time.perf_counter() - start
    assert b"".join(pieces) == b"x" * 1000
    assert len(pieces) >= 4, [len(p) for p in pieces]
    assert elapsed >= 0.09  # at least 10 slices of at most 100 bytes, 10 ms apart


def test_noop_passes_bytes_unchanged_and_is_managed_like_any_toxic(
    tp, echo_upstream, sockets, helpers
):
    created = tp.create_proxy("quiet", upstream=echo_upstream.address)
    sock = sockets(created.listen)
    payload = bytes(range(256)) * 1000
    with tp.bound() as server:
        proxy = server.get_proxy("quiet")
        proxy.add_toxic(type="noop")  # toxiproxy-python's own call, no attributes
        proxy.add_toxic(type="noop", name="also_up", stream="upstream")
        listed = proxy.toxics()
        assert {name: (t.type, t.stream, t.attributes) for name, t in listed.items()} == {
            "noop_downstream": ("noop", "downstream", {}),
            "also_up": ("noop", "upstream", {}),
        }
        sock.sendall(payload)  # a connection from before the toxics: they reach it
        assert helpers.recv_exactly(sock, len(payload)) == payload
        assert helpers.round_trip_s(sockets(created.listen)) < 0.1  # and new ones

        body = tp.update_toxic("quiet", "noop_downstream", toxicity=0.5)
        assert (body["type"], body["toxicity"], body["attributes"]) == ("noop", 0.5, {})
        assert proxy.destroy_toxic("noop_downstream") and proxy.destroy_toxic("also_up")
        assert proxy.toxics() == {}
    sock.sendall(payload)
    assert helpers.recv_exactly(sock, len(payload)) == payload


def test_stream_is_matched_ignoring_case(tp, tcp_server, sockets, helpers):
    def greet_then_echo(sock: socket.socket) -> None:
        sock.sendall(b"hello")
        helpers.echo(sock)

    upstream = tcp_server(greet_then_echo)
    created = tp.create_proxy("cased", upstream=upstream.address)
    with tp.bound() as server:
        proxy = server.get_proxy("cased")
        proxy.add_toxic(type="latency", stream="UpStream", attributes={"latency": 300})
        toxic = proxy.get_toxic("latency_UpStream")
        assert (toxic.stream, toxic.attributes["latency"]) == ("UpStream", 300)  # as sent
    sock = sockets(created.listen)
    start = time.perf_counter()
    assert helpers.recv_exactly(sock, 5) == b"hello"
    assert time.perf_counter() - start < 0.2  # server -> client is not delayed
    assert helpers.round_trip_s(sock) >= 0.3  # client -> server is: "UpStream" is upstream
