"""What every half of the Anthropic Messages format shares: stop reasons, usage, errors,
signatures, tool-use ids, and carrying the blocks the IR has no part type for."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir

FORMAT: Final = ir.Format.ANTHROPIC

BLOCKS: Final = "_blocks"
"""Extras key: ``[[position, block], …]``, blocks the IR has no part for (``document``,
``search_result``, ``server_tool_use``, ``web_search_tool_result``, ``tool_reference``, image
``file`` sources …), each with its position in the original content list."""

STRING: Final = "_string"
"""Extras key marking content that arrived as a plain string rather than a list of blocks."""

REDACTED: Final = "redacted_thinking:"
"""Prefix of a stream ``SignatureDelta`` carrying a ``redacted_thinking`` block's ``data``: the IR
stream alphabet has no redacted flag, and Claude signatures are base64, so the prefix is free."""

STOP_IN: Final[dict[str, ir.StopReason]] = {
    "end_turn": ir.StopReason.END_TURN,
    "max_tokens": ir.StopReason.MAX_TOKENS,
    "stop_sequence": ir.StopReason.STOP_SEQUENCE,
    "tool_use": ir.StopReason.TOOL_USE,
    "pause_turn": ir.StopReason.PAUSE,
    "refusal": ir.StopReason.CONTENT_FILTER,
    "model_context_window_exceeded": ir.StopReason.MAX_TOKENS,
}

STOP_OUT: Final[dict[ir.StopReason, str]] = {
    ir.StopReason.END_TURN: "end_turn",
    ir.StopReason.MAX_TOKENS: "max_tokens",
    ir.StopReason.STOP_SEQUENCE: "stop_sequence",
    ir.StopReason.TOOL_USE: "tool_use",
    ir.StopReason.PAUSE: "pause_turn",
    ir.StopReason.CONTENT_FILTER: "refusal",
    ir.StopReason.ERROR: "end_turn",
}

_USAGE_KEYS: Final = frozenset(
    {"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
     "output_tokens_details"}
)


# --- small readers -----------------------------------------------------------------------------


def count(value: Any) -> int:
    """A token count: a non-negative integer, whatever arrived (0 for anything else)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def rest(raw: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields of ``raw`` the IR does not map: they ride in ``extras``."""
    return {k: v for k, v in raw.items() if k not in known}


def apply_extras(target: dict[str, Any], extras: Mapping[str, Any]) -> None:
    """Re-apply carried wire fields (never this module's ``_``-prefixed markers) without
    overriding what was rendered from the IR."""
    for key, value in extras.items():
        if not key.startswith("_"):
            target.setdefault(key, value)


def with_blocks(rendered: list[dict[str, Any]], extras: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Put carried blocks back at their original positions."""
    carried = extras.get(BLOCKS)
    if not carried:
        return rendered
    out = list(rendered)
    for position, block in carried:
        out.insert(min(int(position), len(out)), block)
    return out


# --- signatures and ids ------------------------------------------------------------------------


def own_signature(signature: ir.Signature | None) -> str | None:
    """The signature value when this format issued it, else ``None``."""
    if signature is None or signature.format is not FORMAT:
        return None
    return signature.value


def thinking_block(part: ir.Reasoning) -> dict[str, Any] | None:
    """A ``thinking`` / ``redacted_thinking`` block for history, or ``None`` when the part is not
    signed by Anthropic (the API rejects such blocks)."""
    value = own_signature(part.signature)
    if value is None:
        return None
    if value.startswith(REDACTED):
        return {"type": "redacted_thinking", "data": value[len(REDACTED) :]}
    if part.redacted:
        return {"type": "redacted_thinking", "data": value}
    return {"type": "thinking", "thinking": part.text, "signature": value}


_ID_OK: Final = re.compile(r"[A-Za-z0-9_-]+")
_ID_BAD: Final = re.compile(r"[^A-Za-z0-9_-]")


def tool_use_id(raw: str) -> str:
    """An id matching the API's ``^[a-zA-Z0-9_-]+$``: valid ids unchanged, others cleaned and
    suffixed with a digest so distinct ids stay distinct (same input, same output, so a
    ``tool_use`` and its ``tool_result`` still pair)."""
    if _ID_OK.fullmatch(raw):
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{_ID_BAD.sub('_', raw) or 'toolu'}_{digest}"


# --- stop reasons and usage --------------------------------------------------------------------


def stop_in(raw: Any) -> ir.StopReason:
    if isinstance(raw, str) and raw in STOP_IN:
        return STOP_IN[raw]
    return ir.StopReason.END_TURN


def parse_usage(raw: Any) -> ir.Usage:
    if not isinstance(raw, Mapping):
        return ir.Usage()
    read = count(raw.get("cache_read_input_tokens"))
    write = count(raw.get("cache_creation_input_tokens"))
    details = raw.get("output_tokens_details")
    thinking = count(details.get("thinking_tokens")) if isinstance(details, Mapping) else 0
    return ir.Usage(
        input_tokens=count(raw.get("input_tokens")) + read + write,
        output_tokens=count(raw.get("output_tokens")),
        cached_tokens=read,
        cache_creation_tokens=write,
        reasoning_tokens=thinking,
    )


def usage_extras(raw: Any) -> dict[str, Any]:
    """Usage fields beyond the counts (``service_tier``, ``server_tool_use`` …)."""
    return rest(raw, _USAGE_KEYS) if isinstance(raw, Mapping) else {}


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    fresh = usage.input_tokens - usage.cached_tokens - usage.cache_creation_tokens
    out: dict[str, Any] = {
        "input_tokens": max(0, fresh),
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


# --- errors ------------------------------------------------------------------------------------

_STATUS_TYPE: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

TYPE_STATUS: Final[dict[str, int]] = {name: status for status, name in _STATUS_TYPE.items()}

_IR_TO_NATIVE: Final[dict[str, str]] = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limit_error": "rate_limit_error",
    "server_error": "api_error",
    "overloaded_error": "overloaded_error",
}

_NATIVE_TO_IR: Final[dict[str, str]] = {
    **{native: name for name, native in _IR_TO_NATIVE.items()},
    "timeout_error": "server_error",
    "billing_error": "permission_error",
}

_MESSAGE_LIMIT: Final = 2000


def native_error_type(error: ir.ErrorInfo) -> str:
    """The Anthropic error ``type``: from the status when it has one of its own, else from the
    IR type, else by status class."""
    if error.status in _STATUS_TYPE:
        return _STATUS_TYPE[error.status]
    if error.type in _IR_TO_NATIVE:
        return _IR_TO_NATIVE[error.type]
    if error.type in TYPE_STATUS:
        return error.type
    return "invalid_request_error" if 400 <= error.status < 500 else "api_error"


def _ir_type_for_status(status: int) -> str:
    if status in (503, 529):
        return "overloaded_error"
    if status >= 500 or status < 400:
        return "server_error"
    native = _STATUS_TYPE.get(status, "invalid_request_error")
    return _NATIVE_TO_IR[native]


def render_error(error: ir.ErrorInfo) -> dict[str, Any]:
    return {"type": "error", "error": {"type": native_error_type(error), "message": error.message}}


def _decode(body: Any) -> Any:
    if isinstance(body, bytes | bytearray | memoryview):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body.strip()
    return body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _error_fields(data: Any) -> tuple[str, str, str]:
    """``(message, type, code)`` from an error body of any family."""
    if isinstance(data, Sequence) and not isinstance(data, str) and data:
        data = data[0]
    if isinstance(data, str):
        return data, "", ""
    if not isinstance(data, Mapping):
        return "", "", ""
    err = data.get("error")
    if isinstance(err, str):
        return err, "", ""
    if not isinstance(err, Mapping):
        return text_of(data.get("message")), "", ""
    return text_of(err.get("message")), text_of(err.get("type")), text_of(err.get("code"))


def parse_error(status: int, body: Any) -> ir.ErrorInfo:
    message, native, code = _error_fields(_decode(body))
    if native in _NATIVE_TO_IR:
        kind = _NATIVE_TO_IR[native]
        code = code or (native if native != kind else "")
    else:
        kind = _ir_type_for_status(status)
    return ir.ErrorInfo(
        status=status,
        message=(message or _phrase(status))[:_MESSAGE_LIMIT],
        type=kind,
        code=code,
    )
