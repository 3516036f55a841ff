"""Input an outside tester sent (issue 16): what the service answers, the same on SQLite and
PostgreSQL — a NUL in a string, a path id longer than an id, metadata nested hundreds deep, a body
that never finishes, whitespace around the API key. Each was a 503 (PostgreSQL), a 500, a reset
connection or a connection held open before."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from service.api.body_timeout import BODY_READ_TIMEOUT_S
from service.schemas import MAX_METADATA_DEPTH
from tests.service.conftest import API_KEYS, appointment_body, new_resource, scratch_postgres
from tests.service.live_stack import ProcessReaper, Provider, Service, start_service

pytestmark = pytest.mark.integration

KEY = next(iter(API_KEYS))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def service(
    request: pytest.FixtureRequest,
    session_provider: Provider,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """One service per database for this module (two tenants); stopped before its database is
    dropped."""
    directory = tmp_path_factory.mktemp(f"holes-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            db_url = stack.enter_context(scratch_postgres())
        else:
            db_url = f"sqlite+aiosqlite:///{directory / 'service.db'}"
        reaper = ProcessReaper()
        stack.callback(reaper.close)
        yield start_service(
            reaper,
            db_url=db_url,
            calendar_url=session_provider.url,
            log_path=directory / "service.log",
            api_keys=API_KEYS,
        )


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}


def _book(service: Service) -> dict[str, Any]:
    with service.client() as client:
        response = client.post(
            "/v1/appointments", json=appointment_body(new_resource()), headers=_key()
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _listed(service: Service, resource: str) -> list[dict[str, Any]]:
    with service.client() as client:
        response = client.get("/v1/appointments", params={"resource_id": resource})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _nested_json(depth: int) -> str:
    """A JSON object `depth` levels deep, built as text (json.dumps would recurse that deep)."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


NUL_FIELDS = [
    ("title", {"title": "check\x00up"}),
    ("location", {"location": "room\x004"}),
    ("owner.name", {"owner": {"name": "Zeb\x00ulon", "email": "z@example.org"}}),
    ("owner.email", {"owner": {"name": "Zebulon", "email": "z\x00@example.org"}}),
]


@pytest.mark.parametrize(("field", "change"), NUL_FIELDS, ids=[f for f, _ in NUL_FIELDS])
def test_a_nul_in_a_body_string_is_a_422_naming_the_field_and_stores_nothing(
    service: Service, field: str, change: dict[str, Any]
) -> None:
    resource = new_resource()
    with service.client() as client:
        response = client.post(
            "/v1/appointments", json=appointment_body(resource, **change), headers=_key()
        )
    assert response.status_code == 422, response.text
    assert "retry-after" not in response.headers
    detail = response.json()["detail"]
    assert [item["field"] for item in detail] == [field]
    assert "NUL" in detail[0]["message"]
    assert _listed(service, resource) == []


