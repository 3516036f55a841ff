"""The twin's parts against what they mirror: the fake provider's rules and answers, the
proxy's toxics, the service's settings, and the docstring examples."""

from __future__ import annotations

import doctest
import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.pacing import user_request_due_s
from contract.seeds import component_rng
from contract.spec import parse_scenario
from fakes.calendar.fault_rules import Fault, Operation, decide_fault
from fakes.calendar.profile import FaultProfile
from fakes.calendar.provider import FakeCalendar
from fakes.calendar.schemas import event_to_json
from fakes.calendar.store import EventDraft
from service.calendar.contract import EventSpec
from service.resilience.outcomes import OutcomeKind
from service.settings import SettingsError
from sim.calendar_client import SimCalendarClient
from sim.calendar_link import CalendarLink, Confirmation
from sim.config import TwinParams, apply_overrides
from sim.network import NEVER, NetworkPath
from sim.provider import ProviderRequest, SimProvider
from sim.service_settings import service_settings, unknown_settings

START = datetime(2030, 1, 7, 8, tzinfo=UTC)


def create(key: str, *, header: bool = True) -> ProviderRequest:
    draft = EventDraft("r1", START, START + timedelta(minutes=30), "s", key if header else None)
    return ProviderRequest(
        Operation.CREATE, "POST", "/v1/events", key, key if header else None, draft=draft
    )


def one_call(
    profile: dict[str, Any], request: ProviderRequest, timeout_s: float = 0.25, **toxics: Any
) -> tuple[OutcomeKind, SimProvider, float]:
    env = simpy.Environment()
    provider = SimProvider(env, 1)
    provider.set_profile(FaultProfile.model_validate({"seed": 1, **profile}))
    network = NetworkPath(0.0005, component_rng(1, "proxy"))
    for index, fault in enumerate(toxics.values()):
        network.add(index, fault)
    link = CalendarLink(env, network, provider, TwinParams())
    seen: list[Any] = []

    def run() -> Any:
        seen.append((yield from link.call(request, timeout_s, Confirmation())))

    env.process(run())
    env.run()
    return seen[0].kind, provider, seen[0].now


def test_the_faultless_shortcut_is_what_decide_fault_says() -> None:
    profile = FaultProfile(seed=3)
    for number in range(200):
        assert decide_fault(profile, Operation.CREATE, f"k{number}", 1).fault is Fault.NONE


def test_provider_generated_ids_are_the_fakes() -> None:
    kind, provider, _ = one_call({"honour_idempotency": False}, create("k1"))
    assert kind is OutcomeKind.OK
    (event,) = provider.store.all()
    assert event.id == FakeCalendar.new_event_id(1, "k1", 1)


def test_commit_then_fail_creates_the_event_and_answers_500_or_drops() -> None:
    kind, provider, _ = one_call({"commit_then_fail_rate": 1.0}, create("k1"))
    assert kind is OutcomeKind.AMBIGUOUS and len(provider.store.all()) == 1
    assert [c.status for c in provider.calls(10.0)] == [500]
    kind, provider, _ = one_call(
        {"commit_then_fail_rate": 1.0, "commit_then_fail_mode": "drop"}, create("k1")
    )
    assert kind is OutcomeKind.AMBIGUOUS and len(provider.store.all()) == 1
    assert [(c.fault, c.status) for c in provider.calls(10.0)] == [("commit_then_fail", None)]


def test_an_outage_is_retryable_a_hang_times_out_and_holds_a_worker() -> None:
    kind, _, now = one_call({"outage": True}, create("k1"))
    assert kind is OutcomeKind.RETRYABLE and now < 0.01
    queue = {
        "latency_ms": {"dist": "queue", "servers": 1, "service": {"dist": "constant", "ms": 5}}
    }
    kind, provider, now = one_call({"hang_rate": 1.0, **queue}, create("k1"))
    assert kind is OutcomeKind.AMBIGUOUS and now == pytest.approx(0.25)
    assert provider._queue is not None and provider._queue.busy(0.2) == 1
    assert provider.calls(10.0)[0].status is None  # the caller left; nothing was answered


def test_slow_answers_time_out_but_the_work_still_lands() -> None:
    kind, provider, now = one_call({"latency_ms": {"dist": "constant", "ms": 800}}, create("k1"))
    assert kind is OutcomeKind.AMBIGUOUS and now == pytest.approx(0.25)
    assert len(provider.store.all()) == 1  # created at 0.8 s, after the caller gave up


