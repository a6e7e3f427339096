"""Gemini ``Part`` objects ⇄ IR parts, shared by requests, responses and history.

Parsing rules:
- ``text`` → ``Text``; with ``thought: true`` → ``Reasoning``; a part holding only a
  ``thoughtSignature`` (or an empty ``text`` and one) → ``Reasoning("")`` with that signature.
- ``inlineData`` (base64 normalised to standard, padded) and ``fileData`` → ``Image`` when the
  MIME type is ``image/*``; other media, ``executableCode``, ``codeExecutionResult`` and unknown
  parts have no IR form: they are kept raw with their position (``__parts`` in the message or
  response extras) and only come back in a Gemini → Gemini render.
- ``thoughtSignature`` becomes the part's ``Signature(GEMINI)``; parts without a signature field
  (``Image``, ``ToolResult``) keep it in extras.
- ``functionCall`` → ``ToolCall`` (id as sent, else minted by the ``CallBook``).
- ``functionResponse`` → ``ToolResult`` paired by id, else FIFO per function name (a nameless one
  answers the oldest unanswered call). Its content is
  one ``Text``: the string itself when ``response`` is ``{"output"|"result"|"content": str}``
  (``{"error": str}`` also sets ``is_error``), else the JSON text of ``response``. Rendering
  inverts that: ``{"error": text}`` for errors, the object itself when the text is a JSON object,
  else ``{"result": text}`` (the key a Gemini client used is kept for a same-family render).
"""

from __future__ import annotations

import mimetypes
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.gemini import _wire as w

RESPONSE_KEY: Final = "__response_key"
RESPONSE_PARTS: Final = "__response_parts"
_NO_TEXT: Final = "__no_text"  # a signature-only part sent without even an empty text
_RESULT_KEYS: Final = ("output", "result", "content")

_TEXT_KEYS: Final = w.spellings("text", "thoughtSignature")
_THOUGHT_KEYS: Final = w.spellings("text", "thought", "thoughtSignature")
_INLINE_KEYS: Final = w.spellings("inlineData", "thoughtSignature")
_FILE_KEYS: Final = w.spellings("fileData", "thoughtSignature")
_CALL_KEYS: Final = w.spellings("functionCall", "thoughtSignature")
_RESULT_PART_KEYS: Final = w.spellings("functionResponse")
_BLOB_KEYS: Final = w.spellings("mimeType", "data")
_URI_KEYS: Final = w.spellings("mimeType", "fileUri")
_FC_KEYS: Final = w.spellings("id", "name", "args")
_FR_KEYS: Final = w.spellings("id", "name", "response", "parts")


class CallBook:
    """The tool-call ids of one body: ids as sent are kept, missing ones minted by ``mint``; a
    ``functionResponse`` pairs with its call by id, else with the oldest unanswered call of the
    same name (of any name when it has none), else gets a fresh id."""

    __slots__ = ("_count", "_mint", "_pending", "names")

    def __init__(self, mint: Callable[[str, int], str]) -> None:
        self._mint = mint
        self._count = 0
        self._pending: dict[str, deque[str]] = {}
        self.names: dict[str, str] = {}

    def call(self, name: str, given: str | None) -> str:
        call_id = given or self._fresh(name)
        self._pending.setdefault(name, deque()).append(call_id)
        self.names[call_id] = name
        return call_id

    def result(self, name: str, given: str | None) -> tuple[str, str]:
        """The call id and function name a response belongs to."""
        if given:
            name = name or self.names.get(given, "")
            queue = self._pending.get(name)
            if queue and given in queue:
                queue.remove(given)
            return given, name
        if not name:
            oldest = next((i for i, n in self.names.items() if i in self._pending.get(n, ())),
                          None)
            if oldest is not None:
                name = self.names[oldest]
                self._pending[name].remove(oldest)
                return oldest, name
        queue = self._pending.get(name)
        if queue:
            return queue.popleft(), name
        return self._fresh(name), name

    def _fresh(self, name: str) -> str:
        self._count += 1
        return self._mint(name, self._count - 1)


