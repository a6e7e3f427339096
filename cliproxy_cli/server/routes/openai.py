"""OpenAI routes: chat completions, legacy completions, responses, the model list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cliproxy_cli.formats.ir import Format
from cliproxy_cli.server.pipeline import Inbound, serve_request
from cliproxy_cli.server.routes.common import (
    json_body,
    lower_headers,
    require_model,
    runtime,
    stream_flag,
)


async def _serve(request: Request, fmt: Format) -> Response:
    rt = runtime(request)
    body = await json_body(request, rt.config.max_body_bytes)
    model = require_model(body)
    inbound = Inbound(fmt, body, model, stream_flag(body), lower_headers(request))
    return await serve_request(rt, inbound)


async def chat_completions(request: Request) -> Response:
    return await _serve(request, Format.OPENAI_CHAT)


async def responses(request: Request) -> Response:
    return await _serve(request, Format.OPENAI_RESPONSES)


async def completions(request: Request) -> Response:
    from cliproxy_cli.server.routes.legacy import serve_completions

    return await serve_completions(request)


async def models(request: Request) -> Response:
    rt = runtime(request)
    infos = rt.registry.models()
    ua = request.headers.get("user-agent", "")
    if "anthropic-version" in request.headers or ua.startswith("claude-cli"):
        data = [{"id": m.id, "type": "model", "display_name": m.id,
                 "created_at": "2025-01-01T00:00:00Z"} for m in infos]
        return JSONResponse({"data": data, "has_more": False,
                             "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None})
    return JSONResponse({"object": "list", "data": [
        {"id": m.id, "object": "model", "created": 1735689600, "owned_by": m.owned_by}
        for m in infos
    ]})


async def responses_websocket(request: Request) -> Response:
    """Codex's built-in provider tries a WebSocket first; answer fast so it falls back to POST."""
    return JSONResponse(
        {"error": {"message": "WebSocket transport is not supported; use POST /v1/responses",
                   "type": "invalid_request_error", "code": "websocket_unsupported"}},
        status_code=426,
    )
