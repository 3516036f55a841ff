"""The appointment routes (DESIGN §3). Thin: parse, resolve key and tenant, call a flow, render.

`POST /v1/appointments` (201 CONFIRMED, 202 PENDING/FAILED, 409 slot taken or key in flight,
422 bad input or key reused), `GET /v1/appointments/{id}`, `GET /v1/appointments` (filters
`resource_id`, `from`, `to`; keyset paging with `after` and `limit`), `POST .../cancel`,
`POST .../reschedule`. Every status a route can answer is declared on it (`service.api.openapi`).

Values no appointment can have stop here, before a flow or a query sees them, so both databases
answer alike: a path id longer than an id (36 characters) or holding NUL is a 404; a list filter
holding NUL matches nothing. (PostgreSQL refuses NUL in text and a key row cannot hold a longer
id: both were 503s there, while SQLite answered.)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from service.api import openapi
from service.api.deps import CallerDep, IdempotencyKeyHeader, resolve_idempotency_key
from service.booking import read_flow
from service.booking.answers import Answer, BookingError, not_found
from service.booking.cancel_flow import CancelFlow
from service.booking.commands import CancelCommand, CreateCommand, RescheduleCommand
from service.booking.create_flow import CreateFlow
from service.booking.reschedule_saga import RescheduleSaga
from service.schemas import (
    AppointmentCreate,
    AppointmentPage,
    AppointmentPublic,
    CancelRequest,
    RescheduleRequest,
)

router = APIRouter(prefix="/v1/appointments", tags=["appointments"])

MAX_PAGE = 500
# Appointment ids are UUIDs; the key, outbox and saga rows hold them in 36-character columns.
MAX_ID_LENGTH = 36


def storable(value: str) -> bool:
    """Could `value` equal a stored id or resource id? Not with NUL: no stored text holds one."""
    return "\x00" not in value


def checked_id(appointment_id: str) -> str:
    """The path id, or a 404 when no appointment can have it."""
    if len(appointment_id) > MAX_ID_LENGTH or not storable(appointment_id):
        raise not_found(appointment_id)
    return appointment_id


def respond(answer: Answer) -> JSONResponse:
    headers = dict(answer.headers)
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.post(
    "", status_code=201, response_model=AppointmentPublic, responses=openapi.CREATE_ANSWERS
)
async def create_appointment(
    body: AppointmentCreate,
    caller: CallerDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    key = resolve_idempotency_key(caller.runtime, idempotency_key, body.idempotency_key)
    command = CreateCommand(
        tenant_id=caller.tenant,
        resource_id=body.resource_id,
        customer_id=str(body.customer_id),
        start_time=body.slot.start_time,
        end_time=body.slot.end_time,
        service_type=body.service_type,
        title=body.title,
        location=body.location,
        owner_name=body.owner.name if body.owner else None,
        owner_email=body.owner.email if body.owner else None,
        metadata=body.metadata,
    )
    flow = CreateFlow(caller.runtime)
    return respond(await flow.run(command, key, caller.started_at))


@router.get("/{appointment_id}", response_model=AppointmentPublic, responses=openapi.GET_ANSWERS)
async def get_appointment(appointment_id: str, caller: CallerDep) -> JSONResponse:
    checked_id(appointment_id)
    # Rendered here, as the flows' answers are: FastAPI would validate the model a second time.
    return respond(await read_flow.get_appointment(caller.runtime, caller.tenant, appointment_id))


def _parse_bound(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise BookingError(
            422,
            "validation_failed",
            f"{name} must be an ISO 8601 time with a zone, e.g. 2030-01-07T08:00:00Z",
            field_name=name,
        )
    return parsed


@router.get("", response_model=AppointmentPage, responses=openapi.LIST_ANSWERS)
async def list_appointments(
    caller: CallerDep,
    resource_id: str | None = None,
    window_from: Annotated[str | None, Query(alias="from")] = None,
    window_to: Annotated[str | None, Query(alias="to")] = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AppointmentPage:
    start = _parse_bound("from", window_from)
    end = _parse_bound("to", window_to)
    if not all(storable(value) for value in (resource_id, after) if value is not None):
        # No resource id holds NUL, and no `next_after` the service hands out does either.
        return AppointmentPage(items=[], next_after=None)
    page = await read_flow.list_appointments(
        caller.runtime,
        caller.tenant,
        resource_id=resource_id,
        window_from=start,
        window_to=end,
        after=after,
        limit=limit,
    )
    items = [AppointmentPublic.of(a) for a in page.items]
    return AppointmentPage(items=items, next_after=page.next_after)


@router.post(
    "/{appointment_id}/cancel", response_model=AppointmentPublic, responses=openapi.CANCEL_ANSWERS
)
async def cancel_appointment(
    appointment_id: str,
    caller: CallerDep,
    body: CancelRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    request = body or CancelRequest()
    key = resolve_idempotency_key(caller.runtime, idempotency_key, request.idempotency_key)
    checked_id(appointment_id)
    command = CancelCommand(caller.tenant, appointment_id, request.reason)
    return respond(await CancelFlow(caller.runtime).run(command, key))


@router.post(
    "/{appointment_id}/reschedule",
    response_model=AppointmentPublic,
    responses=openapi.RESCHEDULE_ANSWERS,
)
async def reschedule_appointment(
    appointment_id: str,
    body: RescheduleRequest,
    caller: CallerDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    key = resolve_idempotency_key(caller.runtime, idempotency_key, body.idempotency_key)
    checked_id(appointment_id)
    command = RescheduleCommand(
        caller.tenant, appointment_id, body.slot.start_time, body.slot.end_time
    )
    saga = RescheduleSaga(caller.runtime)
    return respond(await saga.run(command, key, caller.started_at))
