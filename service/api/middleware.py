"""The request middleware (plain ASGI): request id, arrival time, latency histogram, access log.

Owns what every request gets before routing: a request id (the client's `X-Request-ID` if sane,
else a fresh one), echoed in the response and bound to every log line of the request; the arrival
time on the app's clock (the deadline counts from it); the latency observation by route template.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.json_logging import request_id_var
from service.runtime import Runtime

log = logging.getLogger("service.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = self.runtime.clock
        started = clock.now()
        scope.setdefault("state", {})["started_at"] = started
        headers = dict(scope.get("headers") or [])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = clock.now() - started
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.runtime.metrics.request_latency.labels(
                scope["method"], template, str(status)
            ).observe(elapsed)
            if template not in ("/metrics", "/healthz", "/readyz"):
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "latency_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)
