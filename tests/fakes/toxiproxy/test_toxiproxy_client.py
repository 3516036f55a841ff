"""The wrapper our code uses: TOXIPROXY_URL or embedded, and a timeout on every call."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from fakes.toxiproxy.client import (
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyTimeout,
    ToxiproxyUnavailable,
    connect_toxiproxy,
)

pytestmark = pytest.mark.integration


def test_uses_toxiproxy_url_when_set(embedded, echo_upstream):
    with connect_toxiproxy(env={"TOXIPROXY_URL": embedded.url}) as tp:
        assert tp.url == embedded.url
        tp.create_proxy("via-env", upstream=echo_upstream.address)
    # it was created on the server named by the variable, not on a new embedded one
    assert "via-env" in ToxiproxyClient(embedded.url).proxies()


@pytest.mark.parametrize("embedded_kind", ["thread", "process"])
def test_starts_an_embedded_server_otherwise(embedded_kind, echo_upstream, sockets, helpers):
    with connect_toxiproxy(seed=3, env={}, embedded=embedded_kind) as tp:
        assert tp.version().startswith('{"version": "2.')
        proxy = tp.create_proxy("mine", upstream=echo_upstream.address)
        assert helpers.round_trip_s(sockets(proxy.listen)) < 0.5
        url = tp.url
    with pytest.raises(ToxiproxyUnavailable):
        ToxiproxyClient(url, timeout_s=1).proxies()  # gone when the block ends


def test_every_call_times_out_against_a_server_that_never_answers():
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_ignore() -> None:
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_ignore, daemon=True)
    thread.start()
    try:
        tp = ToxiproxyClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=0.3)
        for call in (tp.version, tp.proxies, tp.reset, lambda: tp.set_enabled("x", False)):
            started = time.perf_counter()
            with pytest.raises(ToxiproxyTimeout, match="no answer within 0.3s"):
                call()
            assert time.perf_counter() - started < 2.0
    finally:
        stop.set()
        thread.join(5)
        for sock in accepted:
            sock.close()
        silent.close()


def test_library_objects_used_directly_also_time_out(tp, echo_upstream):
    proxy = tp.create_proxy("direct", upstream=echo_upstream.address)
    import toxiproxy.api

    shim = toxiproxy.api.requests
    assert getattr(shim, "timeout_s", None) == 5.0  # the library's `requests` now has a timeout
    proxy.add_toxic(type="latency", attributes={"latency": 1})  # and still works
    assert "latency_downstream" in proxy.toxics()


def test_server_errors_raise_with_the_servers_message(tp, echo_upstream):
    first = tp.create_proxy("a", upstream=echo_upstream.address)
    with pytest.raises(ToxiproxyError, match="address already in use"):
        tp.create_proxy("b", upstream=echo_upstream.address, listen=first.listen)


def test_bad_urls_are_rejected_with_the_expected_shape():
    with pytest.raises(ValueError, match="http://host:8474"):
        ToxiproxyClient("https://toxiproxy:8474")
    assert ToxiproxyClient("localhost:9000").url == "http://localhost:9000"