def request_id(name: str, ordinal: int) -> str:
    """Deterministic ids for calls a request history sent without one."""
    return f"call_{w.safe_name(name)}_{ordinal}"


def response_id(_name: str, _ordinal: int) -> str:
    return ir.new_id("call_")


# --- parse --------------------------------------------------------------------------------------


def parse_parts(raw: Any, book: CallBook, what: str
                ) -> tuple[tuple[ir.Part, ...], tuple[tuple[int, Any], ...]]:
    """IR parts, and the (index, raw part) pairs that have no IR form."""
    parts: list[ir.Part] = []
    opaque: list[tuple[int, Any]] = []
    for index, item in enumerate(w.as_list(raw if raw is not None else [], what)):
        part = parse_part(w.as_map(item, f"{what}[{index}]"), book)
        if part is None:
            opaque.append((index, item))
        else:
            parts.append(part)
    return tuple(parts), tuple(opaque)


def parse_part(raw: Mapping[str, Any], book: CallBook) -> ir.Part | None:
    signature = w.signature_of(raw)
    call = w.field(raw, "functionCall")
    if call is not None:
        return _call(raw, w.as_map(call, "functionCall"), signature, book)
    result = w.field(raw, "functionResponse")
    if result is not None:
        return _result(raw, w.as_map(result, "functionResponse"), book)
    text = w.field(raw, "text")
    if text is not None:
        return _text(raw, w.opt_str(text, "part.text") or "", signature)
    inline = w.field(raw, "inlineData")
    if inline is not None:
        return _inline(raw, w.as_map(inline, "inlineData"))
    file = w.field(raw, "fileData")
    if file is not None:
        return _file(raw, w.as_map(file, "fileData"))
    if signature is not None and raw.keys() <= _THOUGHT_KEYS:
        return ir.Reasoning("", signature, extras={**_extras(raw, _THOUGHT_KEYS), _NO_TEXT: True})
    return None


def _text(raw: Mapping[str, Any], text: str, signature: ir.Signature | None) -> ir.Part:
    if w.field(raw, "thought") is True:
        return ir.Reasoning(text, signature, extras=_part_extras(raw, _THOUGHT_KEYS))
    if not text and signature is not None:
        return ir.Reasoning("", signature, extras=_part_extras(raw, _TEXT_KEYS))
    return ir.Text(text, signature, extras=_part_extras(raw, _TEXT_KEYS))


def _inline(raw: Mapping[str, Any], blob: Mapping[str, Any]) -> ir.Image | None:
    mime = w.opt_str(w.field(blob, "mimeType"), "inlineData.mimeType") or ""
    data = w.opt_str(w.field(blob, "data"), "inlineData.data") or ""
    if not mime.startswith("image/"):
        return None
    inner = w.camel_rest(blob, _BLOB_KEYS)
    extras = {**_extras(raw, _INLINE_KEYS), **_signature_extra(raw)}
    if inner:
        extras["inlineData"] = inner
    return ir.Image(media_type=mime, data=w.std_base64(data), extras=w.compact(extras))


def _file(raw: Mapping[str, Any], ref: Mapping[str, Any]) -> ir.Image | None:
    mime = w.opt_str(w.field(ref, "mimeType"), "fileData.mimeType") or ""
    uri = w.opt_str(w.field(ref, "fileUri"), "fileData.fileUri") or ""
    if not mime.startswith("image/") or not uri:
        return None
    inner = w.camel_rest(ref, _URI_KEYS)
    extras = {**_extras(raw, _FILE_KEYS), **_signature_extra(raw)}
    if inner:
        extras["fileData"] = inner
    return ir.Image(media_type=mime, url=uri, extras=w.compact(extras))


