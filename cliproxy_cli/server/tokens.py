"""``/v1/messages/count_tokens`` and Gemini ``:countTokens`` whatever the upstream: the upstream's
own count endpoint where it has one, else the documented local estimate (formats/tokens.py)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.formats.tokens import estimate_tokens
from cliproxy_cli.providers import PROVIDERS
from cliproxy_cli.providers.base import UpstreamCall
from cliproxy_cli.routing.selector import plan_routes
from cliproxy_cli.server.pipeline import Inbound, _secret, _upstream_body, unknown_model
from cliproxy_cli.server.runtime import Runtime

logger = logging.getLogger(__name__)


def _render(fmt: Format, tokens: int) -> dict[str, Any]:
    if fmt is Format.GEMINI:
        return {"totalTokens": tokens}
    return {"input_tokens": tokens}


def _gemini_count_body(body: dict[str, Any], model: str, kind: str) -> dict[str, Any]:
    """countTokens takes ``contents`` alone, or a whole ``generateContentRequest`` (the API-key
    endpoint) when a system prompt or tools should count too; Code Assist takes contents only."""
    if "generateContentRequest" in body:
        return body
    contents = body.get("contents", [])
    extra = {k: body[k] for k in ("systemInstruction", "tools") if k in body}
    if kind == "api_key" and extra:
        return {"generateContentRequest": {"model": f"models/{model}", "contents": contents,
                                           **extra}}
    return {"contents": contents}


def _extract(body: Any) -> int | None:
    if isinstance(body, dict):
        for key in ("input_tokens", "totalTokens", "total_tokens"):
            value = body.get(key)
            if isinstance(value, int):
                return value
    return None


async def count_tokens(rt: Runtime, inbound: Inbound) -> Response:
    routes = rt.registry.resolve(inbound.model)
    if not routes:
        raise unknown_model(rt, inbound.model)
    plan = plan_routes(routes, inbound.model, strategy=rt.config.routing_strategy,
                       state=rt.state, now=rt.clock())
    for route in plan.routes:
        provider = PROVIDERS[route.credential.provider]
        if not provider.can_count_tokens(route.credential):
            continue
        try:
            count = await _upstream_count(rt, inbound, route, provider)
        except UpstreamError as exc:
            logger.info("count_tokens upstream failed credential=%s kind=%s; estimating",
                        route.credential.id, exc.kind)
            continue
        if count is not None:
            return JSONResponse(_render(inbound.format, count))
    return JSONResponse(_render(inbound.format, estimate_tokens(inbound.ir_request())))


async def _upstream_count(rt: Runtime, inbound: Inbound, route: Any, provider: Any) -> int | None:
    upstream_format = provider.wire_format(route.credential)
    secret = await _secret(rt, route.credential)
    body = _upstream_body(inbound, route, upstream_format)
    if upstream_format is Format.ANTHROPIC:
        body.pop("max_tokens", None)
        body.pop("stream", None)
    elif upstream_format is Format.GEMINI:
        body = _gemini_count_body(body, route.upstream_model, route.credential.kind)
    call = UpstreamCall(route.credential, body, route.upstream_model, False, inbound.headers,
                        secret, "count_tokens")
    request = provider.build(call, rt.endpoints)
    resp = await rt.client.send("POST", request.url, request.headers, request.body,
                                proxy_url=route.credential.proxy_url,
                                provider=route.credential.provider)
    data = await resp.read()
    if resp.status >= 400:
        raise provider.classify(resp.status, resp.headers, data)
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("count endpoint answered invalid JSON", kind=ErrorKind.TRANSIENT,
                            status=502, provider=route.credential.provider) from exc
    if isinstance(parsed, dict) and isinstance(parsed.get("response"), dict):
        parsed = parsed["response"]
    return _extract(parsed)
