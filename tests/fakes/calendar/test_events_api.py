"""The events API as a caller sees it (in-process, httpx ASGI transport): docs/provider_api.md."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from fakes.calendar.app import create_app


def event_body(calendar_id: str = "room-1", hour: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "calendar_id": calendar_id,
        "start": f"2030-01-01T{hour:02d}:00:00Z",
        "end": f"2030-01-01T{hour + 1:02d}:00:00Z",
        **extra,
    }


async def ground_truth(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/_control/events")
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def calls(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = (await client.get("/_control/calls")).json()["calls"]
    return records


async def set_faults(client: httpx.AsyncClient, **profile: Any) -> None:
    response = await client.put("/_control/faults", json=profile)
    assert response.status_code == 200, response.text


async def test_create_get_delete_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/events", json=event_body(summary="Consultation"), headers={"Idempotency-Key": "k1"}
    )
    assert created.status_code == 201
    event = created.json()
    assert event["calendar_id"] == "room-1"
    assert event["start"] == "2030-01-01T10:00:00Z" and event["end"] == "2030-01-01T11:00:00Z"
    assert event["summary"] == "Consultation" and event["idempotency_key"] == "k1"
    assert "Idempotent-Replayed" not in created.headers
    assert (await client.get(f"/v1/events/{event['id']}")).json() == event
    assert (await client.delete(f"/v1/events/{event['id']}")).status_code == 204
    missing = await client.get(f"/v1/events/{event['id']}")
    assert missing.status_code == 404 and "error" in missing.json()
    assert (await client.delete(f"/v1/events/{event['id']}")).status_code == 404
    assert await ground_truth(client) == []


async def test_times_are_stored_in_utc(client: httpx.AsyncClient) -> None:
    body = {"calendar_id": "c", "start": "2030-01-01T12:00:00+02:00", "end": "2030-01-01T11:00:00Z"}
    event = (await client.post("/v1/events", json=body)).json()
    assert event["start"] == "2030-01-01T10:00:00Z"


async def test_list_filters_by_calendar_and_overlap(client: httpx.AsyncClient) -> None:
    for calendar_id, hour in [("room-1", 9), ("room-1", 11), ("room-1", 14), ("room-2", 11)]:
        response = await client.post("/v1/events", json=event_body(calendar_id, hour))
        assert response.status_code == 201
    found = await client.get(
        "/v1/events",
        params={
            "calendar_id": "room-1",
            "from": "2030-01-01T09:30:00Z",
            "to": "2030-01-01T14:00:00Z",
        },
    )
    assert found.status_code == 200
    assert [e["start"][11:13] for e in found.json()["events"]] == ["09", "11"]
    everything = (await client.get("/v1/events")).json()["events"]
    assert len(everything) == 4
    bad = await client.get("/v1/events", params={"from": "yesterday"})
    assert bad.status_code == 422 and "from" in bad.json()["error"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}, "calendar_id"),
        (event_body() | {"end": "2030-01-01T09:00:00Z"}, "start must be before end"),
        (event_body() | {"start": "2030-01-01T10:00:00"}, "start"),
    ],
)
async def test_bad_events_are_422_naming_the_problem(
    client: httpx.AsyncClient, body: dict[str, Any], named: str
) -> None:
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 422
    assert named in response.json()["error"]
    assert await ground_truth(client) == []


async def test_a_repeated_key_replays_the_first_event(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/events", json=event_body(), headers={"Idempotency-Key": "k"})
    again = await client.post("/v1/events", json=event_body(), headers={"Idempotency-Key": "k"})
    assert first.status_code == 201
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(await ground_truth(client)) == 1


async def test_a_client_supplied_id_is_the_event_id_and_dedups(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/events", json=event_body(id="appt-123"))
    again = await client.post("/v1/events", json=event_body(id="appt-123"))
    assert first.status_code == 201 and first.json()["id"] == "appt-123"
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert [e["id"] for e in await ground_truth(client)] == ["appt-123"]


async def test_a_provider_that_ignores_keys_duplicates_on_retry(client: httpx.AsyncClient) -> None:
    await set_faults(client, honour_idempotency=False)
    first = await client.post(
        "/v1/events", json=event_body(id="x"), headers={"Idempotency-Key": "k"}
    )
    again = await client.post(
        "/v1/events", json=event_body(id="x"), headers={"Idempotency-Key": "k"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] != again.json()["id"]
    truth = await ground_truth(client)
    assert len(truth) == 2 and {e["idempotency_key"] for e in truth} == {"k"}


async def test_commit_then_fail_creates_the_event_but_answers_500(
    client: httpx.AsyncClient,
) -> None:
    await set_faults(client, commit_then_fail_rate=1.0)
    response = await client.post("/v1/events", json=event_body(), headers={"Idempotency-Key": "k"})
    assert response.status_code == 500 and "error" in response.json()
    truth = await ground_truth(client)
    assert len(truth) == 1 and truth[0]["idempotency_key"] == "k"
    retried = await client.post("/v1/events", json=event_body(), headers={"Idempotency-Key": "k"})
    assert retried.status_code == 500
    assert await ground_truth(client) == truth  # the key holds: still one event
    log = await calls(client)
    assert [(c["attempt"], c["fault"], c["status"]) for c in log] == [
        (1, "commit_then_fail", 500),
        (2, "commit_then_fail", 500),
    ]
    assert log[0]["event_id"] == truth[0]["id"]


async def test_commit_then_fail_without_idempotency_is_how_duplicates_happen(
    client: httpx.AsyncClient,
) -> None:
    await set_faults(client, commit_then_fail_rate=1.0, honour_idempotency=False)
    for _ in range(2):
        response = await client.post(
            "/v1/events", json=event_body(), headers={"Idempotency-Key": "k"}
        )
        assert response.status_code == 500
    assert len(await ground_truth(client)) == 2


async def test_transient_errors_carry_retry_after_and_create_nothing(
    client: httpx.AsyncClient,
) -> None:
    await set_faults(client, error_rate=1.0, error_status=429, retry_after_s=2)
    response = await client.post("/v1/events", json=event_body())
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert "error" in response.json()
    assert await ground_truth(client) == []


async def test_permanent_errors_answer_4xx_and_create_nothing(client: httpx.AsyncClient) -> None:
    await set_faults(client, permanent_error_rate=1.0, permanent_error_status=403)
    response = await client.post("/v1/events", json=event_body())
    assert response.status_code == 403 and "Retry-After" not in response.headers
    assert await ground_truth(client) == []


async def test_outage_fails_the_events_api_but_not_the_control_api(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/v1/events", json=event_body())).json()
    await set_faults(client, outage=True)
    answers = [
        await client.post("/v1/events", json=event_body(hour=12)),
        await client.post("/v1/events", content=b"not json"),
        await client.get(f"/v1/events/{created['id']}"),
        await client.get("/v1/events"),
        await client.delete(f"/v1/events/{created['id']}"),
    ]
    assert [answer.status_code for answer in answers] == [503] * 5
    assert (await client.get("/_control/faults")).json()["outage"] is True
    assert [e["id"] for e in await ground_truth(client)] == [created["id"]]
    assert (await client.get("/_control/calls")).status_code == 200
    await set_faults(client, outage=False)
    assert (await client.get(f"/v1/events/{created['id']}")).status_code == 200


async def test_a_hang_is_bounded_by_hang_s(client: httpx.AsyncClient) -> None:
    await set_faults(client, hang_rate=1.0, hang_s=0.2)
    response = await client.post("/v1/events", json=event_body())
    assert response.status_code == 504
    assert await ground_truth(client) == []
    (record,) = await calls(client)
    assert record["fault"] == "hang" and record["latency_ms"] >= 200


async def test_constant_latency_delays_every_call(client: httpx.AsyncClient) -> None:
    await set_faults(client, latency_ms={"dist": "constant", "ms": 30})
    await client.post("/v1/events", json=event_body())
    await client.get("/v1/events")
    assert [c["latency_ms"] >= 30 for c in await calls(client)] == [True, True]


async def test_a_queue_makes_concurrent_calls_wait_for_a_server(client: httpx.AsyncClient) -> None:
    await set_faults(
        client,
        latency_ms={"dist": "queue", "servers": 1, "service": {"dist": "constant", "ms": 60}},
    )
    await asyncio.gather(*(client.get("/v1/events", params={"n": n}) for n in range(3)))
    latencies = sorted(c["latency_ms"] for c in await calls(client))
    # One server: the third call waits for two others; waiting can only add time.
    assert latencies[0] >= 60 and latencies[2] >= 180


async def test_the_call_log_counts_attempts_per_operation_and_key(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        await client.post("/v1/events", json=event_body(), headers={"Idempotency-Key": "a"})
    await client.post("/v1/events", json=event_body(hour=12))
    await client.get("/v1/events")
    log = await calls(client)
    assert [(c["op"], c["key_source"], c["attempt"], c["status"]) for c in log] == [
        ("create", "header", 1, 201),
        ("create", "header", 2, 200),
        ("create", "fingerprint", 1, 201),
        ("list", "fingerprint", 1, 200),
    ]
    assert log[0]["key"] == "a" and log[0]["idempotency_key"] == "a"
    assert log[2]["idempotency_key"] is None and log[2]["key"].startswith("fp:")
    assert log[0]["method"] == "POST" and log[0]["path"] == "/v1/events"
    assert all(c["fault"] is None for c in log)
    assert [c["seq"] for c in log] == [1, 2, 3, 4]
    assert all(isinstance(c["time"], float) and c["latency_ms"] >= 0 for c in log)


async def test_the_same_requests_meet_the_same_faults_in_any_order() -> None:
    keys = [f"k{n}" for n in range(30)]

    async def statuses(order: list[str]) -> dict[str, int]:
        transport = httpx.ASGITransport(app=create_app(seed=11))
        async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
            await set_faults(client, error_rate=0.5)
            seen = {}
            for key in order:
                response = await client.post(
                    "/v1/events", json=event_body(), headers={"Idempotency-Key": key}
                )
                seen[key] = response.status_code
            return seen

    forwards = await statuses(keys)
    assert set(forwards.values()) == {201, 503}
    assert await statuses(list(reversed(keys))) == forwards


async def test_event_ids_repeat_for_the_same_seed() -> None:
    async def first_id(seed: int) -> str:
        transport = httpx.ASGITransport(app=create_app(seed=seed))
        async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
            response = await client.post(
                "/v1/events", json=event_body(), headers={"Idempotency-Key": "k"}
            )
            event_id: str = response.json()["id"]
            return event_id

    assert await first_id(3) == await first_id(3)
    assert await first_id(3) != await first_id(4)


async def test_unknown_paths_answer_json_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/nothing")
    assert response.status_code == 404 and "error" in response.json()


async def test_commit_then_fail_on_delete_deletes_but_answers_500(
    client: httpx.AsyncClient,
) -> None:
    event = (await client.post("/v1/events", json=event_body())).json()
    await set_faults(client, commit_then_fail_rate=1.0)
    response = await client.delete(f"/v1/events/{event['id']}")
    assert response.status_code == 500
    assert await ground_truth(client) == []
    assert (await client.delete(f"/v1/events/{event['id']}")).status_code == 404
