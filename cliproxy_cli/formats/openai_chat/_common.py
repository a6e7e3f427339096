"""Pieces shared by the Chat request, response and stream halves: type checks, the extras patch,
data URLs, tool calls, finish reasons, usage and the error envelope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, NoReturn

import orjson

from cliproxy_cli.formats import ir

FORMAT: Final = ir.Format.OPENAI_CHAT
PARTS_KEY: Final = "_parts"
"""Private extras key: content parts of a type the IR has no part for, as
``((position, raw), …)``."""

HINTS: Final = "_chat"
"""Private ``Request.extras`` key: shapes only a Chat render needs (system layout, non-function
tools, the ``max_completion_tokens`` spelling, ``response_format`` leftovers)."""

_DATA_URL: Final = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)


# --- type checks -------------------------------------------------------------------------------


def fail(path: str, expected: str, got: Any) -> NoReturn:
    raise ir.FormatError(f"{path}: expected {expected}, got {_kind(got)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def opt_str(body: Mapping[str, Any], key: str, path: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    fail(f"{path}{key}", "a string", value)


def opt_int(body: Mapping[str, Any], key: str, path: str = "") -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{path}{key}", "an integer", value)
    return value


def opt_float(body: Mapping[str, Any], key: str, path: str = "") -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(f"{path}{key}", "a number", value)
    return float(value)


def opt_bool(body: Mapping[str, Any], key: str, path: str = "") -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    fail(f"{path}{key}", "a boolean", value)


def str_of(raw: Mapping[str, Any], key: str) -> str:
    """A lenient read of an upstream field: the string, or ``""``."""
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def int_of(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def unknown(raw: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in known}


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- extras ------------------------------------------------------------------------------------


def patch(base: dict[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``extras`` (the wire-shaped remainder the IR could not hold) on a rendered value:
    objects merge key by key, arrays element by element, anything else replaces. Private keys
    (leading ``_``) are never emitted."""
    for key, value in extras.items():
        if key.startswith("_"):
            continue
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            base[key] = patch(dict(current), value)
        elif isinstance(value, list | tuple) and isinstance(current, list):
            base[key] = _patch_list(current, value)
        else:
            base[key] = value
    return base


def _patch_list(base: list[Any], extras: list[Any] | tuple[Any, ...]) -> list[Any]:
    out = list(base)
    for i, value in enumerate(extras):
        if i < len(out) and isinstance(value, Mapping) and isinstance(out[i], dict):
            out[i] = patch(dict(out[i]), value)
        elif i >= len(out):
            out.append(value)
    return out


def insert_at(items: list[Any], positioned: Any) -> list[Any]:
    """Put back values recorded as ``((position, value), …)`` at their original positions."""
    if not positioned:
        return items
    out = list(items)
    for position, value in sorted(positioned, key=lambda pair: pair[0]):
        out.insert(min(position, len(out)), value)
    return out


# --- images ------------------------------------------------------------------------------------


def image_from_url(url: str, extras: Mapping[str, Any]) -> ir.Image:
    match = _DATA_URL.fullmatch(url)
    if match:
        return ir.Image(media_type=match[1], data=match[2], extras=extras)
    return ir.Image(url=url, extras=extras)


def image_url(image: ir.Image) -> str:
    if image.data:
        return f"data:{image.media_type or 'image/png'};base64,{image.data}"
    return image.url


# --- tool calls --------------------------------------------------------------------------------

_CALL_KEYS: Final = frozenset({"id", "type", "function"})
_FUNCTION_KEYS: Final = frozenset({"name", "arguments"})


def parse_tool_call(raw: Any, path: str, fallback_id: str) -> ir.ToolCall:
    """A ``tool_calls[]`` entry. Arguments that do not re-serialise to the same text are kept
    verbatim in ``extras`` so a same-format render can restore them byte for byte."""
    if not isinstance(raw, dict):
        fail(path, "an object", raw)
    function = raw.get("function")
    if not isinstance(function, dict):
        fail(f"{path}.function", "an object", function)
    name = opt_str(function, "name", f"{path}.function.") or ""
    arguments = function.get("arguments")
    parsed = ir.coerce_arguments(arguments)
    extras = unknown(raw, _CALL_KEYS)
    if raw.get("type") not in (None, "function"):
        extras["type"] = raw["type"]
    inner = unknown(function, _FUNCTION_KEYS)
    if isinstance(arguments, str) and arguments != dumps(parsed):
        inner["arguments"] = arguments
    if inner:
        extras["function"] = inner
    call_id = raw.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = fallback_id
    return ir.ToolCall(call_id, name, parsed, extras=extras)


def render_tool_call(call: ir.ToolCall, own: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": dumps(dict(call.arguments))},
    }
    if not own or not call.extras:
        return out
    extras = dict(call.extras)
    inner = extras.get("function")
    if isinstance(inner, Mapping) and "arguments" in inner:
        raw = inner["arguments"]
        if not isinstance(raw, str) or ir.coerce_arguments(raw) != call.arguments:
            extras["function"] = {k: v for k, v in inner.items() if k != "arguments"}
    return patch(out, extras)


# --- finish reasons ----------------------------------------------------------------------------

_FINISH_IN: Final[dict[str, ir.StopReason]] = {
    "stop": ir.StopReason.END_TURN,
    "length": ir.StopReason.MAX_TOKENS,
    "tool_calls": ir.StopReason.TOOL_USE,
    "function_call": ir.StopReason.TOOL_USE,
    "content_filter": ir.StopReason.CONTENT_FILTER,
}

