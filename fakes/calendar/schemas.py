"""Wire shapes of the events API (docs/provider_api.md): `EventCreate` in, `EventPublic` out.

Pure data and validation; no I/O. Times are ISO 8601 with a timezone and are stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fakes.calendar.store import Event, EventDraft

Text = Annotated[str, Field(min_length=1, max_length=256)]


class EventCreate(BaseModel):
    """Body of `POST /v1/events`. Unknown fields are ignored, as calendar APIs tend to."""

    model_config = ConfigDict(extra="ignore")

    calendar_id: Text
    start: AwareDatetime
    end: AwareDatetime
    summary: Annotated[str, Field(max_length=1024)] | None = None
    id: Text | None = None

    @model_validator(mode="after")
    def _check_order(self) -> EventCreate:
        if not self.start < self.end:
            raise ValueError(f"start must be before end (got start={self.start}, end={self.end})")
        return self

    def to_draft(self) -> EventDraft:
        return EventDraft(
            calendar_id=self.calendar_id,
            start=self.start.astimezone(UTC),
            end=self.end.astimezone(UTC),
            summary=self.summary,
            client_id=self.id,
        )


class EventPublic(BaseModel):
    """An event as the events API and the ground truth show it."""

    id: str
    calendar_id: str
    start: datetime
    end: datetime
    summary: str | None
    idempotency_key: str | None
    created_at: datetime


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON object for one event (times in ISO 8601 UTC, `Z` suffix)."""
    public = EventPublic(
        id=event.id,
        calendar_id=event.calendar_id,
        start=event.start,
        end=event.end,
        summary=event.summary,
        idempotency_key=event.idempotency_key,
        created_at=event.created_at,
    )
    return public.model_dump(mode="json")
