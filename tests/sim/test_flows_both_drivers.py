"""One implementation, two drivers: the service's flows run under asyncio and under SimPy against
the same scripted provider answers and leave exactly the same effects — the same answers, the
same provider calls at the same times, the same database, the same counters.

The flows (`service.booking`, `service.relay`) are the only implementation; the twin adds
timing, never decisions (DESIGN §1). Only the ports differ between the two runs: asyncio's
wake-up and task group on a manual clock, or SimPy's clock, processes and events
(`sim.sim_ports`, `sim.flow_driver`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import simpy

from service.asyncio_ports import AsyncioTasks, AsyncioWakeup
from service.booking.answers import Answer, BookingError
from service.booking.cancel_flow import CancelFlow
from service.booking.commands import CancelCommand, CreateCommand, RescheduleCommand
from service.booking.create_flow import CreateFlow
from service.booking.read_flow import get_appointment
from service.booking.reschedule_saga import RescheduleSaga
from service.calendar.contract import CallResult, EventSpec
from service.calendar.gateway import CalendarGateway
from service.crash_points import CrashPoints
from service.policies import Policies
from service.ports.context import Clock, Ports
from service.relay.outbox_relay import OutboxRelay
from service.relay.reconciler import Reconciler
from service.resilience.outcomes import Outcome, OutcomeKind
from service.settings import Settings
from sim.flow_driver import SimTasks, drive
from sim.memory_store import MemoryStore
from sim.sim_ports import SeededIds, SimClock, SimWakeup, TwinCounters

EPOCH = 1_900_000_000.0
T0 = dt.datetime(2031, 6, 2, 9, 0, tzinfo=dt.UTC)
KINDS = {
    "ok": OutcomeKind.OK,
    "ambiguous": OutcomeKind.AMBIGUOUS,
    "retryable": OutcomeKind.RETRYABLE,
    "permanent": OutcomeKind.PERMANENT,
}


class ScriptedProvider:
    """A calendar client whose answers come from a script keyed by event id (default: ok);
    each call takes 10 ms on the clock it is given."""

    def __init__(self, clock: Clock, script: dict[str, list[str]]) -> None:
        self.clock = clock
        self.script = {key: list(kinds) for key, kinds in script.items()}
        self.calls: list[tuple[Any, ...]] = []
        self.events: dict[str, dict[str, Any]] = {}

    def _next(self, key: str) -> str:
        queued = self.script.get(key)
        return queued.pop(0) if queued else "ok"

    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult:
        event_id = spec.event_id or "generated"
        kind = self._next(event_id)
        self.calls.append(("create", event_id, round(self.clock.now() - EPOCH, 6), kind))
        await self.clock.sleep(0.01)
        if kind in ("ok", "ambiguous"):  # an ambiguous answer: committed, answer lost
            self.events[event_id] = {
                "id": event_id,
                "calendar_id": spec.calendar_id,
                "start": spec.start,
                "end": spec.end,
                "created_at": _iso(self.clock.now()),
            }
        outcome = Outcome(KINDS[kind], self.clock.now(), None, "" if kind == "ok" else kind)
        return CallResult(outcome, 201, {"id": event_id}) if kind == "ok" else CallResult(outcome)

    async def delete_event(self, event_id: str, key: str | None, timeout_s: float) -> CallResult:
        kind = self._next(f"delete:{event_id}")
        self.calls.append(("delete", event_id, round(self.clock.now() - EPOCH, 6), kind))
        await self.clock.sleep(0.01)
        if kind == "ok":
            self.events.pop(event_id, None)
        return CallResult(Outcome(KINDS[kind], self.clock.now(), None, ""))

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        await self.clock.sleep(0.01)
        return sorted(self.events.values(), key=lambda e: e["id"])

    async def aclose(self) -> None:
        return None


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat().replace("+00:00", "Z")


def _event(
    event_id: str, calendar: str, start: dt.datetime, minutes: int, created: float, key: str
) -> dict[str, Any]:
    """An event as the provider lists it."""
    end = start + dt.timedelta(minutes=minutes)
    return {"id": event_id, "calendar_id": calendar, "start": _utc(start), "end": _utc(end),
            "idempotency_key": key, "created_at": _iso(created)}  # fmt: skip


def _utc(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class ManualClock:
    """asyncio's side: time moves only by sleeps (each yields to the loop once)."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


SETTINGS = Settings(reconcile_grace_s=1.0)
SCRIPT = {
    # slot 1: three ambiguous answers use the request's attempts up: PENDING, for the relay
    "b-pending": [],
}


