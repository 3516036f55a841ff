"""The create flow in virtual time (and the read-only get and list): the twin of
`service/booking/create_flow.py`.

Theory of operation, as in the service. Transaction 1 claims the idempotency key
(`service.resilience.idempotency.decide`: replay, 409 in flight, 422 mismatch, recover after
the lease), inserts the appointment (booked, PENDING; 409 when the slot is taken) and an outbox
row held by this request until its deadline. Then the calendar is called through the gateway
(retry plan + breaker + deadline). Transaction 2 records the result: CONFIRMED (201); a permanent
refusal dead-letters the row and compensates (FAILED, 202); anything else leaves the row due
for the relay (PENDING, 202). The key completes with that answer. Crash points sit where the
service has them. The legacy switches (`Settings.protections`) take the same paths as there.

Each transaction's effects apply when it commits (after its wait), so concurrent requests see
one another in commit order. An answer is `(status, appointment id, external state, replayed)`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from service.resilience.deadline import Deadline
from service.resilience.idempotency import Decision, complete, decide, new_record
from service.resilience.lifecycle import AppointmentStatus, ExternalState
from service.resilience.outbox import after_attempt, first_attempt_at
from service.resilience.retry_plan import PlanStatus
from sim import settle
from sim.fast_paths import record_maker
from sim.state import CREATE_EVENT, Appointment, KeyEntry

_new_deadline = record_maker(Deadline)  # Deadline(start, budget_s), without the frozen __init__

if TYPE_CHECKING:
    from scenarios.workload import PlannedRequest
    from sim.host import ServiceHost

Answer = tuple[int, str | None, str | None, bool]

_INLINE_HOLD_MARGIN_S = 1.0  # as the service: the relay never races the request's own attempt
BOOKED = AppointmentStatus.BOOKED
CONFIRMED = ExternalState.CONFIRMED


def answer_for(appointment: Appointment) -> tuple[int, str, str]:
    """201 once the provider confirmed a booked appointment, else 202."""
    confirmed = appointment.status is BOOKED and appointment.external is CONFIRMED
    return (201 if confirmed else 202), appointment.id, appointment.external.value


def stored(status: int, appointment_id: str | None, external: str | None) -> str:
    """The response body a key record keeps (what a replay answers)."""
    return f"{appointment_id or ''}|{external or ''}"


def replayed(record_status: int | None, body: str | None) -> Answer:
    appointment_id, _, external = (body or "|").partition("|")
    return (record_status or 200), (appointment_id or None), (external or None), True


def create(
    host: ServiceHost, planned: PlannedRequest, fingerprint: str, request_id: str, arrived: float
) -> Generator[Any, Any, Answer]:
    env = host.env
    on = host.protections
    state = host.state
    key = planned.idempotency_key if on.idempotency_store else None
    if key is None and on.idempotency_store and host.settings.require_idempotency_key:
        return 422, None, None, False
    deadline = _new_deadline(arrived, host.deadline_s) if on.deadline else None
    body = planned.body
    assert body is not None
    resource_id = body["resource_id"]
    start = body["slot"]["start_time"]
    if not on.overlap_guard:
        # legacy: a check in code, in its own transaction: two requests can both pass it.
        yield env.timeout(host.timing.front(arrived, "create", write=False) - env.now)
        if state.slot_taken(resource_id, start):
            return 409, None, None, False
        yield env.timeout(host.timing.step(env.now, write=True) - env.now)
    else:
        yield env.timeout(host.timing.front(arrived, "create", write=True) - env.now)
    # -- transaction 1 commits now
    now = env.now
    policy = host.policies.idempotency
    if key is not None:
        entry = state.keys.get(key)
        decision = decide(entry.record if entry else None, fingerprint, now, policy)
        if decision is not Decision.PROCEED:
            return _repeat(host, key, entry, decision)
    if on.overlap_guard and state.slot_taken(resource_id, start):
        return 409, None, None, False  # the whole transaction rolls back, key claim included
    appointment_id = host.new_id()
    appointment = Appointment(
        appointment_id,
        resource_id,
        start,
        body["slot"]["end_time"],
        body.get("title") or body["service_type"],
        event_id=appointment_id if on.provider_key else None,
        key=key,
        request_id=request_id,
    )
    state.insert(appointment)
    if key is not None:
        state.keys[key] = KeyEntry(new_record(key, fingerprint, now, policy), appointment_id)
    request = settle.create_request(appointment, on.provider_key)
    row = None
    if on.outbox:
        row = state.enqueue(
            appointment_id,
            CREATE_EVENT,
            {"request": request, "event_id": appointment.event_id},
            due_at=first_attempt_at(now, host.policies.outbox),
            claimed_until=_inline_hold_until(host, now, deadline),
        )
    host.crash_point("after_db_commit_before_calendar")
    result, event_id = yield from host.gateway.call(
        request, deadline, host.policies.retry, appointment_id
    )
    host.crash_point("after_calendar_before_db_update")
    yield env.timeout(host.timing.step(env.now, write=True) - env.now)
    # -- transaction 2 commits now
    now = env.now
    event_id = event_id or appointment.event_id
    status = result.status
    if status is PlanStatus.SUCCEEDED and event_id is not None:
        settle.confirm(state, appointment, event_id, now, on.provider_key)
        if row is not None:
            state.complete(row, now)
    elif status is PlanStatus.PERMANENT:
        fate = after_attempt(1, status, now, host.policies.outbox, result.may_have_committed)
        if row is not None:
            error = f"{status.value}: {result.last.detail if result.last else ''}"
            state.record_failure(row, 1, None, error, result.ambiguous_seen)
        settle.compensate(
            state, appointment, fate.compensation, now, appointment.event_id, on.provider_key
        )
    elif row is not None:
        state.release(row, result.ambiguous_seen)
    answer = answer_for(appointment)
    if key is not None:
        entry = state.keys[key]
        entry.record = complete(entry.record, answer[0], stored(*answer))
    if answer[0] == 202:
        host.wake_relay()
    return answer[0], answer[1], answer[2], False


def _repeat(host: ServiceHost, key: str, entry: KeyEntry | None, decision: Decision) -> Answer:
    """The answer to a repeated key: replay, 422 mismatch, 409 in flight, or recover."""
    assert entry is not None
    if decision is Decision.REPLAY:
        return replayed(entry.record.response_status, entry.record.response_body)
    if decision is Decision.MISMATCH:
        return 422, None, None, False
    if decision is Decision.RECOVER:
        # The first request died mid-flight: answer from the appointment's state (the relay
        # finishes its calendar work) and complete the key with that answer.
        current = host.state.appointments.get(entry.appointment_id or "")
        if current is not None:
            answer = answer_for(current)
            entry.record = complete(entry.record, answer[0], stored(*answer))
            return answer[0], answer[1], answer[2], False
    return 409, None, None, False


def _inline_hold_until(host: ServiceHost, now: float, deadline: Deadline | None) -> float:
    if deadline is not None:
        return deadline.at + _INLINE_HOLD_MARGIN_S
    policy = host.policies.retry
    return now + policy.max_attempts * (policy.attempt_timeout_s + policy.backoff.cap_s)


def read(host: ServiceHost, planned: PlannedRequest, arrived: float) -> Generator[Any, Any, Answer]:
    """GET one appointment (200 with its state, 404) or a list (200): CPU and a read."""
    env = host.env
    yield env.timeout(host.timing.front(arrived, planned.operation, write=False) - env.now)
    if planned.operation == "list":
        return 200, None, None, False
    appointment_id = planned.path.rsplit("/", 1)[-1]
    appointment = host.state.appointments.get(appointment_id)
    if appointment is None or appointment.hold_for is not None:
        return 404, None, None, False
    return 200, appointment.id, appointment.external.value, False
