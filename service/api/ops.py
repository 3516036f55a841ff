"""Operations routes: `/healthz`, `/readyz`, `/metrics`, and admin views for the runner.

`/readyz` is 200 when the database answers (and reports the breaker state), 503 otherwise.
`/metrics` refreshes the outbox and breaker gauges, then renders the app's own registry.
Admin: `POST /v1/admin/crash` arms a crash point at run time (only with
REHEARSAL_ALLOW_CRASH_ARMING=1, as the scenario runner starts it); `POST /v1/admin/reconcile` runs
one reconciler pass over the caller's tenant; `GET /v1/admin/outbox` shows the caller's backlog,
dead-letter count and dead letters; `GET /v1/admin/sagas/{appointment_id}` a saga's steps.
Tenant keys are the only keys: an admin answer is about the caller's tenant alone, never another
tenant's rows or counts (with no keys configured every caller is the default tenant, which then
holds every row). Service-wide figures are the operator's: `/metrics` (counts only, no ids), the
logs, `python -m service.relay --reconcile-once`.
Every status each route can answer is declared on it (`service.api.openapi`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service.api import openapi
from service.api.appointments import MAX_ID_LENGTH, storable
from service.api.deps import RuntimeDep, TenantDep
from service.relay.reconciler import Reconciler
from service.resilience.breaker import BreakerState
from service.schemas import CrashArmed, Health, Readiness

router = APIRouter()


def _breaker_state(runtime: RuntimeDep) -> str:
    if runtime.breaker is None:
        return "disabled"
    return runtime.breaker.state(runtime.clock.now()).value


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses=openapi.READY_ANSWERS)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    body: dict[str, Any] = {"breaker": _breaker_state(runtime), "profile": runtime.settings.profile}
    try:
        await runtime.db.ping()
    except Exception as exc:
        body |= {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}
        return JSONResponse(body, status_code=503)
    body |= {"status": "ready", "database": "ok"}
    return JSONResponse(body)


@router.get("/metrics", response_class=PlainTextResponse, responses=openapi.METRICS_ANSWERS)
async def metrics(runtime: RuntimeDep) -> Response:
    async with runtime.store.read() as tx:
        open_rows, dead = await tx.outbox_counts()
    runtime.metrics.outbox_length.set(open_rows)
    runtime.metrics.outbox_dead_lettered.set(dead)
    runtime.metrics.observe_breaker(runtime.breaker, runtime.clock.now())
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/admin/crash", response_model=CrashArmed, responses=openapi.CRASH_ANSWERS)
async def arm_crash(body: dict[str, Any], runtime: RuntimeDep, _tenant: TenantDep) -> JSONResponse:
    if not runtime.settings.allow_crash_arming:
        return JSONResponse(
            {"error": "crash arming is off; start the service with REHEARSAL_ALLOW_CRASH_ARMING=1"},
            status_code=403,
        )
    point, nth = body.get("point"), body.get("nth", 1)
    if not isinstance(nth, int) or isinstance(nth, bool):
        return JSONResponse(
            {"error": f"nth must be an integer >= 1 (got {nth!r})"}, status_code=422
        )
    try:
        runtime.crash.arm(f"{point}:{nth}")
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse({"armed": point, "nth": nth})


@router.post("/v1/admin/reconcile", responses=openapi.ADMIN_ANSWERS)
async def reconcile(runtime: RuntimeDep, tenant: TenantDep) -> dict[str, Any]:
    report = await Reconciler(runtime).run_once(tenant)
    return report.as_dict()


@router.get("/v1/admin/outbox", responses=openapi.ADMIN_ANSWERS)
async def outbox(runtime: RuntimeDep, tenant: TenantDep) -> dict[str, Any]:
    async with runtime.store.read() as tx:
        open_rows, dead = await tx.outbox_counts(tenant)
        letters = await tx.dead_letters(tenant)
    # The breaker is the service's view of the provider, shared by every tenant (each one's
    # answers show it as 202s anyway), not a tenant's data.
    return {
        "outbox_length": open_rows,
        "dead_lettered": dead,
        "breaker": _breaker_state(runtime),
        "breaker_open": _breaker_state(runtime) == BreakerState.OPEN.value,
        "dead_letters": [
            {
                "id": row.id,
                "appointment_id": row.appointment_id,
                "event_type": row.event_type,
                "attempts": row.attempts,
                "last_error": row.last_error,
            }
            for row in letters
        ],
    }


@router.get("/v1/admin/sagas/{appointment_id}", responses=openapi.ADMIN_ANSWERS)
async def saga_steps(appointment_id: str, runtime: RuntimeDep, tenant: TenantDep) -> dict[str, Any]:
    if len(appointment_id) > MAX_ID_LENGTH or not storable(appointment_id):
        # No saga can belong to such an id: the answer for any unknown id, without a query
        # (PostgreSQL would refuse a NUL in the parameter).
        return {"appointment_id": appointment_id, "steps": []}
    async with runtime.store.read() as tx:
        steps = await tx.saga_steps(tenant, appointment_id)
    return {"appointment_id": appointment_id, "steps": steps}
