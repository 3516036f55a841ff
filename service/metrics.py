"""Prometheus metrics of one app instance, on a registry of its own (never the global one).

Owns the metric objects and their names (DESIGN §3 and seed 000: `retries_total`,
`calendar_calls_total{outcome}`, `outbox_length`, `circuit_breaker_open_count`,
`circuit_breaker_state`, a request latency histogram). Values are pushed by the flows through
`service.ports.context.FlowMetrics` (the methods below); breaker gauges and the outbox length are
refreshed when `/metrics` is scraped.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.resilience.breaker import STATE_CODE, CircuitBreaker


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.retries = Counter(
            "retries", "Calendar attempts beyond the first, per plan run", registry=r
        )
        self.calendar_calls = Counter(
            "calendar_calls",
            "Calendar provider calls by operation and outcome",
            ["operation", "outcome"],
            registry=r,
        )
        self.breaker_short_circuits = Counter(
            "calendar_breaker_refusals",
            "Plans the open breaker stopped before an attempt (no call was made)",
            ["operation"],
            registry=r,
        )
        self.outbox_length = Gauge(
            "outbox_length", "Outbox rows not yet done and not dead-lettered", registry=r
        )
        self.outbox_dead_lettered = Gauge(
            "outbox_dead_lettered", "Outbox rows dead-lettered", registry=r
        )
        self.breaker_open_count = Gauge(
            "circuit_breaker_open_count", "Times the calendar breaker has opened", registry=r
        )
        self.breaker_state = Gauge(
            "circuit_breaker_state", "Calendar breaker: 0 closed, 1 half-open, 2 open", registry=r
        )
        self.request_latency = Histogram(
            "http_request_duration_seconds",
            "Request latency by route and status",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.creates = Counter(
            "appointment_creates", "Create answers by HTTP status", ["status"], registry=r
        )
        self.loop_lag = Histogram(
            "event_loop_lag_seconds",
            "How late the event loop woke a 20 ms sleep (see service.loop_lag)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.relay_outcomes = Counter(
            "relay_rows", "Outbox rows handled by the relay, by result", ["result"], registry=r
        )

    # -- service.ports.context.FlowMetrics ----------------------------------------------------
    def calendar_call(self, operation: str, outcome: str) -> None:
        self.calendar_calls.labels(operation, outcome).inc()

    def retried(self, count: int) -> None:
        self.retries.inc(count)

    def breaker_refused(self, operation: str) -> None:
        self.breaker_short_circuits.labels(operation).inc()

    def create_answered(self, status: int) -> None:
        self.creates.labels(str(status)).inc()

    def relay_row(self, result: str) -> None:
        self.relay_outcomes.labels(result).inc()

    def observe_breaker(self, breaker: CircuitBreaker | None, now: float) -> None:
        if breaker is None:
            return
        self.breaker_state.set(STATE_CODE[breaker.state(now)])
        self.breaker_open_count.set(breaker.open_count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