def build_ports(clock: Clock, wakeup: Any, tasks: Any, provider_script: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    policies = Policies.from_settings(SETTINGS)
    provider = ScriptedProvider(clock, provider_script)
    counters = TwinCounters()
    rng = random.Random(11)
    gateway = CalendarGateway(provider, clock, rng, policies.retry, None, counters)
    ports = Ports(
        settings=SETTINGS,
        policies=policies,
        clock=clock,
        rng=rng,
        store=MemoryStore(),
        gateway=gateway,
        breaker=None,
        crash=CrashPoints(None),
        ids=SeededIds(random.Random(5)),
        metrics=counters,
        relay_wakeup=wakeup,
        tasks=tasks,
    )
    return ports, provider, counters


def command(slot: int, resource: str = "r1", tenant: str = "tenant") -> CreateCommand:
    start = T0 + dt.timedelta(minutes=30 * slot)
    return CreateCommand(
        tenant,
        resource,
        "0b1c3a57-7f3e-4c59-9a8e-2f2d8f0c6b11",
        start,
        start + dt.timedelta(minutes=30),
        "consultation",
        title=f"slot {slot}",
    )


async def scenario(ports: Ports, provider: ScriptedProvider) -> list[Any]:
    """The same story for both drivers; returns what each step answered."""
    seen: list[Any] = []

    async def step(call: Callable[[], Coroutine[Any, Any, Answer | Any]]) -> Any:
        try:
            answer = await call()
        except BookingError as refusal:
            seen.append(("refused", refusal.status, refusal.code))
            return None
        if isinstance(answer, Answer):
            seen.append(
                (answer.status, answer.appointment_id, answer.external_state, answer.replayed)
            )
        else:
            seen.append(answer)
        return answer

    def now() -> float:
        return ports.clock.now()

    create = CreateFlow(ports)
    a = await step(lambda: create.run(command(0), "key-a", now()))
    await step(lambda: create.run(command(0), "key-a", now()))  # a replay
    await step(lambda: create.run(command(1), "key-a", now()))  # the key, another body: 422
    await step(lambda: create.run(command(0), "key-c", now()))  # A's slot: 409
    b = await step(lambda: create.run(command(2), "key-b", now()))  # ambiguous x3: PENDING
    d = await step(lambda: create.run(command(3), "key-d", now()))  # refused for good: FAILED
    await ports.clock.sleep(2.0)  # B's outbox row falls due
    relay = OutboxRelay(ports)
    seen.append(("relay pass", await relay.drain_once()))
    await step(lambda: get_appointment(ports, "tenant", b.appointment_id))
    await step(lambda: CancelFlow(ports).run(CancelCommand("tenant", a.appointment_id), "key-x"))
    await ports.clock.sleep(0.5)
    seen.append(("relay pass", await relay.drain_once()))
    # A's event is back after its delete (a create that committed late): the service's own id
    # and key, on no live appointment — an orphan for the reconciler to delete.
    provider.events[a.appointment_id] = _event(a.appointment_id, "r1", T0, 30, now(),
                                               key=a.appointment_id)  # fmt: skip
    moved = RescheduleCommand(
        "tenant", b.appointment_id, T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=5.5)
    )
    await step(lambda: RescheduleSaga(ports).run(moved, "key-r", now()))
    await ports.clock.sleep(0.5)
    seen.append(("relay pass", await relay.drain_once()))
    # Another client's event on B's new slot: never deleted, reported for review.
    provider.events["foreign-on-b"] = _event("foreign-on-b", "r1", T0 + dt.timedelta(hours=5),
                                             15, now(), key="their-own-key")  # fmt: skip
    await ports.clock.sleep(2.0)
    report = await Reconciler(ports).run_once()
    seen.append(("reconciled", dataclasses.asdict(report)))
    seen.append(("relay pass", await relay.drain_once()))
    # One resource is one calendar: another tenant cannot book B's slot, can book another
    # resource's, and its own reconcile pass sees only its own.
    later = RescheduleCommand("x", "x", T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=5.5))
    other = CreateCommand("other", "r1", "0b1c3a57-7f3e-4c59-9a8e-2f2d8f0c6b11",
                          later.start_time, later.end_time, "pickup")  # fmt: skip
    await step(lambda: create.run(other, "key-o1", now()))
    await step(lambda: create.run(dataclasses.replace(other, resource_id="r2"), "key-o2", now()))
    report = await Reconciler(ports).run_once("other")
    seen.append(("reconciled other", dataclasses.asdict(report)))
    assert d is not None
    return seen


def effects(ports: Ports, provider: ScriptedProvider, counters: TwinCounters, seen: list[Any]):  # type: ignore[no-untyped-def]
    memory = ports.store
    assert isinstance(memory, MemoryStore)
    appointments = [
        (a.id, a.status.value, a.external_state.value, a.external_id, a.version, a.start_time)
        for a in memory.appointments()
    ]
    rows = [
        (r.id, r.event_type, r.attempts, r.completed_at, r.dead_lettered, r.claimed_until)
        for r in memory.outbox.values()
    ]
    keys = {k: (e.record.state.value, e.record.response_status) for k, e in memory.keys.items()}
    return {
        "answers": seen,
        "calls": provider.calls,
        "appointments": appointments,
        "rows": rows,
        "keys": keys,
        "counters": (counters.calendar_calls_total, counters.retries_total),
        "events": sorted(provider.events),
    }


