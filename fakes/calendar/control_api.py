"""The control API under `/_control/` (DESIGN.md §4): fault profile, ground truth, call log, reset.

Never faulted and never delayed: scripts and checkers read the truth through it while the events
API misbehaves. Thin routes over `FakeCalendar`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fakes.calendar.profile import ProfileError, parse_profile
from fakes.calendar.provider import CalendarDep
from fakes.calendar.schemas import event_to_json

router = APIRouter(prefix="/_control", tags=["control"])


@router.put("/faults")
async def put_faults(request: Request, calendar: CalendarDep) -> JSONResponse:
    """Replace the fault profile (omitted fields take their defaults) and return it.

    422 `{"error", "fields"}` naming each unknown field or bad value; the previous profile stays.
    """
    try:
        payload: Any = json.loads(await request.body())
    except ValueError as error:
        return JSONResponse(
            {"error": f"fault profile must be a JSON object: {error}", "fields": []},
            status_code=422,
        )
    try:
        profile = parse_profile(payload, default_seed=calendar.default_seed)
    except ProfileError as error:
        return JSONResponse({"error": str(error), "fields": error.fields}, status_code=422)
    calendar.set_profile(profile)
    return JSONResponse(profile.model_dump(mode="json"))


@router.get("/faults")
async def get_faults(calendar: CalendarDep) -> dict[str, Any]:
    """The fault profile in force."""
    return calendar.profile.model_dump(mode="json")


@router.get("/events")
async def get_ground_truth(calendar: CalendarDep) -> dict[str, Any]:
    """Every event the provider holds, in creation order, each with its idempotency key."""
    return {"events": [event_to_json(event) for event in calendar.store.all()]}


@router.get("/calls")
async def get_calls(calendar: CalendarDep) -> dict[str, Any]:
    """The call log: every completed events-API call in arrival order, and the calls in flight."""
    return {
        "calls": [record.to_json() for record in calendar.calls.records()],
        "in_flight": calendar.calls.in_flight,
    }


@router.post("/reset")
async def reset(calendar: CalendarDep) -> dict[str, Any]:
    """Forget events, calls and attempt counters; the default profile is back in force."""
    calendar.reset()
    return {"reset": True, "faults": calendar.profile.model_dump(mode="json")}
