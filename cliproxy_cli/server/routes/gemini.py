"""Gemini routes: model list and get, generateContent, streamGenerateContent, countTokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cliproxy_cli.errors import ClientRequestError, UnknownModelError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.server.pipeline import Inbound, serve_request
from cliproxy_cli.server.routes.common import json_body, lower_headers, runtime


def _model_entry(model_id: str) -> dict[str, object]:
    return {
        "name": f"models/{model_id}", "version": "001", "displayName": model_id,
        "description": model_id, "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    }


async def list_models(request: Request) -> Response:
    rt = runtime(request)
    return JSONResponse({"models": [_model_entry(m.id) for m in rt.registry.models()]})


async def get_model(request: Request) -> Response:
    rt = runtime(request)
    name = request.path_params["model"].removeprefix("models/")
    if not rt.registry.resolve(name):
        raise UnknownModelError(f"model {name!r} is not served by this proxy",
                                hint="GET /v1beta/models lists the available models")
    return JSONResponse(_model_entry(name))


async def model_action(request: Request) -> Response:
    rt = runtime(request)
    target: str = request.path_params["target"]
    model, sep, method = target.rpartition(":")
    if not sep or not model:
        raise ClientRequestError(f"unknown Gemini path {request.url.path!r}", status=404)
    model = model.removeprefix("models/")
    if method not in ("generateContent", "streamGenerateContent", "countTokens"):
        raise ClientRequestError(f"unsupported Gemini method {method!r}", status=404)
    body = await json_body(request, rt.config.max_body_bytes)
    headers = lower_headers(request)
    if method == "countTokens":
        from cliproxy_cli.server.tokens import count_tokens

        return await count_tokens(
            rt, Inbound(Format.GEMINI, body, model, False, headers, action="count_tokens"))
    inbound = Inbound(Format.GEMINI, body, model, method == "streamGenerateContent", headers)
    return await serve_request(rt, inbound)
