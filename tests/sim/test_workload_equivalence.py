"""The fast request streams (`contract.workload`) send exactly what the plain ones did
(`workload_reference`): the same requests, in the same order, for any mix, ratios, client and
feedback, so real and sim event logs keep their digests."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import workload
from contract.workload import ClientStream, WorkloadConfig
from tests.sim import workload_reference as reference

MIXES = [
    {"create": 1.0},
    {"create": 7, "get": 2, "list": 1, "cancel": 0.5, "reschedule": 0.5},
    {"create": 1, "get": 100},
    {"create": 0.3, "cancel": 3, "reschedule": 2},
    {"create": 2, "replay": 1, "conflict": 1, "list": 0.25},
]


def feedback(rng: random.Random, planned: workload.PlannedRequest) -> tuple[int | None, str | None]:
    """A made-up answer: mostly accepted creates, now and then a refusal or no answer."""
    status = rng.choice([201, 201, 202, 200, 409, 422, None])
    appointment = f"appt-{rng.randrange(10**6)}" if status in (200, 201, 202) else None
    if rng.random() < 0.02 and planned.operation == "create":
        appointment = "appt-repeated"  # an id the client already holds
    return status, appointment


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("client", [0, 7, 1003, 2001, 4095])
def test_a_fast_stream_sends_what_the_plain_one_sent(mix: dict[str, float], client: int) -> None:
    for seed in (1, 2, 99):
        config = WorkloadConfig(
            "equal",
            seed,
            resources=1 + seed % 7,
            mix=mix,
            duplicate_replay_ratio=0.1 * (seed % 3),
            conflicting_slot_ratio=0.05 * (seed % 4),
        )
        fast, plain = ClientStream(config, client), reference.ClientStream(config, client)
        answers = random.Random(seed * 7919 + client)
        for _ in range(300):
            planned = fast.next_request()
            assert planned == plain.next_request()
            status, appointment = feedback(answers, planned)
            fast.record(planned, status, appointment)
            plain.record(planned, status, appointment)
        assert fast.slot_race(4) == plain.slot_race(4)
        assert fast.next_request() == plain.next_request()
        assert fast.rng.getstate() == plain.rng.getstate()


@settings(max_examples=300, deadline=None)
@given(
    resource=st.integers(0, 999),
    slot=st.one_of(
        st.integers(0, 2**22),
        st.integers(0, 200_000_000),  # past year 9999: both refuse
        st.integers(-(2**20), -1),
    ),
)
def test_slot_times_are_the_grid_s_strftime_text(resource: int, slot: int) -> None:
    try:
        expected = reference.slot_for(resource, slot)
    except (OverflowError, ValueError) as exc:
        with pytest.raises(type(exc)):
            workload.slot_for(resource, slot)
    else:
        assert workload.slot_for(resource, slot) == expected


def test_slot_times_across_midnight_and_the_last_day() -> None:
    last_day = (workload._LAST_ORDINAL - workload._GRID_ORDINAL) * 48 - 16  # 9999-12-31 00:00
    for slot in [0, 31, 32, 33, 47, 48, 4096 * 3 + 5, last_day, last_day + 46]:
        assert workload.slot_for(3, slot) == reference.slot_for(3, slot)
    with pytest.raises(OverflowError):  # 23:30 on the last day ends past it
        workload.slot_for(3, last_day + 47)
