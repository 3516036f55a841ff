"""The scripted driver: exact bursts where Locust's pacing is in the way.

E.g. 50 concurrent creates with one key, or 100 creates racing for one slot. Fires a list of
`PlannedRequest`s at once (all released together by a barrier) with httpx and returns event-log rows
in the same shape as the Locust profile writes. I/O: loopback HTTP; time: the wall clock for stamps.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from contract.workload import PlannedRequest, body_digest


async def fire_together(
    base_url: str,
    planned: Sequence[PlannedRequest],
    scenario: str,
    seed: int,
    api_key: str | None = None,
    timeout_s: float = 10.0,
) -> list[dict[str, Any]]:
    """Send every request at the same moment; one row per request, in `planned` order."""
    # One connection per request: the point is true concurrency, not pool reuse.
    limits = httpx.Limits(max_connections=len(planned), max_keepalive_connections=0)
    release = asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout_s) as client:

        async def one(request: PlannedRequest, number: int) -> dict[str, Any]:
            headers = {
                "X-Request-ID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scenario}/{seed}/{number}"))
            }
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
            if request.idempotency_key:
                headers["Idempotency-Key"] = request.idempotency_key
            await release.wait()
            started = time.time()
            status: int | None = None
            data: dict[str, Any] = {}
            replayed = False
            try:
                response = await client.request(
                    request.method, request.path, json=request.body, headers=headers
                )
                status = response.status_code
                replayed = response.headers.get("Idempotent-Replayed") == "true"
                if response.content:
                    parsed = response.json()
                    data = parsed if isinstance(parsed, dict) else {}
            except (httpx.HTTPError, ValueError):
                pass
            ended = time.time()
            return {
                "scenario": scenario,
                "seed": seed,
                "request_id": headers["X-Request-ID"],
                "client": request.client,
                "index": request.index,
                "idempotency_key": request.idempotency_key,
                "operation": request.operation,
                "replay_of": request.replay_of,
                "body_digest": body_digest(request.body),
                "start_wall": started,
                "end_wall": ended,
                "http_status": status,
                "expected_statuses": list(request.expected_statuses),
                "appointment_id": data.get("id"),
                "external_state": data.get("external_state"),
                "replayed": replayed,
            }

        tasks = [asyncio.create_task(one(r, n)) for n, r in enumerate(planned)]
        await asyncio.sleep(0.05)  # let every task reach the barrier
        release.set()
        return list(await asyncio.gather(*tasks))
