"""The HTTP API against upstream's contract: shapes, status codes, error bodies.

Driven through toxiproxy-python where it covers the call, and with plain `requests` where we
need to see status codes and bodies it hides.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from fakes.toxiproxy.proxy import resolve_listen
from fakes.toxiproxy.schema import ApiError

pytestmark = pytest.mark.integration


@pytest.fixture
def api(embedded):
    """`api(method, path, json=...)` -> requests.Response, against the embedded server."""

    def call(method: str, path: str, **kwargs):
        kwargs.setdefault("timeout", 5)
        return requests.request(method, embedded.url + path, **kwargs)

    return call


@pytest.fixture
def library(tp):
    """toxiproxy-python's own `Toxiproxy` object, pointed at the embedded server."""
    with tp.bound() as server:
        yield server


def test_version_is_upstream_json(api, library):
    response = api("GET", "/version")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["version"].startswith("2.")
    assert library.version() == response.content


def test_create_proxy_returns_its_resolved_address(api, echo_upstream):
    response = api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "db"
    assert body["upstream"] == echo_upstream.address
    assert body["enabled"] is True
    assert body["toxics"] == []
    host, port = body["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0  # default listen 127.0.0.1:0, port resolved

    listed = api("GET", "/proxies").json()
    assert listed == {"db": body}
    assert api("GET", "/proxies/db").json() == body


def test_library_round_trip(library, echo_upstream):
    proxy = library.create(upstream=echo_upstream.address, name="lib")
    assert set(library.proxies()) == {"lib"}
    proxy.add_toxic(type="latency", attributes={"latency": 10})
    toxic = proxy.get_toxic("latency_downstream")
    assert (toxic.type, toxic.stream, toxic.toxicity) == ("latency", "downstream", 1.0)
    assert toxic.attributes == {"latency": 10, "jitter": 0}
    assert proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}
    with proxy.down():
        assert library.get_proxy("lib").enabled is False
    assert library.get_proxy("lib").enabled is True
    assert library.destroy(proxy)
    assert library.proxies() == {}


def test_errors_match_upstream(api, library, echo_upstream):
    api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})

    conflict = api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})
    assert (conflict.status_code, conflict.json()) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )
    missing = api("GET", "/proxies/nope")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "proxy not found", "status": 404},
    )
    assert api("DELETE", "/proxies/nope").status_code == 404
    assert api("GET", "/proxies/db/toxics/nope").json() == {
        "error": "toxic not found",
        "status": 404,
    }
    no_name = api("POST", "/proxies", json={"upstream": echo_upstream.address})
    assert no_name.json() == {"error": "missing required field: name", "status": 400}
    no_upstream = api("POST", "/proxies", json={"name": "x"})
    assert no_upstream.json() == {"error": "missing required field: upstream", "status": 400}
    bad_json = api("POST", "/proxies", data="{nope")
    assert bad_json.status_code == 400
    assert bad_json.json()["error"].startswith("bad request body")

    bad_stream = api("POST", "/proxies/db/toxics", json={"type": "latency", "stream": "sideways"})
    assert bad_stream.json() == {
        "error": "stream was invalid, can be either upstream or downstream",
        "status": 400,
    }
    bad_type = api("POST", "/proxies/db/toxics", json={"type": "gremlin"})
    assert bad_type.json() == {"error": "invalid toxic type", "status": 400}
    first = api("POST", "/proxies/db/toxics", json={"type": "latency"})
    assert first.status_code == 200  # upstream answers 200, not 201, for a new toxic
    again = api("POST", "/proxies/db/toxics", json={"type": "latency"})
    assert (again.status_code, again.json()["error"]) == (409, "toxic already exists")

    # toxiproxy-python maps these statuses to its exceptions
    with pytest.raises(ProxyExists):
        APIConsumer.post("/proxies", json={"name": "db", "upstream": echo_upstream.address})
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/nope")
    with pytest.raises(InvalidToxic):
        library.get_proxy("db").add_toxic(type="gremlin")


