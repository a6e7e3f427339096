"""A validator for Gemini ``streamGenerateContent?alt=sse`` bytes (stdlib + orjson only).

Invariants checked:
- framing: only ``data: <json>`` lines separated by blank lines, nothing after the last event;
- each event is a ``GenerateContentResponse`` object (inside ``{"response": …}`` when
  ``envelope``) or an error object ``{"error": {"code": int, "message": str, "status": str}}``;
- candidates hold ``content.role == "model"`` and well-formed parts (one data field each, a
  ``functionCall`` with a string name and object args, ``thought`` only on text, a bare
  ``thoughtSignature`` part allowed); usage counts are non-negative integers;
- exactly one chunk carries a ``finishReason``, it carries ``usageMetadata`` and it is the last
  event, unless the stream ends with an error event instead (then no ``finishReason`` at all).
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson

_DATA_FIELDS = ("text", "inlineData", "fileData", "functionCall", "functionResponse",
                "executableCode", "codeExecutionResult")
_USAGE_FIELDS = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
                 "cachedContentTokenCount", "totalTokenCount", "toolUsePromptTokenCount")
_FINISH = {"STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST",
           "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY",
           "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS", "FINISH_REASON_UNSPECIFIED"}


class GeminiStreamInvalid(AssertionError):
    pass


def _fail(message: str) -> NoReturn:
    raise GeminiStreamInvalid(message)


def validate_stream(raw: bytes, envelope: bool = False) -> list[dict[str, Any]]:
    """Check ``raw`` and return its decoded events (envelopes unwrapped)."""
    events = [_decode(block, envelope) for block in _blocks(raw)]
    if not events:
        _fail("empty stream")
    finishes = [i for i, event in enumerate(events) if _finish_reason(event)]
    errors = [i for i, event in enumerate(events) if "error" in event]
    if errors:
        if errors != [len(events) - 1]:
            _fail(f"an error event must be the single last event, got at {errors}")
        if finishes:
            _fail("a stream ending in an error must not also finish")
        return events
    if len(finishes) != 1:
        _fail(f"expected exactly one finishReason chunk, got {len(finishes)}")
    if finishes[0] != len(events) - 1:
        _fail("the finishReason chunk must be the last event")
    if not isinstance(events[-1].get("usageMetadata"), dict):
        _fail("the finishReason chunk must carry usageMetadata")
    return events


def _blocks(raw: bytes) -> list[bytes]:
    if not raw.endswith(b"\n\n"):
        _fail("stream must end with a blank line")
    text = raw.replace(b"\r\n", b"\n")
    blocks = [b for b in text.split(b"\n\n") if b]
    for block in blocks:
        lines = block.split(b"\n")
        if len(lines) != 1 or not lines[0].startswith(b"data: "):
            _fail(f"expected one 'data: ' line per event, got {block[:80]!r}")
    return [b[len(b"data: "):] for b in blocks]


def _decode(payload: bytes, envelope: bool) -> dict[str, Any]:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        _fail(f"data is not JSON: {payload[:80]!r}")
    if not isinstance(event, dict):
        _fail("each event must be a JSON object")
    if "error" in event:
        _check_error(event)
        return event
    if envelope:
        if set(event) - {"response", "traceId"} or not isinstance(event.get("response"), dict):
            _fail("envelope chunks must be {'response': {...}, 'traceId'?}")
        event = event["response"]
    _check_chunk(event)
    return dict(event)


def _check_error(event: dict[str, Any]) -> None:
    error = event["error"]
    if not isinstance(error, dict):
        _fail("error must be an object")
    if not isinstance(error.get("code"), int) or isinstance(error.get("code"), bool):
        _fail("error.code must be an integer")
    if not isinstance(error.get("message"), str) or not isinstance(error.get("status"), str):
        _fail("error.message and error.status must be strings")


_CHUNK_FIELDS = {"candidates", "usageMetadata", "modelVersion", "responseId", "promptFeedback",
                 "createTime", "modelStatus", "automaticFunctionCallingHistory"}


def _check_chunk(chunk: dict[str, Any]) -> None:
    unknown = set(chunk) - _CHUNK_FIELDS
    if unknown:
        _fail(f"unknown GenerateContentResponse fields {sorted(unknown)}")
    for key in ("modelVersion", "responseId"):
        if key in chunk and not isinstance(chunk[key], str):
            _fail(f"{key} must be a string")
    candidates = chunk.get("candidates", [])
    if not isinstance(candidates, list):
        _fail("candidates must be an array")
    for candidate in candidates:
        _check_candidate(candidate)
    usage = chunk.get("usageMetadata")
    if usage is not None:
        _check_usage(usage)


def _check_candidate(candidate: Any) -> None:
    if not isinstance(candidate, dict):
        _fail("a candidate must be an object")
    reason = candidate.get("finishReason")
    if reason is not None and reason not in _FINISH:
        _fail(f"unknown finishReason {reason!r}")
    content = candidate.get("content")
    if content is None:
        return
    if not isinstance(content, dict) or content.get("role") != "model":
        _fail("candidate content must be an object with role 'model'")
    parts = content.get("parts", [])
    if not isinstance(parts, list):
        _fail("content.parts must be an array")
    for part in parts:
        _check_part(part)


def _check_part(part: Any) -> None:
    if not isinstance(part, dict):
        _fail("a part must be an object")
    data = [k for k in _DATA_FIELDS if k in part]
    if len(data) > 1:
        _fail(f"a part holds one data field, got {data}")
    if not data and "thoughtSignature" not in part:
        _fail(f"a part without data must at least carry a thoughtSignature: {part}")
    if "thought" in part and ("text" not in part or not isinstance(part["thought"], bool)):
        _fail("thought is a boolean flag on text parts")
    if "text" in part and not isinstance(part["text"], str):
        _fail("text must be a string")
    if "thoughtSignature" in part and not isinstance(part["thoughtSignature"], str):
        _fail("thoughtSignature must be a string")
    call = part.get("functionCall")
    if call is not None and (not isinstance(call, dict) or not isinstance(call.get("name"), str)
                             or not isinstance(call.get("args", {}), dict)):
        _fail(f"functionCall needs a string name and object args: {call}")


def _check_usage(usage: Any) -> None:
    if not isinstance(usage, dict):
        _fail("usageMetadata must be an object")
    for key in _USAGE_FIELDS:
        value = usage.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            _fail(f"usageMetadata.{key} must be a non-negative integer")


def _finish_reason(event: dict[str, Any]) -> bool:
    candidates = event.get("candidates")
    return isinstance(candidates, list) and any(
        isinstance(c, dict) and c.get("finishReason") for c in candidates)
