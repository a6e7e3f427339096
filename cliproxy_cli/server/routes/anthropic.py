"""Anthropic routes: messages and count_tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cliproxy_cli.formats.ir import Format
from cliproxy_cli.server.pipeline import Inbound, serve_request
from cliproxy_cli.server.routes.common import (
    json_body,
    lower_headers,
    require_model,
    runtime,
    stream_flag,
)


async def messages(request: Request) -> Response:
    rt = runtime(request)
    body = await json_body(request, rt.config.max_body_bytes)
    model = require_model(body)
    inbound = Inbound(Format.ANTHROPIC, body, model, stream_flag(body), lower_headers(request))
    return await serve_request(rt, inbound)


async def count_tokens(request: Request) -> Response:
    from cliproxy_cli.server.tokens import count_tokens as count

    rt = runtime(request)
    body = await json_body(request, rt.config.max_body_bytes)
    model = require_model(body)
    inbound = Inbound(Format.ANTHROPIC, body, model, False, lower_headers(request),
                      action="count_tokens")
    return await count(rt, inbound)
