"""The service's calendar client in virtual time: `service.calendar.contract.CalendarClient` over
the modelled path to the provider (`sim.calendar_link`).

Owns what the HTTP clients own in the service — turning an `EventSpec` or a delete into the call
the provider sees, and the call's answer into a `CallResult` — and nothing the gateway owns: no
retries, no breaker, no deadline (the service's own `CalendarGateway` runs the retry plan over
this client in the twin). The request as the provider keys it follows the real client's wire
format: the `Idempotency-Key` header and body id when the spec carries them, else a fingerprint
of the JSON body the client would send (`fakes.calendar.request_keys`). `list_events` answers
the provider's ground truth after a round trip, or fails while the proxy is down.
Time: the environment; randomness: the network path's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fakes.calendar.fault_rules import Operation
from fakes.calendar.request_keys import key_for_create, key_for_request
from fakes.calendar.store import EventDraft
from service.calendar.contract import EVENTS_PATH, CallResult, EventSpec, create_body
from service.resilience.outcomes import OutcomeKind
from service.resilience.records import record_maker
from sim.calendar_link import CalendarLink, Confirmation
from sim.fast_paths import iso_utc, written_as_iso_utc
from sim.flow_driver import run_generator, wait
from sim.provider import ProviderRequest

OK = OutcomeKind.OK
_new_draft = record_maker(EventDraft)
_new_result = record_maker(CallResult)  # CallResult(outcome, status, body)


class ProviderUnreachable(ConnectionError):
    """The proxy refused the connection (the network path is down)."""


class SimCalendarClient:
    def __init__(self, link: CalendarLink) -> None:
        self.link = link

    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult:
        confirmation = Confirmation()
        outcome = await run_generator(
            self.link.call(self._create_request(spec), timeout_s, confirmation)
        )
        if outcome.kind is OK:
            return _new_result(outcome, 201, {"id": confirmation.event_id})
        return _new_result(outcome, None, None)

    async def delete_event(self, event_id: str, key: str | None, timeout_s: float) -> CallResult:
        path = f"{EVENTS_PATH}/{event_id}"
        call_key = key if key is not None else key_for_request(None, "DELETE", path, ()).key
        request = ProviderRequest(
            Operation.DELETE, "DELETE", path, call_key, key, event_id=event_id
        )
        outcome = await run_generator(self.link.call(request, timeout_s, Confirmation()))
        return _new_result(outcome, None, None)

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        link = self.link
        env = link.env
        if link.network.down:
            await wait(env.timeout(min(link.refused_s, timeout_s)))
            raise ProviderUnreachable("connection refused")
        await wait(env.timeout(2 * link.network.one_way_s))
        return [
            {
                "id": event.id,
                "calendar_id": event.calendar_id,
                "start": iso_utc(event.start),
                "end": iso_utc(event.end),
                "summary": event.summary,
                "idempotency_key": event.idempotency_key,
                "created_at": iso_utc(event.created_at),
            }
            for event in link.provider.store.all()
        ]

    async def aclose(self) -> None:
        return None

    def _create_request(self, spec: EventSpec) -> ProviderRequest:
        identity = spec.event_id
        # EventDraft(calendar_id, start, end, summary, client_id)
        draft = _new_draft(
            spec.calendar_id,
            datetime.fromisoformat(spec.start),
            datetime.fromisoformat(spec.end),
            spec.summary,
            identity,
        )
        if spec.key is not None:
            key = spec.key
        elif identity is not None:
            key = identity
        else:  # no header, no id: the provider names the call by a fingerprint of the body
            key = key_for_create(None, json.dumps(create_body(spec)).encode()).key
        # The body carries the slot as text; the provider's events list writes it back the same.
        start, end = spec.start, spec.end
        times = (start, end) if written_as_iso_utc(start) and written_as_iso_utc(end) else None
        return ProviderRequest(
            Operation.CREATE, "POST", EVENTS_PATH, key, spec.key, draft=draft, times=times
        )
