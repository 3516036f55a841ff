"""The appointment lifecycle: one transition table for (status, external_state).

Pure data and one lookup. `status` is the booking's own lifecycle (booked, cancelled, failed);
`external_state` is where the provider side stands (PENDING until the calendar confirms or the
outbox gives up). For a cancelled appointment, CONFIRMED means the provider event is gone.
"""

from __future__ import annotations

from enum import Enum


class AppointmentStatus(Enum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    FAILED = "failed"

    # Members are singletons: identity hashing is exact, and C-level (Enum's own hashes the
    # name in Python, three times per lookup in TRANSITIONS, on every flow step).
    __hash__ = object.__hash__


class ExternalState(Enum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"

    __hash__ = object.__hash__


class LifecycleEvent(Enum):
    CALENDAR_CONFIRMED = "calendar_confirmed"  # the provider holds the event
    CALENDAR_FAILED = "calendar_failed"  # dead-lettered: compensation follows
    CANCEL_REQUESTED = "cancel_requested"
    CALENDAR_RELEASED = "calendar_released"  # the provider event of a cancelled one is gone
    RESCHEDULE_REQUESTED = "reschedule_requested"

    __hash__ = object.__hash__


B, C, F = AppointmentStatus.BOOKED, AppointmentStatus.CANCELLED, AppointmentStatus.FAILED
PEND, CONF, FAIL = ExternalState.PENDING, ExternalState.CONFIRMED, ExternalState.FAILED
E = LifecycleEvent

State = tuple[AppointmentStatus, ExternalState]

TRANSITIONS: dict[tuple[State, LifecycleEvent], State] = {
    ((B, PEND), E.CALENDAR_CONFIRMED): (B, CONF),
    ((B, CONF), E.CALENDAR_CONFIRMED): (B, CONF),
    ((B, PEND), E.CALENDAR_FAILED): (F, FAIL),
    ((B, PEND), E.CANCEL_REQUESTED): (C, PEND),
    ((B, CONF), E.CANCEL_REQUESTED): (C, PEND),
    ((C, PEND), E.CANCEL_REQUESTED): (C, PEND),
    ((C, CONF), E.CANCEL_REQUESTED): (C, CONF),
    ((C, PEND), E.CALENDAR_RELEASED): (C, CONF),
    ((C, PEND), E.CALENDAR_CONFIRMED): (
        C,
        PEND,
    ),  # a late confirm of a cancelled one: still to delete
    ((B, CONF), E.RESCHEDULE_REQUESTED): (B, PEND),
    ((B, PEND), E.RESCHEDULE_REQUESTED): (B, PEND),
}


class InvalidTransition(ValueError):
    pass


def transition(state: State, event: LifecycleEvent) -> State:
    """The state after `event`, or InvalidTransition naming both."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        status, external = state
        raise InvalidTransition(
            f"appointment in ({status.value}, {external.value}) cannot take {event.value}"
        ) from None


def can(state: State, event: LifecycleEvent) -> bool:
    return (state, event) in TRANSITIONS
