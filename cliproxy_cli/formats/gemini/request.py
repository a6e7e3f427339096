"""Gemini ``generateContent`` request bodies ⇄ ``ir.Request``.

Normalisations a Gemini → IR → Gemini round trip makes (everything else comes back as sent):
- keys are rendered camelCase; ``systemInstruction`` given as a string becomes ``{parts}``;
  a body ``model`` is read into ``Request.model`` and not rendered (it travels in the URL or the
  Cloud Code envelope); role ``function`` becomes ``user``; consecutive same-role contents merge;
- schema ``type`` names are lower-cased (``"STRING"`` → ``"string"``, the REST API takes both);
  ``parameters`` schemas pass through ``schema.clean_for_gemini``; all function declarations
  go into one ``tools`` entry, followed by the other tools (googleSearch, codeExecution, …);
- unsigned ``functionCall`` parts in model turns get the ``skip_thought_signature_validator``
  sentinel; ``inlineData`` base64 becomes standard, padded base64;
- ``thinkingLevel`` is rendered upper-case (``HIGH``).

Rendering rules for requests from other formats:
- ``Role.SYSTEM`` messages are folded into ``systemInstruction`` after ``Request.system``.
- Reasoning without a Gemini signature is dropped from history.
- ``thinkingConfig``: a budget is sent as ``thinkingBudget``; an effort alone is sent as
  ``thinkingLevel`` (MINIMAL/LOW/MEDIUM/HIGH/XHIGH), except ``none`` → ``thinkingBudget: 0`` and
  ``auto`` → ``thinkingBudget: -1``; ``includeThoughts`` is as asked, else true whenever
  reasoning is on. Which of the two a given model takes is the caller's business.
- ``ResponseFormat`` → ``responseMimeType`` (+ ``responseJsonSchema``, full JSON Schema).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cliproxy_cli.formats import ir, reasoning, schema
from cliproxy_cli.formats.gemini import _parts as p
from cliproxy_cli.formats.gemini import _wire as w

_SYSTEM_EXTRAS: Final = "__systemInstruction"
_GENERATION_EXTRAS: Final = "__generationConfig"
_OTHER_TOOLS: Final = "__tools"
_TOOL_CONFIG: Final = "__toolConfig"
_RESPONSE_SCHEMA_KEY: Final = "__responseSchemaKey"
_SCHEMA_KEY: Final = "__schema_key"

_TOP_KEYS: Final = w.spellings("contents", "systemInstruction", "tools", "toolConfig",
                               "generationConfig", "model")
_ROLES: Final = {"user": ir.Role.USER, "model": ir.Role.ASSISTANT,
                 "assistant": ir.Role.ASSISTANT, "function": ir.Role.USER, "tool": ir.Role.USER,
                 "system": ir.Role.SYSTEM}
_LEVELS: Final = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH",
                  "xhigh": "XHIGH"}
_EFFORT_OF: Final[dict[str, ir.Effort]] = {"minimal": "minimal", "low": "low",
                                            "medium": "medium", "high": "high", "xhigh": "xhigh"}
_MODES: Final[dict[str, ir.ToolChoiceMode]] = {"AUTO": "auto", "ANY": "required",
                                               "NONE": "none", "VALIDATED": "auto"}
_CHOICES: Final = {"auto": "AUTO", "required": "ANY", "tool": "ANY", "none": "NONE"}


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    body = w.as_map(body, "request")
    contents = w.field(body, "contents")
    if contents is None:
        raise ir.FormatError("contents: required")
    book = p.CallBook(p.request_id)
    messages = tuple(_message(w.as_map(c, f"contents[{i}]"), book, i)
                     for i, c in enumerate(w.as_list(contents, "contents")))
    extras = w.camel_rest(body, _TOP_KEYS)
    system = _system(w.field(body, "systemInstruction"), book, extras)
    tools = _tools(w.field(body, "tools"), extras)
    tool_choice = _tool_choice(w.field(body, "toolConfig"), extras)
    generation = _generation(w.field(body, "generationConfig"), extras)
    model = w.opt_str(w.field(body, "model"), "model") or ""
    return ir.Request(
        model=model.removeprefix("models/"), messages=messages, system=system, tools=tools,
        tool_choice=tool_choice, source=ir.Format.GEMINI, extras=w.compact(extras), **generation,
    )


def parse_count_tokens_request(body: Mapping[str, Any]) -> ir.Request:
    """A ``countTokens`` body: ``{contents}``, ``{generateContentRequest: {…}}`` or the Cloud
    Code ``{request: {model, contents}}``."""
    body = w.as_map(body, "countTokens request")
    inner = w.field(body, "generateContentRequest")
    if inner is None and isinstance(body.get("request"), Mapping):
        inner = body["request"]
    return parse_request(w.as_map(inner, "generateContentRequest") if inner is not None else body)


def render_count_tokens_request(request: ir.Request) -> dict[str, Any]:
    """A ``countTokens`` body: ``{generateContentRequest}`` (so the system prompt and tools count
    too) when the model is known, else bare ``{contents}``."""
    body = render_request(request)
    if not request.model:
        return {"contents": body["contents"]}
    model = request.model if request.model.startswith("models/") else f"models/{request.model}"
    return {"generateContentRequest": {"model": model, **body}}


def render_request(request: ir.Request) -> dict[str, Any]:
    own = request.source is ir.Format.GEMINI
    extras = request.extras if own else ir.EMPTY
    names = {part.id: part.name for m in request.messages for part in m.parts
             if isinstance(part, ir.ToolCall)}
    ctx = p.RenderContext(own=own, history=True, names=names)
    out: dict[str, Any] = {"contents": _render_contents(request.messages, ctx)}
    system = _render_system(request, ctx, extras)
    if system:
        out["systemInstruction"] = system
    tools = [*_render_tools(request.tools, own), *extras.get(_OTHER_TOOLS, ())]
    if tools:
        out["tools"] = tools
    tool_config = extras.get(_TOOL_CONFIG) or _render_tool_choice(request.tool_choice)
    if tool_config:
        out["toolConfig"] = dict(tool_config)
    generation = _render_generation(request, own, extras)
    if generation:
        out["generationConfig"] = generation
    return w.merge(out, extras)


# --- parse helpers ------------------------------------------------------------------------------


def _message(raw: Mapping[str, Any], book: p.CallBook, index: int) -> ir.Message:
    role = w.opt_str(w.field(raw, "role"), f"contents[{index}].role") or "user"
    parts, opaque = p.parse_parts(w.field(raw, "parts"), book, f"contents[{index}].parts")
    extras = w.camel_rest(raw, w.spellings("role", "parts"))
    if opaque:
        extras[w.OPAQUE_PARTS] = opaque
    return ir.Message(_ROLES.get(role.lower(), ir.Role.USER), parts, w.compact(extras))


def _system(raw: Any, book: p.CallBook, extras: dict[str, Any]) -> tuple[ir.Text | ir.Image, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (ir.Text(raw),)
    content = w.as_map(raw, "systemInstruction")
    parts_raw = w.field(content, "parts")
    if parts_raw is None and w.field(content, "text") is not None:
        parts_raw = [content]  # a bare Part instead of a Content
    else:
        rest = w.camel_rest(content, w.spellings("parts"))
        if rest:
            extras[_SYSTEM_EXTRAS] = rest
    parts, _ = p.parse_parts(parts_raw, book, "systemInstruction.parts")
    return tuple(part for part in parts if isinstance(part, ir.Text | ir.Image))


def _tools(raw: Any, extras: dict[str, Any]) -> tuple[ir.Tool, ...]:
    tools: list[ir.Tool] = []
    others: list[dict[str, Any]] = []
    for i, item in enumerate(w.as_list(raw if raw is not None else [], "tools")):
        entry = w.as_map(item, f"tools[{i}]")
        declarations = w.field(entry, "functionDeclarations")
        for j, decl in enumerate(w.as_list(declarations or [], f"tools[{i}].functionDeclarations")):
            tools.append(_declaration(w.as_map(decl, f"tools[{i}].functionDeclarations[{j}]")))
        other = w.camel_rest(entry, w.spellings("functionDeclarations"))
        if other:
            others.append(other)
    if others:
        extras[_OTHER_TOOLS] = others
    return tuple(tools)


def _declaration(raw: Mapping[str, Any]) -> ir.Tool:
    name = w.opt_str(w.field(raw, "name"), "functionDeclaration.name")
    if not name:
        raise ir.FormatError("functionDeclaration.name: required")
    description = w.opt_str(w.field(raw, "description"), "functionDeclaration.description")
    extras = w.camel_rest(raw, w.spellings("name", "description", "parameters",
                                           "parametersJsonSchema"))
    params: Mapping[str, Any] | None = None
    for key in ("parametersJsonSchema", "parameters"):
        value = w.field(raw, key)
        if value is not None:
            params = schema.to_json_schema(w.as_map(value, f"functionDeclaration.{key}"))
            extras[_SCHEMA_KEY] = key
            break
    if params is None:
        return ir.Tool(name, description or "", extras=w.compact(extras))
    return ir.Tool(name, description or "", params, w.compact(extras))


def _tool_choice(raw: Any, extras: dict[str, Any]) -> ir.ToolChoice | None:
    if raw is None:
        return None
    config = w.as_map(raw, "toolConfig")
    calling = w.as_map(w.field(config, "functionCallingConfig") or {},
                       "toolConfig.functionCallingConfig")
    mode = (w.opt_str(w.field(calling, "mode"), "functionCallingConfig.mode") or "AUTO").upper()
    names = w.str_list(w.field(calling, "allowedFunctionNames"), "allowedFunctionNames")
    choice_mode = _MODES.get(mode)
    exact = (mode != "VALIDATED" and choice_mode is not None
             and config.keys() <= w.spellings("functionCallingConfig")
             and calling.keys() <= w.spellings("mode", "allowedFunctionNames")
             and (not names or (mode == "ANY" and len(names) == 1)))
    if not exact:
        extras[_TOOL_CONFIG] = dict(config)
    if choice_mode is None:
        return None
    if mode == "ANY" and len(names) == 1:
        return ir.ToolChoice("tool", names[0])
    return ir.ToolChoice(choice_mode)


def _generation(raw: Any, extras: dict[str, Any]) -> dict[str, Any]:
    if raw is None:
        return {}
    config = w.as_map(raw, "generationConfig")
    top_k = w.opt_float(w.field(config, "topK"), "generationConfig.topK")
    used = ["maxOutputTokens", "temperature", "topP", "topK", "stopSequences", "thinkingConfig"]
    fields: dict[str, Any] = {
        "max_tokens": w.opt_int(w.field(config, "maxOutputTokens"), "maxOutputTokens"),
        "temperature": w.opt_float(w.field(config, "temperature"), "temperature"),
        "top_p": w.opt_float(w.field(config, "topP"), "topP"),
        "top_k": None if top_k is None else round(top_k),
        "stop": w.str_list(w.field(config, "stopSequences"), "stopSequences"),
    }
    rest: dict[str, Any] = {}
    fields["reasoning"] = _thinking(w.field(config, "thinkingConfig"), rest)
    fields["response_format"] = _response_format(config, used, extras)
    rest = {**w.camel_rest(config, w.spellings(*used)), **rest}
    if rest:
        extras[_GENERATION_EXTRAS] = rest
    return fields


def _thinking(raw: Any, rest: dict[str, Any]) -> ir.ReasoningConfig | None:
    if raw is None:
        return None
    config = w.as_map(raw, "thinkingConfig")
    budget = w.opt_int(w.field(config, "thinkingBudget"), "thinkingBudget")
    level = w.opt_str(w.field(config, "thinkingLevel"), "thinkingLevel")
    include = w.field(config, "includeThoughts")
    if include is not None and not isinstance(include, bool):
        raise ir.FormatError("thinkingConfig.includeThoughts: expected a boolean")
    effort = _EFFORT_OF.get(level.lower()) if level else None
    known = ["thinkingBudget", "includeThoughts"] + (["thinkingLevel"] if effort else [])
    unknown = w.camel_rest(config, w.spellings(*known))
    if unknown:
        rest["thinkingConfig"] = unknown
    if budget is None and effort is None and include is None:
        return None
    return ir.ReasoningConfig(effort=effort, budget=budget, include_thoughts=include)


def _response_format(config: Mapping[str, Any], used: list[str], extras: dict[str, Any]
                     ) -> ir.ResponseFormat | None:
    mime = w.opt_str(w.field(config, "responseMimeType"), "responseMimeType")
    if mime == "application/json":
        used.append("responseMimeType")
        for key in ("responseJsonSchema", "responseSchema"):
            value = w.field(config, key)
            if value is not None:
                used.append(key)
                extras[_RESPONSE_SCHEMA_KEY] = key
                return ir.ResponseFormat("json_schema", schema.to_json_schema(
                    w.as_map(value, f"generationConfig.{key}")))
        return ir.ResponseFormat("json_object")
    if mime == "text/plain" and not any(w.field(config, k) for k in ("responseJsonSchema",
                                                                     "responseSchema")):
        used.append("responseMimeType")
        return ir.ResponseFormat("text")
    return None


# --- render helpers -----------------------------------------------------------------------------


def _render_contents(messages: tuple[ir.Message, ...], ctx: p.RenderContext
                     ) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for message in messages:
        if message.role is ir.Role.SYSTEM:
            continue
        role = "model" if message.role is ir.Role.ASSISTANT else "user"
        opaque = message.extras.get(w.OPAQUE_PARTS, ())
        parts = p.render_parts(message.parts, ctx, opaque)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
            last = contents[-1]
        else:
            last = {"role": role, "parts": parts}
            contents.append(last)
        if ctx.own:
            w.merge(last, message.extras)
    return contents


def _render_system(request: ir.Request, ctx: p.RenderContext, extras: Mapping[str, Any]
                   ) -> dict[str, Any] | None:
    plain = p.RenderContext(own=ctx.own, history=False)
    parts = p.render_parts(request.system, plain)
    for message in request.messages:
        if message.role is ir.Role.SYSTEM:
            kept = [part for part in message.parts if isinstance(part, ir.Text | ir.Image)]
            parts.extend(p.render_parts(kept, plain))
    if not parts:
        return None
    return w.merge({"parts": parts}, extras.get(_SYSTEM_EXTRAS, ir.EMPTY))


def _render_tools(tools: tuple[ir.Tool, ...], own: bool) -> list[dict[str, Any]]:
    declarations = [_render_declaration(tool, own) for tool in tools]
    return [{"functionDeclarations": declarations}] if declarations else []


def _render_declaration(tool: ir.Tool, own: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    key = tool.extras.get(_SCHEMA_KEY) if own else None
    if key == "parametersJsonSchema":
        out["parametersJsonSchema"] = dict(tool.parameters)
    else:
        cleaned = schema.clean_for_gemini(tool.parameters)
        if key == "parameters" or cleaned.get("properties") or cleaned.get("type") not in (
                None, "object"):
            out["parameters"] = cleaned
    return w.merge(out, tool.extras) if own else out


def _render_tool_choice(choice: ir.ToolChoice | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    calling: dict[str, Any] = {"mode": _CHOICES[choice.mode]}
    if choice.mode == "tool" and choice.name:
        calling["allowedFunctionNames"] = [choice.name]
    return {"functionCallingConfig": calling}


def _render_generation(request: ir.Request, own: bool, extras: Mapping[str, Any]
                       ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (("maxOutputTokens", request.max_tokens),
                       ("temperature", request.temperature), ("topP", request.top_p),
                       ("topK", request.top_k)):
        if value is not None:
            out[key] = value
    if request.stop:
        out["stopSequences"] = list(request.stop)
    out.update(_render_response_format(request.response_format, extras))
    if request.reasoning is not None:
        thinking = _render_thinking(request.reasoning, own)
        if thinking:
            out["thinkingConfig"] = thinking
    return w.merge(out, extras.get(_GENERATION_EXTRAS, ir.EMPTY))


def _render_response_format(fmt: ir.ResponseFormat | None, extras: Mapping[str, Any]
                            ) -> dict[str, Any]:
    if fmt is None:
        return {}
    if fmt.kind == "text":
        return {"responseMimeType": "text/plain"}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if fmt.kind == "json_schema" and fmt.schema is not None:
        if extras.get(_RESPONSE_SCHEMA_KEY) == "responseSchema":
            out["responseSchema"] = schema.clean_for_gemini(fmt.schema)
        else:
            out["responseJsonSchema"] = dict(fmt.schema)
    return out


def _render_thinking(config: ir.ReasoningConfig, own: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    level = _LEVELS.get(config.effort or "")
    if config.budget is not None:
        out["thinkingBudget"] = config.budget
        if own and level:
            out["thinkingLevel"] = level  # a Gemini client sent both: pass them on as sent
    elif level:
        out["thinkingLevel"] = level
    elif config.effort in ("none", "auto"):
        out["thinkingBudget"] = reasoning.budget_of(config)
    include = config.include_thoughts
    if include is None and not own and _thinking_on(config):
        include = True
    if include is not None:
        out["includeThoughts"] = include
    return out


def _thinking_on(config: ir.ReasoningConfig) -> bool:
    budget = reasoning.budget_of(config)
    return budget is not None and budget != 0
