"""The read flows: one appointment (`GET /v1/appointments/{id}`) and a page of them.

Owns what a read answers: 200 with the appointment, 404 for an id the tenant does not have
(reschedule holds are not appointments), and keyset pages ordered by id. Written against the
store port, so the twin answers reads exactly as the service does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from service.booking.answers import Answer, appointment_answer, not_found
from service.booking.model import Appointment
from service.ports.context import Ports


async def get_appointment(ports: Ports, tenant_id: str, appointment_id: str) -> Answer:
    """200 with the appointment; BookingError 404 when this tenant has none by that id."""
    async with ports.store.read() as tx:
        appointment = await tx.get_appointment(tenant_id, appointment_id)
    if appointment is None:
        raise not_found(appointment_id)
    return appointment_answer(appointment, 200)


@dataclass(frozen=True)
class Page:
    items: Sequence[Appointment]
    next_after: str | None  # pass as `after` for the next page; None on the last one


async def list_appointments(
    ports: Ports,
    tenant_id: str,
    *,
    resource_id: str | None = None,
    window_from: dt.datetime | None = None,
    window_to: dt.datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page:
    """A tenant's appointments ordered by id, optionally of one resource and overlapping
    [window_from, window_to), after id `after`, at most `limit`."""
    async with ports.store.read() as tx:
        items = await tx.list_appointments(
            tenant_id,
            resource_id=resource_id,
            window_from=window_from,
            window_to=window_to,
            after=after,
            limit=limit,
        )
    return Page(items, items[-1].id if len(items) == limit else None)
