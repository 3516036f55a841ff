"""The service's HTTP layer in the twin: a planned request in, the flow's answer out.

Owns what `service/api/appointments.py` does around a flow, for the requests the load sends:
read the key from the request (`service.booking.keys.resolve_key`, the route's own rule), build
the command from the JSON body, call the service's flow, and turn its answer or refusal into what
the client records — (status, appointment id, external state, replayed). Bodies come from the
workload (`contract.workload`), already valid, so no schema validation is modelled; their text
is taken as the API's models would normalize it (UUIDs and times as the workload writes them).
Decides nothing: every answer is the flow's. Tenant: the service's default (the runner starts it
without API keys).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from service.booking import read_flow
from service.booking.answers import Answer, BookingError
from service.booking.cancel_flow import CancelFlow
from service.booking.commands import CancelCommand, CreateCommand, RescheduleCommand
from service.booking.create_flow import CreateFlow
from service.booking.keys import resolve_key
from service.booking.reschedule_saga import RescheduleSaga
from service.ports.context import Ports
from service.resilience.records import record_maker
from service.settings import Settings

if TYPE_CHECKING:
    from contract.workload import PlannedRequest

#: What a client records of an answer: (HTTP status, appointment id, external state, replayed).
Reply = tuple[int, str | None, str | None, bool]

CREATES = frozenset({"create", "replay", "conflict"})
_create_command = record_maker(CreateCommand)


class RequestFront:
    """The routes of one service process (one per incarnation: it holds that process's ports)."""

    def __init__(self, ports: Ports, settings: Settings) -> None:
        self.ports = ports
        self.settings = settings
        self.tenant = settings.default_tenant

    async def reply(self, planned: PlannedRequest, started_at: float) -> Reply:
        """Answer `planned`, which reached the service at `started_at` (the service's clock)."""
        try:
            if planned.operation in CREATES:  # most requests: no second coroutine on the way
                key = resolve_key(self.settings, planned.idempotency_key, None)
                command = self._create_command(planned.body or {})
                answer: Answer | None = await CreateFlow(self.ports).run(command, key, started_at)
            else:
                answer = await self._answer(planned, started_at)
        except BookingError as refusal:
            return refusal.status, None, None, False
        if answer is None:
            return 200, None, None, False
        return answer.status, answer.appointment_id, answer.external_state, answer.replayed

    async def _answer(self, planned: PlannedRequest, started_at: float) -> Answer | None:
        operation = planned.operation
        ports = self.ports
        if operation == "get":
            appointment_id = planned.path.rsplit("/", 1)[-1]
            return await read_flow.get_appointment(ports, self.tenant, appointment_id)
        if operation == "list":
            _, _, query = planned.path.partition("?")
            params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
            await read_flow.list_appointments(
                ports, self.tenant, resource_id=params.get("resource_id")
            )
            return None  # 200 with a page: the load records no appointment for a list
        appointment_id = planned.path.split("/")[3]
        key = resolve_key(self.settings, planned.idempotency_key, None)
        body = planned.body or {}
        if operation == "cancel":
            cancel = CancelCommand(self.tenant, appointment_id, body.get("reason"))
            return await CancelFlow(ports).run(cancel, key)
        slot = body["slot"]
        reschedule = RescheduleCommand(
            self.tenant,
            appointment_id,
            self._time(slot["start_time"]),
            self._time(slot["end_time"]),
        )
        return await RescheduleSaga(ports).run(reschedule, key, started_at)

    def _create_command(self, body: dict[str, Any]) -> CreateCommand:
        slot = body["slot"]
        owner = body.get("owner")
        return _create_command(
            self.tenant,
            body["resource_id"],
            body["customer_id"],
            self._time(slot["start_time"]),
            self._time(slot["end_time"]),
            body["service_type"],
            body.get("title"),
            body.get("location"),
            owner["name"] if owner else None,
            owner["email"] if owner else None,
            body.get("metadata"),
        )

    @staticmethod
    def _time(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
