"""Errors in the caller's own format (SPEC §7): one table per error shape.

OpenAI ``{"error": {"message", "type", "code"}}``, Anthropic ``{"type": "error", "error": {"type",
"message"}}``, Gemini ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import math
from typing import Any, Final

import orjson
from starlette.responses import Response

from cliproxy_cli.errors import (
    ClientRequestError,
    CliproxyError,
    NoAccountAvailableError,
    UpstreamError,
)
from cliproxy_cli.formats.ir import Format

_OPENAI_TYPES: Final = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
    429: "rate_limit_error", 501: "not_implemented",
}
_OPENAI_CODES: Final = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded",
                        413: "request_too_large"}
_ANTHROPIC_TYPES: Final = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 415: "invalid_request_error",
    429: "rate_limit_error", 529: "overloaded_error",
}
_GEMINI_STATUS: Final = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


def error_body(fmt: Format, status: int, message: str) -> dict[str, Any]:
    if fmt is Format.ANTHROPIC:
        etype = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    if fmt is Format.GEMINI:
        gstatus = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
        return {"error": {"code": status, "message": message, "status": gstatus}}
    etype = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = _OPENAI_CODES.get(status, "internal_server_error" if status >= 500 else None)
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def error_response(
    fmt: Format, status: int, message: str, *, retry_after: float | None = None
) -> Response:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return Response(orjson.dumps(error_body(fmt, status, message)), status_code=status,
                    media_type="application/json", headers=headers)


def response_for(fmt: Format, exc: CliproxyError) -> Response:
    """The HTTP answer for any cliproxy error, in the caller's format."""
    message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
    if isinstance(exc, ClientRequestError):
        return error_response(fmt, exc.status, message)
    if isinstance(exc, NoAccountAvailableError):
        return error_response(fmt, 429, message, retry_after=exc.retry_after)
    if isinstance(exc, UpstreamError):
        status = exc.status if exc.status >= 400 else 502
        retry = exc.retry_after if status == 429 else None
        return error_response(fmt, status, message, retry_after=retry)
    return error_response(fmt, exc.http_status, message)


def stream_error_bytes(fmt: Format, status: int, message: str) -> bytes:
    """An error inside an already-started stream, in the caller's stream idiom."""
    body = orjson.dumps(error_body(fmt, status, message))
    if fmt is Format.ANTHROPIC:
        return b"event: error\ndata: " + body + b"\n\n"
    if fmt is Format.OPENAI_RESPONSES:
        payload = orjson.dumps({"type": "error", "code": _OPENAI_CODES.get(status, "server_error"),
                                "message": message, "param": None})
        return b"event: error\ndata: " + payload + b"\n\n"
    return b"data: " + body + b"\n\n"