# The provider's script: B's event answers ambiguously three times (then ok, for the relay);
# D's is refused for good; another client's event sits on another calendar from the start.
def script_for(ids: list[str]) -> dict[str, list[str]]:
    return {ids[1]: ["ambiguous"] * 3, ids[2]: ["permanent"]}


# Another client's event on a calendar with no booking, with a time the service cannot read.
FOREIGN_ELSEWHERE = {"id": "foreign-elsewhere", "calendar_id": "r9", "start": "x", "end": "y",
                     "created_at": _iso(EPOCH - 3600)}  # fmt: skip


def run_asyncio() -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        clock = ManualClock(EPOCH)
        ports, provider, counters = build_ports(clock, AsyncioWakeup(), AsyncioTasks(), {})
        provider.script = script_for(_ids())
        provider.events["foreign-elsewhere"] = dict(FOREIGN_ELSEWHERE)
        seen = await scenario(ports, provider)
        return effects(ports, provider, counters, seen)

    return asyncio.run(main())


def run_simpy() -> dict[str, Any]:
    env = simpy.Environment()
    clock = SimClock(env, EPOCH)
    ports, provider, counters = build_ports(clock, SimWakeup(env), SimTasks(env, set()), {})
    provider.script = script_for(_ids())
    provider.events["foreign-elsewhere"] = dict(FOREIGN_ELSEWHERE)
    result: list[dict[str, Any]] = []

    def main() -> Any:
        seen = yield from drive(scenario(ports, provider))
        result.append(effects(ports, provider, counters, seen))

    env.process(main())
    env.run()
    return result[0]


def _ids() -> list[str]:
    """The appointment ids the flows will draw: A, B, D (C and the 422 draw ids they never keep:
    the flow names an appointment before it knows whether it will keep it)."""
    ids = SeededIds(random.Random(5))
    drawn = [ids.new_id() for _ in range(6)]
    return [drawn[0], drawn[4], drawn[5]]


@pytest.fixture(scope="module")
def both() -> dict[str, dict[str, Any]]:
    return {"asyncio": run_asyncio(), "simpy": run_simpy()}


def test_the_story_is_what_the_flows_should_answer(both: dict[str, dict[str, Any]]) -> None:
    answers = both["asyncio"]["answers"]
    a_id, b_id, d_id = _ids()
    assert answers[0] == (201, a_id, "CONFIRMED", False)
    assert answers[1] == (201, a_id, "CONFIRMED", True)  # the replay
    assert answers[2] == ("refused", 422, "idempotency_key_reused")
    assert answers[3] == ("refused", 409, "slot_taken")
    assert answers[4] == (202, b_id, "PENDING", False)
    assert answers[5] == (202, d_id, "FAILED", False)  # compensated at once
    assert answers[6] == ("relay pass", 1)
    assert answers[7] == (200, b_id, "CONFIRMED", False)  # the relay confirmed it
    assert answers[8] == (200, a_id, "PENDING", False)  # cancelled; its delete is queued
    assert answers[10] == (200, b_id, "CONFIRMED", False)  # rescheduled inline
    report = answers[12][1]
    # Only the service's own orphan (A's id) is deleted; the other client's events stay, the one
    # on B's slot reported for review.
    assert (report["orphans_found"], report["orphans_deleted"]) == (1, 1)
    assert (report["foreign_events"], report["foreign_overlapping"]) == (2, 1)
    assert report["foreign_overlapping_ids"] == ["foreign-on-b"]
    calls = both["asyncio"]["calls"]
    assert [c[3] for c in calls if c[1] == b_id][:3] == ["ambiguous"] * 3
    deleted = [c[1] for c in calls if c[0] == "delete"]
    assert deleted.count(a_id) == 2  # the cancel's delete, then the reconciler's
    assert "foreign-elsewhere" not in deleted and "foreign-on-b" not in deleted
    assert {"foreign-elsewhere", "foreign-on-b"} <= set(both["asyncio"]["events"])
    # Another tenant: refused on B's slot of r1 (one calendar), booked on r2; its own pass
    # counts only its own appointment and event.
    assert answers[14] == ("refused", 409, "slot_taken")
    assert answers[15][0] == 201
    theirs = answers[16][1]
    assert (theirs["tenant"], theirs["appointments"], theirs["provider_events"]) == ("other", 1, 1)
    assert theirs["foreign_overlapping_ids"] == [] and theirs["orphans_found"] == 0


def test_asyncio_and_simpy_leave_identical_effects(both: dict[str, dict[str, Any]]) -> None:
    asyncio_run, simpy_run = both["asyncio"], both["simpy"]
    for part in asyncio_run:
        assert asyncio_run[part] == simpy_run[part], f"the drivers disagree on {part}"
