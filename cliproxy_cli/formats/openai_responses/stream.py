"""Responses streams: upstream SSE (the Codex backend) → IR events, and IR events → client SSE.

Parser: every message content part and every reasoning summary part is its own IR block; a
function_call item is one tool block. A reasoning block stays open until its item is done, because
``encrypted_content`` only arrives on ``response.output_item.done`` and must land on it as a
``SignatureDelta``. The JSON ``type`` is trusted over the SSE ``event:`` name.

Renderer: one output item per IR block (text → message with one output_text part, reasoning →
reasoning item with one summary part, tool_call → function_call), dense ``output_index`` in
BlockStart order, strictly increasing ``sequence_number`` from 0. Texts are accumulated per open
block because the ``*.done`` events and the final ``response.completed`` repeat them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir, sse
from cliproxy_cli.formats.openai_responses._common import (
    FORMAT,
    dumps,
    function_call_item,
    id_base,
    int_of,
    message_item,
    output_text_part,
    own_signature,
    parse_usage,
    reasoning_item,
    render_usage,
    status_of,
    stop_of,
)
from cliproxy_cli.formats.openai_responses.errors import stream_error
from cliproxy_cli.formats.openai_responses.request import echo_fields
from cliproxy_cli.formats.openai_responses.response import response_object

_EOF_ERROR: Final = ir.ErrorInfo(502, "upstream stream ended before completion", "server_error")
_CLIENT_EOF: Final = ir.ErrorInfo(502, "stream ended before completion", "server_error")

# --- parse -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    kind: str  # message | reasoning | function_call
    blocks: dict[Any, int] = field(default_factory=dict)  # part key → open IR block index
    opened: bool = False


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _summary_texts(item: Mapping[str, Any]) -> list[str]:
    for key in ("summary", "content"):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [_str(p.get("text")) for p in parts if isinstance(p, Mapping)]
            if any(texts):
                return texts
    return []


class ResponsesStreamParser:
    """Upstream Responses SSE → IR events (bounded state: the open items and blocks)."""

    __slots__ = ("_finished", "_ids", "_items", "_next", "_open", "_saw_tool", "_started")

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._next = 0
        self._items: dict[Any, _Item] = {}  # by output_index (or item id when it is missing)
        self._ids: dict[str, Any] = {}  # item id → key in _items
        self._open: dict[int, bool] = {}  # open block index → saw a delta
        self._saw_tool = False

    def feed(self, event: sse.SSEEvent) -> list[ir.StreamEvent]:
        if self._finished:
            return []
        data = event.data.strip()
        if not data or data == "[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(payload, dict):
            return []
        kind = payload.get("type") or event.event
        handler = _PARSE.get(kind) if isinstance(kind, str) else None
        out: list[ir.StreamEvent] = []
        if handler is not None:
            handler(self, payload, out)
        return out

    def close(self) -> list[ir.StreamEvent]:
        if self._finished:
            return []
        out: list[ir.StreamEvent] = []
        self._close_all(out)
        out.append(ir.StreamError(_EOF_ERROR))
        self._finished = True
        return out

    # -- bookkeeping

    def _start(self, response: Any, out: list[ir.StreamEvent]) -> None:
        if self._started:
            return
        self._started = True
        r = response if isinstance(response, Mapping) else {}
        out.append(ir.MessageStart(_str(r.get("id")), _str(r.get("model")),
                                   created=int_of(r.get("created_at"))))

    def _key(self, payload: Mapping[str, Any], item: Any = None) -> Any:
        index = payload.get("output_index")
        if isinstance(index, int) and (item is not None or index in self._items):
            return index
        item_id = item.get("id") if isinstance(item, Mapping) else payload.get("item_id")
        if item is not None:
            return item_id if isinstance(item_id, str) else None
        return self._ids.get(item_id) if isinstance(item_id, str) else None

    def _lookup(self, payload: Mapping[str, Any], kind: str) -> _Item | None:
        item = self._items.get(self._key(payload))
        return item if item is not None and item.kind == kind else None

    def _open_block(self, item: _Item, key: Any, kind: ir.BlockKind, out: list[ir.StreamEvent],
                    tool_id: str = "", tool_name: str = "") -> int:
        index = self._next
        self._next += 1
        item.blocks[key] = index
        item.opened = True
        self._open[index] = False
        out.append(ir.BlockStart(index, kind, tool_id, tool_name))
        return index

    def _close_block(self, item: _Item, key: Any, out: list[ir.StreamEvent]) -> None:
        index = item.blocks.pop(key, None)
        if index is not None:
            self._open.pop(index, None)
            out.append(ir.BlockStop(index))

    def _close_item(self, item: _Item, out: list[ir.StreamEvent]) -> None:
        for key in sorted(item.blocks, key=item.blocks.__getitem__):
            self._close_block(item, key, out)

    def _close_all(self, out: list[ir.StreamEvent]) -> None:
        for index in sorted(self._open):
            out.append(ir.BlockStop(index))
        self._open.clear()
        self._items.clear()
        self._ids.clear()

    def _delta(self, index: int, event: ir.StreamEvent, out: list[ir.StreamEvent]) -> None:
        self._open[index] = True
        out.append(event)

    def _block(self, item: _Item, key: Any, kind: ir.BlockKind, out: list[ir.StreamEvent]) -> int:
        """The open block for ``key``; a reasoning item keeps one block open at a time."""
        index = item.blocks.get(key)
        if index is None:
            if kind == "reasoning":
                self._close_item(item, out)
            index = self._open_block(item, key, kind, out)
        return index

    # -- lifecycle

    def on_lifecycle(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        self._start(payload.get("response"), out)

    def on_item_added(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        self._start(None, out)
        raw = payload.get("item")
        if not isinstance(raw, Mapping):
            return
        kind, key = raw.get("type"), self._key(payload, raw)
        if kind not in ("message", "reasoning", "function_call") or key is None:
            return
        item = _Item(kind)
        self._items[key] = item
        if isinstance(raw.get("id"), str):
            self._ids[raw["id"]] = key
        if kind == "function_call":
            self._open_call(item, raw, out)

    def _open_call(self, item: _Item, raw: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        self._saw_tool = True
        call_id = _str(raw.get("call_id")) or _str(raw.get("id")) or f"call_{self._next}"
        index = self._open_block(item, "call", "tool_call", out, call_id, _str(raw.get("name")))
        if arguments := _str(raw.get("arguments")):
            self._delta(index, ir.ToolArgsDelta(index, arguments), out)

    # -- message content

    def on_part_added(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._items.get(self._key(payload))
        content_index = payload.get("content_index", 0)
        if item is None or item.kind == "function_call":
            return
        if item.kind == "message":
            self._block(item, content_index, "text", out)
        else:
            self._block(item, ("content", content_index), "reasoning", out)

    def on_text_delta(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "message")
        delta = _str(payload.get("delta"))
        if item is not None and delta:
            index = self._block(item, payload.get("content_index", 0), "text", out)
            self._delta(index, ir.TextDelta(index, delta), out)

    def on_text_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "message")
        text = _str(payload.get("text")) or _str(payload.get("refusal"))
        if item is not None:
            self._catch_up(item, payload.get("content_index", 0), text, ir.TextDelta, out)

    def on_part_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "message")
        part = payload.get("part")
        if item is None or not isinstance(part, Mapping):
            return
        key = payload.get("content_index", 0)
        text = _str(part.get("text")) or _str(part.get("refusal"))
        self._catch_up(item, key, text, ir.TextDelta, out)
        self._close_block(item, key, out)

    def _catch_up(self, item: _Item, key: Any, text: str,
                  make: type[ir.TextDelta] | type[ir.ReasoningDelta],
                  out: list[ir.StreamEvent]) -> None:
        """Emit a done event's full text when no delta carried it."""
        index = item.blocks.get(key)
        if index is None and text:
            index = self._block(item, key, "text" if make is ir.TextDelta else "reasoning", out)
        if index is not None and text and not self._open.get(index):
            self._delta(index, make(index, text), out)

    # -- reasoning

    def _summary_key(self, payload: Mapping[str, Any]) -> tuple[str, Any]:
        return ("summary", payload.get("summary_index", 0))

    def on_summary_added(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "reasoning")
        if item is not None:
            self._block(item, self._summary_key(payload), "reasoning", out)

    def on_reasoning_delta(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "reasoning")
        delta = _str(payload.get("delta"))
        if item is None or not delta:
            return
        key = (self._summary_key(payload) if "summary_index" in payload
               else ("content", payload.get("content_index", 0)))
        index = self._block(item, key, "reasoning", out)
        self._delta(index, ir.ReasoningDelta(index, delta), out)

    def on_reasoning_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "reasoning")
        if item is None:
            return
        key = (self._summary_key(payload) if "summary_index" in payload
               else ("content", payload.get("content_index", 0)))
        self._catch_up(item, key, _str(payload.get("text")), ir.ReasoningDelta, out)

    # -- function calls

    def on_args_delta(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "function_call")
        delta = _str(payload.get("delta"))
        index = item.blocks.get("call") if item is not None else None
        if index is not None and delta:
            self._delta(index, ir.ToolArgsDelta(index, delta), out)

    def on_args_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "function_call")
        arguments = _str(payload.get("arguments"))
        index = item.blocks.get("call") if item is not None else None
        if index is not None and arguments and not self._open.get(index):
            self._delta(index, ir.ToolArgsDelta(index, arguments), out)

    # -- item done

    def on_item_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        raw = payload.get("item")
        if not isinstance(raw, Mapping):
            return
        self._start(None, out)
        key = self._key(payload, raw)
        kind = _str(raw.get("type"))
        item = self._items.pop(key, None) or _Item(kind)
        if isinstance(raw.get("id"), str):
            self._ids.pop(raw["id"], None)
        finish = _ITEM_DONE.get(kind)
        if finish is not None and item.kind == kind:
            finish(self, item, raw, out)

    def _message_done(self, item: _Item, raw: Mapping[str, Any],
                      out: list[ir.StreamEvent]) -> None:
        if not item.opened:
            content = raw.get("content")
            for i, part in enumerate(content if isinstance(content, list) else ()):
                if not isinstance(part, Mapping):
                    continue
                text = _str(part.get("text")) or _str(part.get("refusal"))
                if text:
                    self._catch_up(item, i, text, ir.TextDelta, out)
                    self._close_block(item, i, out)
        self._close_item(item, out)

    def _call_done(self, item: _Item, raw: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        if "call" not in item.blocks:
            self._open_call(item, {**raw, "arguments": ""}, out)
        index = item.blocks["call"]
        arguments = _str(raw.get("arguments"))
        if arguments and not self._open.get(index):
            self._delta(index, ir.ToolArgsDelta(index, arguments), out)
        self._close_item(item, out)

    def _reasoning_done(self, item: _Item, raw: Mapping[str, Any],
                        out: list[ir.StreamEvent]) -> None:
        if not item.opened:
            for i, text in enumerate(_summary_texts(raw)):
                self._catch_up(item, ("summary", i), text, ir.ReasoningDelta, out)
        encrypted = _str(raw.get("encrypted_content"))
        if encrypted:
            index = (next(iter(item.blocks.values())) if item.blocks
                     else self._open_block(item, "signature", "reasoning", out))
            out.append(ir.SignatureDelta(index, ir.Signature(FORMAT, encrypted)))
        self._close_item(item, out)

    # -- terminal

    def on_terminal(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        response = payload.get("response")
        r: Mapping[str, Any] = response if isinstance(response, Mapping) else {}
        self._start(r, out)
        output = r.get("output")
        output = output if isinstance(output, list) else []
        if self._next == 0:  # an upstream that sent only the final event
            for i, raw in enumerate(output):
                self.on_item_done({"output_index": i, "item": raw}, out)
        self._close_all(out)
        has_tools = self._saw_tool or any(
            isinstance(i, Mapping) and i.get("type") == "function_call" for i in output)
        status = r.get("status") or ("incomplete" if payload.get("type") == "response.incomplete"
                                     else "completed")
        stop = stop_of(status, r.get("incomplete_details"), has_tools)
        usage = parse_usage(r.get("usage"))
        if usage is not None:
            out.append(ir.UsageUpdate(usage))
        out.append(ir.MessageStop(stop, usage))
        self._finished = True

    def on_failed(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        response = payload.get("response")
        error = response.get("error") if isinstance(response, Mapping) else None
        self._fail(stream_error(error, "upstream response failed"), out)

    def on_error(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        self._fail(stream_error(payload, "upstream stream error"), out)

    def _fail(self, error: ir.ErrorInfo, out: list[ir.StreamEvent]) -> None:
        self._close_all(out)
        out.append(ir.StreamError(error))
        self._finished = True


_ParseHandler = Callable[[ResponsesStreamParser, Mapping[str, Any], list[ir.StreamEvent]], None]
_PARSE: Final[dict[str, _ParseHandler]] = {
    "response.created": ResponsesStreamParser.on_lifecycle,
    "response.in_progress": ResponsesStreamParser.on_lifecycle,
    "response.queued": ResponsesStreamParser.on_lifecycle,
    "response.output_item.added": ResponsesStreamParser.on_item_added,
    "response.content_part.added": ResponsesStreamParser.on_part_added,
    "response.output_text.delta": ResponsesStreamParser.on_text_delta,
    "response.refusal.delta": ResponsesStreamParser.on_text_delta,
    "response.output_text.done": ResponsesStreamParser.on_text_done,
    "response.refusal.done": ResponsesStreamParser.on_text_done,
    "response.content_part.done": ResponsesStreamParser.on_part_done,
    "response.reasoning_summary_part.added": ResponsesStreamParser.on_summary_added,
    "response.reasoning_summary_text.delta": ResponsesStreamParser.on_reasoning_delta,
    "response.reasoning_summary_text.done": ResponsesStreamParser.on_reasoning_done,
    "response.reasoning_text.delta": ResponsesStreamParser.on_reasoning_delta,
    "response.reasoning_text.done": ResponsesStreamParser.on_reasoning_done,
    "response.function_call_arguments.delta": ResponsesStreamParser.on_args_delta,
    "response.function_call_arguments.done": ResponsesStreamParser.on_args_done,
    "response.output_item.done": ResponsesStreamParser.on_item_done,
    "response.completed": ResponsesStreamParser.on_terminal,
    "response.incomplete": ResponsesStreamParser.on_terminal,
    "response.done": ResponsesStreamParser.on_terminal,
    "response.failed": ResponsesStreamParser.on_failed,
    "error": ResponsesStreamParser.on_error,
}
_ItemDone = Callable[[ResponsesStreamParser, _Item, Mapping[str, Any], list[ir.StreamEvent]], None]
_ITEM_DONE: Final[dict[str, _ItemDone]] = {
    "message": ResponsesStreamParser._message_done,
    "function_call": ResponsesStreamParser._call_done,
    "reasoning": ResponsesStreamParser._reasoning_done,
}


# --- render ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    kind: ir.BlockKind
    output_index: int
    item_id: str
    call_id: str = ""
    name: str = ""
    chunks: list[str] = field(default_factory=list)
    part_open: bool = False
    signature: str | None = None


class ResponsesStreamRenderer:
    """IR events → Responses SSE bytes, valid for any valid IR event sequence."""

    __slots__ = ("_base", "_blocks", "_created", "_done", "_echo", "_id", "_items", "_model",
                 "_next_output", "_seq", "_started", "_usage")

    def __init__(self, request: ir.Request) -> None:
        self._echo = echo_fields(request)
        self._model = request.model
        self._seq = 0
        self._id = ""
        self._base = ""
        self._created = 0
        self._started = False
        self._done = False
        self._blocks: dict[int, _Block] = {}
        self._items: dict[int, dict[str, Any]] = {}  # finished items by output_index
        self._next_output = 0
        self._usage: ir.Usage | None = None

    def feed(self, event: ir.StreamEvent) -> bytes:
        if self._done:
            return b""
        out: list[bytes] = []
        _RENDER[type(event)](self, event, out)
        return b"".join(out)

    def close(self) -> bytes:
        if self._done:
            return b""
        out: list[bytes] = []
        self._error(ir.StreamError(_CLIENT_EOF), out)
        return b"".join(out)

    # -- framing

    def _emit(self, out: list[bytes], kind: str, fields: dict[str, Any]) -> None:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        out.append(sse.encode(dumps(payload), kind))

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        output = [self._items[i] for i in sorted(self._items)]
        return response_object(self._echo, response_id=self._id, created=self._created,
                               model=self._model, status=status, output=output,
                               usage=fields.pop("usage", None), **fields)

    # -- handlers

    def _start(self, event: ir.MessageStart, out: list[bytes]) -> None:
        if self._started:
            return
        self._started = True
        self._id = event.id or ir.new_id("resp_")
        self._base = id_base(self._id)
        self._model = self._model or event.model
        self._created = event.created
        self._usage = event.usage
        snapshot = {"response": self._response("in_progress")}
        self._emit(out, "response.created", snapshot)
        self._emit(out, "response.in_progress", snapshot)

    def _ensure_started(self, out: list[bytes]) -> None:
        self._start(ir.MessageStart("", ""), out)

    def _block_start(self, event: ir.BlockStart, out: list[bytes]) -> None:
        self._ensure_started(out)
        if event.index in self._blocks:
            return
        n = self._next_output
        self._next_output += 1
        if event.kind == "tool_call":
            call_id = event.tool_id or f"call_{self._base}_{n}"
            block = _Block("tool_call", n, f"fc_{call_id}", call_id, event.tool_name)
            item = function_call_item(block.item_id, call_id, block.name, "", "in_progress")
        elif event.kind == "reasoning":
            block = _Block("reasoning", n, f"rs_{self._base}_{n}")
            item = reasoning_item(block.item_id, [], None)
        else:
            block = _Block("text", n, f"msg_{self._base}_{n}")
            item = message_item(block.item_id, [], "in_progress")
        self._blocks[event.index] = block
        self._emit(out, "response.output_item.added", {"output_index": n, "item": item})
        if block.kind == "text":
            self._emit(out, "response.content_part.added", {
                **self._where(block), "content_index": 0, "part": output_text_part("")})

    @staticmethod
    def _where(block: _Block) -> dict[str, Any]:
        return {"item_id": block.item_id, "output_index": block.output_index}

    def _live(self, index: int, kind: str) -> _Block | None:
        block = self._blocks.get(index)
        return block if block is not None and block.kind == kind else None

    def _text(self, event: ir.TextDelta, out: list[bytes]) -> None:
        block = self._live(event.index, "text")
        if block is not None and event.text:
            block.chunks.append(event.text)
            self._emit(out, "response.output_text.delta", {
                **self._where(block), "content_index": 0, "delta": event.text, "logprobs": []})

    def _reasoning(self, event: ir.ReasoningDelta, out: list[bytes]) -> None:
        block = self._live(event.index, "reasoning")
        if block is None or not event.text:
            return
        where = {**self._where(block), "summary_index": 0}
        if not block.part_open:
            block.part_open = True
            self._emit(out, "response.reasoning_summary_part.added", {
                **where, "part": {"type": "summary_text", "text": ""}})
        block.chunks.append(event.text)
        self._emit(out, "response.reasoning_summary_text.delta", {**where, "delta": event.text})

    def _args(self, event: ir.ToolArgsDelta, out: list[bytes]) -> None:
        block = self._live(event.index, "tool_call")
        if block is not None and event.fragment:
            block.chunks.append(event.fragment)
            self._emit(out, "response.function_call_arguments.delta", {
                **self._where(block), "delta": event.fragment})

    def _signature(self, event: ir.SignatureDelta, out: list[bytes]) -> None:
        block = self._live(event.index, "reasoning")
        value = own_signature(event.signature)
        if block is not None and value:
            block.signature = value

    def _block_stop(self, event: ir.BlockStop, out: list[bytes]) -> None:
        block = self._blocks.pop(event.index, None)
        if block is not None:
            self._finish_block(block, "completed", out)

    def _finish_block(self, block: _Block, status: str, out: list[bytes]) -> None:
        text = "".join(block.chunks)
        where = self._where(block)
        if block.kind == "text":
            part = output_text_part(text)
            self._emit(out, "response.output_text.done", {
                **where, "content_index": 0, "text": text, "logprobs": []})
            self._emit(out, "response.content_part.done", {
                **where, "content_index": 0, "part": part})
            item = message_item(block.item_id, [part], status)
        elif block.kind == "reasoning":
            if block.part_open:
                summary = {**where, "summary_index": 0}
                self._emit(out, "response.reasoning_summary_text.done", {**summary, "text": text})
                self._emit(out, "response.reasoning_summary_part.done", {
                    **summary, "part": {"type": "summary_text", "text": text}})
            item = reasoning_item(block.item_id, [text] if block.part_open else [],
                                  block.signature)
        else:
            arguments = text or "{}"
            self._emit(out, "response.function_call_arguments.done", {
                **where, "arguments": arguments})
            item = function_call_item(block.item_id, block.call_id, block.name, arguments, status)
        self._items[block.output_index] = item
        self._emit(out, "response.output_item.done", {
            "output_index": block.output_index, "item": item})

    def _close_blocks(self, status: str, out: list[bytes]) -> None:
        for index in sorted(self._blocks):
            self._finish_block(self._blocks.pop(index), status, out)

    def _usage_update(self, event: ir.UsageUpdate, out: list[bytes]) -> None:
        self._usage = event.usage

    def _stop(self, event: ir.MessageStop, out: list[bytes]) -> None:
        self._ensure_started(out)
        status, incomplete = status_of(event.stop_reason)
        if status == "failed":
            self._error(ir.StreamError(ir.ErrorInfo(500, "upstream reported an error",
                                                    "server_error")), out)
            return
        self._close_blocks("completed", out)
        usage = render_usage(event.usage or self._usage or ir.Usage())
        kind = "response.completed" if status == "completed" else "response.incomplete"
        self._emit(out, kind, {"response": self._response(status, usage=usage,
                                                          incomplete=incomplete)})
        self._done = True

    def _error(self, event: ir.StreamError, out: list[bytes]) -> None:
        self._ensure_started(out)
        self._close_blocks("incomplete", out)
        error = event.error
        code = error.code or error.type or "server_error"
        body = {"type": error.type or "server_error", "code": code, "message": error.message,
                "param": None}
        # The nested `error` object makes the openai SDK raise APIError with this message.
        self._emit(out, "error", {"code": code, "message": error.message, "param": None,
                                  "error": body})
        failed_code = error.code or ("rate_limit_exceeded" if error.status == 429
                                     else "server_error")
        usage = render_usage(self._usage) if self._usage is not None else None
        self._emit(out, "response.failed", {"response": self._response(
            "failed", usage=usage, error={"code": failed_code, "message": error.message,
                                          "type": body["type"]})})
        self._done = True


_RENDER: Final[dict[type, Callable[[ResponsesStreamRenderer, Any, list[bytes]], None]]] = {
    ir.MessageStart: ResponsesStreamRenderer._start,
    ir.BlockStart: ResponsesStreamRenderer._block_start,
    ir.TextDelta: ResponsesStreamRenderer._text,
    ir.ReasoningDelta: ResponsesStreamRenderer._reasoning,
    ir.ToolArgsDelta: ResponsesStreamRenderer._args,
    ir.SignatureDelta: ResponsesStreamRenderer._signature,
    ir.BlockStop: ResponsesStreamRenderer._block_stop,
    ir.UsageUpdate: ResponsesStreamRenderer._usage_update,
    ir.MessageStop: ResponsesStreamRenderer._stop,
    ir.StreamError: ResponsesStreamRenderer._error,
}


def parse_stream() -> ResponsesStreamParser:
    return ResponsesStreamParser()


def render_stream(request: ir.Request) -> ResponsesStreamRenderer:
    return ResponsesStreamRenderer(request)