def test_a_nul_in_a_cancel_reason_is_a_422_and_the_appointment_stays_booked(
    service: Service,
) -> None:
    booked = _book(service)
    with service.client() as client:
        response = client.post(
            f"/v1/appointments/{booked['id']}/cancel", json={"reason": "no\x00"}, headers=_key()
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["field"] == "reason"
        assert client.get(f"/v1/appointments/{booked['id']}").json()["status"] == "booked"


def test_a_nul_or_an_over_long_path_id_is_a_404_before_any_flow_runs(service: Service) -> None:
    booked = _book(service)
    other_slot = appointment_body("x", slot=5)["slot"]
    # The real id with NUL appended, and with one character more than an id has.
    for bad_id in (booked["id"] + "%00", booked["id"] + "x", "a" * 40):
        with service.client() as client:
            got = client.get(f"/v1/appointments/{bad_id}")
            cancelled = client.post(f"/v1/appointments/{bad_id}/cancel", headers=_key())
            moved = client.post(
                f"/v1/appointments/{bad_id}/reschedule", json={"slot": other_slot}, headers=_key()
            )
        for response in (got, cancelled, moved):
            assert response.status_code == 404, (bad_id, response.status_code, response.text)
            assert response.json()["error"] == "not_found"
    with service.client() as client:
        still = client.get(f"/v1/appointments/{booked['id']}").json()
    assert (still["status"], still["slot"]) == ("booked", booked["slot"])


def test_a_nul_in_a_list_filter_matches_nothing(service: Service) -> None:
    booked = _book(service)
    resource = booked["resource_id"]
    assert [item["id"] for item in _listed(service, resource)] == [booked["id"]]
    with service.client() as client:
        for params in ({"resource_id": resource + "\x00"}, {"after": "\x00"}):
            response = client.get("/v1/appointments", params=params)
            assert response.status_code == 200, (params, response.text)
            assert response.json() == {"items": [], "next_after": None}
        saga = client.get("/v1/admin/sagas/abc%00")
    assert (saga.status_code, saga.json()["steps"]) == (200, [])


@pytest.mark.parametrize("depth", [MAX_METADATA_DEPTH + 1, 300, 900])
def test_metadata_nested_too_deep_is_a_422_naming_metadata_and_the_limit(
    service: Service, depth: int
) -> None:
    resource = new_resource()
    raw = json.dumps(appointment_body(resource, metadata="@@")).replace('"@@"', _nested_json(depth))
    with service.client() as client:
        response = client.post(
            "/v1/appointments",
            content=raw,
            headers={**_key(), "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["field"] == "metadata"
    assert f"at most {MAX_METADATA_DEPTH} levels" in problem["message"]
    assert f"got {depth}" in problem["message"]
    assert _listed(service, resource) == []


def test_metadata_at_the_depth_limit_is_booked(service: Service) -> None:
    raw = json.dumps(appointment_body(new_resource(), metadata="@@")).replace(
        '"@@"', _nested_json(MAX_METADATA_DEPTH)
    )
    with service.client() as client:
        response = client.post(
            "/v1/appointments", content=raw, headers={**_key(), "Content-Type": "application/json"}
        )
    assert response.status_code == 201, response.text
    depth, node = 0, response.json()["metadata"]
    while isinstance(node, dict):
        depth, node = depth + 1, node.get("a")
    assert depth == MAX_METADATA_DEPTH


# --- the body read deadline and the Authorization header: not about the database ---


def _host_port(service: Service) -> tuple[str, int]:
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection (True) or `limit_s` passes."""
    sock.settimeout(0.2)
    data, deadline = b"", time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _create_head(content_length: int, api_key: str = KEY) -> bytes:
    return (
        "POST /v1/appointments HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {api_key}\r\nIdempotency-Key: k-{uuid.uuid4().hex}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def test_a_body_that_never_finishes_gets_408_and_a_closed_connection(
    shared_service: Service,
) -> None:
    started = time.monotonic()
    with socket.create_connection(_host_port(shared_service), timeout=5) as sock:
        sock.sendall(_create_head(100_000) + b'{"cus')
        data, closed = _read_until_closed(sock, BODY_READ_TIMEOUT_S + 5)
    elapsed = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert closed, "the connection was left open after the 408"
    assert BODY_READ_TIMEOUT_S - 0.5 <= elapsed <= BODY_READ_TIMEOUT_S + 3, elapsed
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "request_timeout"


def test_a_body_sent_in_pieces_within_the_deadline_is_booked(shared_service: Service) -> None:
    payload = json.dumps(appointment_body(new_resource())).encode()
    with socket.create_connection(_host_port(shared_service), timeout=5) as sock:
        sock.sendall(_create_head(len(payload)) + payload[:10])
        time.sleep(1.0)
        sock.sendall(payload[10:])
        sock.settimeout(10)
        status_line = sock.recv(65536).split(b"\r\n", 1)[0]
    # 202 is as good: the request's deadline counts from its arrival, and the body took 1 s.
    assert status_line in (b"HTTP/1.1 201 Created", b"HTTP/1.1 202 Accepted")


def _status_with_authorization(service: Service, value: str) -> int:
    """The status of a list request whose Authorization header is sent byte for byte (HTTP
    clients refuse to send a value with trailing whitespace)."""
    request = (
        f"GET /v1/appointments?limit=1 HTTP/1.1\r\nHost: test\r\nAuthorization: {value}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(_host_port(service), timeout=5) as sock:
        sock.sendall(request)
        data, _ = _read_until_closed(sock, 10)
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (f"Bearer {KEY}", 200),
        (f"Bearer {KEY} ", 200),  # RFC 9110 optional whitespace: normalised, see service/README
        (f"Bearer {KEY}\t", 200),
        (f"Bearer  {KEY}", 200),  # RFC 6750: "Bearer" 1*SP token
        (f"Bearer {KEY} x", 401),  # whitespace inside the value counts
        (f"Bearer {KEY}x", 401),
        ("Bearer ", 401),
        (f"Basic {KEY}", 401),
    ],
)
def test_whitespace_around_the_api_key_is_normalised_inside_it_is_refused(
    shared_service: Service, value: str, status: int
) -> None:
    assert _status_with_authorization(shared_service, value) == status


def test_the_log_shows_no_unhandled_error(service: Service) -> None:
    """Runs last in this module: nothing above may have reached the catch-all handler or uvicorn."""
    text = service.log_path.read_text()
    assert "Exception in ASGI application" not in text
    assert '"unhandled error"' not in text
