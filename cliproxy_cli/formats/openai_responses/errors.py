"""Responses error bodies (the OpenAI envelope, shared with Chat) ↔ ``ir.ErrorInfo``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir

_VOCABULARY: Final = frozenset({
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
    "rate_limit_error", "server_error", "overloaded_error", "request_too_large",
})
_IR_TYPES: Final[dict[int, str]] = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    503: "overloaded_error", 529: "overloaded_error",
}
# What the OpenAI API itself answers (translation-spec §0 / §7.4).
_WIRE_TYPES: Final[dict[int, str]] = {
    401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
    429: "rate_limit_error",
}
_WIRE_CODES: Final[dict[int, str]] = {
    401: "invalid_api_key", 403: "insufficient_quota", 404: "model_not_found",
    429: "rate_limit_exceeded",
}
# Codes seen in `response.failed` / `error` events (the Codex backend and the public API).
_CODE_STATUS: Final[dict[str, int]] = {
    "rate_limit_exceeded": 429, "insufficient_quota": 429, "usage_limit_reached": 429,
    "usage_not_included": 403, "context_length_exceeded": 400, "invalid_prompt": 400,
    "invalid_request_error": 400, "server_is_overloaded": 503, "slow_down": 503,
}


def type_for_status(status: int) -> str:
    return _IR_TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")


def _wire_type(status: int) -> str:
    return _WIRE_TYPES.get(status) or ("server_error" if status >= 500
                                       else "invalid_request_error")


def _wire_code(status: int) -> str | None:
    return _WIRE_CODES.get(status) or ("internal_server_error" if status >= 500 else None)


def render_error(error: ir.ErrorInfo) -> dict[str, Any]:
    return {"error": {
        "message": error.message,
        "type": error.type or _wire_type(error.status),
        "param": None,
        "code": error.code or _wire_code(error.status),
    }}


def _decode(body: Any) -> Any:
    if isinstance(body, bytes | bytearray | memoryview):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body.strip()
    return body


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _fields(data: Any) -> tuple[str, str, str, float | None]:
    """``(message, type, code, retry_after)`` from whatever error body arrived."""
    if isinstance(data, list):
        return _fields(data[0]) if data else ("", "", "", None)
    if isinstance(data, str):
        return data[:2000], "", "", None
    if not isinstance(data, Mapping):
        return "", "", "", None
    error, detail = data.get("error"), data.get("detail")
    source = (error if isinstance(error, Mapping)
              else detail if isinstance(detail, Mapping) else data)
    message = _str(source.get("message")) or _str(error) or _str(detail)
    kind = _str(source.get("type"))
    retry = source.get("resets_in_seconds")  # Codex usage_limit_reached
    retry_after = float(retry) if isinstance(retry, int | float) and retry >= 0 else None
    return message, "" if kind == "error" else kind, _str(source.get("code")), retry_after


def parse_error(status: int, body: Any) -> ir.ErrorInfo:
    message, kind, code, retry_after = _fields(_decode(body))
    if kind not in _VOCABULARY:
        code = code or kind
        kind = type_for_status(status)
    return ir.ErrorInfo(status, message or f"upstream returned HTTP {status}", kind, code,
                        retry_after)


def stream_error(error: Any, fallback: str) -> ir.ErrorInfo:
    """An in-stream ``error`` event or ``response.error`` object as ``ErrorInfo``."""
    message, kind, code, retry_after = _fields(error)
    status = _CODE_STATUS.get(code) or _CODE_STATUS.get(kind) or 500
    if kind not in _VOCABULARY:
        code = code or kind
        kind = type_for_status(status)
    return ir.ErrorInfo(status, message or fallback, kind, code, retry_after)
