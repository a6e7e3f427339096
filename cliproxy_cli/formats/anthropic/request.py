"""Anthropic Messages request bodies ↔ ``ir.Request``.

Where the carried things go (all gated by ``request.source``):
- unknown top-level fields (``context_management``, ``container``, ``mcp_servers``, ``betas``,
  ``service_tier``, ``cache_control``, ``output_config`` …) → ``Request.extras`` under their name;
- the original ``thinking`` and a non-``user_id`` ``metadata`` → ``Request.extras`` too (restored
  verbatim while the IR still says the same thing);
- server tools (a ``type`` other than ``custom``) → ``Request.extras["_server_tools"]`` as
  ``[[position, tool], …]``;
- blocks with no IR part → the enclosing value's ``extras["_blocks"]`` (see ``_common.BLOCKS``);
- string content → ``extras["_string"]`` on the message / tool result, ``Request.extras
  ["_system_string"]`` for ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.anthropic import _blocks
from cliproxy_cli.formats.anthropic._common import (
    BLOCKS,
    FORMAT,
    STRING,
    apply_extras,
    rest,
    text_of,
    with_blocks,
)
from cliproxy_cli.formats.reasoning import LEVEL_TO_BUDGET, budget_of, effort_of

DEFAULT_MAX_TOKENS: Final = 32000
MIN_BUDGET: Final = 1024
SERVER_TOOLS: Final = "_server_tools"
SYSTEM_STRING: Final = "_system_string"
SYSTEM_BLOCKS: Final = "_system_blocks"

_ROLES: Final = {"user": ir.Role.USER, "assistant": ir.Role.ASSISTANT, "system": ir.Role.SYSTEM}
_OWNED: Final = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "max_tokens", "temperature", "top_p",
     "top_k", "stop_sequences", "stream", "metadata", "thinking"}
)
_RENDERED_APART: Final = _OWNED | {"output_config"}
_ROLES_OUT: Final = {role: name for name, role in _ROLES.items()}
_ALLOWED: Final = {
    "user": frozenset({"text", "image", "tool_result"}),
    "assistant": frozenset({"text", "tool_use", "thinking", "redacted_thinking"}),
    "system": frozenset({"text"}),
}
_TOOL_KEYS: Final = frozenset({"name", "description", "input_schema"})
_MESSAGE_KEYS: Final = frozenset({"role", "content"})
_CHOICES: Final[dict[str, ir.ToolChoiceMode]] = {
    "auto": "auto", "any": "required", "tool": "tool", "none": "none"
}
_CHOICES_OUT: Final[dict[str, str]] = {
    "auto": "auto", "required": "any", "tool": "tool", "none": "none"
}
_EFFORT_IN: Final[dict[str, ir.Effort]] = {
    "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"
}
_EFFORT_OUT: Final[dict[str, str]] = {
    "minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh"
}
_DISPLAY: Final = {"omitted": False, "summarized": True}
_COUNT_TOKENS_KEYS: Final = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
     "cache_control", "speed", "mcp_servers", "context_management"}
)


def _fail(path: str, expected: str) -> ir.FormatError:
    return ir.FormatError(f"{path}: expected {expected}")


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, "a number")
    return float(value)


def _integer(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, "an integer")
    return value


# --- parse -------------------------------------------------------------------------------------


def _parse_system(raw: Any, extras: dict[str, Any]) -> tuple[ir.Text | ir.Image, ...]:
    names: _blocks.Names = {}
    parts, markers = _blocks.parse_blocks(raw, "system", names, _blocks.SYSTEM_PARSERS)
    if markers.get(STRING):
        extras[SYSTEM_STRING] = True
    if BLOCKS in markers:
        extras[SYSTEM_BLOCKS] = markers[BLOCKS]
    return tuple(p for p in parts if isinstance(p, ir.Text | ir.Image))


def _parse_message(raw: Any, path: str, names: _blocks.Names) -> ir.Message:
    if not isinstance(raw, Mapping):
        raise _fail(path, "a message object")
    role_name = raw.get("role")
    role = _ROLES.get(role_name) if isinstance(role_name, str) else None
    if role is None:
        raise _fail(f"{path}.role", "'user', 'assistant' or 'system'")
    parts, markers = _blocks.parse_blocks(raw.get("content"), f"{path}.content", names)
    return ir.Message(role, parts, {**rest(raw, _MESSAGE_KEYS), **markers})


def _parse_messages(raw: Any) -> tuple[ir.Message, ...]:
    if not isinstance(raw, list):
        raise _fail("messages", "a list")
    names: _blocks.Names = {}
    return tuple(_parse_message(m, f"messages[{i}]", names) for i, m in enumerate(raw))


def _parse_tool(raw: Any, path: str) -> ir.Tool:
    name = raw.get("name")
    if not isinstance(name, str):
        raise _fail(f"{path}.name", "a string")
    schema = raw.get("input_schema")
    return ir.Tool(
        name=name,
        description=text_of(raw.get("description")),
        parameters=schema if isinstance(schema, Mapping) else {"type": "object", "properties": {}},
        extras=rest(raw, _TOOL_KEYS),
    )


def _parse_tools(raw: Any, extras: dict[str, Any]) -> tuple[ir.Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail("tools", "a list")
    tools: list[ir.Tool] = []
    server: list[list[Any]] = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, Mapping):
            raise _fail(f"tools[{i}]", "a tool object")
        if tool.get("type", "custom") != "custom":
            server.append([i, dict(tool)])
        else:
            tools.append(_parse_tool(tool, f"tools[{i}]"))
    if server:
        extras[SERVER_TOOLS] = server
    return tuple(tools)


def _parse_tool_choice(raw: Any) -> tuple[ir.ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    if isinstance(raw, str):
        raw = {"type": raw}
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if not isinstance(kind, str) or kind not in _CHOICES:
        raise _fail("tool_choice", "an object with type auto, any, tool or none")
    choice = ir.ToolChoice(_CHOICES[kind], text_of(raw.get("name")))
    disable = raw.get("disable_parallel_tool_use")
    return choice, (None if not isinstance(disable, bool) else not disable)


def parse_reasoning(thinking: Any, output_config: Any) -> ir.ReasoningConfig | None:
    """``thinking`` + ``output_config.effort`` → what the client asked of reasoning."""
    effort: ir.Effort | None = None
    budget: int | None = None
    include: bool | None = None
    if isinstance(thinking, Mapping):
        kind = thinking.get("type")
        if kind == "enabled":
            budget = _integer(thinking, "budget_tokens")
            effort = "auto" if budget is None else None
        elif kind == "disabled":
            effort = "none"
        elif kind in ("adaptive", "between_tools"):
            effort = "auto"
        display = thinking.get("display")
        include = _DISPLAY.get(display) if isinstance(display, str) else None
    elif thinking is not None:
        raise _fail("thinking", "an object")
    asked = output_config.get("effort") if isinstance(output_config, Mapping) else None
    if effort != "none" and isinstance(asked, str) and asked in _EFFORT_IN:
        effort = _EFFORT_IN[asked]
    if effort is None and budget is None and include is None:
        return None
    return ir.ReasoningConfig(effort=effort, budget=budget, include_thoughts=include)


def _parse_response_format(output_config: Any) -> ir.ResponseFormat | None:
    fmt = output_config.get("format") if isinstance(output_config, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
        return None
    schema = fmt.get("schema")
    return ir.ResponseFormat("json_schema", schema if isinstance(schema, Mapping) else None)


def _parse_user(raw: Any, extras: dict[str, Any]) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, Mapping):
        raise _fail("metadata", "an object")
    if set(raw) - {"user_id"}:
        extras["metadata"] = dict(raw)
    return text_of(raw.get("user_id"))


def _parse_stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _fail("stop_sequences", "a list of strings")
    return tuple(raw)


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    if not isinstance(body, Mapping):
        raise ir.FormatError("request body: expected a JSON object")
    model = body.get("model")
    if not isinstance(model, str):
        raise _fail("model", "a string")
    extras = rest(body, _OWNED)
    if "thinking" in body:
        extras["thinking"] = body["thinking"]
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _fail("stream", "a boolean")
    if "stream" in body and not stream:
        extras["stream"] = False
    choice, parallel = _parse_tool_choice(body.get("tool_choice"))
    return ir.Request(
        model=model,
        messages=_parse_messages(body.get("messages")),
        system=_parse_system(body.get("system"), extras),
        tools=_parse_tools(body.get("tools"), extras),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=_integer(body, "max_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=_integer(body, "top_k"),
        stop=_parse_stop(body.get("stop_sequences")),
        reasoning=parse_reasoning(body.get("thinking"), body.get("output_config")),
        response_format=_parse_response_format(body.get("output_config")),
        stream=stream,
        user=_parse_user(body.get("metadata"), extras),
        source=FORMAT,
        extras=extras,
    )


# --- render ------------------------------------------------------------------------------------


def _as_list(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _merge(turns: list[dict[str, Any]], role: str, content: str | list[dict[str, Any]]) -> bool:
    """Append to the previous turn when it has the same role (the API wants alternation)."""
    if not turns or turns[-1]["role"] != role:
        return False
    turns[-1]["content"] = _as_list(turns[-1]["content"]) + _as_list(content)
    return True


def _tool_results_first(turn: dict[str, Any]) -> None:
    content = turn["content"]
    if turn["role"] == "user" and isinstance(content, list):
        turn["content"] = sorted(content, key=lambda b: b.get("type") != "tool_result")


def _content(message: ir.Message, role: str, keep: bool) -> str | list[dict[str, Any]]:
    text = _blocks.string_form(message.parts, message.extras, keep)
    if text is not None:
        return text
    blocks = _blocks.render_parts(message.parts, message.extras, keep, history=True)
    if keep:
        return blocks
    return [b for b in blocks if b["type"] in _ALLOWED[role]]


def _render_messages(request: ir.Request) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(messages, system blocks folded out of role-system messages)``."""
    keep = request.source is FORMAT
    turns: list[dict[str, Any]] = []
    folded: list[dict[str, Any]] = []
    for message in request.messages:
        role = _ROLES_OUT[message.role]
        content = _content(message, role, keep)
        if role == "system":
            folded.extend(b for b in _as_list(content) if b["type"] == "text" and b["text"])
            continue
        if not content and not isinstance(content, str):
            continue
        if not _merge(turns, role, content):
            turn: dict[str, Any] = {"role": role, "content": content}
            turns.append(_with_extras(turn, message.extras, keep))
    for turn in turns:
        _tool_results_first(turn)
    return turns, folded


