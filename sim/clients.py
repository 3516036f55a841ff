"""The load in virtual time: Locust-like users and the scripted same-key bursts.

Mirrors `scenarios/locustfile.py` and `scenarios/real_mode._same_key_bursts`, drawing every
request from `scenarios.workload.ClientStream`, so one seed sends the same keys, slots and bodies
in both modes. Users: `load.users` of them, client numbers 0..users-1, spawned at Locust's rate
(`users * 10` per second); each runs its stream in a loop — draw the next request and its request
id from the stream's RNG (as the Locust user does), send it, feed the answer back
(`ClientStream.record`), then wait so that it offers `rate_at(t) / users` requests a second (no
wait when the answer came later than that). Users stop starting requests at `load.duration_s`.
Users wait a uniform share of their pacing interval before their first request, drawn from their
stream's RNG, as the Locust user does. Bursts: group g (client number 1000 + g) fires its first
create `size` times at once after a 0.05 s barrier, one group after the other; every copy
accepts 409 (the key still in flight). Each request becomes a `RequestRecord` as
`scenarios.records` would make it. Time: the environment.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Generator
from typing import Any

import simpy

from scenarios.evidence import (
    ExternalState,
    Operation,
    Outcome,
    RequestRecord,
    classify_outcome,
)
from scenarios.spec import Scenario
from scenarios.workload import ClientStream, PlannedRequest, WorkloadConfig
from sim.booking import Answer
from sim.components import uuid4_text
from sim.config import TwinParams
from sim.crash_points import ServiceCrashed
from sim.fast_paths import body_digest
from sim.host import ServiceHost

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
_BUSY: Answer = (503, None, None, False)
_OUTCOMES: dict[tuple[Operation, int | None, ExternalState | None], Outcome] = {}


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
        for client in range(load.users):
            delay = client / (load.users * params.spawn_rate_per_user)
            env.process(self._user(client, delay))
        if load.concurrent_same_key.groups:
            env.process(self._bursts())

    # -- users -------------------------------------------------------------------------------
    def _user(self, client: int, delay: float) -> Generator[Any, Any, None]:
        env = self.env
        load = self.scenario.load
        users = load.users
        duration = load.duration_s
        if delay:
            yield env.timeout(delay)
        stream = ClientStream(self.config, client)
        rng = stream.rng
        # The Locust user's first request waits a uniform share of its pacing interval, drawn
        # from its stream's RNG (so the draw is part of the seeded sequence in both modes).
        rate = load.rate_at(env.now) / users
        if rate > 0:
            yield env.timeout(rng.uniform(0, 1.0 / rate))
        constant_gap = users / load.rate_rps if load.rate_rps is not None else None
        send = self._send
        while env.now < duration:
            started = env.now
            planned = stream.next_request()
            # The Locust user's request id: the next 128 bits of the stream's own RNG.
            request_id = uuid4_text(rng.getrandbits(128))
            status, appointment_id, ended = yield from send(planned, request_id)
            stream.record(planned, status, appointment_id)
            now = env.now
            gap = constant_gap if constant_gap is not None else users / load.rate_at(now)
            next_start = started + gap
            if next_start < ended:
                next_start = ended
            yield env.timeout(next_start - now)

    # -- bursts ------------------------------------------------------------------------------
    def _bursts(self) -> Generator[Any, Any, None]:
        env = self.env
        burst = self.scenario.load.concurrent_same_key
        for group in range(burst.groups):
            stream = ClientStream(self.config, BURST_CLIENT_BASE + group)
            planned = stream.next_request()
            while planned.operation != "create":
                planned = stream.next_request()
            # Any copy may meet the first still in flight: 409 is a correct answer (DESIGN §3).
            planned = dataclasses.replace(planned, expected_statuses=(201, 202, 409))
            yield env.timeout(self._params.burst_at_s)
            fired = [
                env.process(self._burst_one(planned, group, number)) for number in range(burst.size)
            ]
            yield env.all_of(fired)

    def _burst_one(
        self, planned: PlannedRequest, group: int, number: int
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
        answer: Answer | None
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
                    answer = yield from host.flow(
                        planned, fingerprint, request_id, started + self._half_rtt_s
                    )
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
            RequestRecord(
                scenario=self.scenario.name,
                seed=self.seed,
                request_id=request_id,
                idempotency_key=planned.idempotency_key,
                operation=operation,
                start_s=round(started, 6),
                end_s=round(ended, 6),
                latency_ms=round((ended - started) * 1000.0, 3),
                http_status=status,
                appointment_id=appointment_id if status in (200, 201, 202) else None,
                external_state=state,
                replayed=replayed,
                outcome=_outcome(operation, status, state),
                body_digest=fingerprint,
                as_expected=status in planned.expected_statuses,
            )
        )
        return status, appointment_id, ended

    def _fingerprint(self, planned: PlannedRequest) -> str | None:
        """The body's digest (`scenarios.workload.body_digest`), once per key and body."""
        key = planned.idempotency_key
        if key is None or planned.operation not in ("create", "replay"):
            return body_digest(planned.body)
        digest = self._digests.get(key)
        if digest is None:
            digest = body_digest(planned.body)
            assert digest is not None
            self._digests[key] = digest
        return digest
