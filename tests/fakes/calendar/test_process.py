"""The fake as a real uvicorn process on loopback: what only a real socket can show.

A dropped connection and a caller giving up during a hang exist only over TCP, so these run
against `python -m fakes.calendar` (one process for the module, reset before each test).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from tests.fakes.calendar.conftest import ProviderProcess

pytestmark = pytest.mark.integration

EVENT = {"calendar_id": "room-1", "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}


@pytest.fixture
def http(provider_process: ProviderProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider_process.url, timeout=10.0) as client:
        assert client.post("/_control/reset").status_code == 200
        yield client


def calls_when_logged(http: httpx.Client, count: int, bound_s: float = 5.0) -> list[dict[str, Any]]:
    """The call log once it holds `count` calls (a call is logged when it ends, maybe after we do)."""
    deadline = time.monotonic() + bound_s
    while True:
        records: list[dict[str, Any]] = http.get("/_control/calls").json()["calls"]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_commit_then_fail_drop_creates_the_event_and_breaks_the_connection(
    http: httpx.Client,
) -> None:
    http.put(
        "/_control/faults", json={"commit_then_fail_rate": 1.0, "commit_then_fail_mode": "drop"}
    )
    with pytest.raises(httpx.TransportError):
        http.post("/v1/events", json=EVENT, headers={"Idempotency-Key": "k"})
    truth = http.get("/_control/events").json()["events"]
    assert len(truth) == 1 and truth[0]["idempotency_key"] == "k"
    (record,) = calls_when_logged(http, 1)
    assert record["fault"] == "commit_then_fail" and record["status"] is None
    assert record["event_id"] == truth[0]["id"]


def test_commit_then_fail_error_creates_the_event_and_answers_500(http: httpx.Client) -> None:
    http.put("/_control/faults", json={"commit_then_fail_rate": 1.0})
    response = http.post("/v1/events", json=EVENT, headers={"Idempotency-Key": "k"})
    assert response.status_code == 500
    assert len(http.get("/_control/events").json()["events"]) == 1


def test_a_retry_after_a_dropped_create_gets_the_same_event(http: httpx.Client) -> None:
    http.put(
        "/_control/faults", json={"commit_then_fail_rate": 1.0, "commit_then_fail_mode": "drop"}
    )
    with pytest.raises(httpx.TransportError):
        http.post("/v1/events", json=EVENT, headers={"Idempotency-Key": "k"})
    http.put("/_control/faults", json={})
    retried = http.post("/v1/events", json=EVENT, headers={"Idempotency-Key": "k"})
    assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"
    assert [e["id"] for e in http.get("/_control/events").json()["events"]] == [
        retried.json()["id"]
    ]


def test_a_hang_ends_when_the_caller_gives_up(http: httpx.Client) -> None:
    http.put("/_control/faults", json={"hang_rate": 1.0, "hang_s": 30})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v1/events", json=EVENT, timeout=httpx.Timeout(10.0, read=0.3))
    assert time.monotonic() - started < 10  # the client's timeout ended it, not hang_s
    (record,) = calls_when_logged(http, 1)
    assert record["fault"] == "hang" and record["status"] is None
    assert record["latency_ms"] < 10_000  # the fake noticed the caller leave; it did not wait 30 s
    assert http.get("/_control/events").json()["events"] == []


def test_outage_over_http_and_the_control_api_still_answers(http: httpx.Client) -> None:
    http.put("/_control/faults", json={"outage": True, "retry_after_s": 1})
    response = http.get("/v1/events")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert http.get("/_control/faults").json()["outage"] is True
