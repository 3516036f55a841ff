"""The parts one process runs with: the flow ports wired for asyncio, plus the database handle.

Owns building them from (settings, clock, rng) and closing them; the app (`service.app`) and the
standalone relay (`service.relay`) both start from here, so they share one wiring. `Runtime` is
the flows' `Ports` (SQL store, HTTP calendar client behind the gateway, asyncio wake-up and task
group, uuid4 ids, Prometheus metrics, crash points that end the process) with the `Database` the
operations routes ping. No module state: each call to `build_runtime` builds a fresh set.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from service.asyncio_ports import AsyncioTasks, AsyncioWakeup, Uuid4Ids
from service.calendar.aiohttp_client import AiohttpCalendarClient
from service.calendar.client import HttpCalendarClient
from service.calendar.contract import CalendarClient
from service.calendar.gateway import CalendarGateway
from service.clock import Clock
from service.crash_points import CrashPoints
from service.db.database import Database
from service.db.migrate import upgrade_to_head
from service.db.sql_store import SqlStore
from service.metrics import ServiceMetrics
from service.policies import Policies
from service.ports.context import Ports
from service.resilience.breaker import CircuitBreaker
from service.settings import Settings

log = logging.getLogger("service.runtime")


class StartupError(RuntimeError):
    """The process cannot start; the message says what to check."""


@dataclass
class Runtime(Ports):
    db: Database
    metrics: ServiceMetrics  # type: ignore[assignment]  # narrower than the port: /metrics renders it
    crash: CrashPoints  # type: ignore[assignment]  # narrower: the admin route arms it


def build_runtime(settings: Settings, clock: Clock, rng: random.Random) -> Runtime:
    """Wire the parts (no I/O yet: nothing connects until used)."""
    policies = Policies.from_settings(settings)
    metrics = ServiceMetrics()
    breaker = CircuitBreaker(policies.breaker) if settings.protections.breaker else None
    client = build_calendar_client(settings, clock)
    gateway = CalendarGateway(client, clock, rng, policies.retry, breaker, metrics)
    db = Database(settings.db_url, settings.db_pool_size)
    return Runtime(
        settings=settings,
        policies=policies,
        clock=clock,
        rng=rng,
        store=SqlStore(db),
        gateway=gateway,
        breaker=breaker,
        crash=CrashPoints(settings.crash_at),
        ids=Uuid4Ids(),
        metrics=metrics,
        relay_wakeup=AsyncioWakeup(),
        tasks=AsyncioTasks(),
        db=db,
    )


def build_calendar_client(settings: Settings, clock: Clock) -> CalendarClient:
    """The client `settings.calendar_client` names (validated by Settings), pooled and sized."""
    kind = AiohttpCalendarClient if settings.calendar_client == "aiohttp" else HttpCalendarClient
    return kind(
        settings.calendar_url,
        clock,
        max_connections=settings.calendar_max_connections,
        connect_timeout_s=settings.connect_timeout_ms / 1000,
    )


async def start_runtime(runtime: Runtime) -> None:
    """Migrate the schema to head and say which protections are off. Raises StartupError, with
    what to check, when the database cannot be reached or migrated."""
    try:
        await upgrade_to_head(runtime.db)
    except Exception as exc:
        shown = make_url(runtime.settings.db_url).render_as_string(hide_password=True)
        raise StartupError(
            f"cannot open and migrate the database {shown} ({type(exc).__name__}: {exc}); "
            "check --db-url / REHEARSAL_DB_URL and that the server is up"
        ) from exc
    off = [name for name, on in vars(runtime.settings.protections).items() if not on]
    if off:
        log.warning(
            "protections switched off (legacy behaviour on purpose)",
            extra={"profile": runtime.settings.profile, "protections_off": off},
        )


async def close_runtime(runtime: Runtime) -> None:
    await runtime.gateway.client.aclose()
    await runtime.db.dispose()
