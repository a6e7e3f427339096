"""Content blocks ↔ IR parts, shared by requests (history) and responses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.anthropic._common import (
    BLOCKS,
    FORMAT,
    STRING,
    apply_extras,
    rest,
    thinking_block,
    tool_use_id,
    with_blocks,
)

Names: TypeAlias = dict[str, str]
"""tool_use id → tool name, filled while parsing so a later tool_result gets its name."""

_BlockParser: TypeAlias = Callable[[Mapping[str, Any], str, Names], ir.Part | None]


def _fail(path: str, expected: str) -> ir.FormatError:
    return ir.FormatError(f"{path}: expected {expected}")


def _str_field(block: Mapping[str, Any], key: str, path: str, *, default: str | None = None) -> str:
    value = block.get(key, default)
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", "a string")
    return value


def _text(block: Mapping[str, Any], path: str, names: Names) -> ir.Part:
    return ir.Text(_str_field(block, "text", path), extras=rest(block, _TEXT_KEYS))


def _image(block: Mapping[str, Any], path: str, names: Names) -> ir.Part | None:
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise _fail(f"{path}.source", "an object")
    extras = rest(block, _IMAGE_KEYS)
    kind = source.get("type")
    if kind == "base64":
        return ir.Image(
            media_type=_str_field(source, "media_type", f"{path}.source", default=""),
            data=_str_field(source, "data", f"{path}.source"),
            extras=extras,
        )
    if kind == "url":
        return ir.Image(url=_str_field(source, "url", f"{path}.source"), extras=extras)
    return None


def _tool_use(block: Mapping[str, Any], path: str, names: Names) -> ir.Part:
    call_id = _str_field(block, "id", path, default="")
    name = _str_field(block, "name", path)
    names[call_id] = name
    return ir.ToolCall(
        id=call_id,
        name=name,
        arguments=ir.coerce_arguments(block.get("input")),
        extras=rest(block, _TOOL_USE_KEYS),
    )


def _tool_result(block: Mapping[str, Any], path: str, names: Names) -> ir.Part:
    call_id = _str_field(block, "tool_use_id", path, default="")
    parts, markers = parse_blocks(block.get("content"), f"{path}.content", names, _RESULT_PARSERS)
    extras = {**rest(block, _TOOL_RESULT_KEYS), **markers}
    flag = block.get("is_error", False)
    if not isinstance(flag, bool):
        raise _fail(f"{path}.is_error", "a boolean")
    if "is_error" in block and not flag:
        extras["is_error"] = False  # rendered only when true; kept so a round trip restores it
    content = tuple(p for p in parts if isinstance(p, ir.Text | ir.Image))
    return ir.ToolResult(call_id, content, names.get(call_id, ""), flag, extras)


def _thinking(block: Mapping[str, Any], path: str, names: Names) -> ir.Part:
    signature = _str_field(block, "signature", path, default="")
    return ir.Reasoning(
        text=_str_field(block, "thinking", path, default=""),
        signature=ir.Signature(FORMAT, signature) if signature else None,
        extras=rest(block, _THINKING_KEYS),
    )


def _redacted(block: Mapping[str, Any], path: str, names: Names) -> ir.Part:
    return ir.Reasoning(
        redacted=True,
        signature=ir.Signature(FORMAT, _str_field(block, "data", path)),
        extras=rest(block, _REDACTED_KEYS),
    )


_TEXT_KEYS: Final = frozenset({"type", "text"})
_IMAGE_KEYS: Final = frozenset({"type", "source"})
_TOOL_USE_KEYS: Final = frozenset({"type", "id", "name", "input"})
_TOOL_RESULT_KEYS: Final = frozenset({"type", "tool_use_id", "content", "is_error"})
_THINKING_KEYS: Final = frozenset({"type", "thinking", "signature"})
_REDACTED_KEYS: Final = frozenset({"type", "data"})

MESSAGE_PARSERS: Final[dict[str, _BlockParser]] = {
    "text": _text,
    "image": _image,
    "tool_use": _tool_use,
    "tool_result": _tool_result,
    "thinking": _thinking,
    "redacted_thinking": _redacted,
}
_RESULT_PARSERS: Final[dict[str, _BlockParser]] = {"text": _text, "image": _image}
SYSTEM_PARSERS: Final[dict[str, _BlockParser]] = {"text": _text}


def parse_blocks(
    raw: Any, path: str, names: Names, parsers: Mapping[str, _BlockParser] = MESSAGE_PARSERS
) -> tuple[tuple[ir.Part, ...], dict[str, Any]]:
    """A ``content`` value (string, list of blocks or null) → parts, plus the extras markers
    that let a same-family render restore it (string form, carried blocks)."""
    if raw is None:
        return (), {}
    if isinstance(raw, str):
        return (ir.Text(raw),), {STRING: True}
    if not isinstance(raw, list):
        raise _fail(path, "a string or a list of content blocks")
    parts: list[ir.Part] = []
    carried: list[list[Any]] = []
    for i, block in enumerate(raw):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise _fail(f"{path}[{i}]", "a content block object with a string type")
        parser = parsers.get(block["type"])
        part = parser(block, f"{path}[{i}]", names) if parser else None
        if part is None:
            carried.append([i, dict(block)])
        else:
            parts.append(part)
    return tuple(parts), ({BLOCKS: carried} if carried else {})


# --- rendering ---------------------------------------------------------------------------------


def _extras(block: dict[str, Any], extras: Mapping[str, Any], keep: bool) -> dict[str, Any]:
    if keep:
        apply_extras(block, extras)
    return block


def image_source(part: ir.Image) -> dict[str, Any] | None:
    if part.data:
        return {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
    if part.url.startswith("data:") and "," in part.url:
        head, data = part.url[5:].split(",", 1)
        return {"type": "base64", "media_type": head.split(";")[0] or "image/png", "data": data}
    if part.url:
        return {"type": "url", "url": part.url}
    return None


def render_text(part: ir.Text, keep: bool) -> dict[str, Any] | None:
    if not part.text:
        return None
    return _extras({"type": "text", "text": part.text}, part.extras, keep)


def render_image(part: ir.Image, keep: bool) -> dict[str, Any] | None:
    source = image_source(part)
    if source is None:
        return None
    return _extras({"type": "image", "source": source}, part.extras, keep)


def _content_list(parts: tuple[ir.Text | ir.Image, ...], keep: bool) -> list[dict[str, Any]]:
    out = []
    for part in parts:
        block = render_text(part, keep) if isinstance(part, ir.Text) else render_image(part, keep)
        if block is not None:
            out.append(block)
    return out


def string_form(parts: tuple[ir.Part, ...], extras: Mapping[str, Any], keep: bool) -> str | None:
    """The original string content, when a same-family render can restore it."""
    if not (keep and extras.get(STRING) and len(parts) == 1):
        return None
    part = parts[0]
    if isinstance(part, ir.Text) and not part.extras:
        return part.text
    return None


def _tool_result_block(part: ir.ToolResult, keep: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id(part.call_id)}
    text = string_form(part.content, part.extras, keep)
    if text is not None:
        block["content"] = text
    else:
        blocks = _content_list(part.content, keep)
        if keep:
            blocks = with_blocks(blocks, part.extras)
        if blocks:
            block["content"] = blocks
    if part.is_error:
        block["is_error"] = True
    return _extras(block, part.extras, keep)


def _tool_use_block(part: ir.ToolCall, keep: bool, history: bool) -> dict[str, Any]:
    # In history an id is made valid the way its tool_result's is, so the two still pair even
    # when the client sent none.
    block = {
        "type": "tool_use",
        "id": tool_use_id(part.id) if history else part.id or ir.new_id("toolu_"),
        "name": part.name,
        "input": dict(part.arguments),
    }
    return _extras(block, part.extras, keep)


def _reasoning_block(part: ir.Reasoning, keep: bool, history: bool) -> dict[str, Any] | None:
    block = thinking_block(part)
    if block is None and not history and part.text and not part.redacted:
        block = {"type": "thinking", "thinking": part.text, "signature": ""}
    return None if block is None else _extras(block, part.extras, keep)


def render_part(part: ir.Part, keep: bool, *, history: bool) -> dict[str, Any] | None:
    """One part as a block; ``history`` for a request (signed reasoning only, tool ids made
    valid), else for a response (reasoning shown even unsigned, no images or tool results)."""
    if isinstance(part, ir.Text):
        return render_text(part, keep)
    if isinstance(part, ir.ToolCall):
        return _tool_use_block(part, keep, history)
    if isinstance(part, ir.Reasoning):
        return _reasoning_block(part, keep, history)
    if not history:
        return None
    if isinstance(part, ir.Image):
        return render_image(part, keep)
    return _tool_result_block(part, keep)


def render_parts(
    parts: tuple[ir.Part, ...], extras: Mapping[str, Any], keep: bool, *, history: bool
) -> list[dict[str, Any]]:
    out = [b for b in (render_part(p, keep, history=history) for p in parts) if b is not None]
    return with_blocks(out, extras) if keep else out
