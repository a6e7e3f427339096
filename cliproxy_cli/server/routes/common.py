"""What every inbound route shares: the runtime, a size-limited JSON body, the model list."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from cliproxy_cli.errors import ClientRequestError, PayloadTooLargeError
from cliproxy_cli.server.runtime import Runtime


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def json_body(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ClientRequestError("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ClientRequestError(f"the request body is not valid JSON: {exc.msg} "
                                 f"(position {exc.pos})") from exc
    if not isinstance(body, dict):
        raise ClientRequestError("the request body must be a JSON object")
    return body


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"request body exceeds {limit // (1024 * 1024)} MB",
                                hint="raise max-body-mb in the config to allow larger bodies")


def require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None or model == "":
        raise ClientRequestError("the request has no 'model'")
    if not isinstance(model, str):
        raise ClientRequestError("'model' must be a string")
    return model


def stream_flag(body: dict[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ClientRequestError("'stream' must be a boolean")
    return value


def lower_headers(request: Request) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
