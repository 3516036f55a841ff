"""The pure fault decision: repeatable per (seed, op, key, attempt), rates that hold, seeds that matter."""

from __future__ import annotations

import doctest
import json
import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from fakes.calendar import fault_rules, latency, profile, request_keys, seeding
from fakes.calendar.fault_rules import (
    Fault,
    FaultDecision,
    Operation,
    call_latency_ms,
    decide_fault,
)
from fakes.calendar.latency import UniformLatency
from fakes.calendar.profile import FaultProfile

KEYS = [f"key-{n}" for n in range(10_000)]


def fault_rate(profile: FaultProfile, fault: Fault, keys: list[str] = KEYS) -> float:
    met = sum(decide_fault(profile, Operation.CREATE, key, 1).fault is fault for key in keys)
    return met / len(keys)


def test_same_request_meets_the_same_fault_every_time() -> None:
    profile = FaultProfile(seed=42, error_rate=0.3, hang_rate=0.1, commit_then_fail_rate=0.2)
    first = [decide_fault(profile, Operation.CREATE, key, 2) for key in KEYS[:500]]
    again = [decide_fault(profile, Operation.CREATE, key, 2) for key in KEYS[:500]]
    assert first == again


def test_decisions_do_not_depend_on_the_order_requests_arrive_in() -> None:
    profile = FaultProfile(seed=3, error_rate=0.5)
    requests = [(key, attempt) for key in KEYS[:200] for attempt in (1, 2, 3)]
    in_order = {request: decide_fault(profile, Operation.CREATE, *request) for request in requests}
    shuffled = list(requests)
    random.Random(9).shuffle(shuffled)
    out_of_order = {
        request: decide_fault(profile, Operation.CREATE, *request) for request in shuffled
    }
    assert in_order == out_of_order


