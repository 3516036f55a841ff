"""The events API routes (docs/provider_api.md): create, get, delete, list.

Thin: each route names its call (`request_keys`), says what its work is, and hands both to
`call_handling.handle_call`, which applies the fault profile. Bodies and query strings are parsed
inside the work, after the outage check, so a provider in outage answers 503 to everything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from starlette.responses import Response

from fakes.calendar.call_handling import CallContext, Reply, handle_call
from fakes.calendar.fault_rules import Operation
from fakes.calendar.provider import CalendarDep
from fakes.calendar.request_keys import key_for_create, key_for_request
from fakes.calendar.schemas import EventCreate, event_to_json

router = APIRouter(prefix="/v1/events", tags=["events"])
_AWARE_DATETIME = TypeAdapter(AwareDatetime)


def _invalid(error: ValidationError, where: str) -> Reply:
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        location = ".".join(str(part) for part in item["loc"])
        problems.append(f"{location}: {message}" if location else message)
    return Reply(422, {"error": f"invalid {where}: {'; '.join(problems)}"})


def _not_found(event_id: str) -> Reply:
    return Reply(404, {"error": f"no event with id {event_id!r}"})


@router.post("")
async def create_event(request: Request, calendar: CalendarDep) -> Response:
    """Create an event: 201; a repeat of a seen key or client id: 200 + `Idempotent-Replayed`."""
    body = await request.body()
    header_key = request.headers.get("idempotency-key") or None
    call_key = key_for_create(header_key, body)

    def work(context: CallContext) -> Reply:
        try:
            draft = EventCreate.model_validate_json(body).to_draft()
        except ValidationError as error:
            return _invalid(error, "event")
        event, replayed = calendar.store.create(
            draft,
            idempotency_key=header_key,
            generated_id=calendar.new_event_id(context.profile.seed, call_key.key, context.attempt),
            created_at=calendar.now(),
            honour_idempotency=context.profile.honour_idempotency,
        )
        if replayed:
            return Reply(200, event_to_json(event), {"Idempotent-Replayed": "true"}, event.id)
        return Reply(201, event_to_json(event), {}, event.id)

    return await handle_call(calendar, request, Operation.CREATE, call_key, work)


@router.get("/{event_id}")
async def get_event(event_id: str, request: Request, calendar: CalendarDep) -> Response:
    """One event: 200, or 404."""
    call_key = key_for_request(
        request.headers.get("idempotency-key"),
        "GET",
        request.url.path,
        request.query_params.items(),
    )

    def work(context: CallContext) -> Reply:
        event = calendar.store.get(event_id)
        if event is None:
            return _not_found(event_id)
        return Reply(200, event_to_json(event), {}, event.id)

    return await handle_call(calendar, request, Operation.GET, call_key, work)


@router.delete("/{event_id}")
async def delete_event(event_id: str, request: Request, calendar: CalendarDep) -> Response:
    """Delete an event: 204, or 404 when the provider does not hold it."""
    call_key = key_for_request(
        request.headers.get("idempotency-key"), "DELETE", request.url.path, ()
    )

    def work(context: CallContext) -> Reply:
        if not calendar.store.delete(event_id):
            return _not_found(event_id)
        return Reply(204, None, {}, event_id)

    return await handle_call(calendar, request, Operation.DELETE, call_key, work)


@router.get("")
async def list_events(request: Request, calendar: CalendarDep) -> Response:
    """Events, optionally on one `calendar_id` and overlapping [`from`, `to`): 200 `{"events"}`."""
    query = request.query_params
    call_key = key_for_request(
        request.headers.get("idempotency-key"), "GET", request.url.path, query.items()
    )

    def work(context: CallContext) -> Reply:
        bounds: dict[str, datetime | None] = {"from": None, "to": None}
        for name in bounds:
            raw = query.get(name)
            if raw is None:
                continue
            try:
                bounds[name] = _AWARE_DATETIME.validate_python(raw).astimezone(UTC)
            except ValidationError as error:
                return _invalid(error, f"query parameter '{name}' (ISO 8601 with timezone)")
        events = calendar.store.query(query.get("calendar_id"), bounds["from"], bounds["to"])
        return Reply(200, {"events": [event_to_json(event) for event in events]})

    return await handle_call(calendar, request, Operation.LIST, call_key, work)
