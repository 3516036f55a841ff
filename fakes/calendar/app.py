"""`create_app`: builds the fake calendar provider as a FastAPI app around a fresh `FakeCalendar`.

No module-level state: every app owns its own provider, clock and seed, so tests can run several
side by side. Errors the routes do not answer themselves (unknown path, wrong method, an
unexpected exception) still answer `{"error": ...}` as docs/provider_api.md promises.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fakes.calendar import control_api, events_api
from fakes.calendar.provider import FakeCalendar


def create_app(seed: int = 1, *, clock: Callable[[], float] = time.time) -> FastAPI:
    """A fake provider app whose default fault profile is seeded with `seed`.

    `clock` gives Unix seconds for `created_at` and call-log times. The provider's state is
    `app.state.calendar` (a `FakeCalendar`).

    >>> app = create_app(seed=7)
    >>> app.state.calendar.profile.seed
    7
    """
    app = FastAPI(
        title="Rehearsal fake calendar provider",
        summary="Events API with seeded faults, a latency model, a call log and ground truth.",
        version="1",
    )
    app.state.calendar = FakeCalendar(seed=seed, clock=clock)
    app.include_router(events_api.router)
    app.include_router(control_api.router)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    return app