def test_attributes_are_validated_with_a_message_that_says_what_to_fix(api, echo_upstream):
    api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})
    cases = {
        "latancy": {"type": "latency", "attributes": {"latancy": 5}},
        "whole number": {"type": "latency", "attributes": {"latency": 1.5}},
        ">= 0": {"type": "bandwidth", "attributes": {"rate": -1}},
        "average_size": {"type": "slicer", "attributes": {"average_size": 0}},
        "toxicity": {"type": "latency", "toxicity": 2},
    }
    for needle, body in cases.items():
        response = api("POST", "/proxies/db/toxics", json=body)
        assert response.status_code == 400, body
        assert needle in response.json()["error"], response.json()


def test_toxic_defaults_update_and_listing(api, echo_upstream):
    api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})
    created = api("POST", "/proxies/db/toxics", json={"type": "bandwidth"}).json()
    assert created == {
        "attributes": {"rate": 0},
        "name": "bandwidth_downstream",
        "type": "bandwidth",
        "stream": "downstream",
        "toxicity": 1.0,
    }
    api(
        "POST",
        "/proxies/db/toxics",
        json={"type": "latency", "stream": "upstream", "attributes": {"latency": 5}},
    )
    names = [t["name"] for t in api("GET", "/proxies/db/toxics").json()]
    assert names == ["latency_upstream", "bandwidth_downstream"]  # upstream stream first

    patched = api(
        "PATCH", "/proxies/db/toxics/latency_upstream", json={"attributes": {"jitter": 2}}
    )
    assert patched.json()["attributes"] == {"latency": 5, "jitter": 2}  # merged
    posted = api("POST", "/proxies/db/toxics/latency_upstream", json={"toxicity": 0.25})
    assert posted.json()["toxicity"] == 0.25
    assert api("GET", "/proxies/db").json()["toxics"][0]["toxicity"] == 0.25

    assert api("DELETE", "/proxies/db/toxics/latency_upstream").status_code == 204
    assert api("GET", "/proxies/db/toxics/latency_upstream").status_code == 404


def test_stream_in_any_case_names_the_toxic_as_sent(api, echo_upstream):
    api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})
    up = api("POST", "/proxies/db/toxics", json={"type": "latency", "stream": "UpStream"})
    down = api("POST", "/proxies/db/toxics", json={"type": "noop", "stream": "DOWNSTREAM"})
    assert (up.status_code, down.status_code) == (200, 200)
    assert (up.json()["name"], up.json()["stream"]) == ("latency_UpStream", "UpStream")
    assert (down.json()["name"], down.json()["stream"]) == ("noop_DOWNSTREAM", "DOWNSTREAM")
    listed = [(t["name"], t["stream"]) for t in api("GET", "/proxies/db/toxics").json()]
    assert listed == [("latency_UpStream", "UpStream"), ("noop_DOWNSTREAM", "DOWNSTREAM")]
    # a second "upstream" toxic of the same type gets another default name: no clash
    lower = api("POST", "/proxies/db/toxics", json={"type": "latency", "stream": "upstream"})
    assert lower.json()["name"] == "latency_upstream"
    patched = api(
        "PATCH", "/proxies/db/toxics/latency_UpStream", json={"attributes": {"latency": 7}}
    )
    assert (patched.json()["attributes"]["latency"], patched.json()["stream"]) == (7, "UpStream")
    assert api("DELETE", "/proxies/db/toxics/latency_UpStream").status_code == 204
    assert api("DELETE", "/proxies/db/toxics/noop_DOWNSTREAM").status_code == 204


def test_update_proxy_with_post_or_patch(api, echo_upstream, tcp_server, helpers):
    created = api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address})
    listen = created.json()["listen"]
    disabled = api("POST", "/proxies/db", json={"enabled": False})
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    enabled = api("PATCH", "/proxies/db", json={"enabled": True})
    assert (enabled.json()["enabled"], enabled.json()["listen"]) == (True, listen)

    other = tcp_server(helpers.echo)
    moved = api("PATCH", "/proxies/db", json={"upstream": other.address}).json()
    assert moved["upstream"] == other.address and moved["enabled"] is True
    assert api("DELETE", "/proxies/db").status_code == 204
    assert api("GET", "/proxies").json() == {}


