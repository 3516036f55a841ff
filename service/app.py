"""`create_app(settings, clock, rng)`: the Appointment v2 service as a FastAPI application.

Owns assembly: the runtime (database, gateway, breaker, metrics, crash points) hangs off
`app.state`, never a module global; the lifespan migrates the schema, starts the outbox relay and
the periodic reconciler as background tasks (unless `relay_enabled` is off) and stops them on
shutdown. Time comes from `clock`, jitter from `rng`; both are the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI

from service.api import appointments, ops
from service.api.body_timeout import BodyReadTimeoutMiddleware
from service.api.errors import install_error_handlers
from service.api.middleware import RequestContextMiddleware
from service.api.openapi import install_openapi
from service.clock import Clock
from service.loop_lag import watch_loop_lag
from service.relay.outbox_relay import OutboxRelay
from service.relay.reconciler import Reconciler
from service.runtime import (
    Runtime,
    StartupError,
    build_runtime,
    close_runtime,
    start_runtime,
)
from service.settings import Settings

log = logging.getLogger("service.app")


def create_app(settings: Settings, clock: Clock, rng: random.Random) -> FastAPI:
    runtime = build_runtime(settings, clock, rng)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await start_runtime(runtime)
        except StartupError as exc:
            log.error(str(exc))
            print(f"python -m service: {exc}", file=sys.stderr, flush=True)
            raise
        if not settings.api_keys:
            log.warning(
                "no API keys configured: every request acts as tenant %r; set REHEARSAL_API_KEYS "
                "(key:tenant,...) to authenticate",
                settings.default_tenant,
            )
        tasks = start_background(runtime)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await close_runtime(runtime)

    app = FastAPI(title="Rehearsal Appointment v2", version="2.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_middleware(BodyReadTimeoutMiddleware)  # a 408 when a body does not arrive
    app.add_middleware(RequestContextMiddleware, runtime=runtime)
    install_error_handlers(app)
    app.include_router(appointments.router)
    app.include_router(ops.router)
    install_openapi(app, settings)
    return app


def start_background(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The relay and the periodic reconciler, when enabled."""
    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(watch_loop_lag(runtime.metrics.loop_lag), name="loop-lag")
    ]
    if runtime.settings.relay_enabled:
        tasks.append(asyncio.create_task(OutboxRelay(runtime).run_forever(), name="outbox-relay"))
        if runtime.settings.reconcile_interval_s > 0:
            tasks.append(asyncio.create_task(Reconciler(runtime).run_forever(), name="reconciler"))
    return tasks
