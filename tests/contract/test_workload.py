"""The load's requests come from the seed: same seed, same keys and bodies; expectations sane."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contract.workload import ClientStream, WorkloadConfig, body_digest
from service.resilience.idempotency import fingerprint

MIX = {"create": 4, "get": 1, "list": 1, "cancel": 1, "reschedule": 1}


def _run(seed: int, client: int = 0, n: int = 60):
    stream = ClientStream(
        WorkloadConfig("w", seed, mix=MIX, duplicate_replay_ratio=0.2, conflicting_slot_ratio=0.1),
        client,
    )
    out = []
    for i in range(n):
        planned = stream.next_request()
        out.append(planned)
        stream.record(planned, 201 if planned.operation == "create" else 200, f"appt-{i}")
    return out


def test_same_seed_same_requests_and_other_seed_differs():
    assert _run(7) == _run(7)
    assert _run(7) != _run(8)


def test_clients_never_share_keys_or_slots():
    keys, slots = set(), set()
    for client in range(3):
        for planned in _run(1, client):
            if planned.operation == "create":
                assert planned.idempotency_key not in keys
                keys.add(planned.idempotency_key)
                slot = (planned.body["resource_id"], planned.body["slot"]["start_time"])
                assert slot not in slots
                slots.add(slot)


def test_replays_repeat_key_and_body_and_conflicts_target_a_live_slot():
    requests = _run(3, n=200)
    creates = {p.idempotency_key: p for p in requests if p.operation == "create"}
    replays = [p for p in requests if p.operation == "replay"]
    conflicts = [p for p in requests if p.operation == "conflict"]
    assert replays and conflicts
    for replay in replays:
        original = creates[replay.replay_of]
        assert replay.idempotency_key == original.idempotency_key
        assert body_digest(replay.body) == body_digest(original.body)
    # A live slot was booked by a create or moved there by a reschedule.
    starts = {c.body["slot"]["start_time"] for c in creates.values()}
    starts |= {p.body["slot"]["start_time"] for p in requests if p.operation == "reschedule"}
    for conflict in conflicts:
        assert conflict.expected_statuses == (409,)
        assert conflict.body["slot"]["start_time"] in starts
        assert conflict.idempotency_key not in creates


def test_operations_on_appointments_only_after_a_create_answered():
    stream = ClientStream(WorkloadConfig("w", 1, mix={"create": 1, "get": 100}), 0)
    first = stream.next_request()
    assert first.operation == "create"  # nothing to get yet
    stream.record(first, 201, "appt-x")
    assert stream.next_request().path.endswith("/appt-x")


# JSON bodies as a client may send them: nested objects and lists, non-ASCII text, numbers.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _json, max_size=6))
def test_the_body_digest_is_the_services_fingerprint(body):
    # The contract computes it itself (it must not import the service); a replay is judged by
    # comparing the two, so they must never differ.
    assert body_digest(body) == fingerprint(body)


def test_the_workloads_own_bodies_digest_as_the_service_fingerprints_them():
    for planned in _run(3, n=40):
        if planned.body is not None:
            assert body_digest(planned.body) == fingerprint(planned.body)
    assert body_digest(None) is None
    assert body_digest({"title": "café", "n": 1}) == fingerprint({"n": 1, "title": "café"})
