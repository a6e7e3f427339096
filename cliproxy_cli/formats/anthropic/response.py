"""Anthropic Messages (non-stream) response bodies ↔ ``ir.Response``.

Carried in ``Response.extras``: unknown top-level fields (``container``, ``stop_details`` …) under
their name, blocks with no IR part (server tool blocks …) under ``_blocks``, usage fields beyond
the counts under ``_usage``, and a native ``stop_reason`` the IR folds (``model_context_window_
exceeded``) under ``_stop_reason``. Text ``citations`` ride in the text part's extras.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.anthropic import _blocks
from cliproxy_cli.formats.anthropic._common import (
    FORMAT,
    STOP_OUT,
    STRING,
    apply_extras,
    parse_usage,
    render_usage,
    rest,
    stop_in,
    text_of,
    usage_extras,
)

USAGE: Final = "_usage"
STOP_REASON: Final = "_stop_reason"
_KEYS: Final = frozenset(
    {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
)


def parse_response(body: Mapping[str, Any]) -> ir.Response:
    if not isinstance(body, Mapping):
        raise ir.FormatError("response body: expected a JSON object")
    if body.get("type") == "error":
        raise ir.FormatError("response body: an error, not a message")
    names: _blocks.Names = {}
    parts, markers = _blocks.parse_blocks(body.get("content"), "content", names)
    if markers.get(STRING):
        markers = {}
    extras: dict[str, Any] = {**rest(body, _KEYS), **markers}
    native = body.get("stop_reason")
    stop = stop_in(native)
    if isinstance(native, str) and STOP_OUT[stop] != native:
        extras[STOP_REASON] = native
    carried_usage = usage_extras(body.get("usage"))
    if carried_usage:
        extras[USAGE] = carried_usage
    return ir.Response(
        id=text_of(body.get("id")),
        model=text_of(body.get("model")),
        parts=parts,
        stop_reason=stop,
        stop_sequence=text_of(body.get("stop_sequence")),
        usage=parse_usage(body.get("usage")),
        source=FORMAT,
        extras=extras,
    )


def stop_reason_out(stop: ir.StopReason, used_tools: bool, native: Any = None) -> str:
    """The wire ``stop_reason``; ``tool_use`` whenever tool calls were made and the upstream
    said only that the turn ended (Gemini says STOP for both)."""
    if isinstance(native, str) and stop_in(native) is stop:
        return native
    out = STOP_OUT[stop]
    return "tool_use" if out == "end_turn" and used_tools else out


def render_response(response: ir.Response, request: ir.Request) -> dict[str, Any]:
    keep = response.source is FORMAT
    content = _blocks.render_parts(response.parts, response.extras, keep, history=False)
    used_tools = any(b.get("type") == "tool_use" for b in content)
    usage = render_usage(response.usage)
    if keep:
        apply_extras(usage, response.extras.get(USAGE) or {})
    body: dict[str, Any] = {
        "id": response.id or ir.new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": request.model or response.model,
        "content": content,
        "stop_reason": stop_reason_out(
            response.stop_reason, used_tools, response.extras.get(STOP_REASON) if keep else None
        ),
        "stop_sequence": response.stop_sequence or None,
        "usage": usage,
    }
    if keep:
        apply_extras(body, response.extras)
    return body
