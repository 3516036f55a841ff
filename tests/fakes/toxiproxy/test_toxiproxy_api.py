"""The HTTP API against upstream's contract: shapes, status codes, error bodies.

Driven through toxiproxy-python where it covers the call, and with plain `requests` where we
need to see status codes and bodies it hides.
"""

from __future__ import annotations

import pytest
import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

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
