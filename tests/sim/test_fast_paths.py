"""The twin's fast equivalents return exactly what the shared helpers return."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fakes.calendar.schemas import event_to_json
from fakes.calendar.store import Event
from scenarios.workload import ClientStream, WorkloadConfig, body_digest
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
