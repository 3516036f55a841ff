"""The pure policy core of the reference service.

Backoff, retry plans, the circuit breaker, deadlines, idempotency rules, outbox rules and the
appointment lifecycle. Pure: time arrives as `now: float` (seconds on the caller's clock), randomness
as a `random.Random` the caller owns; no asyncio, simpy, httpx, os, wall clock or global RNG. The
service drives it with asyncio (`service.plan_driver`), the SimPy twin with `env.timeout`.
"""
