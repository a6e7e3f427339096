"""Responses ``Response`` objects ↔ ``ir.Response``.

``output`` items become parts in order: message content parts → ``Text`` (annotations and the
item's id ride in extras), ``function_call`` → ``ToolCall``, ``reasoning`` → one ``Reasoning``
per summary part. ``render_response`` builds the full object the SDK's ``Response`` type
requires, echoing the request's settings (never the upstream's, so a Codex backend's own
``instructions`` are not leaked). ``output_text`` is not a wire field (the SDKs compute it).

Same-family normalisations: ``output_text`` parts get ``logprobs: []``, usage gets every detail
field (zeros when absent), and the echo fields always come from the request (not the upstream).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_responses._common import (
    FORMAT,
    ITEM_HINT,
    TYPE_HINT,
    expect_mapping,
    frozen,
    function_call_item,
    id_base,
    int_of,
    is_own,
    json_text,
    message_item,
    output_text_part,
    parse_reasoning,
    parse_usage,
    public,
    render_reasoning,
    render_usage,
    rest_of,
    segments,
    status_of,
    stop_of,
)
from cliproxy_cli.formats.openai_responses.request import echo_fields

ITEMS_HINT: Final = "_items"  # output items of unknown types, with their positions
ERROR_HINT: Final = "_error"  # a failed response's error object

_KNOWN: Final = frozenset({"id", "object", "created_at", "status", "model", "output", "usage",
                           "incomplete_details", "error", "output_text"})
_ECHOED: Final = frozenset({
    "instructions", "max_output_tokens", "max_tool_calls", "metadata", "parallel_tool_calls",
    "previous_response_id", "prompt_cache_key", "prompt_cache_retention", "reasoning",
    "safety_identifier", "service_tier", "store", "temperature", "text", "tool_choice", "tools",
    "top_logprobs", "top_p", "truncation", "user", "background",
})
_FAILED: Final = {"code": "server_error", "message": "The upstream response failed."}


def _message_parts(item: Mapping[str, Any], where: str) -> list[ir.Part]:
    content = item.get("content")
    hint = {ITEM_HINT: rest_of(item, ("type", "role", "content"))}
    parts: list[ir.Part] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "output_text" and isinstance(part.get("text"), str):
            extras = {**rest_of(part, ("type", "text")), **hint}
            parts.append(ir.Text(part["text"], extras=frozen(extras)))
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            extras = {**rest_of(part, ("type", "refusal")), TYPE_HINT: "refusal", **hint}
            parts.append(ir.Text(part["refusal"], extras=frozen(extras)))
    return parts


def _call_parts(item: Mapping[str, Any], where: str) -> list[ir.Part]:
    call_id, item_id, name = item.get("call_id"), item.get("id"), item.get("name")
    if not isinstance(call_id, str) or not call_id:
        call_id = item_id if isinstance(item_id, str) and item_id else f"call_{where}"
    extras = frozen(rest_of(item, ("type", "call_id", "name", "arguments")))
    arguments = ir.coerce_arguments(item.get("arguments"))
    return [ir.ToolCall(call_id, name if isinstance(name, str) else "", arguments, extras=extras)]


def _reasoning_parts(item: Mapping[str, Any], where: str) -> list[ir.Part]:
    return list(parse_reasoning(item))


_OUTPUT: Final[dict[str, Callable[[Mapping[str, Any], str], list[ir.Part]]]] = {
    "message": _message_parts,
    "function_call": _call_parts,
    "reasoning": _reasoning_parts,
}


def parse_response(body: Mapping[str, Any]) -> ir.Response:
    body = expect_mapping(body, "response body")
    inner = body.get("response")
    if isinstance(inner, Mapping) and str(body.get("type", "")).startswith("response."):
        body = inner  # a `response.completed` event, as the Codex provider collects it
    output = body.get("output")
    output = [] if output is None else output
    if not isinstance(output, list):
        raise ir.FormatError("output: expected an array")
    parts: list[ir.Part] = []
    unknown: list[tuple[int, Any]] = []
    for i, item in enumerate(output):
        item = expect_mapping(item, f"output[{i}]")
        kind = item.get("type")
        parse = _OUTPUT.get(kind) if isinstance(kind, str) else None
        if parse is None:
            unknown.append((i, item))
        else:
            parts.extend(parse(item, str(i)))
    has_calls = any(isinstance(p, ir.ToolCall) for p in parts)
    stop = stop_of(body.get("status"), body.get("incomplete_details"), has_calls)
    extras = rest_of(body, _KNOWN | _ECHOED)
    if unknown:
        extras[ITEMS_HINT] = tuple(unknown)
    if isinstance(body.get("error"), Mapping):
        extras[ERROR_HINT] = body["error"]
    rid, model = body.get("id"), body.get("model")
    return ir.Response(
        id=rid if isinstance(rid, str) else "", model=model if isinstance(model, str) else "",
        parts=tuple(parts), stop_reason=stop, usage=parse_usage(body.get("usage")) or ir.Usage(),
        created=int_of(body.get("created_at")), source=FORMAT, extras=frozen(extras),
    )


# --- render ------------------------------------------------------------------------------------


def response_object(
    echo: Mapping[str, Any], *, response_id: str, created: int, model: str, status: str,
    output: list[dict[str, Any]], usage: dict[str, Any] | None,
    incomplete: dict[str, Any] | None = None, error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": response_id, "object": "response", "created_at": created, "status": status,
        "background": False, "error": error, "incomplete_details": incomplete, **echo,
        "model": model, "output": output, "usage": usage,
    }


def _message_output(parts: list[ir.Text], item_id: str, own: bool) -> dict[str, Any]:
    content = []
    for part in parts:
        refusal = own and part.extras.get(TYPE_HINT) == "refusal"
        rendered = {"type": "refusal", "refusal": part.text} if refusal else output_text_part(
            part.text)
        if own:
            rendered.update(public(part.extras))
        content.append(rendered)
    item = message_item(item_id, content, "completed")
    if own:
        item.update(parts[0].extras.get(ITEM_HINT) or {})
    return item


def _call_output(call: ir.ToolCall, base: str, n: int, own: bool) -> dict[str, Any]:
    call_id = call.id or f"call_{base}_{n}"
    item = function_call_item(f"fc_{call_id}", call_id, call.name, json_text(call.arguments),
                              "completed")
    if own:
        item.update(public(call.extras))
    return item


def _output_key(own: bool) -> Callable[[ir.Part], Any]:
    def key(part: ir.Part) -> Any:
        if isinstance(part, ir.Reasoning):
            item_id = part.extras.get("id") if own else None
            return ("reasoning", item_id) if item_id else None
        if isinstance(part, ir.Text):
            return ("message", part.extras.get(ITEM_HINT) if own else None)
        return None

    return key


def render_output(parts: tuple[ir.Part, ...], base: str, own: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for seg in segments(parts, _output_key(own)):
        first, n = seg[0], len(items)
        if isinstance(first, ir.Reasoning):
            item_id = first.extras.get("id") if own else None
            rid = item_id if isinstance(item_id, str) else f"rs_{base}_{n}"
            items.append(render_reasoning(seg, rid, own))  # type: ignore[arg-type]
        elif isinstance(first, ir.Text):
            items.append(_message_output(seg, f"msg_{base}_{n}", own))  # type: ignore[arg-type]
        elif isinstance(first, ir.ToolCall):
            items.append(_call_output(first, base, n, own))
    return items


def render_response(response: ir.Response, request: ir.Request) -> dict[str, Any]:
    own = is_own(response.source)
    response_id = response.id or ir.new_id("resp_")
    output = render_output(response.parts, id_base(response_id), own)
    if own:
        for i, raw in response.extras.get(ITEMS_HINT, ()):
            output.insert(i, raw)
    status, incomplete = status_of(response.stop_reason)
    error = None
    if status == "failed":
        error = (response.extras.get(ERROR_HINT) if own else None) or _FAILED
    body = response_object(
        echo_fields(request), response_id=response_id, created=response.created,
        model=request.model or response.model, status=status, output=output,
        usage=render_usage(response.usage), incomplete=incomplete, error=error,
    )
    if own:
        for key, value in public(response.extras).items():
            body.setdefault(key, value)
    return body
