"""A circuit breaker: CLOSED / OPEN / HALF_OPEN, driven by a transition table.

Pure: the caller passes `now` to every call; nothing here reads a clock.

Theory of operation. CLOSED lets every call through and remembers the last `window_size` results.
It TRIPs to OPEN on `consecutive_failures` failures in a row, or when the window is full enough
(`min_calls_in_window`) and its failure rate reaches `failure_rate_threshold` (seed 003: 50% over
10). OPEN refuses calls until `cooldown_s` has passed since it opened; the first `allow()` after that
moves it to HALF_OPEN, which lets at most `half_open_max_probes` calls through. A probe that
succeeds `half_open_successes_to_close` times closes the breaker (with a fresh window); one that
fails opens it again for another cool-down. Results that arrive while OPEN (calls started before it
opened) are ignored: they say nothing new.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(Enum):
    TRIP = "trip"
    COOLDOWN_ELAPSED = "cooldown_elapsed"
    PROBE_SUCCEEDED = "probe_succeeded"
    PROBE_FAILED = "probe_failed"


TRANSITIONS: dict[tuple[BreakerState, BreakerEvent], BreakerState] = {
    (BreakerState.CLOSED, BreakerEvent.TRIP): BreakerState.OPEN,
    (BreakerState.OPEN, BreakerEvent.COOLDOWN_ELAPSED): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, BreakerEvent.PROBE_SUCCEEDED): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, BreakerEvent.PROBE_FAILED): BreakerState.OPEN,
}

# A numeric code per state, for a Prometheus gauge and time series.
STATE_CODE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class BreakerConfig:
    consecutive_failures: int = 5
    window_size: int = 10
    failure_rate_threshold: float = 0.5
    min_calls_in_window: int = 10
    cooldown_s: float = 5.0
    half_open_max_probes: int = 1
    half_open_successes_to_close: int = 1

    def __post_init__(self) -> None:
        for name in (
            "consecutive_failures",
            "window_size",
            "min_calls_in_window",
            "half_open_max_probes",
            "half_open_successes_to_close",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"breaker {name} must be >= 1 (got {getattr(self, name)})")
        if not 0.0 < self.failure_rate_threshold <= 1.0:
            raise ValueError(
                f"breaker failure_rate_threshold must be in (0, 1] (got {self.failure_rate_threshold})"
            )
        if self.min_calls_in_window > self.window_size:
            raise ValueError(
                "breaker min_calls_in_window must be <= window_size "
                f"(got {self.min_calls_in_window} > {self.window_size})"
            )
        if self.cooldown_s < 0:
            raise ValueError(f"breaker cooldown_s must be >= 0 (got {self.cooldown_s})")


@dataclass(frozen=True)
class Transition:
    at: float
    source: BreakerState
    event: BreakerEvent
    target: BreakerState


class CircuitBreaker:
    """One breaker guarding one dependency. Not thread-safe; one event loop or one SimPy env."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config or BreakerConfig()
        self._state = BreakerState.CLOSED
        self._window: deque[bool] = deque(maxlen=self.config.window_size)
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._closed_open_seconds = 0.0
        self.open_count = 0
        self.transitions: deque[Transition] = deque(maxlen=1000)

    # -- queries ---------------------------------------------------------------------------
    def state(self, now: float) -> BreakerState:
        """The state as of `now` (an OPEN breaker past its cool-down reports HALF_OPEN)."""
        self._apply_cooldown(now)
        return self._state

    def refusing(self, now: float) -> bool:
        """Would every call be refused now (OPEN, cool-down not over)? Work that only calls out —
        the outbox relay — waits instead of claiming rows just to be refused."""
        return self.state(now) is BreakerState.OPEN

    def open_seconds(self, now: float) -> float:
        """Total time spent OPEN, up to `now`."""
        # Close a cool-down that ended unobserved first, or its overrun would count as open time.
        self._apply_cooldown(now)
        current = now - self._opened_at if self._state is BreakerState.OPEN else 0.0
        return self._closed_open_seconds + max(0.0, current)

    # -- the calls' side -------------------------------------------------------------------
    def allow(self, now: float) -> bool:
        """May a call go now? In HALF_OPEN this reserves one of the probe slots."""
        self._apply_cooldown(now)
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            return False
        if self._probes_in_flight < self.config.half_open_max_probes:
            self._probes_in_flight += 1
            return True
        return False

    def abandon(self) -> None:
        """A call that `allow` let through will never report (its caller was cancelled): give its
        half-open probe slot back, or a breaker with one probe would refuse every call forever."""
        if self._state is BreakerState.HALF_OPEN:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)

    def record_success(self, now: float) -> None:
        self._apply_cooldown(now)
        if self._state is BreakerState.CLOSED:
            self._window.append(True)
            self._consecutive_failures = 0
        elif self._state is BreakerState.HALF_OPEN:
            self._probes_in_flight = max(0, self._probes_in_flight - 1)
            self._probe_successes += 1
            if self._probe_successes >= self.config.half_open_successes_to_close:
                self._fire(BreakerEvent.PROBE_SUCCEEDED, now)

    def record_failure(self, now: float) -> None:
        self._apply_cooldown(now)
        if self._state is BreakerState.CLOSED:
            self._window.append(False)
            self._consecutive_failures += 1
            if self._should_trip():
                self._fire(BreakerEvent.TRIP, now)
        elif self._state is BreakerState.HALF_OPEN:
            self._fire(BreakerEvent.PROBE_FAILED, now)

    # -- internals -------------------------------------------------------------------------
    def _should_trip(self) -> bool:
        if self._consecutive_failures >= self.config.consecutive_failures:
            return True
        if len(self._window) < self.config.min_calls_in_window:
            return False
        failures = sum(1 for ok in self._window if not ok)
        return failures / len(self._window) >= self.config.failure_rate_threshold

    def _apply_cooldown(self, now: float) -> None:
        if self._state is BreakerState.OPEN and now - self._opened_at >= self.config.cooldown_s:
            # The cool-down ended at a known instant, however late we notice it.
            self._fire(BreakerEvent.COOLDOWN_ELAPSED, self._opened_at + self.config.cooldown_s)

    def _fire(self, event: BreakerEvent, now: float) -> None:
        source = self._state
        target = TRANSITIONS[(source, event)]
        if source is BreakerState.OPEN:
            self._closed_open_seconds += max(0.0, now - self._opened_at)
        if target is BreakerState.OPEN:
            self._opened_at = now
            self.open_count += 1
        if target is BreakerState.HALF_OPEN:
            self._probes_in_flight = 0
            self._probe_successes = 0
        if target is BreakerState.CLOSED:
            self._window.clear()
            self._consecutive_failures = 0
        self._state = target
        self.transitions.append(Transition(now, source, event, target))