def test_toxics_reset_blackhole_and_delay() -> None:
    def fault(action: str, **params: Any) -> Any:
        text = f"{{at_s: 0, target: network, action: {action}, params: {params or {}}}}"
        return parse_scenario(
            f"name: t\ndescription: d\nload: {{rate_rps: 1, duration_s: 1}}\nfaults: [{text}]"
        ).faults[0]

    kind, provider, now = one_call({}, create("k1"), a=fault("reset_peer", timeout=20))
    assert kind is OutcomeKind.AMBIGUOUS and len(provider.store.all()) == 1
    assert now == pytest.approx(0.001 + 0.020, abs=1e-6)
    kind, provider, now = one_call({}, create("k1"), a=fault("timeout", stream="upstream"))
    assert kind is OutcomeKind.AMBIGUOUS and provider.store.all() == [] and now == 0.25
    kind, _, now = one_call({}, create("k1"), a=fault("latency", latency=100))
    assert kind is OutcomeKind.OK and now == pytest.approx(0.101)
    path = NetworkPath(0.0, component_rng(1, "proxy"))
    path.add(0, fault("timeout"))
    assert path.cross("downstream", 1.0, 100).fails_at == NEVER
    path.add(1, fault("down"))
    assert path.down
    kind, _, _ = one_call({}, create("k1"), a=fault("down"))
    assert kind is OutcomeKind.RETRYABLE


def test_settings_are_read_as_the_service_reads_them() -> None:
    settings = service_settings({"profile": "legacy", "protect_outbox": True, "deadline_ms": 500})
    assert settings.protections.outbox and not settings.protections.provider_key
    assert settings.deadline_ms == 500.0 and settings.require_idempotency_key is False
    assert service_settings({"outbox_schedule_s": [0.5, 1]}).outbox_schedule_s == (0.5, 1.0)
    with pytest.raises(SettingsError, match="REHEARSAL_DEADLINE_MS"):
        service_settings({"deadline_ms": "soon"})
    assert unknown_settings({"relay_pol_s": 1, "relay_poll_s": 1}) == ["relay_pol_s"]


def test_overrides_reach_the_scenario_and_the_twin_and_say_what_is_wrong() -> None:
    base = parse_scenario("name: t\ndescription: d\nload: {rate_rps: 5, duration_s: 1}")
    scenario, params = apply_overrides(base, {"load.users": 3, "twin.cpu_workers": 2})
    assert scenario.load.users == 3 and params.cpu_workers == 2
    with pytest.raises(ValueError, match="no twin parameter 'cpu'"):
        apply_overrides(base, {"twin.cpu": 1})
    with pytest.raises(ValueError):
        apply_overrides(base, {"load.users": 0})


@pytest.mark.parametrize("name", ["sim.queueing", "sim.components", "sim.config", "sim.twin"])
def test_docstring_examples(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name), verbose=False, report=False)
    assert results.attempted > 0 and results.failed == 0


def test_events_show_their_times_as_the_fake_writes_them_whatever_text_the_body_had() -> None:
    env = simpy.Environment()
    provider = SimProvider(env, 1)
    network = NetworkPath(0.0005, component_rng(1, "proxy"))
    client = SimCalendarClient(CalendarLink(env, network, provider, TwinParams()))
    for number, (start, end) in enumerate(
        [
            ("2030-01-07T08:00:00Z", "2030-01-07T08:30:00Z"),  # stands for itself
            ("2030-01-07T09:00:00+00:00", "2030-01-07T09:30:00.000000Z"),  # written out again
        ]
    ):
        spec = EventSpec("r1", start, end, "s", f"a{number}", f"a{number}")
        provider.receive(client._create_request(spec), caller_gone_at=1.0)
    shown = [event_to_json(event) for event in provider.store.all()]
    assert [(e.start, e.end) for e in provider.events()] == [(j["start"], j["end"]) for j in shown]
    assert provider.events()[1].start == "2030-01-07T09:00:00Z"


@settings(max_examples=500, deadline=None)
@given(
    users=st.integers(1, 4096),
    sent=st.integers(0, 10**7),
    rate=st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False),
    data=st.data(),
)
def test_constant_rate_pacing_in_the_twin_is_the_shared_arithmetic(
    users: int, sent: int, rate: float, data: st.DataObject
) -> None:
    # sim.clients paces a constant-rate user by (sent * users + client) / rate directly.
    client = data.draw(st.integers(0, users - 1))
    assert (sent * users + client) / rate == user_request_due_s(client, users, sent, [(0.0, rate)])
