"""The load in virtual time: Locust-like users, the scripted same-key bursts and same-slot races.

Mirrors `scenarios/locustfile.py`, `scenarios/real_mode._same_key_bursts` and `_same_slot_races`,
drawing every request from `contract.workload.ClientStream`, so one seed sends the same keys,
slots and bodies in both modes. Users: `load.users` of them, client numbers 0..users-1, spawned at
Locust's rate (`users * 10` per second); each runs its stream in a loop — draw the next request and
its request id from the stream's RNG (as the Locust user does), send it, feed the answer back
(`ClientStream.record`), then wait so that it offers `rate_at(t) / users` requests a second (no
wait when the answer came later than that). Users stop starting requests at `load.duration_s`.
Users wait a uniform share of their pacing interval before their first request, drawn from their
stream's RNG, as the Locust user does. The scripted driver, one burst after the other as
`scenarios.real_mode._drive_load` fires them beside Locust: the same-key bursts — group g (client
number 1000 + g) fires its first create `size` times at once after a 0.05 s barrier; every copy
accepts 409 (the key still in flight) — then the same-slot races — group g (client number 2000 + g)
fires `ClientStream.slot_race(size)` (one slot, `size` keys and customers) at once after the same
barrier; one may win, the others must get 409. Each request becomes a `RequestRecord` as
`scenarios.records` would make it. Time: the environment.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Generator
from typing import Any

import simpy

from contract.evidence import (
    ExternalState,
    Operation,
    Outcome,
    RequestRecord,
    classify_outcome,
)
from contract.pacing import user_request_due_s
from contract.spec import Scenario
from contract.workload import ClientStream, PlannedRequest, WorkloadConfig
from service.resilience.records import record_maker
from sim.components import uuid4_text
from sim.config import TwinParams
from sim.fast_paths import body_digest
from sim.flow_driver import ServiceCrashed
from sim.host import ServiceHost
from sim.request_front import Reply

_OPERATION = {
    "create": Operation.CREATE,
    "replay": Operation.CREATE,
    "conflict": Operation.CREATE,
    "get": Operation.GET,
    "list": Operation.LIST,
    "cancel": Operation.CANCEL,
    "reschedule": Operation.RESCHEDULE,
}
_STATE = {state.value: state for state in ExternalState}
BURST_CLIENT_BASE = 1_000  # real mode's: past any Locust user
RACE_CLIENT_BASE = 2_000  # real mode's same-slot racers: past the same-key bursts
_BUSY: Reply = (503, None, None, False)
_OUTCOMES: dict[tuple[Operation, int | None, ExternalState | None], Outcome] = {}
_new_record = record_maker(RequestRecord)


def _outcome(operation: Operation, status: int | None, state: ExternalState | None) -> Outcome:
    """`classify_outcome`, remembered: a pure function of few distinct arguments."""
    key = (operation, status, state)
    found = _OUTCOMES.get(key)
    if found is None:
        found = _OUTCOMES[key] = classify_outcome(operation, status, state)
    return found


def workload_config(scenario: Scenario, seed: int) -> WorkloadConfig:
    """The workload of a scenario, as real mode builds it (`scenarios.real_mode.workload_config`)."""
    load = scenario.load
    return WorkloadConfig(
        scenario=scenario.name,
        seed=seed,
        resources=load.resources,
        mix={k: v for k, v in load.mix.weights().items() if v > 0},
        duplicate_replay_ratio=load.duplicate_replay_ratio,
        conflicting_slot_ratio=load.conflicting_slot_ratio,
    )


class LoadModel:
    """The clients of one run and the records of what they saw."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        seed: int,
        host: ServiceHost,
        params: TwinParams,
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.seed = seed
        self.host = host
        self.config = workload_config(scenario, seed)
        self.records: list[RequestRecord] = []
        self._half_rtt_s = params.client_rtt_ms / 2000.0
        self._refused_s = params.connect_refused_ms / 1000.0
        self._timeout_s = params.client_timeout_s
        self._params = params
        self._digests: dict[str, str] = {}  # idempotency key → body digest (replays reuse it)
        load = scenario.load
        self._steps = (
            [(s.at_s, s.rate_rps) for s in load.shape]
            if load.shape
            else [(0.0, float(load.rate_rps or 0.0))]
        )
        for client in range(load.users):
            env.process(self._user(client))
        if load.concurrent_same_key.groups or load.concurrent_same_slot.groups:
            env.process(self._scripted())

    # -- users -------------------------------------------------------------------------------
    def _user(self, client: int) -> Generator[Any, Any, None]:
        """One Locust user, paced like `scenarios/locustfile.py`: its request number k is due at
        `contract.pacing.user_request_due_s` (t=0 is when every user is spawned, as in real
        mode); a user that is behind sends at once; none is due at or after the load's end."""
        env = self.env
        load = self.scenario.load
        users = load.users
        duration = load.duration_s
        steps = self._steps
        stream = ClientStream(self.config, client)
        rng = stream.rng
        send = self._send
        sent = 0
        # At a constant rate `user_request_due_s` is (sent * users + client) / rate: the same
        # arithmetic (0.0 + (n - 0.0) / rate), without its walk over the steps for every request.
        rate = steps[0][1] if len(steps) == 1 and steps[0][0] == 0.0 and steps[0][1] > 0 else None
        while True:
            if rate is not None:
                due = (sent * users + client) / rate
            else:
                due = user_request_due_s(client, users, sent, steps)
            if due >= duration:
                return
            if due > env.now:
                yield env.timeout(due - env.now)
            sent += 1
            planned = stream.next_request()
            # The Locust user's request id: the next 128 bits of the stream's own RNG.
            request_id = uuid4_text(rng.getrandbits(128))
            status, appointment_id, _ended = yield from send(planned, request_id)
            stream.record(planned, status, appointment_id)

    # -- the scripted driver -----------------------------------------------------------------
    def _scripted(self) -> Generator[Any, Any, None]:
        """The same-key bursts, then the same-slot races, each group fired together after the
        driver's barrier and awaited before the next (`scenarios.scripted.fire_together`)."""
        load = self.scenario.load
        burst = load.concurrent_same_key
        for group in range(burst.groups):
            stream = ClientStream(self.config, BURST_CLIENT_BASE + group)
            planned = stream.next_request()
            while planned.operation != "create":
                planned = stream.next_request()
            # Any copy may meet the first still in flight: 409 is a correct answer (DESIGN §3).
            planned = dataclasses.replace(planned, expected_statuses=(201, 202, 409))
            yield from self._fire_together([planned] * burst.size, f"{group}")
        race = load.concurrent_same_slot
        for group in range(race.groups):
            racers = ClientStream(self.config, RACE_CLIENT_BASE + group).slot_race(race.size)
            yield from self._fire_together(racers, f"slot{group}")

    def _fire_together(
        self, planned: list[PlannedRequest], group: str
    ) -> Generator[Any, Any, None]:
        env = self.env
        yield env.timeout(self._params.burst_at_s)
        fired = [
            env.process(self._scripted_one(request, group, number))
            for number, request in enumerate(planned)
        ]
        yield env.all_of(fired)

    def _scripted_one(
        self, planned: PlannedRequest, group: str, number: int
    ) -> Generator[Any, Any, None]:
        # Real mode names them uuid5(f"{scenario}/{seed}/{number}"), the same in every group;
        # the group is added here so request ids stay unique.
        name = f"{self.scenario.name}/{self.seed}/{group}/{number}"
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        yield from self._send(planned, request_id)

    # -- one request -------------------------------------------------------------------------
    def _send(
        self, planned: PlannedRequest, request_id: str
    ) -> Generator[Any, Any, tuple[int | None, str | None, float]]:
        """Send one request and record it; returns (status, appointment id, when it was seen)."""
        env = self.env
        host = self.host
        started = env.now
        fingerprint = self._fingerprint(planned)
        answer: Reply | None
        if not host.up:
            answer = None
            yield env.timeout(self._refused_s)  # connection refused while it restarts
        else:
            process = env.active_process
            assert process is not None  # a request always runs in its client's process
            ticket = host.enter(process)
            if ticket is None:
                answer = _BUSY
            else:
                try:
                    answer = yield from host.serve(planned, started + self._half_rtt_s)
                except (simpy.Interrupt, ServiceCrashed):
                    answer = None  # the process died under it: the connection drops
                finally:
                    host.leave(ticket)
        if answer is None:
            status, appointment_id, external, replayed = None, None, None, False
            ended = env.now
        else:
            status, appointment_id, external, replayed = answer
            # Rendering the answer is CPU the client waits for, but nothing else does.
            ended = host.timing.finish(env.now, planned.operation) + self._half_rtt_s
        if ended - started > self._timeout_s:  # the load driver gave up on it
            status, appointment_id, external, replayed = None, None, None, False
            ended = started + self._timeout_s
        operation = _OPERATION[planned.operation]
        state = _STATE[external] if external else None
        self.records.append(
            _new_record(  # RequestRecord(...), every field in order
                self.scenario.name,  # scenario
                self.seed,  # seed
                request_id,  # request_id
                planned.idempotency_key,  # idempotency_key
                operation,  # operation
                round(started, 6),  # start_s
                round(ended, 6),  # end_s
                round((ended - started) * 1000.0, 3),  # latency_ms
                status,  # http_status
                appointment_id if status in (200, 201, 202) else None,  # appointment_id
                state,  # external_state
                replayed,  # replayed
                _outcome(operation, status, state),  # outcome
                fingerprint,  # body_digest
                status in planned.expected_statuses,  # as_expected
            )
        )
        return status, appointment_id, ended

    def _fingerprint(self, planned: PlannedRequest) -> str | None:
        """The body's digest (`contract.workload.body_digest`), once per key and body."""
        key = planned.idempotency_key
        if key is None or planned.operation not in ("create", "replay"):
            return body_digest(planned.body)
        digest = self._digests.get(key)
        if digest is None:
            digest = body_digest(planned.body)
            assert digest is not None
            self._digests[key] = digest
        return digest
