"""Responses request bodies ↔ ``ir.Request`` (the OpenAI API and the Codex backend dialect).

Input items map onto IR messages: leading ``system``/``developer`` messages join ``instructions``
in ``Request.system`` (Codex CLI sends two ``developer`` messages and no ``instructions``); later
ones become ``Role.SYSTEM`` messages. A run of ``reasoning`` and ``function_call`` items joins the
assistant message it follows (or forms one); a run of ``function_call_output`` items becomes one
user message of ``ToolResult`` parts. Unknown item types ride in the hints of the message they
follow, so a same-family render puts them back where they were.

Same-family normalisations (``render_request(parse_request(x))`` differs from ``x`` only here):
a string ``input`` or ``content`` becomes an array of typed parts (``""`` an empty one), an
object ``function_call_output.output`` becomes its JSON text, an item without ``type`` gets
``type: "message"``, ``arguments`` is re-serialised compactly, a missing ``parameters`` becomes
the empty object schema, ``stream: false`` / ``tools: []`` / ``encrypted_content: null`` and empty
summary parts are omitted, an ``"auto"`` effort becomes ``"medium"``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_responses._common import (
    FORMAT,
    TYPE_HINT,
    expect_mapping,
    expect_str,
    frozen,
    image_from_url,
    is_own,
    json_text,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    own_signature,
    parse_reasoning,
    public,
    render_reasoning,
    rest_of,
    segments,
    url_of,
)
from cliproxy_cli.formats.openai_responses.options import (
    TOOLS_HINT,
    parse_reasoning_config,
    parse_text,
    parse_tool_choice,
    parse_tools,
    render_reasoning_config,
    render_text,
    render_tool_choice,
    render_tools,
)

SYSTEM_HINT: Final = "_system"  # how Request.system was laid out: instructions / leading messages
LEADING_HINT: Final = "_leading_items"  # unknown items before the first message
AFTER_HINT: Final = "_after"  # unknown items that followed a message
UNKNOWN_PARTS_HINT: Final = "_unknown_parts"  # unknown content parts with their positions
ARRAY_HINT: Final = "_array"  # function_call_output.output was an array

_KNOWN: Final = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "max_output_tokens", "temperature", "top_p", "reasoning", "text", "stream", "user",
})
_ROLES: Final = frozenset({"user", "assistant", "system", "developer"})
_ECHO_EXTRAS: Final = ("previous_response_id", "prompt_cache_key", "safety_identifier",
                       "service_tier", "store", "max_tool_calls", "top_logprobs",
                       "prompt_cache_retention")


# --- parse: content parts ----------------------------------------------------------------------


def _text_part(raw: Mapping[str, Any], kind: str, default: str, where: str) -> ir.Text:
    key = "refusal" if kind == "refusal" else "text"
    text = expect_str(raw.get(key), f"{where}.{key}")
    extras = rest_of(raw, ("type", key))
    if kind != default:
        extras[TYPE_HINT] = kind
    return ir.Text(text, extras=frozen(extras))


def _image_part(raw: Mapping[str, Any], where: str) -> ir.Image:
    url = raw.get("image_url")
    if isinstance(url, Mapping):  # the Chat shape, sent by clients that mix the two APIs
        url = url.get("url")
    extras = frozen(rest_of(raw, ("type", "image_url")))
    if url is None or url == "":
        return ir.Image(extras=extras)
    return image_from_url(expect_str(url, f"{where}.image_url"), extras)


def _content_part(raw: Mapping[str, Any], default: str, where: str) -> ir.Text | ir.Image | None:
    kind = raw.get("type")
    if kind in ("input_text", "output_text", "text", "refusal"):
        return _text_part(raw, kind, default, where)
    if kind == "input_image":
        return _image_part(raw, where)
    return None


def _content(
    content: Any, default: str, where: str
) -> tuple[list[ir.Text | ir.Image], list[tuple[int, Any]]]:
    if content is None:
        return [], []
    if isinstance(content, str):
        return ([ir.Text(content)] if content else []), []
    if not isinstance(content, list):
        raise ir.FormatError(f"{where}: expected a string or an array")
    parts: list[ir.Text | ir.Image] = []
    unknown: list[tuple[int, Any]] = []
    for i, raw in enumerate(content):
        raw = expect_mapping(raw, f"{where}[{i}]")
        part = _content_part(raw, default, f"{where}[{i}]")
        if part is None:
            unknown.append((i, raw))
        else:
            parts.append(part)
    return parts, unknown


def _default_type(role: str) -> str:
    return "output_text" if role == "assistant" else "input_text"


# --- parse: input items ------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    role: ir.Role
    parts: list[ir.Part]
    extras: dict[str, Any]
    run: str  # "assistant" / "results" while items may still join it, "" once closed
    has_message: bool = False


@dataclass(slots=True)
class _Input:
    system: list[ir.Text | ir.Image] = field(default_factory=list)
    layout: list[tuple[Any, ...]] = field(default_factory=list)
    drafts: list[_Draft] = field(default_factory=list)
    leading_items: list[Any] = field(default_factory=list)
    leading: bool = True
    names: dict[str, str] = field(default_factory=dict)
    pending: deque[str] = field(default_factory=deque)

    def instructions(self, text: str | None) -> None:
        if text is None:
            return
        self.layout.append(("instructions", 1 if text else 0))
        if text:
            self.system.append(ir.Text(text))

    def add(self, item: Any, where: str) -> None:
        item = expect_mapping(item, where)
        kind = item.get("type") or ("message" if "role" in item else None)
        handler = _ITEMS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.unknown(item)
        else:
            handler(self, item, where)

    def run(self, role: ir.Role, run: str) -> _Draft:
        self.leading = False
        if self.drafts and self.drafts[-1].run == run:
            return self.drafts[-1]
        draft = _Draft(role, [], {}, run)
        self.drafts.append(draft)
        return draft

    def message(self, item: Mapping[str, Any], where: str) -> None:
        role = item.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise ir.FormatError(f"{where}.role: expected user, assistant, system or developer")
        parts, unknown = _content(item.get("content"), _default_type(role), f"{where}.content")
        extras = rest_of(item, ("type", "role", "content"))
        if unknown:
            extras[UNKNOWN_PARTS_HINT] = tuple(unknown)
        if role in ("system", "developer"):
            self.system_message(role, parts, extras)
        elif role == "assistant":
            draft = self.run(ir.Role.ASSISTANT, "assistant")
            if draft.has_message:
                draft = _Draft(ir.Role.ASSISTANT, [], {}, "assistant")
                self.drafts.append(draft)
            draft.parts.extend(parts)
            draft.extras.update(extras)
            draft.has_message = True
        else:
            self.leading = False
            self.drafts.append(_Draft(ir.Role.USER, list(parts), extras, ""))

    def system_message(self, role: str, parts: list[ir.Text | ir.Image], extras: dict[str, Any],
                       ) -> None:
        if self.leading:
            self.system.extend(parts)
            self.layout.append(("message", role, len(parts), frozen(extras)))
            return
        if role == "system":
            extras["role"] = "system"
        self.drafts.append(_Draft(ir.Role.SYSTEM, list(parts), extras, ""))

    def function_call(self, item: Mapping[str, Any], where: str) -> None:
        name = expect_str(item.get("name"), f"{where}.name")
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            fallback = item.get("id")
            call_id = (fallback if isinstance(fallback, str) and fallback
                       else f"call_{len(self.names)}")
        self.names[call_id] = name
        self.pending.append(call_id)
        arguments = ir.coerce_arguments(item.get("arguments"))
        extras = frozen(rest_of(item, ("type", "call_id", "name", "arguments")))
        self.run(ir.Role.ASSISTANT, "assistant").parts.append(
            ir.ToolCall(call_id, name, arguments, extras=extras)
        )

    def function_call_output(self, item: Mapping[str, Any], where: str) -> None:
        call_id = item.get("call_id")
        if isinstance(call_id, str) and call_id:
            if call_id in self.pending:
                self.pending.remove(call_id)
        elif self.pending:
            call_id = self.pending.popleft()
        else:
            raise ir.FormatError(f"{where}.call_id: expected a string")
        content, extras = _output(item.get("output"), f"{where}.output")
        extras.update(rest_of(item, ("type", "call_id", "output")))
        result = ir.ToolResult(call_id, tuple(content), name=self.names.get(call_id, ""),
                               extras=frozen(extras))
        self.run(ir.Role.USER, "results").parts.append(result)

    def reasoning(self, item: Mapping[str, Any], where: str) -> None:
        self.run(ir.Role.ASSISTANT, "assistant").parts.extend(parse_reasoning(item))

    def unknown(self, item: Mapping[str, Any]) -> None:
        self.leading = False
        if not self.drafts:
            self.leading_items.append(item)
            return
        last = self.drafts[-1]
        last.extras.setdefault(AFTER_HINT, []).append(item)
        last.run = ""

    def messages(self) -> tuple[ir.Message, ...]:
        out = []
        for d in self.drafts:
            if AFTER_HINT in d.extras:
                d.extras[AFTER_HINT] = tuple(d.extras[AFTER_HINT])
            out.append(ir.Message(d.role, tuple(d.parts), frozen(d.extras)))
        return tuple(out)


_ITEMS: Final[dict[str, Callable[[_Input, Mapping[str, Any], str], None]]] = {
    "message": _Input.message,
    "function_call": _Input.function_call,
    "function_call_output": _Input.function_call_output,
    "reasoning": _Input.reasoning,
}


def _output(output: Any, where: str) -> tuple[list[ir.Text | ir.Image], dict[str, Any]]:
    if output is None:
        return [], {}
    if isinstance(output, str):
        return ([ir.Text(output)] if output else []), {}
    if isinstance(output, list):
        parts, unknown = _content(output, "input_text", where)
        extras: dict[str, Any] = {ARRAY_HINT: True}
        if unknown:
            extras[UNKNOWN_PARTS_HINT] = tuple(unknown)
        return parts, extras
    return [ir.Text(json_text(output))], {}


def _input_items(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise ir.FormatError("input: expected a string or an array")
    return raw


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    body = expect_mapping(body, "request body")
    model = expect_str(body.get("model"), "model")
    items = _Input()
    items.instructions(opt_str(body, "instructions"))
    for i, item in enumerate(_input_items(body.get("input"))):
        items.add(item, f"input[{i}]")
    tools, builtins = parse_tools(body.get("tools"))
    tool_choice = parse_tool_choice(body.get("tool_choice"))
    reasoning, reasoning_rest = parse_reasoning_config(body.get("reasoning"))
    response_format, text_rest = parse_text(body.get("text"))
    extras = rest_of(body, _KNOWN)
    hints: dict[str, Any] = {
        "tool_choice": body.get("tool_choice") if tool_choice is None else None,
        "reasoning": reasoning_rest, "text": text_rest, TOOLS_HINT: builtins,
        SYSTEM_HINT: tuple(items.layout), LEADING_HINT: tuple(items.leading_items),
    }
    extras.update((k, v) for k, v in hints.items() if v)
    return ir.Request(
        model=model, messages=items.messages(), system=tuple(items.system), tools=tools,
        tool_choice=tool_choice, parallel_tool_calls=opt_bool(body, "parallel_tool_calls"),
        max_tokens=opt_int(body, "max_output_tokens"), temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"), reasoning=reasoning, response_format=response_format,
        stream=bool(opt_bool(body, "stream")), user=opt_str(body, "user") or "",
        source=FORMAT, extras=frozen(extras),
    )


# --- render ------------------------------------------------------------------------------------


def _render_part(part: ir.Part, role: str, own: bool) -> dict[str, Any] | None:
    if isinstance(part, ir.Text):
        kind = (part.extras.get(TYPE_HINT) if own else None) or _default_type(role)
        out: dict[str, Any] = (
            {"type": "refusal", "refusal": part.text} if kind == "refusal"
            else {"type": kind, "text": part.text}
        )
    elif isinstance(part, ir.Image) and (own or role != "assistant"):
        out = {"type": "input_image"}
        if url := url_of(part):
            out["image_url"] = url
        if not own:
            out["detail"] = "auto"
    else:
        return None
    if own:
        out.update(public(part.extras))
    return out if len(out) > 1 else None


def _message_item(role: str, parts: Sequence[ir.Part], extras: Mapping[str, Any],
                  own: bool) -> dict[str, Any]:
    content = [c for p in parts if (c := _render_part(p, role, own)) is not None]
    if own:
        for i, raw in extras.get(UNKNOWN_PARTS_HINT, ()):
            content.insert(i, raw)
    item = {"type": "message", "role": role, "content": content}
    if own:
        item.update(public(extras))
    return item


def _result_item(result: ir.ToolResult, own: bool) -> dict[str, Any]:
    has_image = any(isinstance(c, ir.Image) for c in result.content)
    output: Any
    if has_image or (own and result.extras.get(ARRAY_HINT)):
        output = _message_item("user", result.content, result.extras if own else {},
                               own)["content"]
    else:
        output = "\n\n".join(c.text for c in result.content if isinstance(c, ir.Text))
    item = {"type": "function_call_output", "call_id": result.call_id, "output": output}
    if own:
        item.update(public(result.extras))
    return item


def _call_item(call: ir.ToolCall, own: bool) -> dict[str, Any]:
    item = {"type": "function_call", "call_id": call.id, "name": call.name,
            "arguments": json_text(call.arguments)}
    if own:
        item.update(public(call.extras))
    return item


def _reasoning_item(parts: list[ir.Reasoning], own: bool) -> dict[str, Any] | None:
    """Only reasoning this family signed goes back upstream (the API rejects anything else)."""
    if not any(own_signature(p.signature) for p in parts):
        return None
    item_id = parts[0].extras.get("id") if own else None
    item = render_reasoning(parts, item_id if isinstance(item_id, str) else ir.new_id("rs_"), own)
    return {"type": "reasoning", **item}


def _part_key(own: bool) -> Callable[[ir.Part], Any]:
    def key(part: ir.Part) -> Any:
        if isinstance(part, ir.Reasoning):
            item_id = part.extras.get("id") if own else None
            return ("reasoning", item_id) if item_id else None
        if isinstance(part, ir.Text | ir.Image):
            return "content"
        return None

    return key


def _message_items(message: ir.Message, own: bool) -> list[dict[str, Any]]:
    role = {ir.Role.USER: "user", ir.Role.ASSISTANT: "assistant"}.get(message.role, "developer")
    out: list[dict[str, Any]] = []
    extras = message.extras
    for seg in segments(message.parts, _part_key(own)):
        first = seg[0]
        if isinstance(first, ir.Text | ir.Image):
            out.append(_message_item(role, seg, extras, own))
            extras = ir.EMPTY
        elif isinstance(first, ir.ToolCall) and role == "assistant":
            out.append(_call_item(first, own))
        elif isinstance(first, ir.ToolResult) and role == "user":
            out.append(_result_item(first, own))
        elif isinstance(first, ir.Reasoning) and role == "assistant":
            item = _reasoning_item(seg, own)  # type: ignore[arg-type]
            if item is not None:
                out.append(item)
    if not out and own and not message.parts:
        out.append(_message_item(role, (), extras, own))
    return out


def _render_messages(messages: Sequence[ir.Message], own: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        items.extend(_message_items(message, own))
        if own:
            items.extend(message.extras.get(AFTER_HINT, ()))
    return items


def _layout_fits(layout: Any, system: Sequence[ir.Text | ir.Image]) -> bool:
    if not isinstance(layout, tuple):
        return False
    pos = 0
    for entry in layout:
        if not isinstance(entry, tuple) or len(entry) not in (2, 4):
            return False
        if entry[0] == "instructions" and entry[1] and (
                pos >= len(system) or not isinstance(system[pos], ir.Text)):
            return False
        pos += entry[1] if entry[0] == "instructions" else entry[2]
    return pos == len(system)


def _render_layout(system: Sequence[ir.Text | ir.Image], layout: tuple[Any, ...],
                   ) -> tuple[str | None, list[dict[str, Any]]]:
    instructions: str | None = None
    items: list[dict[str, Any]] = []
    pos = 0
    for entry in layout:
        if entry[0] == "instructions":
            part = system[pos] if entry[1] else None
            instructions = part.text if isinstance(part, ir.Text) else ""
            pos += entry[1]
        else:
            _, role, count, extras = entry
            items.append(_message_item(role, system[pos:pos + count], extras, True))
            pos += count
    return instructions, items


def render_system(
    system: Sequence[ir.Text | ir.Image], layout: Any
) -> tuple[str | None, list[dict[str, Any]]]:
    """``instructions`` (texts joined) and any leading developer messages for ``system``."""
    if layout is not None and _layout_fits(layout, system):
        return _render_layout(system, layout)
    if not system:
        return None, []
    if all(isinstance(p, ir.Text) for p in system):
        return "\n\n".join(p.text for p in system if isinstance(p, ir.Text)), []
    return None, [_message_item("developer", system, ir.EMPTY, False)]


def render_request(request: ir.Request) -> dict[str, Any]:
    own = is_own(request.source)
    extras = request.extras if own else ir.EMPTY
    body: dict[str, Any] = {"model": request.model}
    instructions, system_items = render_system(request.system, extras.get(SYSTEM_HINT))
    if instructions is not None:
        body["instructions"] = instructions
    body["input"] = [*system_items, *extras.get(LEADING_HINT, ()),
                     *_render_messages(request.messages, own)]
    optional = {
        "tools": render_tools(request) or None,
        "tool_choice": render_tool_choice(request.tool_choice),
        "parallel_tool_calls": request.parallel_tool_calls,
        "reasoning": render_reasoning_config(request.reasoning, extras.get("reasoning")),
        "text": render_text(request.response_format, extras.get("text")),
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stream": True if request.stream else None,
        "user": request.user or None,
    }
    body.update((k, v) for k, v in optional.items() if v is not None)
    for key, value in public(extras).items():
        if key not in ("reasoning", "text"):
            body.setdefault(key, value)
    return body


def echo_fields(request: ir.Request) -> dict[str, Any]:
    """The request fields a Response object repeats (the SDK's ``Response`` requires several)."""
    extras = request.extras if is_own(request.source) else ir.EMPTY
    instructions, _ = render_system(request.system, extras.get(SYSTEM_HINT))
    reasoning = render_reasoning_config(request.reasoning, extras.get("reasoning")) or {}
    text = render_text(request.response_format, extras.get("text")) or {}
    metadata = extras.get("metadata")
    echo: dict[str, Any] = {
        "instructions": instructions,
        "max_output_tokens": request.max_tokens,
        "metadata": metadata if isinstance(metadata, Mapping) else {},
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": {"format": {"type": "text"}, **text},
        "tool_choice": render_tool_choice(request.tool_choice)
        or extras.get("tool_choice") or "auto",
        "tools": render_tools(request),
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "truncation": extras.get("truncation", "disabled"),
        "user": request.user or None,
    }
    echo.update((k, extras[k]) for k in _ECHO_EXTRAS if k in extras)
    return echo
