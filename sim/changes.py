"""Cancel and reschedule in virtual time: the twins of `service/booking/cancel_flow.py` and
`service/booking/reschedule_saga.py`.

Cancel (one transaction): a cancelled one answers 200 again; a failed one 409; otherwise it
becomes (cancelled, PENDING), frees its slot, supersedes pending create and reschedule work
(compensating a reschedule) and queues the delete of its provider event, which the relay's
success releases. Reschedule: reserve the new slot with a hold and queue a reschedule row
(409 when not CONFIRMED yet or the slot is taken), create the new event inline within the
deadline (the saga id as event id and key), then switch (201-style 200) or leave it to the relay
(202), or compensate on a permanent refusal (409). Both are idempotent with their key.
Simplified: saga step records (`saga_steps`) are not kept. Answers as in `sim.booking`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from service.resilience.deadline import Deadline
from service.resilience.idempotency import Decision, complete, decide, new_record
from service.resilience.lifecycle import AppointmentStatus, ExternalState, LifecycleEvent, can
from service.resilience.outbox import first_attempt_at
from service.resilience.retry_plan import PlanStatus
from sim import settle
from sim.booking import Answer, replayed, stored
from sim.fast_paths import record_maker
from sim.state import CREATE_EVENT, RESCHEDULE_EVENT, Appointment, KeyEntry

_new_deadline = record_maker(Deadline)  # Deadline(start, budget_s), without the frozen __init__

if TYPE_CHECKING:
    from scenarios.workload import PlannedRequest
    from sim.host import ServiceHost

BOOKED = AppointmentStatus.BOOKED
CANCELLED = AppointmentStatus.CANCELLED
CONFIRMED = ExternalState.CONFIRMED


def cancel(
    host: ServiceHost, planned: PlannedRequest, fingerprint: str, arrived: float
) -> Generator[Any, Any, Answer]:
    env = host.env
    state = host.state
    on = host.protections
    yield env.timeout(host.timing.front(arrived, "cancel", write=True) - env.now)
    now = env.now
    appointment_id = planned.path.split("/")[3]
    key = planned.idempotency_key if on.idempotency_store else None
    fresh = _claim(host, key, fingerprint, appointment_id, now)
    if not isinstance(fresh, bool):
        return fresh
    current = state.appointments.get(appointment_id)
    if current is None or current.hold_for is not None:
        return _refuse(host, key, fresh, 404)
    if current.status is CANCELLED:
        return _finish(host, key, (200, current.id, current.external.value))
    if not can(current.state, LifecycleEvent.CANCEL_REQUESTED):
        return _refuse(host, key, fresh, 409)
    event_id = current.provider_event_id
    state.advance(current, LifecycleEvent.CANCEL_REQUESTED)
    for row in state.supersede(current.id, (CREATE_EVENT, RESCHEDULE_EVENT), now):
        if row.event_type == RESCHEDULE_EVENT:
            settle.compensate_reschedule(state, current, row, True, now, on.provider_key)
    if event_id is not None:
        settle.enqueue_delete(state, current, event_id, now, "cancel", on.provider_key)
    else:  # legacy: no event id was ever asked for or confirmed; nothing known to delete
        settle.released(state, current)
    host.wake_relay()
    return _finish(host, key, (200, current.id, current.external.value))


def reschedule(
    host: ServiceHost, planned: PlannedRequest, fingerprint: str, arrived: float
) -> Generator[Any, Any, Answer]:
    env = host.env
    state = host.state
    on = host.protections
    deadline = _new_deadline(arrived, host.deadline_s) if on.deadline else None
    yield env.timeout(host.timing.front(arrived, "reschedule", write=True) - env.now)
    now = env.now
    appointment_id = planned.path.split("/")[3]
    key = planned.idempotency_key if on.idempotency_store else None
    fresh = _claim(host, key, fingerprint, appointment_id, now)
    if not isinstance(fresh, bool):
        return fresh
    current = state.appointments.get(appointment_id)
    assert planned.body is not None
    new_start = planned.body["slot"]["start_time"]
    new_end = planned.body["slot"]["end_time"]
    if current is None or current.hold_for is not None:
        return _refuse(host, key, fresh, 404)
    if current.status is not BOOKED:
        return _refuse(host, key, fresh, 409)
    if current.start == new_start and current.end == new_end:
        return _finish(host, key, (200, current.id, current.external.value))
    if current.external is not CONFIRMED or state.slot_taken(current.resource_id, new_start):
        return _refuse(host, key, fresh, 409)
    saga_id = host.new_id()
    hold = Appointment(
        host.new_id(),
        current.resource_id,
        new_start,
        new_end,
        current.summary,
        event_id=None,
        key=None,
        request_id=None,
        hold_for=current.id,
    )
    state.insert(hold)
    old_event_id = current.provider_event_id
    state.advance(current, LifecycleEvent.RESCHEDULE_REQUESTED)
    moved = Appointment(
        current.id,
        current.resource_id,
        new_start,
        new_end,
        current.summary,
        event_id=None,
        key=None,
        request_id=None,
    )
    request = settle.create_request(moved, on.provider_key, event_id=saga_id)
    hold_until = (deadline.at if deadline else now + host.settings.unbounded_timeout_s) + 1.0
    payload = {
        "saga_id": saga_id,
        "hold_id": hold.id,
        "new_start": new_start,
        "new_end": new_end,
        "old_event_id": old_event_id,
        "request": request,
        "event_id": saga_id if on.provider_key else None,
    }
    row = state.enqueue(
        current.id,
        RESCHEDULE_EVENT,
        payload,
        due_at=first_attempt_at(now, host.policies.outbox),
        claimed_until=hold_until,
    )
    result, event_id = yield from host.gateway.call(request, deadline, host.policies.retry)
    yield env.timeout(host.timing.step(env.now, write=True) - env.now)
    now = env.now
    answer: tuple[int, str | None, str | None] = (202, current.id, current.external.value)
    if row.is_open:
        if result.status is PlanStatus.SUCCEEDED:
            settle.switch(state, current, row, event_id or saga_id, now, on.provider_key)
            state.complete(row, now)
            answer = (200, current.id, current.external.value)
        elif result.status is PlanStatus.PERMANENT:
            state.record_failure(row, 1, None, result.status.value, result.ambiguous_seen)
            settle.compensate_reschedule(
                state, current, row, result.may_have_committed, now, on.provider_key
            )
            answer = (409, None, None)
        else:
            state.release(row, result.ambiguous_seen)
    if answer[0] == 202:
        host.wake_relay()
    return _finish(host, key, answer)


def _claim(
    host: ServiceHost, key: str | None, fingerprint: str, appointment_id: str, now: float
) -> Answer | bool:
    """Claim the key inside the transaction: the answer to a repeat, else whether the claim is
    fresh (True) or takes over a dead request's key (False)."""
    if key is None:
        return False
    state = host.state
    policy = host.policies.idempotency
    entry = state.keys.get(key)
    decision = decide(entry.record if entry else None, fingerprint, now, policy)
    if decision is Decision.PROCEED:
        state.keys[key] = KeyEntry(new_record(key, fingerprint, now, policy), appointment_id)
        return True
    assert entry is not None
    if decision is Decision.REPLAY:
        return replayed(entry.record.response_status, entry.record.response_body)
    if decision is Decision.MISMATCH:
        return 422, None, None, False
    if decision is Decision.RECOVER:
        return False  # the first one died mid-flight: act again (its answer completes the key)
    return 409, None, None, False


def _finish(
    host: ServiceHost, key: str | None, answer: tuple[int, str | None, str | None]
) -> Answer:
    """Complete the key with the answer."""
    if key is not None:
        entry = host.state.keys.get(key)
        if entry is not None:
            entry.record = complete(entry.record, answer[0], stored(*answer))
    return answer[0], answer[1], answer[2], False


def _refuse(host: ServiceHost, key: str | None, fresh: bool, status: int) -> Answer:
    """A refusal rolls the transaction back, the key claim with it (a repeat decides again)."""
    if key is not None and fresh:
        del host.state.keys[key]
    return status, None, None, False
