"""Gemini ``GenerateContentResponse`` bodies, usage, finish reasons, errors and token counts.

Usage (translation-spec §2.3): input = ``promptTokenCount`` (+ ``toolUsePromptTokenCount``),
output = ``candidatesTokenCount`` + ``thoughtsTokenCount``, cached = ``cachedContentTokenCount``,
reasoning = ``thoughtsTokenCount``; rendering inverts it (``totalTokenCount`` = input + output).

Only ``candidates[0]`` maps to the IR; other candidates, safety ratings, grounding and citation
metadata, ``promptFeedback``, ``createTime`` and native finish reasons the IR folds together
(``RECITATION`` → ``CONTENT_FILTER``) ride in ``Response.extras`` for a Gemini → Gemini render.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import orjson

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.gemini import _parts as p
from cliproxy_cli.formats.gemini import _wire as w

T = TypeVar("T")
_S = ir.StopReason
_FILTERED: Final = ("SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR")
_FAILED: Final = ("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
                  "MISSING_THOUGHT_SIGNATURE", "MALFORMED_RESPONSE", "OTHER", "IMAGE_OTHER",
                  "NO_IMAGE")
FINISH_REASONS: Final[dict[str, ir.StopReason]] = {
    "STOP": _S.END_TURN, "FINISH_REASON_UNSPECIFIED": _S.END_TURN, "MAX_TOKENS": _S.MAX_TOKENS,
    **dict.fromkeys(_FILTERED, _S.CONTENT_FILTER), **dict.fromkeys(_FAILED, _S.ERROR),
}
RENDERED_FINISH: Final[dict[ir.StopReason, str]] = {
    _S.END_TURN: "STOP", _S.TOOL_USE: "STOP", _S.STOP_SEQUENCE: "STOP", _S.PAUSE: "STOP",
    _S.MAX_TOKENS: "MAX_TOKENS", _S.CONTENT_FILTER: "SAFETY", _S.ERROR: "OTHER",
}

_CANDIDATE: Final = "__candidate"
_MORE_CANDIDATES: Final = "__more_candidates"
_NO_CANDIDATES: Final = "__no_candidates"
_TOP_KEYS: Final = w.spellings("candidates", "usageMetadata", "responseId", "modelVersion")
_CANDIDATE_KEYS: Final = w.spellings("content", "finishReason", "index")


def stop_reason(native: Any, has_calls: bool) -> ir.StopReason:
    reason = FINISH_REASONS.get(native.upper(), _S.END_TURN) if isinstance(native, str) else (
        _S.END_TURN)
    return _S.TOOL_USE if has_calls and reason is _S.END_TURN else reason


def parse_usage(raw: Any) -> ir.Usage:
    if not isinstance(raw, Mapping):
        return ir.Usage()
    thoughts = w.count(raw, "thoughtsTokenCount")
    return ir.Usage(
        input_tokens=w.count(raw, "promptTokenCount") + w.count(raw, "toolUsePromptTokenCount"),
        output_tokens=w.count(raw, "candidatesTokenCount") + thoughts,
        cached_tokens=w.count(raw, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    out: dict[str, Any] = {"promptTokenCount": usage.input_tokens}
    candidates = max(usage.output_tokens - usage.reasoning_tokens, 0)
    if candidates:
        out["candidatesTokenCount"] = candidates  # omitted when 0, as Gemini itself does
    out["totalTokenCount"] = usage.total_tokens
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def parse_response(body: Mapping[str, Any]) -> ir.Response:
    body = w.as_map(body, "response")
    if w.field(body, "candidates") is None and isinstance(body.get("response"), Mapping):
        body = body["response"]  # a Cloud Code envelope
    if "error" in body:
        raise ir.FormatError(f"an error body, not a response: {w.json_text(body['error'])}")
    candidates = w.as_list(w.field(body, "candidates") or [], "candidates")
    candidate = w.as_map(candidates[0], "candidates[0]") if candidates else {}
    content = w.as_map(w.field(candidate, "content") or {}, "candidates[0].content")
    parts, opaque = p.parse_parts(w.field(content, "parts"), p.CallBook(p.response_id),
                                  "candidates[0].content.parts")
    native = w.field(candidate, "finishReason")
    stop = stop_reason(native, any(isinstance(part, ir.ToolCall) for part in parts))
    if not candidates and _blocked(body):
        stop = _S.CONTENT_FILTER
    usage = parse_usage(w.field(body, "usageMetadata"))
    extras = w.camel_rest(body, _TOP_KEYS)
    extras[_CANDIDATE] = _candidate_extras(candidate, content, native, stop)
    extras["usageMetadata"] = _usage_extras(w.field(body, "usageMetadata"), usage)
    extras[w.OPAQUE_PARTS] = opaque
    extras[_MORE_CANDIDATES] = tuple(candidates[1:])
    extras[_NO_CANDIDATES] = not candidates or None
    return ir.Response(
        id=w.opt_str(w.field(body, "responseId"), "responseId") or "",
        model=w.opt_str(w.field(body, "modelVersion"), "modelVersion") or "",
        parts=parts, stop_reason=stop, usage=usage, source=ir.Format.GEMINI,
        extras=w.compact(extras),
    )


def render_response(response: ir.Response, request: ir.Request) -> dict[str, Any]:
    own = response.source is ir.Format.GEMINI
    extras = response.extras if own else ir.EMPTY
    ctx = p.RenderContext(own=own, history=False)
    outputs = [part for part in response.parts if not isinstance(part, ir.ToolResult)]
    parts = p.render_parts(outputs, ctx, extras.get(w.OPAQUE_PARTS, ()))
    candidate = {"content": {"role": "model", "parts": parts},
                 "finishReason": RENDERED_FINISH[response.stop_reason], "index": 0}
    w.merge(candidate, extras.get(_CANDIDATE, ir.EMPTY))
    out: dict[str, Any] = {} if extras.get(_NO_CANDIDATES) else {
        "candidates": [candidate, *extras.get(_MORE_CANDIDATES, ())]}
    out |= {
        "usageMetadata": render_usage(response.usage),
        "modelVersion": request.model or response.model,
        "responseId": response.id or ir.new_id(""),
    }
    return w.merge(out, extras)


def _blocked(body: Mapping[str, Any]) -> bool:
    feedback = w.field(body, "promptFeedback")
    return isinstance(feedback, Mapping) and bool(w.field(feedback, "blockReason"))


def _candidate_extras(candidate: Mapping[str, Any], content: Mapping[str, Any], native: Any,
                      stop: ir.StopReason) -> dict[str, Any]:
    extras = w.camel_rest(candidate, _CANDIDATE_KEYS)
    if isinstance(native, str) and native != RENDERED_FINISH[stop]:
        extras["finishReason"] = native
    content_rest = w.camel_rest(content, w.spellings("parts", "role"))
    if content_rest:
        extras["content"] = content_rest
    return extras


def _usage_extras(raw: Any, usage: ir.Usage) -> dict[str, Any]:
    """The raw usage fields a render of ``usage`` would not reproduce."""
    if not isinstance(raw, Mapping):
        return {}
    rendered = render_usage(usage)
    return {k: v for k, v in w.camel_rest(raw, frozenset()).items() if rendered.get(k) != v}


# --- token counts -------------------------------------------------------------------------------


def render_count_tokens(total: int) -> dict[str, Any]:
    return {"totalTokens": total}


def parse_count_tokens(body: Mapping[str, Any]) -> int:
    body = w.as_map(body, "countTokens response")
    if w.field(body, "totalTokens") is None and isinstance(body.get("response"), Mapping):
        body = body["response"]
    return w.count(body, "totalTokens")


# --- errors -------------------------------------------------------------------------------------

_GOOGLE_STATUS: Final = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED", 502: "UNAVAILABLE",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED", 529: "UNAVAILABLE",
}
_HTTP_OF_STATUS: Final = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500,
    "UNKNOWN": 500, "DATA_LOSS": 500, "NOT_IMPLEMENTED": 501, "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}
_TYPES: Final = {400: "invalid_request_error", 401: "authentication_error",
                 403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                 429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def error_type(status: int) -> str:
    """translation-spec §7.4: the OpenAI-vocabulary type of an HTTP status."""
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def render_error(error: ir.ErrorInfo) -> dict[str, Any]:
    status = error.code if error.code in _HTTP_OF_STATUS else _GOOGLE_STATUS.get(
        error.status, "INTERNAL" if error.status >= 500 else "INVALID_ARGUMENT")
    body: dict[str, Any] = {"code": error.status, "message": error.message, "status": status}
    if error.retry_after is not None:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{error.retry_after:g}s"}]
    return {"error": body}


def parse_error(status: int, body: Any) -> ir.ErrorInfo:
    data = _decode(body)
    error = data.get("error") if isinstance(data, Mapping) else None
    message, google, code = "", "", 0
    if isinstance(error, Mapping):
        message = _typed(error.get("message"), str, "")
        google = _typed(error.get("status"), str, "")
        code = _typed(error.get("code"), int, 0)
    elif isinstance(error, str):
        message = error
    elif isinstance(data, str):
        message = data.strip()
    http = status if status >= 400 else code if code >= 400 else _HTTP_OF_STATUS.get(google, 500)
    return ir.ErrorInfo(
        status=http, message=message or f"upstream error (HTTP {http})", type=error_type(http),
        code=google, retry_after=_retry_after(error) if isinstance(error, Mapping) else None,
    )


def _typed(value: Any, kind: type[T], default: T) -> T:
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def _decode(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
    if isinstance(body, list) and body:
        body = body[0]  # streamGenerateContent without alt=sse answers a JSON array
    if isinstance(body, Mapping) and isinstance(body.get("response"), Mapping):
        body = body["response"]
    return body


def _retry_after(error: Mapping[str, Any]) -> float | None:
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, Mapping):
            continue
        delay = detail.get("retryDelay")
        if delay is None and isinstance(detail.get("metadata"), Mapping):
            delay = detail["metadata"].get("quotaResetDelay")
        match = _DURATION.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None