_FINISH_OUT: Final[dict[ir.StopReason, str]] = {
    ir.StopReason.END_TURN: "stop",
    ir.StopReason.STOP_SEQUENCE: "stop",
    ir.StopReason.MAX_TOKENS: "length",
    ir.StopReason.TOOL_USE: "tool_calls",
    ir.StopReason.CONTENT_FILTER: "content_filter",
    ir.StopReason.PAUSE: "stop",
    ir.StopReason.ERROR: "stop",
}


def is_known_finish(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw in _FINISH_IN)


def stop_reason(raw: Any, has_tool_calls: bool) -> ir.StopReason:
    """Some OpenAI-compatible upstreams say ``stop`` (or nothing) while returning tool calls;
    the turn still wants the tools run, so it becomes ``TOOL_USE``."""
    reason = _FINISH_IN.get(raw, ir.StopReason.END_TURN) if isinstance(raw, str) else (
        ir.StopReason.END_TURN
    )
    if has_tool_calls and reason is ir.StopReason.END_TURN:
        return ir.StopReason.TOOL_USE
    return reason


def finish_reason(reason: ir.StopReason, has_tool_calls: bool) -> str:
    if has_tool_calls and reason in (ir.StopReason.END_TURN, ir.StopReason.TOOL_USE):
        return "tool_calls"
    if reason is ir.StopReason.TOOL_USE:
        return "stop"
    return _FINISH_OUT[reason]


# --- usage -------------------------------------------------------------------------------------


def _count(raw: Any, key: str) -> int:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))  # a negative count is an upstream's garbage


def parse_usage(raw: Any) -> ir.Usage | None:
    """``prompt_tokens`` includes cached tokens and ``completion_tokens`` reasoning tokens, as
    the IR wants. DeepSeek reports cache hits as ``prompt_cache_hit_tokens``."""
    if not isinstance(raw, Mapping):
        return None
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details") or raw.get("output_tokens_details")
    return ir.Usage(
        input_tokens=_count(raw, "prompt_tokens"),
        output_tokens=_count(raw, "completion_tokens"),
        cached_tokens=_count(prompt_details, "cached_tokens")
        or _count(raw, "prompt_cache_hit_tokens"),
        reasoning_tokens=_count(completion_details, "reasoning_tokens"),
    )


def usage_extras(raw: Any) -> dict[str, Any]:
    """What ``render_usage`` does not rebuild, in wire shape."""
    if not isinstance(raw, Mapping):
        return {}
    out = unknown(raw, frozenset({"prompt_tokens", "completion_tokens", "total_tokens"}))
    for key, mapped in (("prompt_tokens_details", "cached_tokens"),
                        ("completion_tokens_details", "reasoning_tokens")):
        details = out.pop(key, None)
        if isinstance(details, Mapping):
            rest = unknown(details, frozenset({mapped}))
            if rest:
                out[key] = rest
        elif details is not None:
            out[key] = details
    return out


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


# --- errors ------------------------------------------------------------------------------------

_STATUS_TYPE: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}

_TYPE_STATUS: Final[dict[str, int]] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "api_error": 500,
    "overloaded_error": 503,
}

# translation-spec §0: the type and code an OpenAI client sees for each status.
_CHAT_TYPE: Final[dict[str, str]] = {
    "not_found_error": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "overloaded_error": "server_error",
    "api_error": "server_error",
}
_STATUS_CODE: Final[dict[int, str]] = {
    401: "invalid_api_key",
    403: "insufficient_quota",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}


def status_type(status: int) -> str:
    if status in _STATUS_TYPE:
        return _STATUS_TYPE[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def type_status(error_type: str, default: int = 500) -> int:
    return _TYPE_STATUS.get(error_type, default)


def error_envelope(error: ir.ErrorInfo) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` with the §0 status mapping."""
    error_type = error.type or status_type(error.status)
    code: str | None = error.code or _STATUS_CODE.get(error.status)
    if code is None and error.status >= 500:
        code = "internal_server_error"
    return {
        "error": {
            "message": error.message,
            "type": _CHAT_TYPE.get(error_type, error_type),
            "param": None,
            "code": code,
        }
    }


def parse_error_body(status: int, body: Any) -> ir.ErrorInfo:
    """Status, message, type and code from any error body: the OpenAI envelope, a bare
    ``{"message"}``, a list of such (Gemini), text, bytes or nothing."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error_info(status, body.strip(), "", "")
    if isinstance(body, list) and body:
        return parse_error_body(status, body[0])
    if not isinstance(body, Mapping):
        return _error_info(status, "", "", "")
    inner = body.get("error", body)
    if isinstance(inner, str):
        return _error_info(status, inner, "", "")
    if not isinstance(inner, Mapping):
        return _error_info(status, "", "", "")
    message = inner.get("message")
    error_type = inner.get("type")
    code = inner.get("code")
    if not status and isinstance(code, int) and not isinstance(code, bool) and code >= 400:
        status = code
    return _error_info(
        status,
        message if isinstance(message, str) else "",
        error_type if isinstance(error_type, str) else "",
        code if isinstance(code, str) else "",
    )


def _error_info(status: int, message: str, error_type: str, code: str) -> ir.ErrorInfo:
    if status < 400:
        status = type_status(error_type)
    error_type = error_type or status_type(status)
    return ir.ErrorInfo(status, message or f"upstream error (HTTP {status})", error_type, code)
