"""Request options of the Responses API ↔ IR: tools, tool_choice, reasoning and text.format.

Partly mapped objects keep their unmapped keys in ``Request.extras`` under their own name
(``reasoning``, ``text``), so a same-family render merges them back; non-function tools keep their
positions under a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_responses._common import (
    expect_mapping,
    expect_str,
    frozen,
    is_own,
    opt_bool,
    opt_str,
    public,
    rest_of,
)
from cliproxy_cli.formats.reasoning import effort_of

TOOLS_HINT: Final = "_tools"  # non-function tools with their positions
_EFFORTS: Final[dict[str, ir.Effort]] = {
    "none": "none", "minimal": "minimal", "low": "low", "medium": "medium", "high": "high",
    "xhigh": "xhigh", "auto": "auto",
}
_CHOICES: Final[dict[str, ir.ToolChoiceMode]] = {"auto": "auto", "none": "none",
                                                 "required": "required"}
_FORMAT_KINDS: Final[dict[str, Any]] = {k: k for k in ("text", "json_object", "json_schema")}


# --- parse -------------------------------------------------------------------------------------


def _tool(raw: Mapping[str, Any], where: str) -> ir.Tool:
    name = expect_str(raw.get("name"), f"{where}.name")
    description = opt_str(raw, "description", f"{where}.description") or ""
    extras = frozen(rest_of(raw, ("type", "name", "description", "parameters")))
    parameters = raw.get("parameters")
    if parameters is None:
        return ir.Tool(name, description, extras=extras)
    return ir.Tool(name, description, expect_mapping(parameters, f"{where}.parameters"), extras)


def parse_tools(raw: Any) -> tuple[tuple[ir.Tool, ...], tuple[tuple[int, Any], ...]]:
    if raw is None:
        return (), ()
    if not isinstance(raw, list):
        raise ir.FormatError("tools: expected an array")
    tools: list[ir.Tool] = []
    builtins: list[tuple[int, Any]] = []
    for i, tool in enumerate(raw):
        tool = expect_mapping(tool, f"tools[{i}]")
        if tool.get("type", "function") == "function":
            tools.append(_tool(tool, f"tools[{i}]"))
        else:
            builtins.append((i, tool))
    return tuple(tools), tuple(builtins)


def parse_tool_choice(raw: Any) -> ir.ToolChoice | None:
    """The IR choice, or None when absent or not expressible (then it stays in extras)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        mode = _CHOICES.get(raw)
        return ir.ToolChoice(mode) if mode else None
    if isinstance(raw, Mapping):
        name = raw.get("name")
        if raw.get("type") == "function" and isinstance(name, str):
            return ir.ToolChoice("tool", name)
        return None
    raise ir.FormatError("tool_choice: expected a string or an object")


def parse_reasoning_config(raw: Any) -> tuple[ir.ReasoningConfig | None, dict[str, Any]]:
    if raw is None:
        return None, {}
    raw = expect_mapping(raw, "reasoning")
    rest = rest_of(raw, ("effort", "summary"))
    effort_raw, summary = raw.get("effort"), raw.get("summary")
    effort = _EFFORTS.get(effort_raw) if isinstance(effort_raw, str) else None
    if effort is None and effort_raw is not None:
        rest["effort"] = effort_raw  # a level the IR does not know: kept for this family only
    if not isinstance(summary, str):
        if summary is not None:
            rest["summary"] = summary
        summary = None
    config = ir.ReasoningConfig(effort=effort, summary=summary,
                                include_thoughts=summary is not None)
    return config, rest


def parse_text(raw: Any) -> tuple[ir.ResponseFormat | None, dict[str, Any]]:
    if raw is None:
        return None, {}
    raw = expect_mapping(raw, "text")
    rest = rest_of(raw, ("format",))
    fmt = raw.get("format")
    if fmt is None:
        return None, rest
    fmt = expect_mapping(fmt, "text.format")
    kind = fmt.get("type")
    if not isinstance(kind, str) or kind not in _FORMAT_KINDS:
        rest["format"] = fmt
        return None, rest
    schema = fmt.get("schema")
    if schema is not None:
        expect_mapping(schema, "text.format.schema")
    leftover = rest_of(fmt, ("type", "name", "schema", "strict"))
    if leftover:
        rest["format"] = leftover
    name = opt_str(fmt, "name", "text.format.name") or ""
    return ir.ResponseFormat(_FORMAT_KINDS[kind], schema, name, opt_bool(fmt, "strict")), rest


# --- render ------------------------------------------------------------------------------------


def _render_tool(tool: ir.Tool, own: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["parameters"] = dict(tool.parameters)
    if own:
        out.update(public(tool.extras))
    else:
        out["strict"] = False  # the API defaults to strict, which foreign schemas rarely satisfy
    return out


def render_tools(request: ir.Request) -> list[dict[str, Any]]:
    own = is_own(request.source)
    tools = [_render_tool(t, own) for t in request.tools]
    if own:
        for i, raw in request.extras.get(TOOLS_HINT, ()):
            tools.insert(i, raw)
    return tools


def render_tool_choice(choice: ir.ToolChoice | None) -> str | dict[str, Any] | None:
    if choice is None:
        return None
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name}
    return choice.mode


def render_reasoning_config(config: ir.ReasoningConfig | None,
                            rest: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    out = dict(rest) if isinstance(rest, Mapping) else {}
    effort = effort_of(config)
    if effort is not None:
        out["effort"] = "medium" if effort == "auto" else effort
    summary = config.summary or ("auto" if config.include_thoughts else None)
    if summary is not None:
        out["summary"] = summary
    return out


def render_format(fmt: ir.ResponseFormat) -> dict[str, Any]:
    if fmt.kind != "json_schema":
        return {"type": fmt.kind}
    out: dict[str, Any] = {"type": "json_schema", "name": fmt.name or "response",
                           "schema": dict(fmt.schema or {})}
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    return out


def render_text(fmt: ir.ResponseFormat | None, rest: Any) -> dict[str, Any] | None:
    out = dict(rest) if isinstance(rest, Mapping) else {}
    leftover = out.pop("format", None)
    if fmt is not None:
        rendered = render_format(fmt)
        out["format"] = {**leftover, **rendered} if isinstance(leftover, Mapping) else rendered
    elif isinstance(leftover, Mapping) and "type" in leftover:
        out["format"] = leftover
    return out or None