def test_populate_creates_keeps_and_replaces(api, echo_upstream, tcp_server, helpers):
    other = tcp_server(helpers.echo)
    first = api(
        "POST",
        "/populate",
        json=[
            {"name": "a", "upstream": echo_upstream.address},
            {"name": "b", "upstream": echo_upstream.address, "enabled": False},
        ],
    )
    assert first.status_code == 201
    proxies = {p["name"]: p for p in first.json()["proxies"]}
    assert proxies["a"]["enabled"] is True and proxies["b"]["enabled"] is False
    api("POST", "/proxies/a/toxics", json={"type": "latency"})

    same_a = {"name": "a", "listen": proxies["a"]["listen"], "upstream": echo_upstream.address}
    second = api("POST", "/populate", json=[same_a, {"name": "b", "upstream": other.address}])
    assert second.status_code == 201
    after = {p["name"]: p for p in second.json()["proxies"]}
    assert after["a"]["toxics"] != []  # unchanged addresses: kept, toxics and all
    assert after["b"]["upstream"] == other.address and after["b"]["enabled"] is True

    bad = api("POST", "/populate", json=[{"name": "c", "upstream": other.address}, {"name": ""}])
    assert bad.status_code == 400
    assert bad.json()["error"] == "missing required field: name at proxy 2"
    assert "c" not in api("GET", "/proxies").json()  # validated before anything applied


def test_reset_enables_every_proxy_and_removes_every_toxic(api, echo_upstream):
    api("POST", "/proxies", json={"name": "a", "upstream": echo_upstream.address})
    api("POST", "/proxies/a/toxics", json={"type": "latency"})
    api("POST", "/proxies/a", json={"enabled": False})
    assert api("POST", "/reset").status_code == 204
    proxy = api("GET", "/proxies/a").json()
    assert proxy["enabled"] is True and proxy["toxics"] == []


def test_listen_on_a_taken_port_is_a_500_with_the_reason(api, echo_upstream):
    taken = api("POST", "/proxies", json={"name": "a", "upstream": echo_upstream.address})
    clash = api(
        "POST",
        "/proxies",
        json={"name": "b", "upstream": echo_upstream.address, "listen": taken.json()["listen"]},
    )
    assert clash.status_code == 500
    assert "address already in use" in clash.json()["error"].lower()
    assert "b" not in api("GET", "/proxies").json()


def test_browsers_are_refused(api):
    response = api("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert response.status_code == 403


def test_unknown_route_and_method(api):
    assert api("GET", "/nope").status_code == 404
    assert api("PUT", "/proxies").status_code == 405


def test_an_embedded_server_on_a_taken_port_fails_to_start():
    import socket

    from fakes.toxiproxy.server import EmbeddedToxiproxy

    with socket.create_server(("127.0.0.1", 0)) as squatter:
        server = EmbeddedToxiproxy(port=squatter.getsockname()[1])
        with pytest.raises(OSError, match="in use"):
            server.start()
        server.stop()  # idempotent after a failed start


# -- listen addresses are compared resolved (upstream #631) -----------------------------------


def _port(listen: str) -> str:
    return listen.rsplit(":", 1)[1]


def test_populate_with_a_host_name_for_the_same_address_keeps_the_live_proxy(
    api, echo_upstream, sockets, helpers
):
    created = api(
        "POST",
        "/populate",
        json=[{"name": "db", "listen": "localhost:0", "upstream": echo_upstream.address}],
    )
    listen = created.json()["proxies"][0]["listen"]
    assert listen.startswith("127.0.0.1:")  # a name binds, and reports, its IPv4 address (Go)
    api("POST", "/proxies/db/toxics", json={"type": "latency", "attributes": {"latency": 150}})
    live = sockets(listen)
    assert helpers.round_trip_s(live, b"before") >= 0.15

    again = api(
        "POST",
        "/populate",
        json=[
            {
                "name": "db",
                "listen": f"localhost:{_port(listen)}",
                "upstream": echo_upstream.address,
            }
        ],
    )
    assert again.status_code == 201
    kept = again.json()["proxies"][0]
    assert kept["listen"] == listen
    assert [t["name"] for t in kept["toxics"]] == ["latency_downstream"]
    # the connection opened before the populate still carries data, through the same toxic
    assert helpers.round_trip_s(live, b"after") >= 0.15
    assert echo_upstream.accepted == 1


def test_patch_with_a_host_name_for_the_same_address_keeps_the_live_proxy(
    api, echo_upstream, sockets, helpers
):
    listen = api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address}).json()[
        "listen"
    ]
    api("POST", "/proxies/db/toxics", json={"type": "latency", "attributes": {"latency": 150}})
    live = sockets(listen)
    assert helpers.round_trip_s(live) >= 0.15
    for method in ("PATCH", "POST"):
        same = api(method, "/proxies/db", json={"listen": f"localhost:{_port(listen)}"})
        assert same.status_code == 200
        assert (same.json()["listen"], len(same.json()["toxics"])) == (listen, 1)
    assert helpers.round_trip_s(live) >= 0.15


