"""FastAPI dependencies as `Annotated` aliases: the runtime, the tenant, the clock, the flows.

Every dependency is `async def` on purpose: FastAPI runs a plain `def` dependency in a worker
thread, and five thread hops per request cost more CPU than the whole booking. The appointment
routes take one dependency, `CallerDep` (runtime, tenant, arrival time): FastAPI resolves each
dependency of a chain separately, and a chain of six cost a tenth of a create's CPU.
Owns how a request gets what it needs: the `Runtime` hangs off `app.state` (built by
`create_app`, never a module global); the tenant comes from `Authorization: Bearer <key>`
(401 when keys are configured and the key is missing or unknown; the default tenant when none
are configured); the idempotency key from the header or the body (422 naming it when malformed).

Whitespace around the Authorization value is normalised away, not refused: RFC 9110 §5.5 makes
leading and trailing spaces and tabs of a field value optional whitespace, not part of the value,
and proxies strip it as they please, so `Bearer <key> ` is `Bearer <key>`. Inside the value it
counts: `Bearer <key> x` names no key (401).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from service.booking.keys import resolve_key
from service.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_tenant(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    return tenant_of(runtime, authorization)


def tenant_of(runtime: Runtime, authorization: str | None) -> str:
    """The tenant the `Authorization` header names; 401 when keys are configured and it names
    none (the default tenant when no keys are configured)."""
    keys = runtime.settings.api_keys
    if not keys:
        return runtime.settings.default_tenant
    # RFC 9110 OWS around the value; RFC 6750: "Bearer" 1*SP token.
    scheme, _, token = (authorization or "").strip(" \t").partition(" ")
    token = token.lstrip(" ")
    if scheme.lower() == "bearer" and token:
        for key, tenant in keys.items():
            if hmac.compare_digest(key.encode(), token.encode()):
                return tenant
    raise HTTPException(
        status_code=401,
        detail="send a valid API key as 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


TenantDep = Annotated[str, Depends(get_tenant)]


@dataclass(frozen=True)
class Caller:
    """Who is calling and when: what every appointment route needs, resolved in one step."""

    runtime: Runtime
    tenant: str
    started_at: float


async def get_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Caller:
    runtime: Runtime = request.app.state.runtime
    started: float | None = request.scope.get("state", {}).get("started_at")
    return Caller(
        runtime,
        tenant_of(runtime, authorization),
        started if started is not None else runtime.clock.now(),
    )


CallerDep = Annotated[Caller, Depends(get_caller)]

IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


def resolve_idempotency_key(
    runtime: Runtime, header_key: str | None, body_key: str | None
) -> str | None:
    """The request's key from the header or the body (`service.booking.keys.resolve_key`, which
    the twin's request front shares): 422 naming it when malformed, when the two disagree, or
    when it is missing and keys are required."""
    return resolve_key(runtime.settings, header_key, body_key)
