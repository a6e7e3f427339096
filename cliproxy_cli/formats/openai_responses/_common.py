"""Helpers shared by the Responses request, response and stream halves.

Extras convention: keys starting with ``_`` are *hints* (how the wire value was shaped, e.g. the
layout of the system prompt); they steer a same-family render and are never emitted. Every other
key is an unknown wire field, re-applied verbatim onto the value it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir

FORMAT: Final = ir.Format.OPENAI_RESPONSES

TYPE_HINT: Final = "_type"  # a content part's wire type when it is not the role's default
ITEM_HINT: Final = "_item"  # output message fields (id, phase, …) on each Text part of that item
FROM_CONTENT_HINT: Final = "_from_content"  # Reasoning text read from `content`, not `summary`


def is_own(source: ir.Format | None) -> bool:
    return source is FORMAT


def public(extras: Mapping[str, Any]) -> dict[str, Any]:
    """The extras that are wire fields (hints dropped)."""
    return {k: v for k, v in extras.items() if not k.startswith("_")}


def rest_of(value: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    skip = set(known)
    return {k: v for k, v in value.items() if k not in skip}


def frozen(extras: dict[str, Any]) -> Mapping[str, Any]:
    return extras if extras else ir.EMPTY


def _to_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_to_json)
    except TypeError:  # integers beyond 64 bits, which only non-JSON callers can produce
        return json.dumps(value, default=_to_json, ensure_ascii=False,
                          separators=(",", ":")).encode()


def json_text(value: Any) -> str:
    return dumps(value).decode()


# --- type checks (a wrong type in a client body is a FormatError) ------------------------------


def expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ir.FormatError(f"{where}: expected an object")
    return value


def expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ir.FormatError(f"{where}: expected a string")
    return value


def opt_str(body: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = body.get(key)
    if value is None:
        return None
    return expect_str(value, where or key)


def opt_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ir.FormatError(f"{key}: expected an integer")
    return int(value)


def opt_float(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ir.FormatError(f"{key}: expected a number")
    return float(value)


def opt_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ir.FormatError(f"{key}: expected a boolean")
    return value


def int_of(value: Any) -> int:
    """A count from an upstream body, 0 for anything that is not a non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


# --- images ------------------------------------------------------------------------------------


def image_from_url(url: str, extras: Mapping[str, Any]) -> ir.Image:
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if sep and encoding == "base64":
            return ir.Image(media_type=media_type or "application/octet-stream", data=data,
                            extras=extras)
    return ir.Image(url=url, extras=extras)


def url_of(image: ir.Image) -> str:
    if image.data:
        return f"data:{image.media_type or 'application/octet-stream'};base64,{image.data}"
    return image.url


# --- usage -------------------------------------------------------------------------------------


def parse_usage(raw: Any) -> ir.Usage | None:
    if not isinstance(raw, Mapping):
        return None
    inputs = raw.get("input_tokens_details")
    inputs = inputs if isinstance(inputs, Mapping) else {}
    outputs = raw.get("output_tokens_details")
    outputs = outputs if isinstance(outputs, Mapping) else {}
    return ir.Usage(
        input_tokens=int_of(raw.get("input_tokens")),
        output_tokens=int_of(raw.get("output_tokens")),
        cached_tokens=int_of(inputs.get("cached_tokens")),
        cache_creation_tokens=int_of(inputs.get("cache_write_tokens")),
        reasoning_tokens=int_of(outputs.get("reasoning_tokens")),
    )


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens,
                                 "cache_write_tokens": usage.cache_creation_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


# --- status / stop reason ----------------------------------------------------------------------

_INCOMPLETE_STOP: Final[dict[str, ir.StopReason]] = {
    "max_output_tokens": ir.StopReason.MAX_TOKENS,
    "content_filter": ir.StopReason.CONTENT_FILTER,
}


def stop_of(status: Any, incomplete: Any, has_tool_calls: bool) -> ir.StopReason:
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, Mapping) else None
        return _INCOMPLETE_STOP.get(str(reason), ir.StopReason.MAX_TOKENS)
    if status in ("failed", "cancelled"):
        return ir.StopReason.ERROR
    return ir.StopReason.TOOL_USE if has_tool_calls else ir.StopReason.END_TURN


def status_of(stop: ir.StopReason) -> tuple[str, dict[str, Any] | None]:
    """``(status, incomplete_details)`` for a stop reason."""
    if stop is ir.StopReason.MAX_TOKENS:
        return "incomplete", {"reason": "max_output_tokens"}
    if stop is ir.StopReason.CONTENT_FILTER:
        return "incomplete", {"reason": "content_filter"}
    if stop is ir.StopReason.ERROR:
        return "failed", None
    return "completed", None


# --- output items (non-stream output and stream events build the same shapes) ------------------


def id_base(response_id: str) -> str:
    return response_id.removeprefix("resp_")


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": content}


def reasoning_item(item_id: str, texts: list[str], encrypted: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": t} for t in texts],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id,
            "name": name, "arguments": arguments}


def own_signature(signature: ir.Signature | None) -> str | None:
    if signature is not None and signature.format is FORMAT:
        return signature.value
    return None


# --- reasoning items (request history and response output share the shape) --------------------


def _texts(parts: Any, kind: str) -> list[str]:
    if not isinstance(parts, list):
        return []
    return [p["text"] for p in parts if isinstance(p, Mapping)
            and p.get("type", kind) == kind and isinstance(p.get("text"), str)]


def parse_reasoning(item: Mapping[str, Any]) -> list[ir.Reasoning]:
    """One ``Reasoning`` per summary part; the last one carries ``encrypted_content`` and the
    item's unknown fields; every one carries the item ``id`` (renderers regroup by it)."""
    texts = _texts(item.get("summary"), "summary_text")
    hint: dict[str, Any] = {}
    if not texts:
        texts = _texts(item.get("content"), "reasoning_text")
        hint = {FROM_CONTENT_HINT: True} if texts else {}
    encrypted = item.get("encrypted_content")
    signature = (ir.Signature(FORMAT, encrypted) if isinstance(encrypted, str) and encrypted
                 else None)
    item_id = item.get("id")
    shared = {"id": item_id, **hint} if isinstance(item_id, str) else hint
    last = {**shared, **rest_of(item, ("type", "id", "summary", "encrypted_content"))}
    texts = texts or [""]
    parts = [ir.Reasoning(text, extras=frozen(dict(shared))) for text in texts[:-1]]
    parts.append(ir.Reasoning(texts[-1], signature=signature, extras=frozen(last)))
    return parts


def render_reasoning(parts: list[ir.Reasoning], item_id: str, own: bool) -> dict[str, Any]:
    texts = [p.text for p in parts if p.text and not (own and p.extras.get(FROM_CONTENT_HINT))]
    encrypted = None
    for part in parts:
        encrypted = own_signature(part.signature) or encrypted
    item = reasoning_item(item_id, texts, encrypted)
    if own:
        for part in parts:
            item.update(public(part.extras))
    return item


def segments(parts: Iterable[ir.Part], key: Any) -> list[list[ir.Part]]:
    """Consecutive parts with the same non-None ``key(part)`` grouped together, in order."""
    out: list[list[ir.Part]] = []
    last: Any = None
    for part in parts:
        k = key(part)
        if k is not None and out and k == last:
            out[-1].append(part)
        else:
            out.append([part])
        last = k
    return out
