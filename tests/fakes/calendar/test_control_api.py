"""The control API (DESIGN.md §4) as scripts use it: profile in and out, reset, rejections."""

from __future__ import annotations

import httpx

from fakes.calendar.app import create_app


async def test_put_returns_the_profile_in_force_with_defaults_filled(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/_control/faults", json={"error_rate": 0.2, "retry_after_s": 1})
    assert response.status_code == 200
    profile = response.json()
    assert profile["error_rate"] == 0.2 and profile["retry_after_s"] == 1
    assert profile["seed"] == 1 and profile["honour_idempotency"] is True
    assert profile["latency_ms"] == {"dist": "constant", "ms": 0.0}
    assert (await client.get("/_control/faults")).json() == profile


async def test_put_replaces_the_whole_profile(client: httpx.AsyncClient) -> None:
    await client.put("/_control/faults", json={"error_rate": 0.2})
    profile = (await client.put("/_control/faults", json={"hang_rate": 0.1})).json()
    assert profile["error_rate"] == 0.0 and profile["hang_rate"] == 0.1


async def test_an_omitted_seed_is_the_fakes_seed() -> None:
    transport = httpx.ASGITransport(app=create_app(seed=77))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        assert (await client.get("/_control/faults")).json()["seed"] == 77
        assert (await client.put("/_control/faults", json={})).json()["seed"] == 77


async def test_an_unknown_field_is_422_naming_it_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.put("/_control/faults", json={"error_rate": 0.3})).json()
    response = await client.put("/_control/faults", json={"error_rate": 0.9, "eror_rate": 0.1})
    assert response.status_code == 422
    assert response.json()["fields"] == ["eror_rate"]
    assert "eror_rate" in response.json()["error"]
    assert (await client.get("/_control/faults")).json() == before


async def test_a_bad_value_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/_control/faults", json={"latency_ms": {"dist": "uniform", "low_ms": -1, "high_ms": 5}}
    )
    assert response.status_code == 422
    assert response.json()["fields"] == ["latency_ms.low_ms"]
    assert (await client.get("/_control/faults")).json()["latency_ms"]["dist"] == "constant"


async def test_a_body_that_is_not_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.put("/_control/faults", content=b"{error_rate: 1")
    assert response.status_code == 422 and "JSON object" in response.json()["error"]


async def test_reset_forgets_events_calls_attempts_and_faults(client: httpx.AsyncClient) -> None:
    await client.put("/_control/faults", json={"honour_idempotency": False, "seed": 5})
    for _ in range(2):
        await client.post(
            "/v1/events",
            json={
                "calendar_id": "c",
                "start": "2030-01-01T10:00:00Z",
                "end": "2030-01-01T11:00:00Z",
            },
            headers={"Idempotency-Key": "k"},
        )
    assert len((await client.get("/_control/events")).json()["events"]) == 2

    response = await client.post("/_control/reset")
    assert response.status_code == 200
    assert (await client.get("/_control/events")).json() == {"events": []}
    assert (await client.get("/_control/calls")).json() == {"calls": [], "in_flight": 0}
    profile = (await client.get("/_control/faults")).json()
    assert profile["seed"] == 1 and profile["honour_idempotency"] is True

    await client.post(
        "/v1/events",
        json={"calendar_id": "c", "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"},
        headers={"Idempotency-Key": "k"},
    )
    (record,) = (await client.get("/_control/calls")).json()["calls"]
    assert record["attempt"] == 1 and record["seq"] == 1


async def test_control_calls_are_not_in_the_call_log(client: httpx.AsyncClient) -> None:
    await client.get("/_control/faults")
    await client.get("/_control/events")
    assert (await client.get("/_control/calls")).json() == {"calls": [], "in_flight": 0}