def test_decisions_repeat_in_another_process_with_another_hash_seed() -> None:
    # The same process also shows that the pure modules (the twin's imports) need no web stack.
    script = (
        "import json, sys\n"
        "from fakes.calendar.fault_rules import Operation, decide_fault\n"
        "from fakes.calendar.profile import FaultProfile\n"
        "p = FaultProfile(seed=5, error_rate=0.5)\n"
        "faults = [decide_fault(p, Operation.CREATE, f'k{n}', 1).fault.value for n in range(300)]\n"
        "web = sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'httpx') if m in sys.modules)\n"
        "print(json.dumps({'faults': faults, 'web': web}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    here = FaultProfile(seed=5, error_rate=0.5)
    expected = [decide_fault(here, Operation.CREATE, f"k{n}", 1).fault.value for n in range(300)]
    assert json.loads(done.stdout) == {"faults": expected, "web": []}


@pytest.mark.parametrize(
    ("field", "fault"),
    [
        ("error_rate", Fault.TRANSIENT_ERROR),
        ("permanent_error_rate", Fault.PERMANENT_ERROR),
        ("hang_rate", Fault.HANG),
        ("commit_then_fail_rate", Fault.COMMIT_THEN_FAIL),
    ],
)
def test_a_rate_of_0_2_holds_over_10k_keys(field: str, fault: Fault) -> None:
    # Binomial(10k, 0.2) has sd 0.004; 0.02 is five of them.
    assert fault_rate(FaultProfile(seed=1, **{field: 0.2}), fault) == pytest.approx(0.2, abs=0.02)


def test_rates_hold_together_because_faults_are_exclusive() -> None:
    profile = FaultProfile(
        seed=8, hang_rate=0.1, permanent_error_rate=0.1, error_rate=0.3, commit_then_fail_rate=0.2
    )
    met = Counter(decide_fault(profile, Operation.CREATE, key, 1).fault for key in KEYS)
    shares = {fault: count / len(KEYS) for fault, count in met.items()}
    assert shares == {
        Fault.HANG: pytest.approx(0.1, abs=0.02),
        Fault.PERMANENT_ERROR: pytest.approx(0.1, abs=0.02),
        Fault.TRANSIENT_ERROR: pytest.approx(0.3, abs=0.02),
        Fault.COMMIT_THEN_FAIL: pytest.approx(0.2, abs=0.02),
        Fault.NONE: pytest.approx(0.3, abs=0.02),
    }


def test_another_seed_gives_other_decisions() -> None:
    keys = KEYS[:1000]
    one = [decide_fault(FaultProfile(seed=1, error_rate=0.5), Operation.CREATE, k, 1) for k in keys]
    two = [decide_fault(FaultProfile(seed=2, error_rate=0.5), Operation.CREATE, k, 1) for k in keys]
    differing = sum(a != b for a, b in zip(one, two, strict=True))
    assert 350 < differing < 650  # independent coins disagree about half the time


def test_a_retry_is_a_new_draw_so_a_flaky_request_can_succeed() -> None:
    profile = FaultProfile(seed=1, error_rate=0.5)
    outcomes = {
        decide_fault(profile, Operation.CREATE, "k", attempt).fault for attempt in range(1, 40)
    }
    assert outcomes == {Fault.TRANSIENT_ERROR, Fault.NONE}


def test_outage_fails_every_operation_and_reads_are_never_faulted_otherwise() -> None:
    outage = FaultProfile(outage=True, retry_after_s=2)
    for operation in Operation:
        assert decide_fault(outage, operation, "k", 1) == FaultDecision(
            Fault.OUTAGE, 503, retry_after_s=2
        )
    everything = FaultProfile(error_rate=1.0)
    assert decide_fault(everything, Operation.GET, "k", 1).fault is Fault.NONE
    assert decide_fault(everything, Operation.LIST, "k", 1).fault is Fault.NONE
    assert decide_fault(everything, Operation.DELETE, "k", 1).fault is Fault.TRANSIENT_ERROR


def test_decisions_carry_what_the_caller_will_see() -> None:
    transient = FaultProfile(error_rate=1.0, error_status=429, retry_after_s=1.5)
    assert decide_fault(transient, Operation.CREATE, "k", 1) == FaultDecision(
        Fault.TRANSIENT_ERROR, 429, retry_after_s=1.5
    )
    permanent = FaultProfile(permanent_error_rate=1.0, permanent_error_status=409)
    assert decide_fault(permanent, Operation.CREATE, "k", 1).status == 409
    hang = FaultProfile(hang_rate=1.0, hang_s=4)
    assert decide_fault(hang, Operation.CREATE, "k", 1) == FaultDecision(Fault.HANG, 504, hang_s=4)
    error = FaultProfile(commit_then_fail_rate=1.0)
    assert decide_fault(error, Operation.CREATE, "k", 1) == FaultDecision(
        Fault.COMMIT_THEN_FAIL, 500
    )
    drop = FaultProfile(commit_then_fail_rate=1.0, commit_then_fail_mode="drop")
    assert decide_fault(drop, Operation.CREATE, "k", 1) == FaultDecision(
        Fault.COMMIT_THEN_FAIL, None, drop=True
    )
    assert decide_fault(FaultProfile(), Operation.CREATE, "k", 1).fault is Fault.NONE


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        decide_fault(FaultProfile(), Operation.CREATE, "k", 0)


def test_call_latency_repeats_per_call_and_ignores_fault_rates() -> None:
    spec = UniformLatency(dist="uniform", low_ms=10, high_ms=90)
    calm = FaultProfile(seed=4, latency_ms=spec)
    stormy = FaultProfile(seed=4, latency_ms=spec, error_rate=0.7)
    samples = [call_latency_ms(calm, Operation.CREATE, key, 1) for key in KEYS[:200]]
    assert samples == [call_latency_ms(stormy, Operation.CREATE, key, 1) for key in KEYS[:200]]
    assert all(10 <= sample <= 90 for sample in samples)
    assert len(set(samples)) > 190
    other_attempt = [call_latency_ms(calm, Operation.CREATE, key, 2) for key in KEYS[:200]]
    assert other_attempt != samples


@pytest.mark.parametrize("module", [seeding, latency, profile, fault_rules, request_keys])
def test_docstring_examples_hold(module: object) -> None:
    failures, attempted = doctest.testmod(module)  # type: ignore[arg-type]
    assert attempted > 0
    assert failures == 0
