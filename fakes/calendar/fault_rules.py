"""Which fault a call meets, and how long it is served: pure functions of (seed, op, key, attempt).

Pure: no I/O, no clock, no global `random`, no process state. The decision draws from a
`random.Random` derived by SHA-256 from (seed, "fault", operation, key, attempt), so the same
request meets the same fault in any process and whatever the interleaving; the fake counts attempts
per (operation, key), the SimPy twin does the same and calls the same function.

Theory of operation. `outage` beats everything. Otherwise only create and delete are faulted: one
uniform draw `u` in [0, 1) falls into consecutive bands of width hang_rate, permanent_error_rate,
error_rate and commit_then_fail_rate, in that order, or past them (no fault). The bands are
exclusive, so each rate holds exactly in expectation whatever the others are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fakes.calendar.latency import sample_service_ms
from fakes.calendar.profile import FaultProfile
from fakes.calendar.seeding import derive_rng


class Operation(enum.StrEnum):
    """An events-API operation; part of the fault and latency keys."""

    CREATE = "create"
    GET = "get"
    DELETE = "delete"
    LIST = "list"


FAULTED_OPERATIONS = frozenset({Operation.CREATE, Operation.DELETE})


class Fault(enum.StrEnum):
    """What the fake does to one call instead of (or after) serving it."""

    NONE = "none"
    OUTAGE = "outage"
    HANG = "hang"
    PERMANENT_ERROR = "permanent_error"
    TRANSIENT_ERROR = "transient_error"
    COMMIT_THEN_FAIL = "commit_then_fail"


@dataclass(frozen=True)
class FaultDecision:
    """One call's fate. `status` is the error status the caller is sent, when there is one.

    - OUTAGE, TRANSIENT_ERROR: `status`, plus a `Retry-After` of `retry_after_s` when set;
    - PERMANENT_ERROR: `status` (4xx);
    - HANG: no answer for `hang_s` (or until the caller gives up), then `status` 504;
    - COMMIT_THEN_FAIL: the change is made, then `status` 500 (`drop` False) or the connection is
      dropped mid-response (`drop` True).
    """

    fault: Fault
    status: int | None = None
    retry_after_s: float | None = None
    hang_s: float | None = None
    drop: bool = False


NO_FAULT = FaultDecision(Fault.NONE)
HANG_TIMEOUT_STATUS = 504
COMMIT_THEN_FAIL_STATUS = 500
OUTAGE_STATUS = 503


def decide_fault(
    profile: FaultProfile, operation: Operation, key: str, attempt: int
) -> FaultDecision:
    """The fault met by attempt `attempt` (1-based) of `operation` on `key` under `profile`.

    `key` is the request's idempotency key, or a fingerprint of the request when it has none.

    >>> p = FaultProfile(seed=1, error_rate=1.0)
    >>> decide_fault(p, Operation.CREATE, "k1", 1).fault
    <Fault.TRANSIENT_ERROR: 'transient_error'>
    >>> decide_fault(p, Operation.GET, "k1", 1).fault
    <Fault.NONE: 'none'>
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1 (got {attempt})")
    if profile.outage:
        return FaultDecision(Fault.OUTAGE, OUTAGE_STATUS, retry_after_s=profile.retry_after_s)
    if operation not in FAULTED_OPERATIONS:
        return NO_FAULT
    draw = derive_rng(profile.seed, "fault", operation.value, key, attempt).random()
    edge = profile.hang_rate
    if draw < edge:
        return FaultDecision(Fault.HANG, HANG_TIMEOUT_STATUS, hang_s=profile.hang_s)
    edge += profile.permanent_error_rate
    if draw < edge:
        return FaultDecision(Fault.PERMANENT_ERROR, profile.permanent_error_status)
    edge += profile.error_rate
    if draw < edge:
        return FaultDecision(
            Fault.TRANSIENT_ERROR, profile.error_status, retry_after_s=profile.retry_after_s
        )
    edge += profile.commit_then_fail_rate
    if draw < edge:
        drop = profile.commit_then_fail_mode == "drop"
        return FaultDecision(
            Fault.COMMIT_THEN_FAIL, None if drop else COMMIT_THEN_FAIL_STATUS, drop=drop
        )
    return NO_FAULT


def call_latency_ms(profile: FaultProfile, operation: Operation, key: str, attempt: int) -> float:
    """The service time of one call in ms, drawn from `profile.latency_ms` (for `queue`: excluding
    the wait for a worker, which the runner models).

    Keyed like the fault decision but on its own stream ("latency"), so changing a fault rate never
    changes a latency sample.
    """
    rng = derive_rng(profile.seed, "latency", operation.value, key, attempt)
    return sample_service_ms(profile.latency_ms, rng)
