"""Gemini ``streamGenerateContent?alt=sse`` streams ⇄ IR stream events.

Parsing: every ``data:`` is a whole ``GenerateContentResponse`` (Cloud Code wraps it in
``{"response": …, "traceId"}``; a ``[DONE]`` or a JSON array of chunks is tolerated). Text and
thought text open or continue a block (alternation closes the previous one); a ``functionCall``
arrives whole and becomes start + one args delta + stop; a ``thoughtSignature`` is a
``SignatureDelta`` on the open block (a bare one opens a reasoning block). Usage may come on every
chunk (cumulative, Cloud Code) or only on the last: the last value wins. The first chunk with a
``finishReason`` (or a ``promptFeedback.blockReason`` without candidates) ends the message.
``inlineData`` output has no IR stream block and is dropped.

Rendering: one chunk per text/reasoning delta, each tool call as one ``functionCall`` part once
its block stops, and exactly one terminal chunk carrying ``finishReason`` and ``usageMetadata``
(``modelVersion`` and ``responseId`` ride on every chunk). Framing is ``data: <json>\\n\\n``; an
error is ``data: {"error": {code, message, status}}`` and ends the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir, sse
from cliproxy_cli.formats.gemini import _wire as w
from cliproxy_cli.formats.gemini.response import (
    RENDERED_FINISH,
    parse_error,
    parse_usage,
    render_error,
    render_usage,
    stop_reason,
)

TRUNCATED: Final = ir.ErrorInfo(502, "upstream stream ended before completion", "server_error")


def parse_stream(envelope: bool = False) -> GeminiStreamParser:
    return GeminiStreamParser(envelope)


def render_stream(request: ir.Request, envelope: bool = False) -> GeminiStreamRenderer:
    return GeminiStreamRenderer(request, envelope)


class GeminiStreamParser:
    """Gemini SSE events in, IR events out; state is one open block and the last usage."""

    __slots__ = ("_calls", "_done", "_envelope", "_kind", "_next", "_open", "_started", "_usage")

    def __init__(self, envelope: bool = False) -> None:
        self._envelope = envelope  # chunks are unwrapped either way; kept for symmetry
        self._started = False
        self._done = False
        self._open: int | None = None
        self._kind = ""
        self._next = 0
        self._calls = 0
        self._usage: ir.Usage | None = None

    def feed(self, event: sse.SSEEvent) -> list[ir.StreamEvent]:
        data = event.data.strip()
        if self._done or not data or data == "[DONE]":
            return []
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            return []
        out: list[ir.StreamEvent] = []
        for chunk in decoded if isinstance(decoded, list) else [decoded]:
            if isinstance(chunk, Mapping) and not self._done:
                self._chunk(chunk, out)
        return out

    def close(self) -> list[ir.StreamEvent]:
        if self._done:
            return []
        out: list[ir.StreamEvent] = []
        self._start({}, out)
        self._close_block(out)
        out.append(ir.StreamError(TRUNCATED))
        self._done = True
        return out

    def _chunk(self, chunk: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        if isinstance(chunk.get("response"), Mapping):
            chunk = chunk["response"]
        self._start(chunk, out)
        if "error" in chunk:
            out.append(ir.StreamError(parse_error(0, chunk)))
            self._done = True
            return
        candidates = w.field(chunk, "candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        finish: Any = None
        if isinstance(candidate, Mapping):
            content = w.field(candidate, "content")
            parts = w.field(content, "parts") if isinstance(content, Mapping) else None
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, Mapping):
                    self._part(part, out)
            finish = w.field(candidate, "finishReason")
        self._take_usage(w.field(chunk, "usageMetadata"), out)
        if finish:
            self._finish(stop_reason(finish, self._calls > 0), out)
        elif not candidates and _blocked(chunk):
            self._finish(ir.StopReason.CONTENT_FILTER, out)

    def _start(self, chunk: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        if not self._started:
            self._started = True
            response_id, model = w.field(chunk, "responseId"), w.field(chunk, "modelVersion")
            out.append(ir.MessageStart(response_id if isinstance(response_id, str) else "",
                                       model if isinstance(model, str) else ""))

    def _part(self, part: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        raw_signature = w.field(part, "thoughtSignature")
        signature = (ir.Signature(ir.Format.GEMINI, raw_signature)
                     if isinstance(raw_signature, str) and raw_signature else None)
        call = w.field(part, "functionCall")
        if isinstance(call, Mapping):
            self._call(call, signature, out)
            return
        thought = w.field(part, "thought") is True
        text = w.field(part, "text")
        if isinstance(text, str) and text:
            index = self._ensure("reasoning" if thought else "text", out)
            delta = ir.ReasoningDelta if thought else ir.TextDelta
            out.append(delta(index, text))
        if signature is not None:
            wanted = "reasoning" if thought or self._open is None else self._kind
            out.append(ir.SignatureDelta(self._ensure(wanted, out), signature))

    def _call(self, call: Mapping[str, Any], signature: ir.Signature | None,
              out: list[ir.StreamEvent]) -> None:
        self._close_block(out)
        index = self._next
        self._next += 1
        self._calls += 1
        call_id, name = w.field(call, "id"), w.field(call, "name")
        out.append(ir.BlockStart(index, "tool_call",
                                 call_id if isinstance(call_id, str) and call_id
                                 else ir.new_id("call_"),
                                 name if isinstance(name, str) else ""))
        args = ir.coerce_arguments(w.field(call, "args"))
        out.append(ir.ToolArgsDelta(index, w.json_text(args)))
        if signature is not None:
            out.append(ir.SignatureDelta(index, signature))
        out.append(ir.BlockStop(index))

    def _ensure(self, kind: str, out: list[ir.StreamEvent]) -> int:
        if self._open is not None and self._kind == kind:
            return self._open
        self._close_block(out)
        self._open, self._kind = self._next, kind
        self._next += 1
        out.append(ir.BlockStart(self._open, "reasoning" if kind == "reasoning" else "text"))
        return self._open

    def _close_block(self, out: list[ir.StreamEvent]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._open))
            self._open = None

    def _take_usage(self, raw: Any, out: list[ir.StreamEvent]) -> None:
        if isinstance(raw, Mapping):
            usage = parse_usage(raw)
            if usage != self._usage:
                self._usage = usage
                out.append(ir.UsageUpdate(usage))

    def _finish(self, reason: ir.StopReason, out: list[ir.StreamEvent]) -> None:
        self._close_block(out)
        out.append(ir.MessageStop(reason, self._usage))
        self._done = True


def _blocked(chunk: Mapping[str, Any]) -> bool:
    feedback = w.field(chunk, "promptFeedback")
    return isinstance(feedback, Mapping) and bool(w.field(feedback, "blockReason"))


# --- rendering ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _PendingCall:
    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    signature: str | None = None


class GeminiStreamRenderer:
    """IR events in, Gemini SSE bytes out; tool calls wait for their ``BlockStop``."""

    __slots__ = ("_calls", "_done", "_envelope", "_id", "_kinds", "_model", "_usage")

    def __init__(self, request: ir.Request, envelope: bool = False) -> None:
        self._model = request.model
        self._envelope = envelope
        self._id = ""
        self._done = False
        self._usage = ir.Usage()
        self._kinds: dict[int, str] = {}
        self._calls: dict[int, _PendingCall] = {}

    def feed(self, event: ir.StreamEvent) -> bytes:
        if self._done:
            return b""
        return _HANDLERS[type(event)](self, event)

    def close(self) -> bytes:
        if self._done:
            return b""
        return self._flush_calls() + self._error(ir.StreamError(TRUNCATED))

    def _start(self, event: ir.MessageStart) -> bytes:
        self._id = self._id or event.id
        self._model = self._model or event.model
        if event.usage is not None:
            self._usage = event.usage
        return b""

    def _block_start(self, event: ir.BlockStart) -> bytes:
        self._kinds[event.index] = event.kind
        if event.kind == "tool_call":
            self._calls[event.index] = _PendingCall(event.tool_id, event.tool_name)
        return b""

    def _text(self, event: ir.TextDelta) -> bytes:
        return self._chunk([{"text": event.text}]) if event.text else b""

    def _reasoning(self, event: ir.ReasoningDelta) -> bytes:
        return self._chunk([{"text": event.text, "thought": True}]) if event.text else b""

    def _args(self, event: ir.ToolArgsDelta) -> bytes:
        self._calls.setdefault(event.index, _PendingCall()).fragments.append(event.fragment)
        return b""

    def _signature(self, event: ir.SignatureDelta) -> bytes:
        value = w.gemini_signature(event.signature)
        if value is None:
            return b""
        if event.index in self._calls:
            self._calls[event.index].signature = value
            return b""
        part: dict[str, Any] = {"text": "", "thoughtSignature": value}
        if self._kinds.get(event.index) == "reasoning":
            part["thought"] = True
        return self._chunk([part])

    def _block_stop(self, event: ir.BlockStop) -> bytes:
        call = self._calls.pop(event.index, None)
        return self._chunk([_call_part(call)]) if call is not None else b""

    def _usage_update(self, event: ir.UsageUpdate) -> bytes:
        self._usage = event.usage
        return b""

    def _stop(self, event: ir.MessageStop) -> bytes:
        if event.usage is not None:
            self._usage = event.usage
        flushed = self._flush_calls()
        self._done = True
        return flushed + self._chunk([{"text": ""}], RENDERED_FINISH[event.stop_reason])

    def _error(self, event: ir.StreamError) -> bytes:
        self._done = True
        return sse.encode(orjson.dumps(render_error(event.error)))

    def _flush_calls(self) -> bytes:
        pending = [self._calls.pop(index) for index in sorted(self._calls)]
        return b"".join(self._chunk([_call_part(call)]) for call in pending)

    def _chunk(self, parts: list[dict[str, Any]], finish: str = "") -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        body: dict[str, Any] = {"candidates": [candidate]}
        if finish:
            candidate["finishReason"] = finish
            body["usageMetadata"] = render_usage(self._usage)
        if not self._id:
            self._id = ir.new_id("")
        body["modelVersion"] = self._model
        body["responseId"] = self._id
        return sse.encode(orjson.dumps({"response": body} if self._envelope else body))


def _call_part(call: _PendingCall) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name,
                                "args": ir.coerce_arguments("".join(call.fragments))}
    if call.id:
        function["id"] = call.id
    part: dict[str, Any] = {"functionCall": function}
    if call.signature:
        part["thoughtSignature"] = call.signature
    return part


_HANDLERS: Final[dict[type, Callable[[GeminiStreamRenderer, Any], bytes]]] = {
    ir.MessageStart: GeminiStreamRenderer._start,
    ir.BlockStart: GeminiStreamRenderer._block_start,
    ir.TextDelta: GeminiStreamRenderer._text,
    ir.ReasoningDelta: GeminiStreamRenderer._reasoning,
    ir.ToolArgsDelta: GeminiStreamRenderer._args,
    ir.SignatureDelta: GeminiStreamRenderer._signature,
    ir.BlockStop: GeminiStreamRenderer._block_stop,
    ir.UsageUpdate: GeminiStreamRenderer._usage_update,
    ir.MessageStop: GeminiStreamRenderer._stop,
    ir.StreamError: GeminiStreamRenderer._error,
}
