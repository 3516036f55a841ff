"""The fake calendar provider in virtual time: the same fault rules, latency models and store.

Mirrors `fakes/calendar/call_handling.py` step for step, with the shared pure parts doing the
deciding: `fault_rules.decide_fault` and `call_latency_ms` keyed by (seed, op, key, attempt), the
`queue` model's worker count from `latency.servers_of`, and the ground truth in
`fakes.calendar.store.EventStore`. Order for one call: count the attempt and decide its fault;
outage answers 503 at once; otherwise take a worker (queue model only: a `FifoServers`), then
hang (until the caller disconnects or `hang_s`, then 504) or be served for the sampled time; a
transient or permanent error answers instead of the work; otherwise the work runs when the
service time is over (even if the caller gave up meanwhile, as the fake does), and
commit-then-fail turns its success into a 500 or a dropped answer. The call log records arrival
time, key, attempt, fault and status (None: no complete answer), in arrival order.

Two exact shortcuts keep the hot path cheap: a profile with every rate 0 and no outage meets no
fault whatever the draw, so the draw is skipped; a constant latency needs no sample. Time: the
SimPy environment; randomness: only the keyed rules (no component RNG).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import simpy

from contract.evidence import ProviderCall, ProviderEvent
from fakes.calendar.fault_rules import (
    NO_FAULT,
    Fault,
    FaultDecision,
    Operation,
    call_latency_ms,
    decide_fault,
)
from fakes.calendar.latency import ConstantLatency, QueueLatency, servers_of
from fakes.calendar.profile import RATE_FIELDS, FaultProfile
from fakes.calendar.seeding import derive_uuid
from fakes.calendar.store import EventDraft, EventStore
from service.resilience.records import record_maker
from sim.fast_paths import iso_utc
from sim.queueing import FifoServers

#: The provider's clock at t = 0 of a run (its `created_at` stamps; real mode uses the wall clock).
SIM_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)
_new_call = record_maker(ProviderCall)
_new_event = record_maker(ProviderEvent)


class ProviderRequest:
    """One events-API call as the service's client sends it (built once per appointment or
    delete, so a plain slotted class rather than a frozen dataclass: it sits on the hot path).

    `key` names the call for attempt counting and fault keying (`fakes.calendar.request_keys`:
    the Idempotency-Key header, else the body's id, else a fingerprint); `header_key` is the
    header as sent. A create carries `draft`, a delete `event_id`. `times`: the draft's start
    and end as the body's text, when that text is exactly what the provider writes for them
    (`sim.fast_paths.written_as_iso_utc`), else None.
    """

    __slots__ = ("op", "method", "path", "key", "header_key", "draft", "event_id", "times")

    def __init__(
        self,
        op: Operation,
        method: str,
        path: str,
        key: str,
        header_key: str | None,
        draft: EventDraft | None = None,
        event_id: str | None = None,
        times: tuple[str, str] | None = None,
    ) -> None:
        self.op = op
        self.method = method
        self.path = path
        self.key = key
        self.header_key = header_key
        self.draft = draft
        self.event_id = event_id
        self.times = times


class ProviderReply:
    """How one call ends. `due_at`: when the provider answers (or drops the answer); None when it
    never answers because the caller left first (a hang). `status` (None for a dropped answer),
    `event_id` and `retry_after_s` are filled in by `due_at`, when the work has run; `work` is
    the scheduled event that runs it then (None when it ran at once or there is none)."""

    __slots__ = ("due_at", "status", "event_id", "retry_after_s", "dropped", "work")

    def __init__(self) -> None:
        self.work: simpy.Timeout | None = None
        self.due_at: float | None = None
        self.status: int | None = None
        self.event_id: str | None = None
        self.retry_after_s: float | None = None
        self.dropped = False


class SimProvider:
    """The provider's state: profile in force, attempt counters, ground truth, call log, queue."""

    def __init__(self, env: simpy.Environment, default_seed: int) -> None:
        self.env = env
        self.default_seed = default_seed
        self.store = EventStore()
        self._attempts: dict[tuple[Operation, str], int] = {}
        # [arrival, method, path, key, attempt, fault, status, ended_at], in arrival order.
        self._calls: list[list[Any]] = []
        # Event id → its start and end text, from the request that created it (`times`).
        self._times: dict[str, tuple[str, str]] = {}
        self._queue: FifoServers | None = None
        self._servers: int | None = None
        self.set_profile(FaultProfile(seed=default_seed))

    def set_profile(self, profile: FaultProfile) -> None:
        """Put `profile` in force for calls arriving from now on (calls in flight keep theirs)."""
        self.profile = profile
        self._faultless = not profile.outage and not any(
            getattr(profile, name) for name in RATE_FIELDS
        )
        latency = profile.latency_ms
        service = latency.service if isinstance(latency, QueueLatency) else latency
        self._constant_s = service.ms / 1000.0 if isinstance(service, ConstantLatency) else None
        servers = servers_of(latency)
        if servers != self._servers:  # a resize starts a new queue, as the fake's semaphore does
            self._servers = servers
            self._queue = FifoServers(servers) if servers is not None else None

    def reset_profile(self) -> None:
        """The default profile: no faults, no latency, keys honoured, the run's provider seed."""
        self.set_profile(FaultProfile(seed=self.default_seed))

    # -- one call ----------------------------------------------------------------------------
    def receive(self, request: ProviderRequest, caller_gone_at: float) -> ProviderReply:
        """A call arrives now. Returns its reply: settled now, or by `due_at` when its work runs
        (a scheduled event), or never answered (`due_at` None) when the caller leaves first."""
        now = self.env.now
        profile = self.profile
        counter = (request.op, request.key)
        attempt = self._attempts.get(counter, 0) + 1
        self._attempts[counter] = attempt
        decision = (
            NO_FAULT if self._faultless else decide_fault(profile, request.op, request.key, attempt)
        )
        fault = decision.fault
        entry = [
            now,
            request.method,
            request.path,
            request.key,
            attempt,
            None if fault is Fault.NONE else fault.value,
            None,
            None,
        ]
        self._calls.append(entry)
        reply = ProviderReply()
        if fault is Fault.OUTAGE:
            self._answer(reply, entry, now, decision.status, decision.retry_after_s)
            return reply
        queue = self._queue
        if fault is Fault.HANG:
            assert decision.hang_s is not None
            start = queue.start_at(now) if queue is not None else now
            hang_ends = start + decision.hang_s
            if caller_gone_at <= hang_ends:  # the fake notices the disconnect and lets go
                end = max(start, caller_gone_at)
                entry[7] = end  # logged with no status: nobody was listening
            else:
                end = hang_ends
                self._answer(reply, entry, end, decision.status, decision.retry_after_s)
            if queue is not None:
                queue.occupy(end)
            return reply
        if self._constant_s is not None:
            service_s = self._constant_s
        else:
            service_s = call_latency_ms(profile, request.op, request.key, attempt) / 1000.0
        start = queue.start_at(now) if queue is not None else now
        end = start + service_s
        if queue is not None:
            queue.occupy(end)
        if fault is Fault.TRANSIENT_ERROR or fault is Fault.PERMANENT_ERROR:
            self._answer(reply, entry, end, decision.status, decision.retry_after_s)
            return reply
        reply.due_at = end
        if end <= now:
            self._work(request, attempt, profile, decision, reply, entry)
        else:
            work = reply.work = self.env.timeout(end - now)
            work.callbacks.append(
                lambda _: self._work(request, attempt, profile, decision, reply, entry)
            )
        return reply

    def deliver_later(
        self, request: ProviderRequest, arrives_at: float, caller_gone_at: float
    ) -> None:
        """A request still on the wire when its caller gave up: it arrives all the same."""
        event = self.env.timeout(arrives_at - self.env.now)
        event.callbacks.append(lambda _: self._receive_unheard(request, caller_gone_at))

    def _receive_unheard(self, request: ProviderRequest, caller_gone_at: float) -> None:
        self.receive(request, caller_gone_at)  # nobody waits for the reply

    def _work(
        self,
        request: ProviderRequest,
        attempt: int,
        profile: FaultProfile,
        decision: FaultDecision,
        reply: ProviderReply,
        entry: list[Any],
    ) -> None:
        now = self.env.now
        if request.op is Operation.CREATE:
            draft = request.draft
            assert draft is not None
            honour = profile.honour_idempotency
            # The fake's generated id (FakeCalendar.new_event_id), needed only when no client id
            # will be used: skipping it then is exact.
            generated = (
                ""
                if honour and draft.client_id is not None
                else derive_uuid(profile.seed, "event-id", request.key, attempt)
            )
            event, replayed = self.store.create(
                draft,
                idempotency_key=request.header_key,
                generated_id=generated,
                created_at=SIM_EPOCH + timedelta(seconds=now),
                honour_idempotency=honour,
            )
            status = 200 if replayed else 201
            event_id: str | None = event.id
            if not replayed:
                if request.times is None:
                    self._times.pop(event.id, None)
                else:
                    self._times[event.id] = request.times
        else:  # delete (get and list are not called by the service's request path)
            assert request.event_id is not None
            found = self.store.delete(request.event_id)
            status, event_id = (204, request.event_id) if found else (404, None)
        reply.event_id = event_id
        if decision.fault is Fault.COMMIT_THEN_FAIL and 200 <= status < 300:
            if decision.drop:
                reply.dropped = True
                entry[7] = now  # logged with no status: the caller got no complete answer
                return
            status = decision.status or 500
        self._answer(reply, entry, now, status, None)

    @staticmethod
    def _answer(
        reply: ProviderReply,
        entry: list[Any],
        at: float,
        status: int | None,
        retry_after_s: float | None,
    ) -> None:
        reply.due_at = at
        reply.status = status
        reply.retry_after_s = retry_after_s
        entry[6] = status
        entry[7] = at

    # -- what the run gathers ----------------------------------------------------------------
    def calls(self, until: float) -> list[ProviderCall]:
        """Calls completed by `until`, in arrival order, as `GET /_control/calls` lists them."""
        # ProviderCall(t_s, method, path, idempotency_key, attempt, fault, status)
        return [
            _new_call(round(e[0], 6), e[1], e[2], e[3], e[4], e[5], e[6])
            for e in self._calls
            if e[7] is not None and e[7] <= until
        ]

    def create_calls(self) -> list[str]:
        """The key of every create call received, in arrival order (what real mode counts per
        key from `GET /_control/calls`)."""
        return [e[3] for e in self._calls if e[1] == "POST"]

    def events(self) -> list[ProviderEvent]:
        """The ground truth, in creation order (`GET /_control/events`, its JSON as
        `fakes.calendar.schemas.event_to_json` writes it)."""
        known = self._times
        events = []
        for event in self.store.all():
            times = known.get(event.id)
            start, end = times if times is not None else (iso_utc(event.start), iso_utc(event.end))
            # ProviderEvent(id, calendar_id, start, end, summary, idempotency_key, created_at)
            events.append(
                _new_event(
                    event.id,
                    event.calendar_id,
                    start,
                    end,
                    event.summary,
                    event.idempotency_key,
                    iso_utc(event.created_at),
                )
            )
        return events
