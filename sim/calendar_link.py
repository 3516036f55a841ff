"""One provider call from the service in virtual time: the twin of `service.calendar.client`.

Owns the path of a single attempt — out through the network path, into the provider, the answer
back — and its classification into a `service.resilience.outcomes.Outcome` by the service's own
rules (`classify_status`, `classify_transport_error`): a refused connection is retryable; once
the request may have left (a timeout, a reset, a closed or dropped connection) it is ambiguous; a
delete answered 404 is done. Must not retry, sleep between attempts or consult the breaker (the
retry plan and the service's gateway do). Time: the environment (outcomes are stamped on the
service's clock, `epoch_s + env.now`); randomness: the network path's.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from fakes.calendar.fault_rules import Operation
from service.resilience.outcomes import (
    Outcome,
    OutcomeKind,
    classify_status,
    classify_transport_error,
)
from service.resilience.records import record_maker
from sim.config import TwinParams
from sim.network import NetworkPath
from sim.provider import ProviderRequest, SimProvider


class Confirmation:
    """Where an attempt leaves the event id an OK answer names (one per plan run)."""

    __slots__ = ("event_id",)

    def __init__(self) -> None:
        self.event_id: str | None = None


OK = OutcomeKind.OK
DELETE = Operation.DELETE
# The service's rule for a call without an answer: before the request left, retryable; after, the
# provider may have acted.
AMBIGUOUS = classify_transport_error(request_sent=True)
RETRYABLE = classify_transport_error(request_sent=False)
_new_outcome = record_maker(Outcome)  # Outcome(kind, now, retry_after_s, detail)


class CalendarLink:
    """The service's calendar client: attempts reach the provider through the network path."""

    def __init__(
        self,
        env: simpy.Environment,
        network: NetworkPath,
        provider: SimProvider,
        params: TwinParams,
        epoch_s: float = 0.0,
    ) -> None:
        self.env = env
        self.network = network
        self.provider = provider
        self.epoch_s = epoch_s
        self.refused_s = params.connect_refused_ms / 1000.0
        self._request_bytes = params.request_bytes
        self._response_bytes = params.response_bytes

    def call(
        self, request: ProviderRequest, timeout_s: float, confirmation: Confirmation
    ) -> Generator[Any, Any, Outcome]:
        """One attempt bounded by `timeout_s`: `outcome = yield from link.call(...)`; an OK answer
        leaves the event it names in `confirmation`."""
        env = self.env
        epoch = self.epoch_s
        sent = env.now
        give_up = sent + timeout_s
        network = self.network
        if network.down:
            yield env.timeout(min(self.refused_s, timeout_s))
            return Outcome(RETRYABLE, epoch + env.now, None, "ConnectError: connection refused")
        up = network.cross("upstream", sent, self._request_bytes)
        if up.fails_at is not None:  # dropped or reset on the way: the provider sees nothing
            yield env.timeout(min(up.fails_at, give_up) - sent)
            return Outcome(AMBIGUOUS, epoch + env.now, None, "ReadError: connection closed")
        arrives = sent + up.delay_s
        if arrives >= give_up:
            self.provider.deliver_later(request, arrives, give_up)
            yield env.timeout(timeout_s)
            return Outcome(AMBIGUOUS, epoch + env.now, None, "TimeoutError")
        yield env.timeout(up.delay_s)
        now = arrives
        reply = self.provider.receive(request, give_up)
        due = reply.due_at
        if due is None or due >= give_up:  # a hang, or slower than the attempt's timeout
            yield env.timeout(give_up - now)
            return Outcome(AMBIGUOUS, epoch + env.now, None, "TimeoutError")
        if due > now:
            # Wait on the provider's own work event, which fires at `due`: its work runs first,
            # then this process, as with a timeout of this process's at `due` scheduled right
            # after it — the same order, one event fewer.
            work = reply.work
            yield work if work is not None else env.timeout(due - now)
            now = env.now
        down = network.cross("downstream", due, self._response_bytes)
        if down.fails_at is not None:
            yield env.timeout(min(down.fails_at, give_up) - now)
            return Outcome(AMBIGUOUS, epoch + env.now, None, "ReadError: connection closed")
        seen = due + down.delay_s
        if seen >= give_up:
            yield env.timeout(give_up - now)
            return Outcome(AMBIGUOUS, epoch + env.now, None, "TimeoutError")
        yield env.timeout(seen - now)
        now = epoch + env.now
        if reply.dropped:
            return Outcome(AMBIGUOUS, now, None, "RemoteProtocolError: dropped")
        status = reply.status
        assert status is not None
        if status == 404 and request.op is DELETE:
            return _new_outcome(OK, now, None, "")  # the goal of a delete is "gone": it is
        kind = classify_status(status)
        if kind is OK:
            confirmation.event_id = reply.event_id
            return _new_outcome(OK, now, None, "")
        return _new_outcome(kind, now, reply.retry_after_s, f"HTTP {status}")
