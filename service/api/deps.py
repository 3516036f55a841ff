"""FastAPI dependencies as `Annotated` aliases: the runtime, the tenant, the clock, the flows.

Every dependency is `async def` on purpose: FastAPI runs a plain `def` dependency in a worker
thread, and five thread hops per request cost more CPU than the whole booking.
Owns how a request gets what it needs: the `Runtime` hangs off `app.state` (built by
`create_app`, never a module global); the tenant comes from `Authorization: Bearer <key>`
(401 when keys are configured and the key is missing or unknown; the default tenant when none
are configured); the idempotency key from the header or the body (422 naming it when malformed).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from service.booking.answers import BookingError
from service.booking.cancel_flow import CancelFlow
from service.booking.create_flow import CreateFlow
from service.booking.reschedule_saga import RescheduleSaga
from service.clock import Clock
from service.resilience.idempotency import validate_key
from service.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_clock(runtime: RuntimeDep) -> Clock:
    return runtime.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_tenant(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    keys = runtime.settings.api_keys
    if not keys:
        return runtime.settings.default_tenant
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token:
        for key, tenant in keys.items():
            if hmac.compare_digest(key.encode(), token.strip().encode()):
                return tenant
    raise HTTPException(
        status_code=401,
        detail="send a valid API key as 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


TenantDep = Annotated[str, Depends(get_tenant)]


async def get_started_at(request: Request, clock: ClockDep) -> float:
    """When the request arrived (set by the middleware; the deadline counts from here)."""
    started: float | None = request.scope.get("state", {}).get("started_at")
    return started if started is not None else clock.now()


StartedAtDep = Annotated[float, Depends(get_started_at)]

IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


def resolve_idempotency_key(
    runtime: Runtime, header_key: str | None, body_key: str | None
) -> str | None:
    """The request's key from the header or the body; 422 naming it when malformed, when the two
    disagree, or when it is missing and keys are required."""
    if header_key is not None and body_key is not None and header_key != body_key:
        raise BookingError(
            422,
            "invalid_idempotency_key",
            "the Idempotency-Key header and the body's idempotency_key differ; send one",
            field_name="Idempotency-Key",
        )
    key = header_key if header_key is not None else body_key
    if key is None:
        if runtime.settings.require_idempotency_key and runtime.protections.idempotency_store:
            raise BookingError(
                422,
                "missing_idempotency_key",
                "send an Idempotency-Key header (any unique string up to 255 printable ASCII "
                "characters, e.g. a UUID) so a retry cannot book twice",
                field_name="Idempotency-Key",
            )
        return None
    problem = validate_key(key)
    if problem is not None:
        raise BookingError(422, "invalid_idempotency_key", problem, field_name="Idempotency-Key")
    return key


async def get_create_flow(runtime: RuntimeDep) -> CreateFlow:
    return CreateFlow(runtime)


async def get_cancel_flow(runtime: RuntimeDep) -> CancelFlow:
    return CancelFlow(runtime)


async def get_reschedule_saga(runtime: RuntimeDep) -> RescheduleSaga:
    return RescheduleSaga(runtime)


CreateFlowDep = Annotated[CreateFlow, Depends(get_create_flow)]
CancelFlowDep = Annotated[CancelFlow, Depends(get_cancel_flow)]
RescheduleSagaDep = Annotated[RescheduleSaga, Depends(get_reschedule_saga)]
