"""Toxiproxy's HTTP API as a Starlette app: routes, status codes and bodies as upstream has them.

Owns only the mapping from HTTP to the registry: read the JSON body, call one registry or proxy
method, render the result. Validation lives in `schema.py`, state in `registry.py`/`proxy.py`;
routes stay thin. Every handler is `async` and runs on the server's event loop; none of them
waits on a proxied connection, so the API answers while proxies carry heavy load.

Endpoints (upstream's): GET/POST /proxies, POST /populate, GET/POST/PATCH/DELETE
/proxies/{proxy}, GET/POST /proxies/{proxy}/toxics, GET/POST/PATCH/DELETE
/proxies/{proxy}/toxics/{toxic}, POST /reset, GET /version. Errors are
`{"error": "...", "status": N}`. Requests whose User-Agent starts with `Mozilla/` get a 403,
as upstream does, so a web page cannot drive the API from a browser.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fakes.toxiproxy.proxy import Proxy
from fakes.toxiproxy.registry import ProxyRegistry
from fakes.toxiproxy.schema import (
    ApiError,
    parse_populate,
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
    toxic_to_json,
)

__all__ = ["TOXIPROXY_API_VERSION", "create_app"]

# The upstream release whose API this server speaks; the build tag says it is not that binary.
TOXIPROXY_API_VERSION = "2.12.0+rehearsal"


def create_app(registry: ProxyRegistry) -> Starlette:
    """The API for one registry. Build one per server; it holds no other state."""
    handlers = _Handlers(registry)
    routes = [
        Route("/proxies", handlers.list_proxies, methods=["GET"]),
        Route("/proxies", handlers.create_proxy, methods=["POST"]),
        Route("/populate", handlers.populate, methods=["POST"]),
        Route("/reset", handlers.reset, methods=["POST"]),
        Route("/version", handlers.version, methods=["GET"]),
        Route("/proxies/{proxy}", handlers.show_proxy, methods=["GET"]),
        Route("/proxies/{proxy}", handlers.update_proxy, methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}", handlers.delete_proxy, methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", handlers.list_toxics, methods=["GET"]),
        Route("/proxies/{proxy}/toxics", handlers.create_toxic, methods=["POST"]),
        Route("/proxies/{proxy}/toxics/{toxic}", handlers.show_toxic, methods=["GET"]),
        Route("/proxies/{proxy}/toxics/{toxic}", handlers.update_toxic, methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}/toxics/{toxic}", handlers.delete_toxic, methods=["DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={ApiError: _render_error})
    app.add_middleware(_RejectBrowsers)
    return app


class _Handlers:
    def __init__(self, registry: ProxyRegistry) -> None:
        self.registry = registry

    async def list_proxies(self, request: Request) -> Response:
        return JSONResponse({proxy.name: proxy.to_json() for proxy in self.registry.all()})

    async def create_proxy(self, request: Request) -> Response:
        spec = parse_proxy_create(await _json_body(request))
        proxy = await self.registry.create(spec)
        return JSONResponse(proxy.to_json(), status_code=201)

    async def populate(self, request: Request) -> Response:
        try:
            specs = parse_populate(await _json_body(request))
            proxies = await self.registry.populate(specs)
        except ApiError as exc:
            return JSONResponse({**exc.to_json(), "proxies": None}, status_code=exc.status)
        return JSONResponse({"proxies": [p.to_json() for p in proxies]}, status_code=201)

    async def reset(self, request: Request) -> Response:
        await self.registry.reset()
        return Response(status_code=204)

    async def version(self, request: Request) -> Response:
        body = json.dumps({"version": TOXIPROXY_API_VERSION}) + "\n"
        return Response(body, media_type="application/json;charset=utf-8")

    async def show_proxy(self, request: Request) -> Response:
        return JSONResponse(self._proxy(request).to_json())

    async def update_proxy(self, request: Request) -> Response:
        # Absent fields default to the proxy's current ones, read before the change as upstream.
        spec = parse_proxy_update(self._proxy(request).spec, await _json_body(request))
        proxy = await self.registry.update(spec)
        return JSONResponse(proxy.to_json())

    async def delete_proxy(self, request: Request) -> Response:
        await self.registry.delete(request.path_params["proxy"])
        return Response(status_code=204)

    async def list_toxics(self, request: Request) -> Response:
        return JSONResponse([toxic_to_json(spec) for spec in self._proxy(request).toxics()])

    async def create_toxic(self, request: Request) -> Response:
        proxy = self._proxy(request)
        spec = proxy.add_toxic(parse_toxic_create(await _json_body(request)))
        return JSONResponse(toxic_to_json(spec))

    async def show_toxic(self, request: Request) -> Response:
        spec = self._proxy(request).get_toxic(request.path_params["toxic"])
        return JSONResponse(toxic_to_json(spec))

    async def update_toxic(self, request: Request) -> Response:
        proxy = self._proxy(request)
        spec = proxy.update_toxic(request.path_params["toxic"], await _json_body(request))
        return JSONResponse(toxic_to_json(spec))

    async def delete_toxic(self, request: Request) -> Response:
        self._proxy(request).remove_toxic(request.path_params["toxic"])
        return Response(status_code=204)

    def _proxy(self, request: Request) -> Proxy:
        return self.registry.get(request.path_params["proxy"])


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ApiError.bad_request_body("EOF (send a JSON body)")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError.bad_request_body(f"invalid JSON: {exc}") from None


async def _render_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


class _RejectBrowsers:
    """403 for browsers, as upstream: the API has no auth, so a web page must not reach it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"user-agent", b"").startswith(b"Mozilla/"):
                await Response("User agent not allowed\n", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
