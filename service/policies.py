"""The pure core's policies built from settings: retry (request path and relay), breaker, outbox,
idempotency.

Owns the mapping from `Settings` (milliseconds, switches) to `service.resilience` dataclasses, and
turns their validation errors into `SettingsError`s that name the variable to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.resilience.backoff import BackoffPolicy
from service.resilience.breaker import BreakerConfig
from service.resilience.idempotency import IdempotencyPolicy
from service.resilience.outbox import OutboxPolicy
from service.resilience.retry_plan import RetryPolicy
from service.settings import Settings, SettingsError


@dataclass(frozen=True)
class Policies:
    retry: RetryPolicy  # the request path: bounded by the request deadline
    relay_retry: RetryPolicy  # the relay: nobody waits, so each attempt may take longer
    breaker: BreakerConfig
    outbox: OutboxPolicy
    idempotency: IdempotencyPolicy

    @classmethod
    def from_settings(cls, s: Settings) -> Policies:
        try:
            backoff = BackoffPolicy(s.backoff_base_ms / 1000, s.backoff_cap_ms / 1000)
            bounded = s.protections.deadline
            request_timeout_s = s.attempt_timeout_ms / 1000 if bounded else s.unbounded_timeout_s
            relay_timeout_s = s.relay_attempt_timeout_s if bounded else s.unbounded_timeout_s
            return cls(
                retry=RetryPolicy(s.retry_max_attempts, request_timeout_s, backoff),
                relay_retry=RetryPolicy(s.retry_max_attempts, relay_timeout_s, backoff),
                breaker=BreakerConfig(
                    consecutive_failures=s.breaker_consecutive_failures,
                    window_size=s.breaker_window,
                    failure_rate_threshold=s.breaker_failure_rate,
                    min_calls_in_window=s.breaker_min_calls,
                    cooldown_s=s.breaker_cooldown_s,
                    half_open_max_probes=s.breaker_half_open_probes,
                ),
                outbox=OutboxPolicy(tuple(s.outbox_schedule_s), s.outbox_max_attempts),
                idempotency=IdempotencyPolicy(s.idempotency_ttl_s, s.idempotency_lease_s),
            )
        except ValueError as exc:
            raise SettingsError(f"a REHEARSAL_* policy setting is invalid: {exc}") from exc
