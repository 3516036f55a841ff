"""The appointment as the flows see it: a frozen dataclass, changed only through the lifecycle.

Owns the in-memory shape of an appointment and `advance`, the one way its (status,
external_state) changes: through `service.resilience.lifecycle.transition`, so the transition
table stays the single source of truth. Knows nothing of SQL or HTTP.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from service.resilience.lifecycle import (
    AppointmentStatus,
    ExternalState,
    LifecycleEvent,
    State,
    transition,
)


@dataclass(frozen=True)
class Appointment:
    id: str
    tenant_id: str
    resource_id: str
    customer_id: str
    start_time: dt.datetime
    end_time: dt.datetime
    service_type: str
    title: str | None
    location: str | None
    owner_name: str | None
    owner_email: str | None
    metadata: dict[str, Any] | None
    status: AppointmentStatus
    external_state: ExternalState
    external_id: str | None
    event_id: str | None  # the id asked of the provider (None: the provider picks)
    version: int
    created_at: float
    updated_at: float

    @classmethod
    def make(cls, **fields: Any) -> Appointment:
        """`Appointment(**fields)` with every field named, without the frozen `__init__`'s
        `object.__setattr__` per field (a create makes one per request, in both drivers)."""
        if fields.keys() != _FIELD_NAMES:
            return cls(**fields)  # let the dataclass say what is missing or unknown
        made = _new_object(cls)
        made.__dict__.update(fields)
        return made

    @property
    def state(self) -> State:
        return (self.status, self.external_state)

    def advance(self, event: LifecycleEvent, **changes: Any) -> Appointment:
        """This appointment after lifecycle `event` (InvalidTransition if the table forbids it),
        with other fields `changes` applied."""
        status, external = transition(self.state, event)
        changes["status"] = status
        changes["external_state"] = external
        return self.evolve(**changes)

    def evolve(self, **changes: Any) -> Appointment:
        """A copy with `changes` applied (what `dataclasses.replace` does, without re-running
        the frozen `__init__` field by field: every flow step makes one, in both drivers)."""
        if not changes.keys() <= _FIELD_NAMES:
            unknown = sorted(changes.keys() - _FIELD_NAMES)
            raise TypeError(f"Appointment has no field(s) {unknown}")
        copy = _new_object(Appointment)
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields.update(changes)
        return copy

    @property
    def provider_event_id(self) -> str | None:
        """The provider event to delete for this appointment: the confirmed one, else the id it
        was created under (an ambiguous create may have made it)."""
        return self.external_id or self.event_id


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Appointment))
_new_object = object.__new__


@functools.lru_cache(maxsize=4096)
def isoformat_utc(value: dt.datetime) -> str:
    """`2025-12-03T10:00:00Z`: UTC, seconds precision unless there are fractions.

    Remembered for the last few thousand times (equal instants write the same UTC text): a
    booking's slot is written out for its fingerprint, its provider event and its answer."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def timestamp_iso(seconds: float) -> str:
    return isoformat_utc(dt.datetime.fromtimestamp(seconds, dt.UTC))
