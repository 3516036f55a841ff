"""The appointment lifecycle: every entry of the transition table, and a clear refusal for
anything else."""

from __future__ import annotations

import itertools

import pytest

from service.resilience.lifecycle import (
    TRANSITIONS,
    AppointmentStatus,
    ExternalState,
    InvalidTransition,
    LifecycleEvent,
    State,
    can,
    transition,
)

BOOKED, CANCELLED, FAILED = AppointmentStatus
PENDING, CONFIRMED, EXT_FAILED = ExternalState
E = LifecycleEvent

# The lifecycle as the API promises it, written out independently of the module's table.
EXPECTED: dict[tuple[State, LifecycleEvent], State] = {
    # The provider confirms a booking (again, when a retry's confirm arrives twice).
    ((BOOKED, PENDING), E.CALENDAR_CONFIRMED): (BOOKED, CONFIRMED),
    ((BOOKED, CONFIRMED), E.CALENDAR_CONFIRMED): (BOOKED, CONFIRMED),
    # The outbox gave up: the booking failed.
    ((BOOKED, PENDING), E.CALENDAR_FAILED): (FAILED, EXT_FAILED),
    # Cancelling leaves the provider event to delete; cancelling twice changes nothing.
    ((BOOKED, PENDING), E.CANCEL_REQUESTED): (CANCELLED, PENDING),
    ((BOOKED, CONFIRMED), E.CANCEL_REQUESTED): (CANCELLED, PENDING),
    ((CANCELLED, PENDING), E.CANCEL_REQUESTED): (CANCELLED, PENDING),
    ((CANCELLED, CONFIRMED), E.CANCEL_REQUESTED): (CANCELLED, CONFIRMED),
    # The provider event of a cancelled appointment is gone.
    ((CANCELLED, PENDING), E.CALENDAR_RELEASED): (CANCELLED, CONFIRMED),
    # A confirm that arrives after the cancel: the event still has to be deleted.
    ((CANCELLED, PENDING), E.CALENDAR_CONFIRMED): (CANCELLED, PENDING),
    # A reschedule sends the booking back to the provider.
    ((BOOKED, CONFIRMED), E.RESCHEDULE_REQUESTED): (BOOKED, PENDING),
    ((BOOKED, PENDING), E.RESCHEDULE_REQUESTED): (BOOKED, PENDING),
}

ALL_STATES: list[State] = list(itertools.product(AppointmentStatus, ExternalState))
INVALID = [
    (state, event)
    for state, event in itertools.product(ALL_STATES, LifecycleEvent)
    if (state, event) not in EXPECTED
]


def _id(value: object) -> str:
    if isinstance(value, tuple):
        return "-".join(_id(part) for part in value)
    assert isinstance(value, LifecycleEvent | AppointmentStatus | ExternalState)
    return str(value.value)


def test_the_table_holds_exactly_the_expected_transitions() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("key", "target"), list(EXPECTED.items()), ids=_id)
def test_every_table_entry(key: tuple[State, LifecycleEvent], target: State) -> None:
    state, event = key

    assert can(state, event)
    assert transition(state, event) == target


@pytest.mark.parametrize(("state", "event"), INVALID, ids=_id)
def test_an_invalid_transition_names_the_state_and_the_event(
    state: State, event: LifecycleEvent
) -> None:
    status, external = state

    assert not can(state, event)
    with pytest.raises(InvalidTransition) as raised:
        transition(state, event)
    message = str(raised.value)
    assert f"({status.value}, {external.value})" in message
    assert event.value in message
    assert raised.value.__suppress_context__  # no KeyError chained under it


def test_an_invalid_transition_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        transition((FAILED, EXT_FAILED), E.CANCEL_REQUESTED)


def test_a_failed_booking_is_final() -> None:
    assert not any(can((FAILED, external), event) for external in ExternalState for event in E)


def test_cancel_is_idempotent_from_every_cancelled_state() -> None:
    for external in (PENDING, CONFIRMED):
        state = (CANCELLED, external)
        assert transition(state, E.CANCEL_REQUESTED) == state