def _call(raw: Mapping[str, Any], call: Mapping[str, Any], signature: ir.Signature | None,
          book: CallBook) -> ir.ToolCall:
    name = w.opt_str(w.field(call, "name"), "functionCall.name")
    if not name:
        raise ir.FormatError("functionCall.name: required")
    given = w.opt_str(w.field(call, "id"), "functionCall.id")
    extras = _extras(raw, _CALL_KEYS)
    inner = w.camel_rest(call, _FC_KEYS)
    if inner:
        extras["functionCall"] = inner
    if not given:
        extras[w.SYNTHETIC] = True
    args = ir.coerce_arguments(w.field(call, "args"))
    return ir.ToolCall(book.call(name, given), name, args, signature, w.compact(extras))


def _result(raw: Mapping[str, Any], result: Mapping[str, Any], book: CallBook) -> ir.ToolResult:
    name = w.opt_str(w.field(result, "name"), "functionResponse.name") or ""
    given = w.opt_str(w.field(result, "id"), "functionResponse.id")
    call_id, name = book.result(name, given)
    content, is_error, key = result_content(w.field(result, "response"))
    images, leftover = _response_parts(w.field(result, "parts"))
    extras = _extras(raw, _RESULT_PART_KEYS)
    inner = w.camel_rest(result, _FR_KEYS)
    if leftover:
        inner["parts"] = w.field(result, "parts")
    if inner:
        extras["functionResponse"] = inner
    if not given:
        extras[w.SYNTHETIC] = True
    if key:
        extras[RESPONSE_KEY] = key
    if images:
        extras[RESPONSE_PARTS] = True
    return ir.ToolResult(call_id, (*content, *images), name, is_error, w.compact(extras))


def result_content(response: Any) -> tuple[tuple[ir.Text, ...], bool, str]:
    """A ``functionResponse.response`` as (content, is_error, the single key it used)."""
    if response is None:
        return (), False, ""
    if isinstance(response, Mapping) and len(response) == 1:
        key, value = next(iter(response.items()))
        if isinstance(value, str) and key in (*_RESULT_KEYS, "error"):
            return (ir.Text(value),), key == "error", key
    if isinstance(response, str):
        return (ir.Text(response),), False, ""
    return (ir.Text(w.json_text(response)),), False, ""


def _response_parts(raw: Any) -> tuple[list[ir.Image], bool]:
    """Images of a multimodal ``functionResponse.parts``, and whether anything else was there."""
    if not isinstance(raw, list):
        return [], raw is not None
    images: list[ir.Image] = []
    for item in raw:
        blob = w.field(item, "inlineData") if isinstance(item, Mapping) else None
        image = _inline(item, blob) if isinstance(blob, Mapping) else None
        if image is None or len(item) != 1:
            return [], True
        images.append(image)
    return images, False


