"""The provider's ground truth: the events it holds and the idempotency keys they were created with.

In memory, no I/O; `created_at` and new event ids arrive from the caller (`FakeCalendar`), so the
store itself owns no clock and no randomness. Single-threaded by design: it is only touched from the
event loop, and no method awaits, so a check-then-insert cannot interleave with another request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EventDraft:
    """What a create request asks for (validated: start < end, both timezone-aware UTC)."""

    calendar_id: str
    start: datetime
    end: datetime
    summary: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Event:
    """An event the provider holds."""

    id: str
    calendar_id: str
    start: datetime
    end: datetime
    summary: str | None
    idempotency_key: str | None
    created_at: datetime


class EventStore:
    """Events by id, in creation order, plus the idempotency-key index that makes creates replayable."""

    def __init__(self) -> None:
        self._events: dict[str, Event] = {}
        self._id_by_key: dict[str, str] = {}

    def create(
        self,
        draft: EventDraft,
        *,
        idempotency_key: str | None,
        generated_id: str,
        created_at: datetime,
        honour_idempotency: bool,
    ) -> tuple[Event, bool]:
        """Create an event, or find the one this request already created; returns (event, replayed).

        With `honour_idempotency`, a create whose key (or client-supplied id) is already held
        returns that event and creates nothing, and a client-supplied id becomes the event's id.
        Without it, every create makes a new event with `generated_id`, as a provider that ignores
        keys and client ids would; the key is still recorded on the event for the ground truth.
        """
        if honour_idempotency:
            replayed = self._find_existing(idempotency_key, draft.client_id)
            if replayed is not None:
                return replayed, True
        event_id = generated_id
        if honour_idempotency and draft.client_id is not None:
            event_id = draft.client_id
        event = Event(
            id=event_id,
            calendar_id=draft.calendar_id,
            start=draft.start,
            end=draft.end,
            summary=draft.summary,
            idempotency_key=idempotency_key,
            created_at=created_at,
        )
        self._events[event.id] = event
        if honour_idempotency and idempotency_key is not None:
            self._id_by_key[idempotency_key] = event.id
        return event, False

    def _find_existing(self, idempotency_key: str | None, client_id: str | None) -> Event | None:
        if idempotency_key is not None and idempotency_key in self._id_by_key:
            return self._events[self._id_by_key[idempotency_key]]
        if client_id is not None:
            return self._events.get(client_id)
        return None

    def get(self, event_id: str) -> Event | None:
        return self._events.get(event_id)

    def delete(self, event_id: str) -> bool:
        """Remove an event and free its idempotency key; False when there was no such event."""
        event = self._events.pop(event_id, None)
        if event is None:
            return False
        if (
            event.idempotency_key is not None
            and self._id_by_key.get(event.idempotency_key) == event_id
        ):
            del self._id_by_key[event.idempotency_key]
        return True

    def query(
        self,
        calendar_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Event]:
        """Events on `calendar_id` (all when None) overlapping [start, end), by start then id."""
        found = [
            event
            for event in self._events.values()
            if (calendar_id is None or event.calendar_id == calendar_id)
            and (end is None or event.start < end)
            and (start is None or event.end > start)
        ]
        return sorted(found, key=lambda event: (event.start, event.id))

    def all(self) -> list[Event]:
        """Every event held, in creation order (the ground truth)."""
        return list(self._events.values())

    def clear(self) -> None:
        self._events.clear()
        self._id_by_key.clear()
