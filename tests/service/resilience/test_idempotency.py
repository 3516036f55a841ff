"""Idempotency: what a repeated key gets (proceed, replay, mismatch, in flight, recover), request
fingerprints, and which keys are usable; then a state machine over a key store with a clock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from service.resilience.idempotency import (
    DEFAULT_KEY_TTL_S,
    MAX_KEY_LENGTH,
    Decision,
    IdempotencyPolicy,
    KeyRecord,
    KeyState,
    complete,
    decide,
    fingerprint,
    new_record,
    validate_key,
)

POLICY = IdempotencyPolicy(ttl_s=100.0, in_flight_lease_s=10.0)
BODY = {"slot_id": "s-1", "patient": "p-9"}
FP = fingerprint(BODY)

# -- decisions -----------------------------------------------------------------------------


def test_an_unknown_key_proceeds() -> None:
    assert decide(None, FP, 5.0, POLICY) is Decision.PROCEED


def test_a_new_record_is_in_flight_until_the_ttl() -> None:
    record = new_record("k", FP, 1000.0, POLICY)

    assert record == KeyRecord("k", FP, KeyState.IN_FLIGHT, 1000.0, 1100.0)


def test_a_completed_key_replays_its_response_even_long_after_the_lease() -> None:
    record = complete(new_record("k", FP, 0.0, POLICY), 201, '{"id": 7}')

    assert decide(record, FP, 1.0, POLICY) is Decision.REPLAY
    assert decide(record, FP, 99.9, POLICY) is Decision.REPLAY
    assert (record.response_status, record.response_body) == (201, '{"id": 7}')


def test_completing_keeps_the_key_its_fingerprint_and_its_expiry() -> None:
    started = new_record("k", FP, 3.0, POLICY)

    done = complete(started, 409, "{}")

    assert (done.key, done.fingerprint, done.state) == ("k", FP, KeyState.COMPLETED)
    assert (done.created_at, done.expires_at) == (3.0, 103.0)  # replays do not extend the TTL


@pytest.mark.parametrize("completed", [False, True], ids=["in_flight", "completed"])
def test_another_body_under_the_same_key_is_a_mismatch(completed: bool) -> None:
    record = new_record("k", FP, 0.0, POLICY)
    if completed:
        record = complete(record, 201, "{}")

    other = fingerprint({**BODY, "patient": "p-10"})

    assert decide(record, other, 50.0, POLICY) is Decision.MISMATCH


@pytest.mark.parametrize(
    ("now", "decision"),
    [
        (0.0, Decision.IN_FLIGHT),
        (9.999, Decision.IN_FLIGHT),
        (10.0, Decision.RECOVER),  # the lease is up: the first request's process is gone
        (99.0, Decision.RECOVER),
        (100.0, Decision.PROCEED),  # expired: the key is free again
    ],
)
def test_in_flight_until_the_lease_then_recover_then_expired(
    now: float, decision: Decision
) -> None:
    assert decide(new_record("k", FP, 0.0, POLICY), FP, now, POLICY) is decision


@pytest.mark.parametrize("completed", [False, True], ids=["in_flight", "completed"])
def test_an_expired_key_proceeds_whatever_the_body(completed: bool) -> None:
    record = new_record("k", FP, 0.0, POLICY)
    if completed:
        record = complete(record, 201, "{}")

    assert decide(record, FP, 100.0, POLICY) is Decision.PROCEED
    assert decide(record, "another", 100.0, POLICY) is Decision.PROCEED


def test_without_a_policy_keys_last_a_day_and_the_lease_is_30_s() -> None:
    record = new_record("k", FP, 0.0, IdempotencyPolicy())

    assert record.expires_at == DEFAULT_KEY_TTL_S == 86_400.0
    assert decide(record, FP, 29.9) is Decision.IN_FLIGHT
    assert decide(record, FP, 30.0) is Decision.RECOVER
    assert decide(record, FP, 86_400.0) is Decision.PROCEED


# -- fingerprints --------------------------------------------------------------------------


def test_the_fingerprint_is_sha256_of_compact_sorted_utf8_json() -> None:
    canonical = '{"a":1,"b":{"c":"é","d":[2,1]}}'
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    assert fingerprint({"b": {"d": [2, 1], "c": "é"}, "a": 1}) == expected


def test_key_order_does_not_matter_at_any_depth() -> None:
    one = {"a": 1, "b": {"x": [1, {"p": 1, "q": 2}], "y": None}}
    two = {"b": {"y": None, "x": [1, {"q": 2, "p": 1}]}, "a": 1}

    assert fingerprint(one) == fingerprint(two)


def test_whitespace_between_tokens_does_not_matter() -> None:
    compact = json.loads('{"start":"2030-01-01T09:00:00Z","tags":["a","b"]}')
    spaced = json.loads('{\n  "tags" : [ "a" ,\t"b" ],\r\n  "start": "2030-01-01T09:00:00Z"\n}')

    assert fingerprint(compact) == fingerprint(spaced)


def test_whitespace_inside_a_value_does_matter() -> None:
    assert fingerprint({"summary": "check up"}) != fingerprint({"summary": "check  up"})


def test_list_order_and_value_types_matter() -> None:
    assert fingerprint({"ids": [1, 2]}) != fingerprint({"ids": [2, 1]})
    assert fingerprint({"n": 1}) != fingerprint({"n": "1"})


def test_escaped_and_literal_unicode_fingerprint_alike() -> None:
    escaped = json.loads('{"name": "Jos\\u00e9 \\ud83d\\ude00"}')
    literal = json.loads('{"name": "José 😀"}')

    assert fingerprint(escaped) == fingerprint(literal)


def test_unicode_is_compared_as_sent_without_normalization() -> None:
    # NFC "é" and NFD "e" + combining acute are different requests to us, as they are to most
    # APIs: a client that retries sends the same bytes.
    assert fingerprint({"name": "Jos\u00e9"}) != fingerprint({"name": "Jose\u0301"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=30)
@given(body=st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_a_json_round_trip_in_any_layout_keeps_the_fingerprint(body: dict[str, Any]) -> None:
    reordered = dict(reversed(list(body.items())))
    pretty = json.loads(json.dumps(body, indent=3, ensure_ascii=True))

    assert fingerprint(reordered) == fingerprint(body) == fingerprint(pretty)
    assert len(fingerprint(body)) == 64


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "!~",  # the ends of printable ASCII
        "x" * MAX_KEY_LENGTH,
    ],
)
def test_usable_keys(key: str) -> None:
    assert validate_key(key) is None


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must not be empty"),
        ("x" * (MAX_KEY_LENGTH + 1), "at most 255 characters (got 256)"),
        ("has space", "printable ASCII without spaces"),
        ("tab\there", "printable ASCII without spaces"),
        ("nul\x00", "printable ASCII without spaces"),
        ("del\x7f", "printable ASCII without spaces"),
        ("clé", "printable ASCII without spaces"),
    ],
)
def test_unusable_keys_say_why(key: str, message: str) -> None:
    error = validate_key(key)

    assert error is not None
    assert error.startswith("Idempotency-Key must")
    assert message in error


# -- the state machine ---------------------------------------------------------------------


@dataclass
class Expected:
    """What the model remembers about a key, independently of the store."""

    fingerprint: str
    created_at: float
    response: tuple[int, str] | None = None  # once completed


class KeyStoreMachine(RuleBasedStateMachine):
    """A dict store driven the way the service drives it: decide, then on PROCEED insert an
    in-flight record, on completion (or RECOVER) complete it; time advances between calls."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.store: dict[str, KeyRecord] = {}
        self.model: dict[str, Expected] = {}
        self.responses = 0

    def _live(self, key: str) -> Expected | None:
        expected = self.model.get(key)
        if expected is None or self.now >= expected.created_at + POLICY.ttl_s:
            return None
        return expected

    @rule(seconds=st.sampled_from([0.0, 1.0, 5.0, 40.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(
        key=st.sampled_from(["k1", "k2"]),
        body=st.sampled_from(["A", "B"]),
        moment_s=st.sampled_from([POLICY.in_flight_lease_s, POLICY.ttl_s]),
        early_s=st.sampled_from([0.0, 0.001]),
    )
    def retry_on_a_boundary(self, key: str, body: str, moment_s: float, early_s: float) -> None:
        # A client retries just as the key's lease or TTL ends, or a moment before: the
        # boundaries are where off-by-one mistakes live.
        if key in self.model:
            self.now = max(self.now, self.model[key].created_at + moment_s - early_s)
        self.request(key, body)

    @rule(key=st.sampled_from(["k1", "k2"]), body=st.sampled_from(["A", "B"]))
    def request(self, key: str, body: str) -> None:
        body_fp = fingerprint({"body": body})
        decision = decide(self.store.get(key), body_fp, self.now, POLICY)
        expected = self._live(key)

        if expected is None:
            assert decision is Decision.PROCEED
            self.store[key] = new_record(key, body_fp, self.now, POLICY)
            self.model[key] = Expected(body_fp, self.now)
        elif body_fp != expected.fingerprint:
            assert decision is Decision.MISMATCH
        elif expected.response is not None:
            assert decision is Decision.REPLAY
            stored = self.store[key]
            assert (stored.response_status, stored.response_body) == expected.response
        elif self.now - expected.created_at >= POLICY.in_flight_lease_s:
            assert decision is Decision.RECOVER
            self._complete(key)
        else:
            assert decision is Decision.IN_FLIGHT

    @rule(key=st.sampled_from(["k1", "k2"]))
    def first_request_finishes(self, key: str) -> None:
        expected = self._live(key)
        if expected is not None and expected.response is None:
            self._complete(key)

    def _complete(self, key: str) -> None:
        self.responses += 1
        response = (201, f'{{"response": {self.responses}}}')
        self.store[key] = complete(self.store[key], *response)
        self.model[key].response = response

    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        for key, record in self.store.items():
            expected = self.model[key]
            assert record.fingerprint == expected.fingerprint
            assert record.expires_at == expected.created_at + POLICY.ttl_s
            assert (record.state is KeyState.COMPLETED) is (expected.response is not None)


TestKeyStore = KeyStoreMachine.TestCase
TestKeyStore.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
