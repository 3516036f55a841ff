"""The circuit breaker: when it opens, how it recovers, what it ignores, and a state machine that
checks it against a plain reference model under arbitrary calls and clock advances."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from service.resilience.breaker import (
    STATE_CODE,
    TRANSITIONS,
    BreakerConfig,
    BreakerEvent,
    BreakerState,
    CircuitBreaker,
    Transition,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

# Trips only on consecutive failures: the window never fills enough to count.
CONSECUTIVE_ONLY = BreakerConfig(consecutive_failures=3, window_size=10, min_calls_in_window=10)


def _tripped(config: BreakerConfig, at: float = 0.0) -> CircuitBreaker:
    breaker = CircuitBreaker(config)
    for _ in range(config.consecutive_failures):
        breaker.record_failure(at)
    assert breaker.transitions[-1].target is OPEN
    return breaker


# -- opening -------------------------------------------------------------------------------


def test_opens_on_n_consecutive_failures() -> None:
    breaker = CircuitBreaker(CONSECUTIVE_ONLY)

    breaker.record_failure(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is CLOSED
    assert breaker.allow(2.0)

    breaker.record_failure(3.0)

    assert breaker.state(3.0) is OPEN
    assert not breaker.allow(3.0)
    assert breaker.open_count == 1
    assert list(breaker.transitions) == [Transition(3.0, CLOSED, BreakerEvent.TRIP, OPEN)]


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker(CONSECUTIVE_ONLY)
    for ok in (False, False, True, False, False):
        (breaker.record_success if ok else breaker.record_failure)(0.0)

    assert breaker.state(0.0) is CLOSED


def test_seed_003_opens_at_50_percent_failures_over_a_window_of_10() -> None:
    # Alternating results never make 5 failures in a row: only the rate can trip it.
    breaker = CircuitBreaker()
    for i in range(9):
        (breaker.record_failure if i % 2 else breaker.record_success)(float(i))
        assert breaker.state(float(i)) is CLOSED, f"opened after {i + 1} calls: window not full"

    breaker.record_failure(9.0)  # 5 failures in 10

    assert breaker.state(9.0) is OPEN


def test_40_percent_failures_over_a_full_window_stays_closed() -> None:
    breaker = CircuitBreaker()
    for ok in [True, False, True, True, False, True, False, True, True, False]:
        (breaker.record_success if ok else breaker.record_failure)(0.0)

    assert breaker.state(0.0) is CLOSED


def test_the_window_slides_old_failures_out() -> None:
    breaker = CircuitBreaker()
    # 4 failures then 6 successes: 40%; another success pushes the first failure out (30%);
    # then a failure: 4 in 10 again, still below the threshold.
    for ok in [False, True] * 4 + [True, True, True]:
        (breaker.record_success if ok else breaker.record_failure)(0.0)
    breaker.record_failure(0.0)

    assert breaker.state(0.0) is CLOSED


def test_the_rate_is_judged_when_a_failure_arrives_not_a_success() -> None:
    # 5 failures in 9 calls, then a success fills the window at exactly 50%: no trip yet
    # (Resilience4j would trip here); the next failure, still at 50%, trips it.
    breaker = CircuitBreaker()
    for ok in [False, True] * 4 + [False, True]:
        (breaker.record_success if ok else breaker.record_failure)(0.0)
    assert breaker.state(0.0) is CLOSED

    breaker.record_failure(1.0)

    assert breaker.state(1.0) is OPEN


def test_a_full_window_of_failures_below_the_minimum_calls_does_not_trip() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=10, min_calls_in_window=5))
    for _ in range(4):
        breaker.record_failure(0.0)

    assert breaker.state(0.0) is CLOSED


# -- cool-down and probes ------------------------------------------------------------------


def test_cooldown_ends_in_half_open_exactly_cooldown_s_after_opening() -> None:
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=5.0), at=10.0)

    assert breaker.state(14.999) is OPEN
    assert not breaker.allow(14.999)
    assert breaker.state(15.0) is HALF_OPEN


def test_refusing_is_true_only_while_open() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=5.0))
    assert not breaker.refusing(0.0)  # closed
    breaker.record_failure(10.0)
    assert breaker.refusing(14.999)  # open: every call would be refused
    assert not breaker.refusing(15.0)  # half-open: a probe may go


def test_a_late_look_records_the_cooldown_when_it_ended() -> None:
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=5.0), at=10.0)

    breaker.state(100.0)

    assert breaker.transitions[-1] == Transition(
        15.0, OPEN, BreakerEvent.COOLDOWN_ELAPSED, HALF_OPEN
    )
    assert breaker.open_seconds(100.0) == 5.0


def test_half_open_lets_one_probe_through_then_refuses() -> None:
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=5.0))

    assert breaker.allow(5.0)
    assert not breaker.allow(5.1)
    assert breaker.state(5.1) is HALF_OPEN


def test_a_successful_probe_closes_with_a_fresh_window() -> None:
    config = BreakerConfig(consecutive_failures=2, cooldown_s=1.0)
    breaker = _tripped(config)
    assert breaker.allow(1.0)

    breaker.record_success(1.2)

    assert breaker.state(1.2) is CLOSED
    assert breaker.transitions[-1] == Transition(
        1.2, HALF_OPEN, BreakerEvent.PROBE_SUCCEEDED, CLOSED
    )
    breaker.record_failure(1.3)  # the failures before the trip are forgotten
    assert breaker.state(1.3) is CLOSED


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=5.0))
    assert breaker.allow(5.0)

    breaker.record_failure(6.0)

    assert breaker.state(6.0) is OPEN
    assert breaker.open_count == 2
    assert breaker.state(10.999) is OPEN
    assert breaker.state(11.0) is HALF_OPEN
    assert breaker.open_seconds(11.0) == 10.0


def test_several_probe_successes_may_be_needed_to_close() -> None:
    breaker = _tripped(
        BreakerConfig(
            consecutive_failures=1,
            cooldown_s=1.0,
            half_open_max_probes=2,
            half_open_successes_to_close=3,
        )
    )
    assert breaker.allow(1.0)
    assert breaker.allow(1.0)
    assert not breaker.allow(1.0)  # two probes in flight

    breaker.record_success(1.1)
    assert breaker.state(1.1) is HALF_OPEN
    assert breaker.allow(1.1)  # the slot freed by the first success
    breaker.record_success(1.2)
    assert breaker.state(1.2) is HALF_OPEN
    breaker.record_success(1.3)

    assert breaker.state(1.3) is CLOSED


def test_results_that_arrive_while_open_are_ignored() -> None:
    config = BreakerConfig(consecutive_failures=1, cooldown_s=5.0, half_open_successes_to_close=2)
    breaker = _tripped(config)
    before = list(breaker.transitions)

    breaker.record_success(1.0)
    breaker.record_success(2.0)
    breaker.record_failure(3.0)

    assert breaker.state(3.0) is OPEN
    assert list(breaker.transitions) == before
    assert breaker.open_count == 1
    # The late successes did not count as probes: one probe success is not enough to close.
    assert breaker.allow(5.0)
    breaker.record_success(5.5)
    assert breaker.state(5.5) is HALF_OPEN


def test_zero_cooldown_goes_half_open_at_once() -> None:
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=0.0), at=3.0)

    assert breaker.allow(3.0)
    assert breaker.state(3.0) is HALF_OPEN


# -- open time -----------------------------------------------------------------------------


def test_open_seconds_adds_up_every_open_spell() -> None:
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=2.0))
    assert breaker.open_seconds(0.0) == 0.0
    assert breaker.open_seconds(1.5) == 1.5

    assert breaker.allow(2.0)  # HALF_OPEN at 2.0
    breaker.record_failure(3.0)  # OPEN again at 3.0

    assert breaker.open_seconds(4.0) == 3.0


def test_open_seconds_stops_counting_when_the_cooldown_ends_unobserved() -> None:
    # Nobody asked between the trip and now: the breaker was still OPEN for only cooldown_s.
    breaker = _tripped(BreakerConfig(consecutive_failures=1, cooldown_s=5.0))

    reading = breaker.open_seconds(10.0)

    assert reading == 5.0
    assert breaker.open_seconds(10.0) == reading


# -- the transition table ------------------------------------------------------------------


def test_every_table_entry_fires_and_nothing_outside_it() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=1.0))
    breaker.record_failure(0.0)  # TRIP
    assert breaker.allow(1.0)  # COOLDOWN_ELAPSED
    breaker.record_failure(1.0)  # PROBE_FAILED
    assert breaker.allow(2.0)  # COOLDOWN_ELAPSED
    breaker.record_success(2.0)  # PROBE_SUCCEEDED

    fired = {(t.source, t.event) for t in breaker.transitions}

    assert fired == set(TRANSITIONS)
    assert all(TRANSITIONS[(t.source, t.event)] is t.target for t in breaker.transitions)
    assert [t.target for t in breaker.transitions] == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_every_state_is_reachable_and_has_a_gauge_code() -> None:
    targets = set(TRANSITIONS.values())

    assert targets == set(BreakerState)
    assert sorted(STATE_CODE.values()) == [0, 1, 2]
    assert set(STATE_CODE) == set(BreakerState)


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "mentions"),
    [
        ({"consecutive_failures": 0}, "consecutive_failures must be >= 1"),
        ({"window_size": 0, "min_calls_in_window": 0}, "window_size must be >= 1"),
        ({"min_calls_in_window": 0}, "min_calls_in_window must be >= 1"),
        ({"half_open_max_probes": 0}, "half_open_max_probes must be >= 1"),
        ({"half_open_successes_to_close": 0}, "half_open_successes_to_close must be >= 1"),
        ({"failure_rate_threshold": 0.0}, r"failure_rate_threshold must be in \(0, 1\]"),
        ({"failure_rate_threshold": 1.01}, r"failure_rate_threshold must be in \(0, 1\]"),
        ({"window_size": 5}, r"min_calls_in_window must be <= window_size \(got 10 > 5\)"),
        ({"cooldown_s": -1.0}, "cooldown_s must be >= 0"),
    ],
)
def test_config_validation(kwargs: dict[str, float], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        BreakerConfig(**kwargs)  # type: ignore[arg-type]


def test_config_accepts_a_threshold_of_one_and_the_defaults_of_seed_003() -> None:
    assert BreakerConfig(failure_rate_threshold=1.0).failure_rate_threshold == 1.0
    defaults = CircuitBreaker().config
    assert (defaults.window_size, defaults.failure_rate_threshold) == (10, 0.5)


# -- the state machine ---------------------------------------------------------------------


@dataclass
class ReferenceBreaker:
    """The breaker's rules written plainly: the full result history instead of counters, and the
    length of every finished OPEN spell."""

    config: BreakerConfig
    state: BreakerState = CLOSED
    results: list[bool] = field(default_factory=list)  # since the last close
    opened_at: float = 0.0
    open_spells: list[float] = field(default_factory=list)
    probes_in_flight: int = 0
    probe_successes: int = 0
    trips: int = 0

    def catch_up(self, now: float) -> None:
        if self.state is OPEN and now >= self.opened_at + self.config.cooldown_s:
            self.open_spells.append(self.config.cooldown_s)
            self.state = HALF_OPEN
            self.probes_in_flight = self.probe_successes = 0

    def allow(self, now: float) -> bool:
        self.catch_up(now)
        if self.state is HALF_OPEN and self.probes_in_flight < self.config.half_open_max_probes:
            self.probes_in_flight += 1
            return True
        return self.state is CLOSED

    def record(self, ok: bool, now: float) -> None:
        self.catch_up(now)
        if self.state is CLOSED:
            self.results.append(ok)
            if ok:
                return  # the breaker judges its thresholds when a failure arrives
            trailing_failures = len(self.results) - max(
                (i + 1 for i, result in enumerate(self.results) if result), default=0
            )
            window = self.results[-self.config.window_size :]
            rate_trips = len(window) >= self.config.min_calls_in_window and (
                window.count(False) / len(window) >= self.config.failure_rate_threshold
            )
            if trailing_failures >= self.config.consecutive_failures or rate_trips:
                self._open(now)
        elif self.state is HALF_OPEN and not ok:
            self._open(now)
        elif self.state is HALF_OPEN:
            # A success from a call let through before this spell frees no slot, yet counts.
            self.probes_in_flight = max(0, self.probes_in_flight - 1)
            self.probe_successes += 1
            if self.probe_successes >= self.config.half_open_successes_to_close:
                self.state, self.results = CLOSED, []

    def _open(self, now: float) -> None:
        self.state, self.opened_at = OPEN, now
        self.trips += 1

    def open_seconds(self, now: float) -> float:
        current = 0.0
        if self.state is OPEN:
            current = min(now, self.opened_at + self.config.cooldown_s) - self.opened_at
        return sum(self.open_spells) + max(0.0, current)


configs = st.builds(
    BreakerConfig,
    consecutive_failures=st.integers(1, 3),
    window_size=st.just(6),
    failure_rate_threshold=st.sampled_from([0.34, 0.5, 1.0]),
    min_calls_in_window=st.integers(1, 6),
    cooldown_s=st.sampled_from([0.0, 1.0, 2.5]),
    half_open_max_probes=st.integers(1, 3),
    half_open_successes_to_close=st.integers(1, 3),
)


class BreakerMachine(RuleBasedStateMachine):
    """Calls arrive, results come back (in any order, even while OPEN) and time passes; the
    breaker must agree with the reference at every step. Invariants: OPEN never lets a call
    through; a half-open spell lets through a bounded number of probes; open_count is the number
    of transitions into OPEN; open time never goes backwards."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.last_open_seconds = 0.0
        self.granted_per_spell: dict[int, int] = {}

    @initialize(config=configs)
    def build(self, config: BreakerConfig) -> None:
        self.breaker = CircuitBreaker(config)
        self.model = ReferenceBreaker(config)

    @rule(seconds=st.sampled_from([0.0, 0.25, 1.0, 2.5, 7.0]))
    def advance_time(self, seconds: float) -> None:
        self._advance(seconds)

    @rule()
    def wait_past_the_cooldown(self) -> None:
        self._advance(self.breaker.config.cooldown_s + 0.5)

    def _advance(self, seconds: float) -> None:
        self.now += seconds
        # Read open time before anything else notices the cool-down may have ended.
        reading = self.breaker.open_seconds(self.now)
        assert reading >= self.last_open_seconds, "open_seconds went backwards"
        assert reading == pytest.approx(self.model.open_seconds(self.now))
        self.last_open_seconds = reading

    @rule(calls=st.integers(1, 4))
    def calls_arrive(self, calls: int) -> None:
        for _ in range(calls):
            self._allow()

    def _allow(self) -> None:
        before = self.breaker.state(self.now)
        allowed = self.breaker.allow(self.now)
        assert allowed == self.model.allow(self.now)
        if before is OPEN:
            assert not allowed, "an OPEN breaker let a call through"
        if before is HALF_OPEN and allowed:
            # max_probes at once, plus one per success that frees a slot before the last
            # success needed closes the breaker.
            spell = sum(1 for t in self.breaker.transitions if t.target is HALF_OPEN)
            self.granted_per_spell[spell] = self.granted_per_spell.get(spell, 0) + 1
            config = self.breaker.config
            bound = config.half_open_max_probes + config.half_open_successes_to_close - 1
            assert self.granted_per_spell[spell] <= bound, "too many probes in one spell"

    @rule(ok=st.booleans())
    def record(self, ok: bool) -> None:
        before = self.breaker.state(self.now)
        transitions_before = len(self.breaker.transitions)
        if ok:
            self.breaker.record_success(self.now)
        else:
            self.breaker.record_failure(self.now)
        self.model.record(ok, self.now)
        if before is OPEN:
            assert self.breaker.state(self.now) is OPEN
            assert len(self.breaker.transitions) == transitions_before, "a result moved OPEN"

    @invariant()
    def matches_the_reference(self) -> None:
        self.model.catch_up(self.now)
        assert self.breaker.state(self.now) is self.model.state

    @invariant()
    def open_count_counts_the_transitions_into_open(self) -> None:
        into_open = [
            t
            for t in self.breaker.transitions
            if t.target is OPEN and t.source in (CLOSED, HALF_OPEN)
        ]
        assert self.breaker.open_count == len(into_open) == self.model.trips

    @invariant()
    def transitions_follow_the_table_in_time_order(self) -> None:
        history = list(self.breaker.transitions)
        for earlier, later in zip(history, history[1:], strict=False):
            assert earlier.target is later.source
            assert earlier.at <= later.at
        for t in history:
            assert TRANSITIONS[(t.source, t.event)] is t.target


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=75, stateful_step_count=30, deadline=None)


def test_an_abandoned_probe_gives_its_slot_back() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=1.0))
    breaker.record_failure(0.0)
    assert breaker.allow(1.0)  # the one half-open probe
    assert not breaker.allow(1.0)
    breaker.abandon()  # its caller was cancelled: no outcome will ever come
    assert breaker.allow(1.1)


def test_abandon_outside_half_open_changes_nothing() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=1.0))
    breaker.abandon()
    assert breaker.state(0.0) is BreakerState.CLOSED and breaker.allow(0.0)
