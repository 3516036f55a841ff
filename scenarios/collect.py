"""Collectors: what a real-mode run gathers besides the request log.

`MetricsSampler` scrapes the service's `/metrics` through the run (outbox length, breaker state,
retries, calendar calls) on a thread, carrying counters across service restarts; `gather_final`
reads the provider's ground truth and call log and the service's appointments after the drain.
I/O: loopback HTTP; time: the wall clock, as offsets from the run's start.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from contract.evidence import (
    AppointmentState,
    BreakerState,
    MetricSample,
    ProviderCall,
    ProviderEvent,
)

_BREAKER_BY_CODE = {0: BreakerState.CLOSED, 1: BreakerState.HALF_OPEN, 2: BreakerState.OPEN}


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum every sample of each metric name over its labels (enough for our counters/gauges)."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        try:
            totals[name] = totals.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return totals


class MetricsSampler:
    """Samples `/metrics` every `interval_s`; counters that drop (a restart) are carried over."""

    COUNTERS = ("retries_total", "calendar_calls_total", "circuit_breaker_open_count")

    def __init__(self, url_of: Any, started_at: float, interval_s: float = 0.25, headers=None):
        self.url_of = url_of  # callable → the service's current base URL
        self.started_at = started_at
        self.interval_s = interval_s
        self.headers = headers or {}
        self.samples: list[MetricSample] = []
        self._carry = dict.fromkeys(self.COUNTERS, 0.0)
        self._last = dict.fromkeys(self.COUNTERS, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metrics-sampler", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample_now(self) -> MetricSample | None:
        with self._lock:
            return self._sample()

    def _loop(self) -> None:
        with httpx.Client(timeout=2.0) as self._client:
            while not self._stop.wait(self.interval_s):
                with self._lock:
                    self._sample()

    def _sample(self) -> MetricSample | None:
        client = getattr(self, "_client", None)
        try:
            if client is None or client.is_closed:
                response = httpx.get(f"{self.url_of()}/metrics", timeout=2.0, headers=self.headers)
            else:
                response = client.get(f"{self.url_of()}/metrics", headers=self.headers)
            response.raise_for_status()
        except httpx.HTTPError:
            return None  # the service is restarting; the gap shows in the series
        values = parse_prometheus(response.text)
        counters: dict[str, int] = {}
        for name in self.COUNTERS:
            raw = values.get(name, 0.0)
            if raw < self._last[name]:
                self._carry[name] += self._last[name]
            self._last[name] = raw
            counters[name] = int(raw + self._carry[name])
        sample = MetricSample(
            t_s=round(time.time() - self.started_at, 6),
            outbox_length=int(values.get("outbox_length", 0)),
            breaker_state=_BREAKER_BY_CODE.get(
                int(values.get("circuit_breaker_state", 0)), BreakerState.CLOSED
            ),
            retries_total=counters["retries_total"],
            calendar_calls_total=counters["calendar_calls_total"],
            breaker_open_count=counters["circuit_breaker_open_count"],
        )
        self.samples.append(sample)
        return sample


def list_appointments(service_url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: str | None = None
    with httpx.Client(timeout=10.0, headers=headers) as client:
        for _ in range(10_000):  # bounded: 100 per page
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["after"] = after
            response = client.get(f"{service_url}/v1/appointments", params=params)
            response.raise_for_status()
            page = response.json()
            items.extend(page["items"])
            after = page.get("next_after")
            if not after:
                break
    return items


def gather_provider(
    provider_url: str, started_at: float
) -> tuple[list[ProviderEvent], list[ProviderCall], list[dict[str, Any]]]:
    with httpx.Client(timeout=10.0) as client:
        events_doc = client.get(f"{provider_url}/_control/events").json()
        calls_doc = client.get(f"{provider_url}/_control/calls").json()
    raw_events = events_doc["events"] if isinstance(events_doc, dict) else events_doc
    raw_calls = calls_doc["calls"] if isinstance(calls_doc, dict) else calls_doc
    events = [ProviderEvent.from_json(e) for e in raw_events]
    calls = [
        ProviderCall(
            t_s=round(float(c.get("time", started_at)) - started_at, 6),
            method=c.get("method", ""),
            path=c.get("path", ""),
            idempotency_key=c.get("idempotency_key") or c.get("key"),
            attempt=int(c.get("attempt") or 0),
            fault=c.get("fault"),
            status=c.get("status"),
        )
        for c in raw_calls
    ]
    return events, calls, raw_calls


def appointment_states(items: list[dict[str, Any]]) -> list[AppointmentState]:
    return [AppointmentState.from_json(item) for item in items]