def _with_extras(target: dict[str, Any], extras: Mapping[str, Any], keep: bool) -> dict[str, Any]:
    if keep:
        apply_extras(target, extras)
    return target


def _render_system(
    request: ir.Request, folded: list[dict[str, Any]]
) -> str | list[dict[str, Any]] | None:
    keep = request.source is FORMAT
    if keep and request.extras.get(SYSTEM_STRING) and not folded:
        text = _blocks.string_form(request.system, {STRING: True}, keep)
        if text is not None:
            return text
    blocks = [b for b in (_blocks.render_text(p, keep) for p in request.system
                          if isinstance(p, ir.Text)) if b is not None]
    if keep:
        blocks = with_blocks(blocks, {BLOCKS: request.extras.get(SYSTEM_BLOCKS)})
    return (blocks + folded) or None


def _schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    schema = dict(parameters) if isinstance(parameters, Mapping) else {}
    if "type" not in schema:
        schema = {"type": "object", "properties": {}, **schema}
    return schema


def _render_tools(request: ir.Request) -> list[dict[str, Any]]:
    keep = request.source is FORMAT
    out: list[dict[str, Any]] = []
    for tool in request.tools:
        block: dict[str, Any] = {"name": tool.name}
        if tool.description:
            block["description"] = tool.description
        block["input_schema"] = _schema(tool.parameters)
        out.append(_with_extras(block, tool.extras, keep))
    if keep:
        out = with_blocks(out, {BLOCKS: request.extras.get(SERVER_TOOLS)})
    return out