def _extras(raw: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return w.camel_rest(raw, known)


def _part_extras(raw: Mapping[str, Any], known: frozenset[str]) -> Mapping[str, Any]:
    return w.compact(w.camel_rest(raw, known))


def _signature_extra(raw: Mapping[str, Any]) -> dict[str, Any]:
    value = w.field(raw, "thoughtSignature")
    return {"thoughtSignature": value} if value else {}


# --- render -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderContext:
    """``own``: the value came from Gemini (extras and markers apply); ``history``: rendering a
    request's contents (unsigned reasoning is dropped, unsigned calls get the sentinel);
    ``names``: call id → function name, for ``functionResponse.name``."""

    own: bool
    history: bool
    names: Mapping[str, str] = field(default_factory=dict)


def render_parts(parts: Iterable[ir.Part], ctx: RenderContext,
                 opaque: Any = ()) -> list[dict[str, Any]]:
    slots = [_RENDERERS[type(part)](part, ctx) for part in parts]
    if ctx.own and isinstance(opaque, tuple | list):
        for index, raw in sorted(opaque, key=lambda pair: pair[0]):
            slots.insert(index, [dict(raw)])
    return [rendered for slot in slots for rendered in slot]


def _own(out: dict[str, Any], part: Any, ctx: RenderContext) -> list[dict[str, Any]]:
    if ctx.own:
        w.merge(out, part.extras)
    return [out]


def _render_text(part: ir.Text, ctx: RenderContext) -> list[dict[str, Any]]:
    signature = w.gemini_signature(part.signature)
    if not part.text and signature is None and not (ctx.own and part.extras):
        return []
    out: dict[str, Any] = {"text": part.text}
    if signature:
        out["thoughtSignature"] = signature
    return _own(out, part, ctx)


def _render_reasoning(part: ir.Reasoning, ctx: RenderContext) -> list[dict[str, Any]]:
    signature = w.gemini_signature(part.signature)
    if signature is None and (ctx.history or not part.text):
        return []
    out: dict[str, Any] = {"text": part.text, "thought": True} if part.text else {"text": ""}
    if not part.text and ctx.own and part.extras.get(_NO_TEXT):
        out = {}
    if signature:
        out["thoughtSignature"] = signature
    return _own(out, part, ctx)


def _render_image(part: ir.Image, ctx: RenderContext) -> list[dict[str, Any]]:
    return _own(image_part(part), part, ctx)


def image_part(part: ir.Image) -> dict[str, Any]:
    if part.data:
        return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
    if part.url.startswith("data:") and "," in part.url:
        header, data = part.url[5:].split(",", 1)
        mime = header.split(";", 1)[0] or part.media_type or "image/png"
        return {"inlineData": {"mimeType": mime, "data": w.std_base64(data)}}
    mime = part.media_type or _guess_image_type(part.url)
    ref = {"mimeType": mime, "fileUri": part.url} if mime else {"fileUri": part.url}
    return {"fileData": ref}


def _guess_image_type(url: str) -> str:
    """An image URL's MIME type from its extension (OpenAI and Anthropic URLs carry none, and a
    ``fileData`` without one is not an image to Gemini), or ``""``."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else ""


def _render_call(part: ir.ToolCall, ctx: RenderContext) -> list[dict[str, Any]]:
    call: dict[str, Any] = {"name": part.name, "args": dict(part.arguments)}
    if part.id and not (ctx.own and part.extras.get(w.SYNTHETIC)):
        call["id"] = part.id
    out: dict[str, Any] = {"functionCall": call}
    signature = w.gemini_signature(part.signature) or (w.SENTINEL if ctx.history else None)
    if signature:
        out["thoughtSignature"] = signature
    return _own(out, part, ctx)


def _render_result(part: ir.ToolResult, ctx: RenderContext) -> list[dict[str, Any]]:
    name = part.name or ctx.names.get(part.call_id) or "unknown"
    result: dict[str, Any] = {"name": name, "response": response_object(part, ctx.own)}
    if part.call_id and not (ctx.own and part.extras.get(w.SYNTHETIC)):
        result["id"] = part.call_id
    images = [image_part(p) for p in part.content if isinstance(p, ir.Image)]
    if images and ctx.own and part.extras.get(RESPONSE_PARTS):
        result["parts"], images = images, []
    out = _own({"functionResponse": result}, part, ctx)
    return [*out, *images]


def response_object(part: ir.ToolResult, own: bool) -> dict[str, Any]:
    text = w.texts(part.content)
    key = part.extras.get(RESPONSE_KEY) if own else None
    if isinstance(key, str) and key:
        return {key: text}
    if part.is_error:
        return {"error": text}
    if not text:
        return {}
    if text.lstrip()[:1] == "{":
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {"result": text}


_RENDERERS: Final[dict[type, Callable[[Any, RenderContext], list[dict[str, Any]]]]] = {
    ir.Text: _render_text,
    ir.Reasoning: _render_reasoning,
    ir.Image: _render_image,
    ir.ToolCall: _render_call,
    ir.ToolResult: _render_result,
}