def test_a_really_different_listen_address_still_restarts_the_proxy(
    api, echo_upstream, sockets, helpers
):
    listen = api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address}).json()[
        "listen"
    ]
    api("POST", "/proxies/db/toxics", json={"type": "latency"})
    live = sockets(listen)
    helpers.round_trip_s(live)
    moved = api(
        "POST",
        "/populate",
        json=[{"name": "db", "listen": "localhost:0", "upstream": echo_upstream.address}],
    ).json()["proxies"][0]
    assert moved["listen"] != listen and moved["toxics"] == []  # replaced, as upstream
    assert live.recv(10) == b""  # the old proxy's connection was closed
    assert helpers.round_trip_s(sockets(moved["listen"])) < 0.5


def test_a_listen_name_that_does_not_resolve_is_a_500_and_changes_nothing(
    api, echo_upstream, sockets, helpers
):
    listen = api("POST", "/proxies", json={"name": "db", "upstream": echo_upstream.address}).json()[
        "listen"
    ]
    api("POST", "/proxies/db/toxics", json={"type": "latency"})
    live = sockets(listen)
    helpers.round_trip_s(live)
    bad = "nosuchhost.invalid:7070"  # .invalid never resolves (RFC 6761)
    populate = api(
        "POST", "/populate", json=[{"name": "db", "listen": bad, "upstream": echo_upstream.address}]
    )
    patch = api("PATCH", "/proxies/db", json={"listen": bad})
    create = api(
        "POST", "/proxies", json={"name": "x", "listen": bad, "upstream": echo_upstream.address}
    )
    for response, prefix in (
        (populate, "lookup"),
        (patch, "lookup"),
        (create, "listen tcp: lookup"),
    ):
        assert response.status_code == 500
        assert response.json()["error"].startswith(f"{prefix} nosuchhost.invalid: "), (
            response.json()
        )
    proxy = api("GET", "/proxies/db").json()
    assert (proxy["listen"], proxy["enabled"], len(proxy["toxics"])) == (listen, True, 1)
    assert helpers.round_trip_s(live) < 0.5  # still connected
    assert "x" not in api("GET", "/proxies").json()


async def test_resolving_a_listen_address_gives_what_a_listener_would_report():
    assert await resolve_listen("localhost:7070") == "127.0.0.1:7070"
    assert await resolve_listen("127.0.0.1:0") == "127.0.0.1:0"
    assert await resolve_listen("[::1]:80") == "[::1]:80"
    assert await resolve_listen(":7070") == "0.0.0.0:7070"  # every interface, as bound


async def test_a_name_with_both_families_resolves_to_its_ipv4_address(monkeypatch):
    async def both_families(host, port, **kwargs):
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", both_families)
    assert await resolve_listen("dual.example:7070") == "127.0.0.1:7070"  # as Go picks


async def test_a_lookup_that_hangs_is_cut_off_with_a_500(monkeypatch):
    async def never(host, port, **kwargs):
        await asyncio.sleep(60)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", never)
    monkeypatch.setattr("fakes.toxiproxy.proxy.RESOLVE_TIMEOUT_S", 0.05)
    started = time.perf_counter()
    with pytest.raises(ApiError) as caught:
        await resolve_listen("slow.example:7070")
    assert time.perf_counter() - started < 1.0
    assert (caught.value.status, caught.value.message) == (500, "lookup slow.example: i/o timeout")
