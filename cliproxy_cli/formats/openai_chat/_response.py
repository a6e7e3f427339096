"""Chat Completions response body ⇄ ``ir.Response``, and the error envelope.

Only ``choices[0]`` becomes IR; the other choices, ``logprobs``, ``refusal``, ``annotations``,
``system_fingerprint`` and unknown usage details ride in ``Response.extras`` as a wire-shaped
patch, re-applied only when rendering back to Chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_chat._common import (
    FORMAT,
    error_envelope,
    fail,
    image_from_url,
    image_url,
    int_of,
    is_known_finish,
    parse_error_body,
    parse_tool_call,
    parse_usage,
    patch,
    render_tool_call,
    render_usage,
    stop_reason,
    str_of,
    unknown,
    usage_extras,
)
from cliproxy_cli.formats.openai_chat._common import (
    finish_reason as render_finish,
)

_TOP_KEYS: Final = frozenset({"id", "object", "created", "model", "choices", "usage"})
_CHOICE_KEYS: Final = frozenset({"index", "message", "finish_reason"})
_MESSAGE_KEYS: Final = frozenset({"role", "content", "tool_calls", "reasoning_content", "images"})


def _reasoning(message: Mapping[str, Any], extras: dict[str, Any]) -> list[ir.Part]:
    """``reasoning_content`` (DeepSeek, Qwen, iFlow) or, failing that, ``reasoning``
    (OpenRouter)."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str):
            extras.pop(key, None)
            return [ir.Reasoning(value)] if value else []
    return []


def _content(content: Any) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    if not isinstance(content, list):
        return []
    texts = [item.get("text") for item in content if isinstance(item, dict)]
    return [ir.Text(t) for t in texts if isinstance(t, str) and t]


def _images(raw: Any) -> list[ir.Part]:
    """OpenRouter-style ``message.images`` (image output, e.g. from Gemini)."""
    out: list[ir.Part] = []
    for item in raw if isinstance(raw, list) else ():
        inner = item.get("image_url") if isinstance(item, dict) else None
        url = inner.get("url") if isinstance(inner, dict) else inner
        if isinstance(url, str) and url:
            out.append(image_from_url(url, {}))
    return out


def _message_parts(message: Mapping[str, Any]) -> tuple[list[ir.Part], dict[str, Any]]:
    extras = unknown(message, _MESSAGE_KEYS)
    parts = _reasoning(message, extras)
    parts.extend(_content(message.get("content")))
    parts.extend(_images(message.get("images")))
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        fail("choices[0].message.tool_calls", "an array", calls)
    for i, raw in enumerate(calls or ()):
        call = parse_tool_call(raw, f"choices[0].message.tool_calls[{i}]", ir.new_id("call_"))
        if call.name:  # a call without a name is dropped, as in streams: no client could run it
            parts.append(call)
    return parts, extras


def _choice_extras(choice: Mapping[str, Any], message_extras: dict[str, Any]) -> dict[str, Any]:
    out = unknown(choice, _CHOICE_KEYS)
    if not is_known_finish(choice.get("finish_reason")):
        out["finish_reason"] = choice["finish_reason"]
    if message_extras:
        out["message"] = message_extras
    return out


def parse_response(body: Mapping[str, Any]) -> ir.Response:
    if not isinstance(body, Mapping):
        fail("response body", "an object", body)
    choices = body.get("choices")
    if not choices and body.get("error"):
        raise ir.FormatError(f"upstream error: {parse_error_body(0, body).message}")
    if choices is None:
        choices = []
    if not isinstance(choices, list):
        fail("choices", "an array", choices)
    choice = choices[0] if choices else {}
    if not isinstance(choice, dict):
        fail("choices[0]", "an object", choice)
    message = choice.get("message") or {}
    if not isinstance(message, dict):
        fail("choices[0].message", "an object", message)
    parts, message_extras = _message_parts(message)
    extras = unknown(body, _TOP_KEYS)
    patches = [_choice_extras(choice, message_extras), *choices[1:]]
    if any(patches):
        extras["choices"] = patches
    if usage_patch := usage_extras(body.get("usage")):
        extras["usage"] = usage_patch
    has_calls = any(isinstance(p, ir.ToolCall) for p in parts)
    response = ir.Response(
        id=str_of(body, "id"),
        model=str_of(body, "model"),
        parts=tuple(parts),
        stop_reason=stop_reason(choice.get("finish_reason"), has_calls),
        usage=parse_usage(body.get("usage")) or ir.Usage(),
        created=int_of(body, "created"),
        source=FORMAT,
    )
    return replace(response, extras=extras) if extras else response


def render_message(parts: tuple[ir.Part, ...], own: bool) -> dict[str, Any]:
    """The assistant ``message`` of a completion (also used by the legacy completions path)."""
    texts = [p.text for p in parts if isinstance(p, ir.Text)]
    calls = [p for p in parts if isinstance(p, ir.ToolCall)]
    thoughts = [p.text for p in parts if isinstance(p, ir.Reasoning) and p.text and not p.redacted]
    images = [p for p in parts if isinstance(p, ir.Image)]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
    }
    if thoughts:
        message["reasoning_content"] = "\n\n".join(thoughts)
    if calls:
        message["tool_calls"] = [render_tool_call(c, own) for c in calls]
    if images:
        message["images"] = [
            {"type": "image_url", "image_url": {"url": image_url(img)}, "index": i}
            for i, img in enumerate(images)
        ]
    return message


def render_response(response: ir.Response, request: ir.Request) -> dict[str, Any]:
    own = response.source is FORMAT
    has_calls = any(isinstance(p, ir.ToolCall) for p in response.parts)
    body: dict[str, Any] = {
        "id": response.id or ir.new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": response.created,
        "model": request.model or response.model,
        "choices": [{
            "index": 0,
            "message": render_message(response.parts, own),
            "finish_reason": render_finish(response.stop_reason, has_calls),
            "logprobs": None,
        }],
        "usage": render_usage(response.usage),
    }
    return patch(body, response.extras) if own else body


def parse_error(status: int, body: Any) -> ir.ErrorInfo:
    return parse_error_body(status, body)


def render_error(error: ir.ErrorInfo) -> dict[str, Any]:
    return error_envelope(error)
