"""``ir.Request`` → a Chat Completions body (for Qwen, iFlow and OpenAI-compatible upstreams).

From another format: one ``system`` message for ``Request.system``, ``Role.SYSTEM`` messages in
place, tool results as ``tool`` messages right after the calls (images they returned follow as
user content), reasoning as ``reasoning_content``, an assistant's texts joined into one string.
From Chat itself, extras and the ``_chat`` hints restore the original shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_chat._common import (
    FORMAT,
    HINTS,
    PARTS_KEY,
    image_url,
    insert_at,
    patch,
    render_tool_call,
)
from cliproxy_cli.formats.reasoning import effort_of


def _render_part(part: ir.Text | ir.Image, own: bool) -> dict[str, Any]:
    if isinstance(part, ir.Text):
        out: dict[str, Any] = {"type": "text", "text": part.text}
    else:
        out = {"type": "image_url", "image_url": {"url": image_url(part)}}
    return patch(out, part.extras) if own else out


def _render_content(parts: Sequence[ir.Text | ir.Image], own: bool, extras: Mapping[str, Any],
                    join: bool = False) -> str | list[dict[str, Any]]:
    """A string for one plain text (or for all-text content when ``join``), else parts."""
    others = extras.get(PARTS_KEY) if own else None
    plain = not others and all(isinstance(p, ir.Text) and not (own and p.extras) for p in parts)
    if plain and (len(parts) == 1 or (join and parts)):
        return "".join(p.text for p in parts if isinstance(p, ir.Text))
    items = insert_at([_render_part(p, own) for p in parts], others)
    return items if items else ""


def _render_message(role: str, parts: Sequence[ir.Text | ir.Image], extras: Mapping[str, Any],
                    own: bool) -> dict[str, Any]:
    out = {"role": role, "content": _render_content(parts, own, extras)}
    return patch(out, extras) if own else out


def _media(parts: tuple[ir.Part, ...]) -> list[ir.Text | ir.Image]:
    return [p for p in parts if isinstance(p, ir.Text | ir.Image)]


def _render_system(request: ir.Request, own: bool) -> list[dict[str, Any]]:
    parts = list(request.system)
    hints = request.extras.get(HINTS, {}) if own else {}
    layout = hints.get("system")
    if layout and sum(count for count, _ in layout) == len(parts):
        out, start = [], 0
        for count, extras in layout:
            out.append(_render_message("system", parts[start:start + count], extras, own))
            start += count
        return out
    return [_render_message("system", parts, {}, own)] if parts else []


def _render_tool_result(result: ir.ToolResult, own: bool) -> dict[str, Any]:
    parts: list[ir.Text | ir.Image] = (
        list(result.content) if own else [p for p in result.content if isinstance(p, ir.Text)]
    )
    extras = result.extras if own else {}
    if not own and len(parts) > 1:
        content: Any = "\n\n".join(p.text for p in parts if isinstance(p, ir.Text))
    else:
        content = _render_content(parts, own, extras)
    out = {"role": "tool", "tool_call_id": result.call_id, "content": content}
    return patch(out, extras) if own else out


def _render_user(message: ir.Message, own: bool) -> list[dict[str, Any]]:
    """Tool results first (strict upstreams want them right after the calls), then whatever
    else the message holds; images returned by tools follow as user content."""
    results = [p for p in message.parts if isinstance(p, ir.ToolResult)]
    out = [_render_tool_result(r, own) for r in results]
    rest: list[ir.Text | ir.Image] = [] if own else [
        c for r in results for c in r.content if isinstance(c, ir.Image)
    ]
    rest.extend(_media(message.parts))
    if rest or not results:
        out.append(_render_message("user", rest, message.extras, own))
    return out


def _render_assistant(message: ir.Message, own: bool) -> list[dict[str, Any]]:
    texts = [p for p in message.parts if isinstance(p, ir.Text)]
    calls = [p for p in message.parts if isinstance(p, ir.ToolCall)]
    thoughts = [p.text for p in message.parts
                if isinstance(p, ir.Reasoning) and p.text and not p.redacted]
    parts: list[ir.Text | ir.Image] = list(texts) if not own else _media(message.parts)
    # Chat wants null content next to tool calls (and next to a legacy function_call).
    content: Any = None if calls or (own and "function_call" in message.extras) else ""
    if parts or (own and message.extras.get(PARTS_KEY)):
        content = _render_content(parts, own, message.extras, join=not own)
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if thoughts:
        out["reasoning_content"] = "\n\n".join(thoughts)
    if calls:
        out["tool_calls"] = [render_tool_call(c, own) for c in calls]
    return [patch(out, message.extras) if own else out]


def _render_system_message(message: ir.Message, own: bool) -> list[dict[str, Any]]:
    return [_render_message("system", _media(message.parts), message.extras, own)]


def _merge_call_turns(messages: tuple[ir.Message, ...]) -> list[ir.Message]:
    """An assistant turn with tool calls absorbs the assistant turns right after it: Chat wants
    every parallel call in one message, followed by the tool messages."""
    out: list[ir.Message] = []
    for message in messages:
        previous = out[-1] if out else None
        if (message.role is ir.Role.ASSISTANT and previous is not None
                and previous.role is ir.Role.ASSISTANT
                and any(isinstance(p, ir.ToolCall) for p in previous.parts)):
            out[-1] = ir.Message(ir.Role.ASSISTANT, previous.parts + message.parts)
        else:
            out.append(message)
    return out


_ROLE_RENDERERS: Final[dict[ir.Role, Callable[[ir.Message, bool], list[dict[str, Any]]]]] = {
    ir.Role.USER: _render_user,
    ir.Role.ASSISTANT: _render_assistant,
    ir.Role.SYSTEM: _render_system_message,
}


def _render_tools(request: ir.Request, own: bool, hints: Mapping[str, Any]) -> list[Any]:
    tools = []
    for tool in request.tools:
        function: dict[str, Any] = {"name": tool.name}
        if tool.description:
            function["description"] = tool.description
        function["parameters"] = dict(tool.parameters)
        out = {"type": "function", "function": function}
        tools.append(patch(out, tool.extras) if own else out)
    return insert_at(tools, hints.get("tools"))


def _render_tool_choice(choice: ir.ToolChoice) -> Any:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _render_response_format(fmt: ir.ResponseFormat, hints: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": fmt.kind}
    if fmt.kind == "json_schema":
        spec: dict[str, Any] = {"name": fmt.name or "response"}
        if fmt.schema is not None:
            spec["schema"] = dict(fmt.schema)
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        out["json_schema"] = spec
    return patch(out, hints.get("response_format", {}))


def _render_effort(config: ir.ReasoningConfig) -> str | None:
    """Chat has no "auto" level: a dynamic budget asks for thinking, so it becomes "medium"."""
    effort = effort_of(config)
    return "medium" if effort == "auto" else effort


def _render_sampling(request: ir.Request, body: dict[str, Any], hints: Mapping[str, Any]) -> None:
    if request.max_tokens is not None:
        body[hints.get("max_tokens_key", "max_tokens")] = request.max_tokens
    for key in ("temperature", "top_p", "top_k"):
        value = getattr(request, key)
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop"] = request.stop[0] if len(request.stop) == 1 else list(request.stop)
    effort = _render_effort(request.reasoning) if request.reasoning else None
    if effort is not None:
        body["reasoning_effort"] = effort


def render_request(request: ir.Request) -> dict[str, Any]:
    own = request.source is FORMAT
    hints: Mapping[str, Any] = request.extras.get(HINTS, {}) if own else {}
    messages = _render_system(request, own)
    for message in request.messages if own else _merge_call_turns(request.messages):
        messages.extend(_ROLE_RENDERERS[message.role](message, own))
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    tools = _render_tools(request, own, hints)
    if tools:
        body["tools"] = tools
        if request.tool_choice is not None:
            body["tool_choice"] = _render_tool_choice(request.tool_choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    _render_sampling(request, body, hints)
    if request.response_format is not None:
        body["response_format"] = _render_response_format(request.response_format, hints)
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.user:
        body["user"] = request.user
    if own:
        body.update((k, v) for k, v in request.extras.items() if k != HINTS)
    return body