def _render_tool_choice(request: ir.Request) -> dict[str, Any] | None:
    choice, parallel = request.tool_choice, request.parallel_tool_calls
    if choice is None:
        return {"type": "auto", "disable_parallel_tool_use": True} if parallel is False else None
    kind = _CHOICES_OUT[choice.mode]
    out: dict[str, Any] = {"type": kind}
    if kind == "tool":
        if not choice.name:
            out["type"] = "any"
        else:
            out["name"] = choice.name
    if parallel is not None and kind != "none":
        out["disable_parallel_tool_use"] = not parallel
    return out


def _budget_thinking(budget: int, body: dict[str, Any]) -> dict[str, Any]:
    """``budget_tokens`` ≥ 1024 and below ``max_tokens`` (the API's two rules): clamp the budget
    under the limit, and raise the limit only when even 1024 does not fit."""
    limit = body["max_tokens"]
    budget = max(MIN_BUDGET, min(budget, limit - 1))
    if budget >= limit:
        body["max_tokens"] = budget + max(limit, 1)
    return {"type": "enabled", "budget_tokens": budget}


def _within_limit(thinking: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The client's own ``thinking``, its budget clamped only if ``max_tokens`` no longer fits it
    (the lead may lower ``max_tokens`` for a model)."""
    budget = thinking.get("budget_tokens")
    if thinking.get("type") != "enabled" or not isinstance(budget, int):
        return thinking
    if MIN_BUDGET <= budget < body["max_tokens"]:
        return thinking
    return {**thinking, **_budget_thinking(budget, body)}


def _thinking(request: ir.Request, body: dict[str, Any]) -> dict[str, Any] | None:
    cfg = request.reasoning
    keep = request.source is FORMAT
    original = request.extras.get("thinking") if keep else None
    carried_config = request.extras.get("output_config")
    if original is not None and cfg == parse_reasoning(original, carried_config):
        return _within_limit(cast(dict[str, Any], original), body)
    if cfg is None:
        return None
    effort, budget = effort_of(cfg), budget_of(cfg)
    if effort == "none" or budget == 0:
        return {"type": "disabled"}
    if budget is None or budget < 0:
        if keep:
            return _displayed({"type": "adaptive"}, cfg)
        budget = LEVEL_TO_BUDGET["medium"]
    out = _budget_thinking(budget, body)
    return _displayed(out, cfg) if keep else out


def _displayed(thinking: dict[str, Any], cfg: ir.ReasoningConfig) -> dict[str, Any]:
    if cfg.include_thoughts is not None:
        thinking["display"] = "summarized" if cfg.include_thoughts else "omitted"
    return thinking


def _render_output_config(request: ir.Request) -> dict[str, Any] | None:
    carried = request.extras.get("output_config") if request.source is FORMAT else None
    out = dict(carried) if isinstance(carried, Mapping) else {}
    effort = request.reasoning.effort if request.reasoning else None
    if "effort" in out:
        if effort in _EFFORT_OUT:
            if _EFFORT_IN.get(out["effort"]) != effort:
                out["effort"] = _EFFORT_OUT[effort]
        elif effort is None or effort == "none":
            del out["effort"]
    fmt = request.response_format
    if fmt is not None and fmt.kind == "json_schema" and fmt.schema is not None:
        wanted = {"type": "json_schema", "schema": dict(fmt.schema)}
        if out.get("format") != wanted:
            out["format"] = wanted
    else:
        out.pop("format", None)
    return out or None


def _last_tool_turn_unsigned(messages: list[dict[str, Any]]) -> bool:
    """With thinking on, the API wants the last assistant turn that used a tool to open with a
    thinking block; history from another family has none to give."""
    for turn in reversed(messages):
        if turn["role"] != "assistant":
            continue
        blocks = _as_list(turn["content"])
        uses_tool = any(b.get("type") == "tool_use" for b in blocks)
        opens = bool(blocks) and blocks[0].get("type") in ("thinking", "redacted_thinking")
        return uses_tool and not opens
    return False


def _fix_thinking(request: ir.Request, body: dict[str, Any]) -> None:
    """Make the body acceptable when thinking is on (API constraints)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") == "disabled":
        return
    choice = body.get("tool_choice")
    forced = isinstance(choice, Mapping) and choice.get("type") in ("any", "tool")
    foreign = request.source is not FORMAT
    if forced or (foreign and _last_tool_turn_unsigned(body["messages"])):
        del body["thinking"]
        return
    if foreign:
        if body.get("temperature", 1.0) != 1.0:
            del body["temperature"]
        body.pop("top_k", None)
        if body.get("top_p", 1.0) < 0.95:
            del body["top_p"]


def _sampling(request: ir.Request, body: dict[str, Any]) -> None:
    foreign = request.source is not FORMAT
    for key, value in (("temperature", request.temperature), ("top_p", request.top_p),
                       ("top_k", request.top_k)):
        if value is not None:
            body[key] = value
    if foreign and "temperature" in body and "top_p" in body:
        del body["top_p"]  # newer models reject both; the reference keeps temperature
    stops = [s for s in request.stop if s.strip()] if foreign else list(request.stop)
    if stops:
        body["stop_sequences"] = stops


def _metadata(request: ir.Request) -> dict[str, Any] | None:
    carried = request.extras.get("metadata") if request.source is FORMAT else None
    out = dict(carried) if isinstance(carried, Mapping) else {}
    if request.user:
        out["user_id"] = request.user
    else:
        out.pop("user_id", None)
    return out or None


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def render_request(request: ir.Request) -> dict[str, Any]:
    messages, folded = _render_messages(request)
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    _put(body, "system", _render_system(request, folded))
    limit = request.max_tokens
    body["max_tokens"] = limit if limit is not None else DEFAULT_MAX_TOKENS
    _sampling(request, body)
    tools = _render_tools(request)
    if tools:
        body["tools"] = tools
        _put(body, "tool_choice", _render_tool_choice(request))
    _put(body, "thinking", _thinking(request, body))
    _put(body, "output_config", _render_output_config(request))
    _put(body, "metadata", _metadata(request))
    if request.stream or (request.source is FORMAT and request.extras.get("stream") is False):
        body["stream"] = request.stream
    _fix_thinking(request, body)
    if request.source is FORMAT:
        apply_extras(body, {k: v for k, v in request.extras.items() if k not in _RENDERED_APART})
    return body


# --- count tokens ------------------------------------------------------------------------------


def render_count_tokens_request(request: ir.Request) -> dict[str, Any]:
    """A ``/v1/messages/count_tokens`` body: the request without the generation fields the
    endpoint rejects (``max_tokens``, ``stream``, sampling, ``metadata`` …)."""
    body = render_request(request)
    return {k: v for k, v in body.items() if k in _COUNT_TOKENS_KEYS}


def render_count_tokens(tokens: int) -> dict[str, Any]:
    return {"input_tokens": max(0, int(tokens))}


def parse_count_tokens(body: Any) -> int:
    value = body.get("input_tokens") if isinstance(body, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ir.FormatError("input_tokens: expected an integer")
    return value
