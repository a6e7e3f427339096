"""A Chat Completions request body → ``ir.Request``.

Leading ``system``/``developer`` messages become ``Request.system``; later ones stay in place
as ``Role.SYSTEM`` messages (their spelling kept as ``extras["role"]``). ``tool`` messages become
``ToolResult`` parts, consecutive ones merged into one user message. Everything the IR cannot
hold rides in extras in wire shape, plus a few private hints under ``Request.extras["_chat"]``
(leading system message layout, non-function tools, the ``max_completion_tokens`` spelling,
``response_format`` leftovers), used only by ``_request_render`` when rendering back to Chat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, get_args

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_chat._common import (
    FORMAT,
    HINTS,
    PARTS_KEY,
    fail,
    image_from_url,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    parse_tool_call,
    unknown,
)

_SYSTEM_ROLES: Final = frozenset({"system", "developer"})
_EFFORTS: Final = frozenset(get_args(ir.Effort))
_MAPPED: Final = frozenset({
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens",
    "max_completion_tokens", "temperature", "top_p", "top_k", "stop", "reasoning_effort",
    "response_format", "stream", "stream_options", "user",
})
_MESSAGE_KEYS: Final = frozenset({"role", "content"})
_ASSISTANT_KEYS: Final = frozenset({"role", "content", "tool_calls", "reasoning_content"})
_TOOL_KEYS: Final = frozenset({"role", "content", "tool_call_id"})


# --- content parts -----------------------------------------------------------------------------

Content = tuple[list[ir.Text | ir.Image], list[tuple[int, Any]]]


def _parse_content(content: Any, path: str) -> Content:
    """Known parts, and the unknown ones (``input_audio``, ``file``, ``refusal``…) with their
    positions so a Chat render can put them back."""
    if content is None:
        return [], []
    if isinstance(content, str):
        return ([ir.Text(content)] if content else []), []
    if not isinstance(content, list):
        fail(path, "a string or an array", content)
    parts: list[ir.Text | ir.Image] = []
    others: list[tuple[int, Any]] = []
    for i, item in enumerate(content):
        if not isinstance(item, dict):
            fail(f"{path}[{i}]", "an object", item)
        kind = item.get("type")
        parser = _PART_PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            others.append((i, item))
        else:
            parts.append(parser(item, f"{path}[{i}]"))
    return parts, others


def _text_part(item: dict[str, Any], path: str) -> ir.Text:
    text = item.get("text")
    if not isinstance(text, str):
        fail(f"{path}.text", "a string", text)
    return ir.Text(text, extras=unknown(item, frozenset({"type", "text"})))


def _image_part(item: dict[str, Any], path: str) -> ir.Image:
    raw = item.get("image_url")
    inner: dict[str, Any] = {}
    if isinstance(raw, dict):
        url = raw.get("url")
        inner = unknown(raw, frozenset({"url"}))
    else:
        url = raw
    if not isinstance(url, str):
        fail(f"{path}.image_url.url", "a string", url)
    extras = unknown(item, frozenset({"type", "image_url"}))
    if inner:
        extras["image_url"] = inner
    return image_from_url(url, extras)


_PART_PARSERS: Final[dict[Any, Callable[[dict[str, Any], str], ir.Text | ir.Image]]] = {
    "text": _text_part,
    "image_url": _image_part,
}


def _message_extras(
    msg: Mapping[str, Any], known: frozenset[str], others: list[Any]
) -> dict[str, Any]:
    extras = unknown(msg, known)
    if others:
        extras[PARTS_KEY] = tuple(others)
    return extras


# --- messages ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _History:
    """Parser state across messages: the tool calls made so far, for naming and pairing results."""

    messages: list[ir.Message] = field(default_factory=list)
    results: list[ir.ToolResult] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    def add(self, message: ir.Message) -> None:
        self.flush()
        self.messages.append(message)

    def flush(self) -> None:
        if self.results:
            self.messages.append(ir.Message(ir.Role.USER, tuple(self.results)))
            self.results = []


def _system_message(msg: dict[str, Any], path: str, hist: _History) -> None:
    parts, others = _parse_content(msg.get("content"), f"{path}.content")
    extras = _message_extras(msg, _MESSAGE_KEYS, others)
    if msg["role"] != "system":
        extras["role"] = msg["role"]
    hist.add(ir.Message(ir.Role.SYSTEM, tuple(parts), extras))


def _user_message(msg: dict[str, Any], path: str, hist: _History) -> None:
    parts, others = _parse_content(msg.get("content"), f"{path}.content")
    extras = _message_extras(msg, _MESSAGE_KEYS, others)
    if msg["role"] != "user":
        extras["role"] = msg["role"]  # legacy "function" results travel as user text
    hist.add(ir.Message(ir.Role.USER, tuple(parts), extras))


def _assistant_message(msg: dict[str, Any], path: str, hist: _History) -> None:
    parts: list[ir.Part] = []
    known = _ASSISTANT_KEYS
    reasoning = msg.get("reasoning_content")
    if isinstance(reasoning, str):
        if reasoning:
            parts.append(ir.Reasoning(reasoning))
    else:
        known = known - {"reasoning_content"}
    texts, others = _parse_content(msg.get("content"), f"{path}.content")
    parts.extend(texts)
    calls = msg.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        fail(f"{path}.tool_calls", "an array", calls)
    n = len(hist.messages)
    tool_calls = [
        parse_tool_call(raw, f"{path}.tool_calls[{i}]", f"call_{n}_{i}")
        for i, raw in enumerate(calls or ())
    ]
    parts.extend(tool_calls)
    hist.add(ir.Message(ir.Role.ASSISTANT, tuple(parts), _message_extras(msg, known, others)))
    hist.names.update((call.id, call.name) for call in tool_calls)
    hist.pending = [call.id for call in tool_calls]


def _tool_message(msg: dict[str, Any], path: str, hist: _History) -> None:
    call_id = msg.get("tool_call_id")
    if call_id is not None and not isinstance(call_id, str):
        fail(f"{path}.tool_call_id", "a string", call_id)
    if not call_id:
        call_id = hist.pending[0] if hist.pending else f"call_missing_{len(hist.messages)}"
    if call_id in hist.pending:
        hist.pending.remove(call_id)
    parts, others = _parse_content(msg.get("content"), f"{path}.content")
    named = msg.get("name")
    name = hist.names.get(call_id) or (named if isinstance(named, str) else "")
    extras = _message_extras(msg, _TOOL_KEYS, others)
    hist.results.append(ir.ToolResult(call_id, tuple(parts), name, extras=extras))


_ROLE_PARSERS: Final[dict[str, Callable[[dict[str, Any], str, _History], None]]] = {
    "system": _system_message,
    "developer": _system_message,
    "user": _user_message,
    "function": _user_message,
    "assistant": _assistant_message,
    "tool": _tool_message,
}


def _checked(messages: list[Any]) -> list[dict[str, Any]]:
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            fail(f"messages[{i}]", "an object", msg)
        role = msg.get("role")
        if not isinstance(role, str) or role not in _ROLE_PARSERS:
            raise ir.FormatError(f"messages[{i}].role: unsupported role {role!r}")
    return messages


def _parse_messages(
    messages: list[dict[str, Any]],
) -> tuple[tuple[ir.Message, ...], list[ir.Message]]:
    hist = _History()
    for i, msg in enumerate(messages):
        _ROLE_PARSERS[msg["role"]](msg, f"messages[{i}]", hist)
    hist.flush()
    leading = 0
    while leading < len(messages) and messages[leading]["role"] in _SYSTEM_ROLES:
        leading += 1
    return tuple(hist.messages[leading:]), hist.messages[:leading]


def _system_hints(leading: list[ir.Message]) -> tuple[tuple[int, Mapping[str, Any]], ...] | None:
    """The layout of the leading system messages, unless it is the default one message."""
    if len(leading) == 1 and leading[0].parts and not leading[0].extras:
        return None
    return tuple((len(m.parts), m.extras) for m in leading) if leading else None


# --- top-level fields --------------------------------------------------------------------------


def _parse_tools(raw: Any, hints: dict[str, Any]) -> tuple[ir.Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        fail("tools", "an array", raw)
    tools: list[ir.Tool] = []
    others: list[tuple[int, Any]] = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            fail(f"tools[{i}]", "an object", tool)
        if tool.get("type", "function") != "function":
            others.append((i, tool))
            continue
        tools.append(_parse_tool(tool, f"tools[{i}]"))
    if others:
        hints["tools"] = tuple(others)
    return tuple(tools)


def _parse_tool(tool: dict[str, Any], path: str) -> ir.Tool:
    function = tool.get("function")
    if not isinstance(function, dict):
        fail(f"{path}.function", "an object", function)
    name = function.get("name")
    if not isinstance(name, str):
        fail(f"{path}.function.name", "a string", name)
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        fail(f"{path}.function.parameters", "an object", parameters)
    extras = unknown(tool, frozenset({"type", "function"}))
    inner = unknown(function, frozenset({"name", "description", "parameters"}))
    if inner:
        extras["function"] = inner
    return ir.Tool(
        name,
        opt_str(function, "description", f"{path}.function.") or "",
        parameters if parameters is not None else {"type": "object", "properties": {}},
        extras,
    )


def _parse_tool_choice(raw: Any) -> ir.ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw in ("auto", "none", "required"):
            return ir.ToolChoice(raw)  # type: ignore[arg-type]
        raise ir.FormatError(f"tool_choice: unsupported value {raw!r}")
    if not isinstance(raw, dict):
        fail("tool_choice", "a string or an object", raw)
    function = raw.get("function")
    if raw.get("type") == "function" and isinstance(function, dict):
        name = function.get("name")
        if isinstance(name, str) and name:
            return ir.ToolChoice("tool", name)
    return None


def _parse_stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    fail("stop", "a string or an array of strings", raw)


def _parse_response_format(raw: Any, hints: dict[str, Any]) -> ir.ResponseFormat | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fail("response_format", "an object", raw)
    kind = raw.get("type")
    if kind in ("text", "json_object"):
        rest = unknown(raw, frozenset({"type"}))
        if rest:
            hints["response_format"] = rest
        return ir.ResponseFormat(kind)
    if kind != "json_schema":
        raise ir.FormatError(f"response_format.type: unsupported value {kind!r}")
    spec = raw.get("json_schema")
    if not isinstance(spec, dict):
        fail("response_format.json_schema", "an object", spec)
    schema = spec.get("schema")
    if schema is not None and not isinstance(schema, dict):
        fail("response_format.json_schema.schema", "an object", schema)
    rest = unknown(raw, frozenset({"type", "json_schema"}))
    inner = unknown(spec, frozenset({"name", "schema", "strict"}))
    if inner:
        rest["json_schema"] = inner
    if rest:
        hints["response_format"] = rest
    return ir.ResponseFormat(
        "json_schema",
        schema,
        opt_str(spec, "name", "response_format.json_schema.") or "",
        opt_bool(spec, "strict", "response_format.json_schema."),
    )


def _parse_effort(raw: Any, extras: dict[str, Any]) -> ir.ReasoningConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        fail("reasoning_effort", "a string", raw)
    if raw not in _EFFORTS:
        extras["reasoning_effort"] = raw
        return None
    return ir.ReasoningConfig(effort=raw)  # type: ignore[arg-type]


def _parse_max_tokens(body: Mapping[str, Any], extras: dict[str, Any],
                      hints: dict[str, Any]) -> int | None:
    legacy = opt_int(body, "max_tokens")
    current = opt_int(body, "max_completion_tokens")
    if current is None:
        return legacy
    hints["max_tokens_key"] = "max_completion_tokens"
    if legacy is not None:
        extras["max_tokens"] = legacy
    return current


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        fail("stream_options", "an object", options)
    return bool(opt_bool(options, "include_usage", "stream_options."))


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    if not isinstance(body, Mapping):
        fail("request body", "an object", body)
    messages = body.get("messages")
    if not isinstance(messages, list):
        fail("messages", "an array", messages)
    extras = unknown(body, _MAPPED)
    hints: dict[str, Any] = {}
    history, leading = _parse_messages(_checked(messages))
    tool_choice = _parse_tool_choice(body.get("tool_choice"))
    if tool_choice is None and body.get("tool_choice") is not None:
        extras["tool_choice"] = body["tool_choice"]
    layout = _system_hints(leading)
    if layout is not None:
        hints["system"] = layout
    request = ir.Request(
        model=opt_str(body, "model", "") or "",
        messages=history,
        system=tuple(p for m in leading for p in m.parts if isinstance(p, ir.Text | ir.Image)),
        tools=_parse_tools(body.get("tools"), hints),
        tool_choice=tool_choice,
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls"),
        max_tokens=_parse_max_tokens(body, extras, hints),
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        top_k=opt_int(body, "top_k"),
        stop=_parse_stop(body.get("stop")),
        reasoning=_parse_effort(body.get("reasoning_effort"), extras),
        response_format=_parse_response_format(body.get("response_format"), hints),
        stream=bool(opt_bool(body, "stream")),
        include_usage=_include_usage(body),
        user=opt_str(body, "user", "") or "",
        source=FORMAT,
    )
    if hints:
        extras[HINTS] = hints
    return replace(request, extras=extras) if extras else request
