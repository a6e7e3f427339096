"""``create_app``: the Starlette app, its Runtime, lifespan and exception handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from cliproxy_cli import __version__
from cliproxy_cli.accounts.credential import StoredTokens, TokenSource
from cliproxy_cli.accounts.repo import AccountRepository, open_repository
from cliproxy_cli.config import LoadedConfig
from cliproxy_cli.errors import CliproxyError
from cliproxy_cli.providers.http import AiohttpClient, HttpxClient, UpstreamClient
from cliproxy_cli.routing.state import InMemoryState, StateBackend
from cliproxy_cli.server.access import AccessMiddleware, caller_format, is_loopback_host
from cliproxy_cli.server.errors import error_response, response_for
from cliproxy_cli.server.routes import anthropic, gemini, openai
from cliproxy_cli.server.runtime import Runtime

logger = logging.getLogger(__name__)

ENDPOINT_LIST = [
    "POST /v1/chat/completions", "POST /v1/completions", "POST /v1/responses",
    "POST /v1/messages", "POST /v1/messages/count_tokens", "GET /v1/models",
    "GET /v1beta/models", "POST /v1beta/models/{model}:generateContent",
    "POST /v1beta/models/{model}:streamGenerateContent", "POST /v1beta/models/{model}:countTokens",
]


async def root(request: Request) -> Response:
    return JSONResponse({"message": "cliproxy", "version": __version__,
                         "endpoints": ENDPOINT_LIST})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _cliproxy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CliproxyError)
    return response_for(caller_format(request.url.path), exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    fmt = caller_format(request.url.path)
    message = "not found" if exc.status_code == 404 else str(exc.detail)
    if exc.status_code == 404:
        message = f"no route for {request.method} {request.url.path}"
    return error_response(fmt, exc.status_code, message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(caller_format(request.url.path), 500,
                          f"internal error in cliproxy: {type(exc).__name__}")


class ExactFirstRouter(Router):
    """Starlette's router, but exact (method, path) routes are found by one dict lookup first:
    the linear regex scan cost ~2.5 µs per route before a hot route matched."""

    def __init__(self, routes: list[BaseRoute], **kwargs: Any) -> None:
        super().__init__(routes=routes, **kwargs)
        self._exact: dict[tuple[str, str], Route] = {}
        for route in routes:
            if isinstance(route, Route) and not route.param_convertors:
                for method in route.methods or ():
                    self._exact.setdefault((method, route.path), route)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._exact.get((scope["method"], scope["path"]))
            if route is not None:
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


ROUTES: list[BaseRoute] = [
    Route("/", root, methods=["GET", "HEAD"]),
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/v1/models", openai.models, methods=["GET"]),
    Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
    Route("/v1/completions", openai.completions, methods=["POST"]),
    Route("/v1/responses", openai.responses, methods=["POST"]),
    Route("/v1/responses", openai.responses_websocket, methods=["GET"]),
    Route("/v1/messages", anthropic.messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", anthropic.count_tokens, methods=["POST"]),
    Route("/v1beta/models", gemini.list_models, methods=["GET"]),
    Route("/v1beta/models/{model:path}", gemini.get_model, methods=["GET"]),
    Route("/v1beta/models/{target:path}", gemini.model_action, methods=["POST"]),
]


def create_app(
    loaded: LoadedConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    client: UpstreamClient | None = None,
    repo: AccountRepository | None = None,
    tokens: TokenSource | Callable[[AccountRepository], TokenSource] | None = None,
    state: StateBackend | None = None,
    clock: Callable[[], float] = time.time,
    reload_interval: float = 1.0,
    refresh_interval: float = 60.0,
) -> Starlette:
    """Build the app. ``transport`` (httpx) or ``client`` replaces the aiohttp upstream client."""
    repo = repo or open_repository(loaded.paths, loaded.config.credential_store)
    if client is None:
        client = HttpxClient(transport) if transport is not None else AiohttpClient()
    if tokens is None:
        token_source: TokenSource = StoredTokens(repo)
    elif callable(tokens) and not hasattr(tokens, "credentials"):
        token_source = tokens(repo)
    else:
        token_source = tokens  # type: ignore[assignment]
    runtime = Runtime(loaded, repo, client, token_source, state or InMemoryState(), clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_reload_loop(runtime, reload_interval))]
        if hasattr(token_source, "refresh_due"):
            tasks.append(asyncio.create_task(_refresh_loop(token_source, refresh_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.aclose()

    app = Starlette(
        routes=[],
        middleware=[Middleware(AccessMiddleware, runtime=lambda: runtime,
                               loopback_bind=is_loopback_host(loaded.config.host))],
        exception_handlers={CliproxyError: _cliproxy_error, HTTPException: _http_error,
                            Exception: _unexpected},
        lifespan=lifespan,
    )
    app.router = ExactFirstRouter(ROUTES, lifespan=lifespan)
    app.state.runtime = runtime
    return app


async def _reload_loop(runtime: Runtime, interval: float, flush_every: float = 15.0) -> None:
    last_flush = time.monotonic()
    try:
        while True:
            await asyncio.sleep(interval)
            try:
                runtime.reload_if_changed()
            except CliproxyError as exc:
                logger.error("reload failed: %s", exc)
            runtime.publish_state()
            if time.monotonic() - last_flush >= flush_every:
                last_flush = time.monotonic()
                runtime.flush_usage()
    finally:
        runtime.flush_usage()


async def _refresh_loop(tokens: Any, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await tokens.refresh_due()
        except CliproxyError as exc:
            logger.error("background refresh failed: %s", exc)
