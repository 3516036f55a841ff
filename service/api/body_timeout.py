"""A deadline on reading a request body: 408 and a closed connection when it does not arrive.

Owns the one thing uvicorn does not do: bound how long a request may take to deliver its body. A
client that announces `Content-Length: 100000` and sends 5 bytes would otherwise hold a
connection, and the coroutine waiting on it, until the client gives up. Plain ASGI: the app's
`receive` is wrapped so that reading the body must finish within `timeout_s` of the request's
arrival; past that the read raises `BodyReadTimeout`, an HTTP 408 that FastAPI passes through
(it re-raises HTTPExceptions from body reading) and the error handlers render, with
`Connection: close` so uvicorn drops the half-sent body. Reads after the body is complete (a
route waiting for a disconnect) are never bounded. Time comes from the event loop's clock, the
one asyncio's timeouts use.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A few seconds: a body of the size this API takes (a few KB) arrives in milliseconds on any link
# that can hold a conversation; a client this slow is gone or hostile.
BODY_READ_TIMEOUT_S = 5.0


class BodyReadTimeout(HTTPException):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"the request body did not arrive within {timeout_s:g} s; send it whole",
            headers={"Connection": "close"},
        )


class BodyReadTimeoutMiddleware:
    def __init__(self, app: ASGIApp, timeout_s: float = BODY_READ_TIMEOUT_S) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        body_done = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                # asyncio.timeout: a timer handle, no extra task per read (wait_for made one).
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimeout(self.timeout_s) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, receive_in_time, send)
