"""The outbox relay in virtual time: the twin of `service/relay/outbox_relay.py`.

Theory of operation, as in the service. Each pass claims up to `relay_batch` due rows in a write
transaction (a lease of `relay_lease_s`), then handles them concurrently (one SimPy process per
row). A handler calls the provider through the incarnation's gateway with the relay's policy,
bounded by `relay_budget_s`, with the row's own event id and key, then records the fate in a
write transaction by `service.resilience.outbox.after_attempt`: confirm (or release, or switch a
reschedule), retry later, or dead-letter and compensate. While the breaker is open nothing is
claimed; a pass refused by the breaker before any call does not count as an attempt. A pass
that handled rows is followed by another at once; an empty one waits for `relay_poll_s` or a
wake-up from a request that answered 202.
Crash points `relay_after_claim` and `relay_after_calendar_before_mark` sit at the same seams.
A crash interrupts the relay and its handlers; the next incarnation starts a new relay.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from service.resilience.deadline import Deadline
from service.resilience.outbox import OutboxAction, after_attempt
from service.resilience.retry_plan import PlanResult, PlanStatus
from sim import settle
from sim.crash_points import ServiceCrashed
from sim.fast_paths import record_maker
from sim.state import CREATE_EVENT, DELETE_EVENT, RESCHEDULE_EVENT, Appointment, OutboxRow

_new_deadline = record_maker(Deadline)  # Deadline(start, budget_s): one per row and pass

if TYPE_CHECKING:
    from sim.host import ServiceHost


class SimRelay:
    """One incarnation's relay: a polling process and the handlers of its current pass."""

    def __init__(self, host: ServiceHost) -> None:
        self.host = host
        self.env = host.env
        self.handlers: list[simpy.Process] = []
        self.process = self.env.process(self.run())

    def stop(self, active: simpy.Process | None) -> None:
        """The process died: interrupt the relay and every handler still running."""
        for process in [self.process, *self.handlers]:
            if process is not active and process.is_alive:
                process.interrupt("crash")

    def run(self) -> Generator[Any, Any, None]:
        host = self.host
        env = self.env
        settings = host.settings
        try:
            while True:
                breaker = host.breaker
                if breaker is not None and breaker.refusing(env.now):
                    # As the service: nothing is claimed while every call would be refused.
                    yield host.relay_wakeup() | env.timeout(settings.relay_poll_s)
                    continue
                yield env.timeout(host.timing.step(env.now, write=True) - env.now)
                rows = host.state.claim_due(env.now, settings.relay_lease_s, settings.relay_batch)
                if rows:
                    host.crash_point("relay_after_claim")
                    self.handlers = [env.process(self.handle(row)) for row in rows]
                    yield env.all_of(self.handlers)
                    continue
                wakeup = host.relay_wakeup()
                yield wakeup | env.timeout(settings.relay_poll_s)
        except (simpy.Interrupt, ServiceCrashed):
            return

    def handle(self, row: OutboxRow) -> Generator[Any, Any, None]:
        host = self.host
        env = self.env
        try:
            result, event_id = yield from self._call(row)
            if result.status is PlanStatus.SUCCEEDED:
                host.crash_point("relay_after_calendar_before_mark")
            yield env.timeout(host.timing.step(env.now, write=True) - env.now)
            self._record(row, result, event_id)
        except (simpy.Interrupt, ServiceCrashed):
            return

    def _call(self, row: OutboxRow) -> Generator[Any, Any, tuple[PlanResult, str | None]]:
        host = self.host
        deadline = (
            _new_deadline(self.env.now, host.settings.relay_budget_s)
            if host.protections.deadline
            else None
        )
        appointment_id = row.appointment_id if row.event_type == CREATE_EVENT else None
        return (
            yield from host.gateway.call(
                row.payload["request"], deadline, host.policies.relay_retry, appointment_id
            )
        )

    def _record(self, row: OutboxRow, result: PlanResult, event_id: str | None) -> None:
        host = self.host
        state = host.state
        now = self.env.now
        appointment = state.appointments.get(row.appointment_id)
        if appointment is None:
            return
        is_open = row.is_open
        if result.status is PlanStatus.SUCCEEDED:
            self._succeeded(row, appointment, event_id, now, is_open)
            return
        if not is_open:
            return  # superseded meanwhile (a cancel): nothing left to schedule
        ambiguous = row.ambiguous_seen or result.ambiguous_seen
        error = result.status.value
        policy = host.policies.outbox
        if result.status is PlanStatus.BREAKER_OPEN and result.attempts == 0:
            next_at = now + policy.delay_before(row.attempts + 1)
            state.record_failure(row, row.attempts, next_at, error, ambiguous)
            return
        attempts = row.attempts + 1
        may_exist = ambiguous or result.may_have_committed
        decision = after_attempt(attempts, result.status, now, policy, may_exist)
        state.record_failure(row, attempts, decision.next_attempt_at, error, ambiguous)
        if decision.action is not OutboxAction.DEAD_LETTER:
            return
        provider_key = host.protections.provider_key
        if row.event_type == CREATE_EVENT:
            settle.compensate(
                state,
                appointment,
                decision.compensation,
                now,
                row.payload["event_id"],
                provider_key,
            )
        elif row.event_type == RESCHEDULE_EVENT:
            settle.compensate_reschedule(state, appointment, row, may_exist, now, provider_key)
        # A dead-lettered delete leaves an orphan event: the reconciler's job (not modelled).

    def _succeeded(
        self,
        row: OutboxRow,
        appointment: Appointment,
        event_id: str | None,
        now: float,
        is_open: bool,
    ) -> None:
        host = self.host
        state = host.state
        provider_key = host.protections.provider_key
        payload = row.payload
        if row.event_type == DELETE_EVENT:
            if is_open:
                state.complete(row, now)
            if payload["reason"] == "cancel":
                settle.released(state, appointment)
            return
        event_id = event_id or payload["event_id"]
        if row.event_type == RESCHEDULE_EVENT:
            if is_open:
                settle.switch(state, appointment, row, event_id, now, provider_key)
                state.complete(row, now)
            elif appointment.external_id != event_id:
                settle.enqueue_delete(
                    state,
                    appointment,
                    event_id,
                    now,
                    "reschedule_abandoned",
                    provider_key,
                    payload["saga_id"],
                )
            return
        if event_id is not None:
            settle.confirm(state, appointment, event_id, now, provider_key)
        if is_open:
            state.complete(row, now)
