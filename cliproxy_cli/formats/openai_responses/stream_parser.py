"""Responses SSE from an upstream (the Codex backend) → IR stream events.

Every message content part and every reasoning summary part is its own IR block; a function_call
item is one tool block. A reasoning block stays open until its item is done, because
``encrypted_content`` only arrives on ``response.output_item.done`` and must land on it as a
``SignatureDelta``. Items that arrive only as ``done`` (or only inside ``response.completed``)
still produce their blocks. The JSON ``type`` is trusted over the SSE ``event:`` name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir, sse
from cliproxy_cli.formats.openai_responses._common import FORMAT, int_of, parse_usage, stop_of
from cliproxy_cli.formats.openai_responses.errors import stream_error

_EOF_ERROR: Final = ir.ErrorInfo(502, "upstream stream ended before completion", "server_error")

@dataclass(slots=True)
class _Item:
    kind: str  # message | reasoning | function_call
    blocks: dict[Any, int] = field(default_factory=dict)  # part key → open IR block index
    opened: bool = False


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _index(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key, 0)
    return value if isinstance(value, int) else 0


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

    __slots__ = ("_call_ids", "_finished", "_ids", "_items", "_next", "_open", "_saw_tool",
                 "_started")

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._next = 0
        self._items: dict[Any, _Item] = {}  # by output_index (or item id when it is missing)
        self._ids: dict[str, Any] = {}  # item id → key in _items
        self._call_ids: dict[str, Any] = {}  # function_call call_id → key in _items
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
        item_id = item.get("id") if isinstance(item, Mapping) else payload.get("item_id")
        if isinstance(item_id, str) and item_id in self._ids:
            return self._ids[item_id]  # an item seen before keeps its key, whatever the index
        call_id = item.get("call_id") if isinstance(item, Mapping) else None
        if isinstance(call_id, str) and call_id in self._call_ids:
            return self._call_ids[call_id]  # a call is also known by its call_id
        if isinstance(index, int) and (item is not None or index in self._items):
            return index
        return item_id if item is not None and isinstance(item_id, str) else None

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
        self._call_ids.clear()

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
            if isinstance(raw.get("call_id"), str):
                self._call_ids[raw["call_id"]] = key
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
        content_index = _index(payload, "content_index")
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
            index = self._block(item, _index(payload, "content_index"), "text", out)
            self._delta(index, ir.TextDelta(index, delta), out)

    def on_text_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "message")
        text = _str(payload.get("text")) or _str(payload.get("refusal"))
        if item is not None:
            self._catch_up(item, _index(payload, "content_index"), text, ir.TextDelta, out)

    def on_part_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "message")
        part = payload.get("part")
        if item is None or not isinstance(part, Mapping):
            return
        key = _index(payload, "content_index")
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
        return ("summary", _index(payload, "summary_index"))

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
               else ("content", _index(payload, "content_index")))
        index = self._block(item, key, "reasoning", out)
        self._delta(index, ir.ReasoningDelta(index, delta), out)

    def on_reasoning_done(self, payload: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._lookup(payload, "reasoning")
        if item is None:
            return
        key = (self._summary_key(payload) if "summary_index" in payload
               else ("content", _index(payload, "content_index")))
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
        if key is None:
            return  # neither output_index nor id: no item to finish (added ignores it too)
        kind = _str(raw.get("type"))
        item = self._items.pop(key, None) or _Item(kind)
        if isinstance(raw.get("id"), str):
            self._ids.pop(raw["id"], None)
        if isinstance(raw.get("call_id"), str):
            self._call_ids.pop(raw["call_id"], None)
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


def parse_stream() -> ResponsesStreamParser:
    return ResponsesStreamParser()
