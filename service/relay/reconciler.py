"""The reconciler: compares the provider's events with the database, heals orphans, flags drift.

Theory of operation (seed 004). Read the database first, then list the provider's events, so
anything the database shows as settled was settled before the listing. Then:
- an event no live appointment claims (not a booked appointment's `external_id`, not the target of
  open outbox work) and older than `reconcile_grace_s` before the database read is an orphan: it is
  deleted (the grace covers creates whose appointment committed just before the snapshot);
- a CONFIRMED, booked appointment whose event is missing and has no open outbox work gets a fresh
  create row (a new event id: the provider may remember the old one as deleted);
- an event whose calendar, start or end differs from its appointment is drift: counted and logged,
  not changed (which side is right is a human's call).
Reports counts. Run periodically by the app and the standalone relay, and on demand through
`POST /v1/admin/reconcile` or `python -m service.relay --reconcile-once`. Written against ports
(`service.ports`): the twin runs the same pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from service.booking.events import event_spec, spec_payload
from service.booking.model import Appointment
from service.ports.context import Ports
from service.ports.store import CREATE_EVENT, OutboxRow
from service.resilience.deadline import Deadline
from service.resilience.lifecycle import AppointmentStatus, ExternalState

log = logging.getLogger("service.reconciler")

_LIST_TIMEOUT_S = 10.0


@dataclass
class ReconcileReport:
    appointments: int = 0
    provider_events: int = 0
    orphans_found: int = 0
    orphans_deleted: int = 0
    missing_requeued: int = 0
    drift: int = 0
    drift_ids: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the pass did not run (provider unreachable)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reconciler:
    def __init__(self, ports: Ports) -> None:
        self.rt = ports

    async def run_forever(self) -> None:
        interval = self.rt.settings.reconcile_interval_s
        while True:
            await self.rt.clock.sleep(interval)
            try:
                report = await self.run_once()
                if report.orphans_found or report.missing_requeued or report.drift:
                    log.warning("reconciler healed or flagged", extra={"report": report.as_dict()})
            except Exception:
                log.exception("reconciler pass failed; retrying next interval")

    async def run_once(self) -> ReconcileReport:
        rt = self.rt
        report = ReconcileReport()
        async with rt.store.read() as tx:
            snapshot_at = rt.clock.now()
            appointments = await tx.all_appointments()
            open_rows = await tx.all_open_rows()
        try:
            events = await rt.gateway.list_events(_LIST_TIMEOUT_S)
        except Exception as exc:  # the provider is down: nothing to compare with
            report.skipped = f"provider events could not be listed: {type(exc).__name__}"
            return report
        report.appointments = len(appointments)
        report.provider_events = len(events)
        live = {
            a.external_id: a
            for a in appointments
            if a.status is AppointmentStatus.BOOKED and a.external_id is not None
        }
        in_flight = _event_ids_with_open_work(open_rows) | {
            a.event_id
            for a in appointments
            if a.external_state is ExternalState.PENDING and a.event_id is not None
        }
        seen: set[str] = set()
        for event in events:
            event_id = str(event.get("id"))
            seen.add(event_id)
            owner = live.get(event_id)
            if owner is not None:
                if _drifted(owner, event):
                    report.drift += 1
                    report.drift_ids.append(owner.id)
                    log.warning(
                        "provider event drifted from its appointment", extra={"event_id": event_id}
                    )
                continue
            if event_id in in_flight or not _older_than(
                event, snapshot_at - rt.settings.reconcile_grace_s
            ):
                continue
            report.orphans_found += 1
            result = await rt.gateway.delete_event(
                event_id, f"reconcile-delete-{event_id}", Deadline(rt.clock.now(), 5.0)
            )
            if result.ok:
                report.orphans_deleted += 1
        busy = {row.appointment_id for row in open_rows}
        for appointment in live.values():
            if appointment.external_id not in seen and appointment.id not in busy:
                if await self._requeue_missing(appointment):
                    report.missing_requeued += 1
        return report

    async def _requeue_missing(self, stale: Appointment) -> bool:
        """Queue a fresh create for a confirmed appointment whose event vanished, if it is still
        confirmed with that event and nothing else is pending for it."""
        rt = self.rt
        async with rt.store.write() as tx:
            now = rt.clock.now()
            current = await tx.get_appointment(stale.tenant_id, stale.id, for_update=True)
            if (
                current is None
                or current.state != (AppointmentStatus.BOOKED, ExternalState.CONFIRMED)
                or current.external_id != stale.external_id
                or await tx.open_rows(current.id)
            ):
                return False
            new_event_id = rt.ids.new_id()
            spec = event_spec(current, rt.protections.provider_key, event_id=new_event_id)
            await tx.enqueue(
                tenant_id=current.tenant_id,
                appointment_id=current.id,
                event_type=CREATE_EVENT,
                payload=spec_payload(spec),
                due_at=now,
                now=now,
            )
        log.warning("provider event missing; re-creating it", extra={"event_id": stale.external_id})
        rt.relay_wakeup.set()
        return True


def _event_ids_with_open_work(rows: Iterable[OutboxRow]) -> set[str]:
    ids: set[str] = set()
    for row in rows:
        payload = row.payload.get("spec", row.payload)
        if payload.get("event_id"):
            ids.add(str(payload["event_id"]))
    return ids


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    with contextlib.suppress(ValueError):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _older_than(event: dict[str, Any], cutoff: float) -> bool:
    created = _parse_time(event.get("created_at"))
    return created is None or created.timestamp() <= cutoff


def _drifted(appointment: Appointment, event: dict[str, Any]) -> bool:
    return (
        event.get("calendar_id") != appointment.resource_id
        or _parse_time(event.get("start")) != appointment.start_time
        or _parse_time(event.get("end")) != appointment.end_time
    )
