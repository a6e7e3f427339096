"""Anthropic Messages SSE ↔ IR stream events.

The parser maps blocks 1:1 (server tool blocks and their deltas are skipped, the rest renumbered
densely) and merges ``message_start`` usage with the cumulative ``message_delta`` usage. The
renderer never interleaves blocks: a block that starts while another is open is held, with its
deltas, until the open one stops. A ``redacted_thinking`` block travels as a ``SignatureDelta``
whose value starts with ``_common.REDACTED``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final, TypeAlias

import orjson

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.anthropic._common import (
    FORMAT,
    REDACTED,
    TYPE_STATUS,
    own_signature,
    parse_error,
    parse_usage,
    render_error,
    render_usage,
    stop_in,
    text_of,
)
from cliproxy_cli.formats.anthropic.response import stop_reason_out
from cliproxy_cli.formats.sse import SSEEvent, encode

ENDED_EARLY: Final = ir.ErrorInfo(502, "upstream stream ended before completion", "server_error")

_KINDS: Final[dict[str, ir.BlockKind]] = {
    "text": "text",
    "thinking": "reasoning",
    "redacted_thinking": "reasoning",
    "tool_use": "tool_call",
}
_Delta: TypeAlias = ir.TextDelta | ir.ReasoningDelta | ir.ToolArgsDelta | ir.SignatureDelta
_USAGE_FIELDS: Final = (
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
    "output_tokens_details",
)


# --- parse -------------------------------------------------------------------------------------


def _block_opening(index: int, block: dict[str, Any]) -> list[ir.StreamEvent]:
    """Deltas for content a ``content_block_start`` already carries."""
    kind = block.get("type")
    if kind == "text" and text_of(block.get("text")):
        return [ir.TextDelta(index, block["text"])]
    if kind == "redacted_thinking":
        data = REDACTED + text_of(block.get("data"))
        return [ir.SignatureDelta(index, ir.Signature(FORMAT, data))]
    if kind == "tool_use" and isinstance(block.get("input"), dict) and block["input"]:
        return [ir.ToolArgsDelta(index, orjson.dumps(block["input"]).decode())]
    out: list[ir.StreamEvent] = []
    if kind == "thinking":
        if text_of(block.get("thinking")):
            out.append(ir.ReasoningDelta(index, block["thinking"]))
        if text_of(block.get("signature")):
            out.append(ir.SignatureDelta(index, ir.Signature(FORMAT, block["signature"])))
    return out


def _delta_event(index: int, delta: dict[str, Any]) -> ir.StreamEvent | None:
    kind = delta.get("type")
    if kind == "text_delta" and text_of(delta.get("text")):
        return ir.TextDelta(index, delta["text"])
    if kind == "thinking_delta" and text_of(delta.get("thinking")):
        return ir.ReasoningDelta(index, delta["thinking"])
    if kind == "signature_delta" and text_of(delta.get("signature")):
        return ir.SignatureDelta(index, ir.Signature(FORMAT, delta["signature"]))
    if kind == "input_json_delta" and text_of(delta.get("partial_json")):
        return ir.ToolArgsDelta(index, delta["partial_json"])
    return None


class AnthropicStreamParser:
    """Upstream Anthropic SSE → IR events; state is the open blocks and the usage so far."""

    __slots__ = ("_finished", "_index", "_next", "_started", "_stop", "_stop_sequence", "_usage")

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._index: dict[int, int | None] = {}  # upstream block index → ours (None: skipped)
        self._next = 0
        self._usage: dict[str, Any] = {}
        self._stop = ir.StopReason.END_TURN
        self._stop_sequence = ""

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]:
        if self._finished:
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(data, dict):
            return []
        handler = _PARSE.get(text_of(data.get("type")) or event.event)
        return handler(self, data) if handler else []

    def close(self) -> list[ir.StreamEvent]:
        if self._finished:
            return []
        self._finished = True
        return [*self._close_blocks(), ir.StreamError(ENDED_EARLY)]

    def _begin(self) -> list[ir.StreamEvent]:
        if self._started:
            return []
        self._started = True
        return [ir.MessageStart("", "")]

    def _close_blocks(self) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = [ir.BlockStop(i) for i in self._index.values() if i is not None]
        self._index.clear()
        return out

    def _merge_usage(self, raw: Any) -> bool:
        if not isinstance(raw, dict):
            return False
        self._usage.update((k, raw[k]) for k in _USAGE_FIELDS if raw.get(k) is not None)
        return True

    def _on_message_start(self, data: dict[str, Any]) -> list[ir.StreamEvent]:
        if self._started:
            return []
        self._started = True
        message = data.get("message")
        message = message if isinstance(message, dict) else {}
        has_usage = self._merge_usage(message.get("usage"))
        usage = parse_usage(self._usage) if has_usage else None
        return [ir.MessageStart(text_of(message.get("id")), text_of(message.get("model")), usage)]

    def _on_block_start(self, data: dict[str, Any]) -> list[ir.StreamEvent]:
        upstream, block = data.get("index"), data.get("content_block")
        if not isinstance(upstream, int) or not isinstance(block, dict):
            return []
        out = self._begin()
        out.extend(self._close_index(upstream))
        kind = _KINDS.get(text_of(block.get("type")))
        if kind is None:
            self._index[upstream] = None
            return out
        index, self._next = self._next, self._next + 1
        self._index[upstream] = index
        if kind == "tool_call":
            out.append(ir.BlockStart(index, kind, text_of(block.get("id")),
                                     text_of(block.get("name"))))
        else:
            out.append(ir.BlockStart(index, kind))
        out.extend(_block_opening(index, block))
        return out

    def _close_index(self, upstream: int) -> list[ir.StreamEvent]:
        index = self._index.pop(upstream, None)
        return [] if index is None else [ir.BlockStop(index)]

    def _on_block_delta(self, data: dict[str, Any]) -> list[ir.StreamEvent]:
        upstream, delta = data.get("index"), data.get("delta")
        index = self._index.get(upstream) if isinstance(upstream, int) else None
        if index is None or not isinstance(delta, dict):
            return []
        event = _delta_event(index, delta)
        return [] if event is None else [event]

    def _on_block_stop(self, data: dict[str, Any]) -> list[ir.StreamEvent]:
        upstream = data.get("index")
        return self._close_index(upstream) if isinstance(upstream, int) else []

    def _on_message_delta(self, data: dict[str, Any]) -> list[ir.StreamEvent]:
        out = self._begin()
        delta = data.get("delta")
        if isinstance(delta, dict):
            if delta.get("stop_reason") is not None:
                self._stop = stop_in(delta.get("stop_reason"))
            self._stop_sequence = text_of(delta.get("stop_sequence")) or self._stop_sequence
        if self._merge_usage(data.get("usage")):
            out.append(ir.UsageUpdate(parse_usage(self._usage)))
        return out

    def _on_message_stop(self, data: dict[str, Any]) -> list[ir.StreamEvent]:
        out = [*self._begin(), *self._close_blocks()]
        self._finished = True
        usage = parse_usage(self._usage) if self._usage else None
        out.append(ir.MessageStop(self._stop, usage, self._stop_sequence))
        return out

    def _on_error(self, data: dict[str, Any]) -> list[ir.StreamError]:
        self._finished = True
        error = data.get("error")
        native = text_of(error.get("type")) if isinstance(error, dict) else ""
        return [ir.StreamError(parse_error(TYPE_STATUS.get(native, 500), data))]


_PARSE: Final[dict[str, Callable[[AnthropicStreamParser, dict[str, Any]], list[Any]]]] = {
    "message_start": AnthropicStreamParser._on_message_start,
    "content_block_start": AnthropicStreamParser._on_block_start,
    "content_block_delta": AnthropicStreamParser._on_block_delta,
    "content_block_stop": AnthropicStreamParser._on_block_stop,
    "message_delta": AnthropicStreamParser._on_message_delta,
    "message_stop": AnthropicStreamParser._on_message_stop,
    "error": AnthropicStreamParser._on_error,
}


def parse_stream() -> AnthropicStreamParser:
    return AnthropicStreamParser()


# --- render ------------------------------------------------------------------------------------


class _Block:
    __slots__ = ("args", "kind", "out", "pending", "redacted", "stopped", "tool_id", "tool_name")

    def __init__(self, start: ir.BlockStart) -> None:
        self.kind = start.kind
        self.tool_id = start.tool_id
        self.tool_name = start.tool_name
        self.out: int | None = None  # the index it was emitted under, once started on the wire
        self.pending: list[_Delta] = []
        self.stopped = False
        self.redacted = False
        self.args: list[str] = []  # the input fragments sent so far (tool_use blocks)

    def input_complete(self) -> bool:
        """Whether the input sent so far joins to a JSON object (or nothing was sent)."""
        if self.kind != "tool_call" or not self.args:
            return True
        try:
            return isinstance(orjson.loads("".join(self.args)), dict)
        except orjson.JSONDecodeError:
            return False


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return encode(orjson.dumps(payload), name)


def _error_event(error: ir.ErrorInfo) -> bytes:
    return _event("error", render_error(error))


def _usage_out(usage: ir.Usage | None) -> dict[str, Any]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    return render_usage(usage)


class AnthropicStreamRenderer:
    """IR events → Anthropic SSE bytes. Thinking blocks open on their first content, so an
    empty reasoning block is never emitted and a redacted one opens with its data.

    A tool_use block whose input does not join to a JSON object is not stopped when its
    ``BlockStop`` comes (a parser closes the blocks of a cut-off upstream before its
    ``StreamError``): the error then ends the stream with the block open, as the API does; a
    ``MessageStop`` still closes it."""

    __slots__ = ("_active", "_blocks", "_ending", "_finished", "_model", "_next", "_out",
                 "_started", "_tool_used", "_usage", "_waiting")

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._blocks: dict[int, _Block] = {}
        self._waiting: deque[int] = deque()
        self._active: int | None = None
        self._next = 0
        self._usage: ir.Usage | None = None
        self._started = False
        self._finished = False
        self._tool_used = False
        self._ending = False
        self._out: list[bytes] = []

    def feed(self, event: ir.StreamEvent) -> bytes:
        if self._finished:
            return b""
        handler = _RENDER.get(type(event))
        if handler is not None:
            handler(self, event)
        return self._flush()

    def close(self) -> bytes:
        if self._finished:
            return b""
        self._fail(ENDED_EARLY)
        return self._flush()

    def _flush(self) -> bytes:
        data = b"".join(self._out)
        self._out.clear()
        return data

    def _start(self, message_id: str, model: str) -> None:
        self._started = True
        message: dict[str, Any] = {
            "id": message_id or ir.new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self._model or model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage_out(self._usage),
        }
        self._out.append(_event("message_start", {"type": "message_start", "message": message}))

    def _ensure_started(self) -> None:
        if not self._started:
            self._start("", "")

    def _on_message_start(self, event: ir.MessageStart) -> None:
        if not self._started:
            self._usage = event.usage or self._usage
            self._start(event.id, event.model)

    def _on_block_start(self, event: ir.BlockStart) -> None:
        self._ensure_started()
        if event.index in self._blocks:
            return
        self._blocks[event.index] = _Block(event)
        if self._active is None:
            self._activate(event.index)
        else:
            self._waiting.append(event.index)

    def _on_delta(self, event: _Delta) -> None:
        block = self._blocks.get(event.index)
        if block is None or block.stopped:
            return
        if event.index == self._active:
            self._emit(block, event)
        else:
            block.pending.append(event)

    def _on_block_stop(self, event: ir.BlockStop) -> None:
        block = self._blocks.get(event.index)
        if block is None or block.stopped:
            return
        block.stopped = True
        if event.index == self._active:
            self._close_active()
            self._advance()

    def _activate(self, index: int) -> None:
        self._active = index
        block = self._blocks[index]
        if block.kind == "text":
            self._open(block, {"type": "text", "text": ""})
        elif block.kind == "tool_call":
            self._tool_used = True
            tool_id = block.tool_id or ir.new_id("toolu_")
            self._open(block, {"type": "tool_use", "id": tool_id, "name": block.tool_name,
                               "input": {}})
        pending, block.pending = block.pending, []
        for event in pending:
            self._emit(block, event)
        if block.stopped:
            self._close_active()

    def _advance(self) -> None:
        while self._active is None and self._waiting:
            self._activate(self._waiting.popleft())

    def _close_active(self) -> None:
        if self._active is None:
            return
        block = self._blocks[self._active]
        if not (self._ending or block.input_complete()):
            return  # held open until MessageStop (or left open by an error)
        if block.out is not None:
            self._out.append(_event("content_block_stop",
                                    {"type": "content_block_stop", "index": block.out}))
        self._active = None

    def _open(self, block: _Block, content_block: dict[str, Any]) -> None:
        block.out, self._next = self._next, self._next + 1
        self._out.append(_event("content_block_start", {
            "type": "content_block_start", "index": block.out, "content_block": content_block,
        }))

    def _delta(self, block: _Block, delta: dict[str, Any]) -> None:
        payload = {"type": "content_block_delta", "index": block.out, "delta": delta}
        self._out.append(_event("content_block_delta", payload))

    def _emit(self, block: _Block, event: _Delta) -> None:
        if isinstance(event, ir.TextDelta) and block.kind == "text" and event.text:
            self._delta(block, {"type": "text_delta", "text": event.text})
        elif isinstance(event, ir.ToolArgsDelta) and block.kind == "tool_call" and event.fragment:
            block.args.append(event.fragment)
            self._delta(block, {"type": "input_json_delta", "partial_json": event.fragment})
        elif block.kind == "reasoning" and not block.redacted:
            self._emit_reasoning(block, event)

    def _emit_reasoning(self, block: _Block, event: _Delta) -> None:
        if isinstance(event, ir.ReasoningDelta) and event.text:
            self._open_thinking(block)
            self._delta(block, {"type": "thinking_delta", "thinking": event.text})
            return
        value = own_signature(event.signature) if isinstance(event, ir.SignatureDelta) else None
        if not value:
            return
        if value.startswith(REDACTED):
            if block.out is None:
                block.redacted = True
                self._open(block, {"type": "redacted_thinking", "data": value[len(REDACTED) :]})
            return
        self._open_thinking(block)
        self._delta(block, {"type": "signature_delta", "signature": value})

    def _open_thinking(self, block: _Block) -> None:
        if block.out is None:
            self._open(block, {"type": "thinking", "thinking": "", "signature": ""})

    def _on_usage(self, event: ir.UsageUpdate) -> None:
        self._usage = event.usage

    def _on_message_stop(self, event: ir.MessageStop) -> None:
        self._ensure_started()
        self._usage = event.usage or self._usage
        self._ending = True
        for block in self._blocks.values():
            block.stopped = True
        if self._active is not None:
            self._close_active()
        self._advance()
        usage = _usage_out(self._usage) if self._usage else {"output_tokens": 0}
        delta = {
            "stop_reason": stop_reason_out(event.stop_reason, self._tool_used),
            "stop_sequence": event.stop_sequence or None,
        }
        self._out.append(_event("message_delta",
                                {"type": "message_delta", "delta": delta, "usage": usage}))
        self._out.append(_event("message_stop", {"type": "message_stop"}))
        self._finished = True

    def _on_error(self, event: ir.StreamError) -> None:
        self._fail(event.error)

    def _fail(self, error: ir.ErrorInfo) -> None:
        self._out.append(_error_event(error))
        self._finished = True


_RENDER: Final[dict[type, Callable[[AnthropicStreamRenderer, Any], None]]] = {
    ir.MessageStart: AnthropicStreamRenderer._on_message_start,
    ir.BlockStart: AnthropicStreamRenderer._on_block_start,
    ir.TextDelta: AnthropicStreamRenderer._on_delta,
    ir.ReasoningDelta: AnthropicStreamRenderer._on_delta,
    ir.ToolArgsDelta: AnthropicStreamRenderer._on_delta,
    ir.SignatureDelta: AnthropicStreamRenderer._on_delta,
    ir.BlockStop: AnthropicStreamRenderer._on_block_stop,
    ir.UsageUpdate: AnthropicStreamRenderer._on_usage,
    ir.MessageStop: AnthropicStreamRenderer._on_message_stop,
    ir.StreamError: AnthropicStreamRenderer._on_error,
}


def render_stream(request: ir.Request) -> AnthropicStreamRenderer:
    return AnthropicStreamRenderer(request)

