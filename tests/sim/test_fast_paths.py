"""The twin's fast equivalents return exactly what the shared helpers return."""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contract.evidence import (
    AppointmentState,
    AppointmentStatus,
    ExternalState,
    Operation,
    Outcome,
    ProviderCall,
    RequestRecord,
)
from contract.workload import ClientStream, WorkloadConfig, body_digest
from fakes.calendar.schemas import event_to_json
from fakes.calendar.store import Event, EventDraft
from service.resilience.records import record_maker
from sim import fast_paths
from sim.components import uuid4_text

MIX = {"create": 6, "get": 1, "list": 1, "cancel": 1, "reschedule": 1}


def test_digests_and_ids_match_the_shared_ones() -> None:
    stream = ClientStream(WorkloadConfig("s", 1, mix=MIX), 0)
    for _ in range(200):
        body = stream.next_request().body
        assert fast_paths.body_digest(body) == body_digest(body)
    assert fast_paths.body_digest({"x": "é", "a": [1, 2.5, None]}) == body_digest(
        {"a": [1, 2.5, None], "x": "é"}
    )
    rng = random.Random(9)
    for _ in range(2000):
        bits = rng.getrandbits(128)
        assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))


@pytest.mark.parametrize("seconds", [0.0, 1.5, 2.000001, 86_400 * 3 + 0.25])
def test_event_times_are_written_as_the_fake_writes_them(seconds: float) -> None:
    created = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    start = datetime.fromisoformat("2030-01-07T08:00:00Z")
    event = Event("e", "c", start, start + timedelta(minutes=30), "s", "k", created)
    shown = event_to_json(event)
    assert fast_paths.iso_utc(event.created_at) == shown["created_at"]
    assert fast_paths.iso_utc(event.start) == shown["start"]


def test_create_bodies_written_directly_digest_as_the_encoder_does() -> None:
    stream = ClientStream(WorkloadConfig("s", 2, mix={"create": 1}), 0)
    body = stream.next_request().body
    assert body is not None and fast_paths._create_body_json(body) is not None
    slot = body["slot"]
    # Text JSON escapes, non-text values, other keys, other nesting: the encoder's way, same digest.
    odd_bodies = [
        {**body, "title": 'a "quoted" title'},
        {**body, "title": "back\\slash"},
        {**body, "title": "two\nlines"},
        {**body, "title": "é ☃"},
        {**body, "title": 7},
        {**body, "extra": None},
        {k: v for k, v in body.items() if k != "title"} | {"titel": "x"},
        {**body, "slot": {"start_time": slot["start_time"], "end": slot["end_time"]}},
        {**body, "slot": [slot["start_time"], slot["end_time"]]},
        {**body, "owner": {"name": "n", "email": "e", "phone": "p"}},
        dict(reversed(list(body.items()))),
    ]
    for odd in odd_bodies:
        assert fast_paths.body_digest(odd) == body_digest(odd)
    assert fast_paths._create_body_json(odd_bodies[0]) is None
    assert fast_paths._create_body_json(odd_bodies[-1]) is not None  # key order does not matter


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-07T08:00:00Z",
        "0999-12-31T23:59:59Z",
        "2030-01-07T08:00:00+00:00",
        "2030-01-07T08:00:00.000000Z",
        "2030-01-07T08:00:00.5Z",
        "20300107T080000Z",
        "2030-W02-1T08:00:00Z",
        "2030-01-07 08:00:00Z",
    ],
)
def test_a_text_stands_for_its_datetime_only_when_written_back_unchanged(text: str) -> None:
    parsed = datetime.fromisoformat(text)
    assert fast_paths.written_as_iso_utc(text) == (fast_paths.iso_utc(parsed) == text)


def test_the_c_encoder_digest_falls_back_for_what_it_cannot_encode() -> None:
    assert fast_paths.body_digest({"n": 1.5, "nan": float("nan")}) == body_digest(
        {"nan": float("nan"), "n": 1.5}
    )
    with pytest.raises(TypeError):  # what the shared helper raises, not a half-made digest
        fast_paths.body_digest({"not json": object()})


def test_records_made_directly_equal_their_dataclass_constructors() -> None:
    values = {
        RequestRecord: (
            "s",
            1,
            "r",
            "k",
            Operation.CREATE,
            0.5,
            0.75,
            250.0,
            201,
            "a",
            ExternalState.CONFIRMED,
            False,
            Outcome.CONFIRMED,
            "d",
            True,
        ),
        ProviderCall: (1.25, "POST", "/v1/events", "k", 2, None, 201),
        AppointmentState: (
            "a",
            "resource-001",
            "s",
            "e",
            AppointmentStatus.BOOKED,
            None,
            None,
            "k",
        ),
        EventDraft: (
            "c",
            datetime(2030, 1, 1, tzinfo=UTC),
            datetime(2030, 1, 2, tzinfo=UTC),
            None,
            "x",
        ),
    }
    for cls, fields in values.items():
        made = record_maker(cls)(*fields)
        assert type(made) is cls and made == cls(*fields) and repr(made) == repr(cls(*fields))
        assert hash(made) == hash(cls(*fields))
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.__setattr__(dataclasses.fields(cls)[0].name, None)


def test_a_class_whose_init_does_more_is_refused() -> None:
    @dataclasses.dataclass
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    @dataclasses.dataclass(slots=True)
    class Slotted:
        x: int

    for cls in (Checked, Slotted):
        with pytest.raises(TypeError, match=cls.__name__):
            record_maker(cls)
