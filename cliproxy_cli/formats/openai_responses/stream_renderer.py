"""IR stream events → Responses SSE for a client.

One output item per IR block (text → message with one output_text part, reasoning → reasoning
item with one summary part, tool_call → function_call), dense ``output_index`` in BlockStart
order, strictly increasing ``sequence_number`` from 0, ``event: <type>`` framing. Texts are
accumulated per open block because the ``*.done`` events and the final ``response.completed``
(or ``response.incomplete``) repeat them. Errors render as an ``error`` event then
``response.failed``, after closing the open items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from cliproxy_cli.formats import ir, sse
from cliproxy_cli.formats.openai_responses._common import (
    dumps,
    function_call_item,
    id_base,
    message_item,
    output_text_part,
    own_signature,
    reasoning_item,
    render_usage,
    status_of,
)
from cliproxy_cli.formats.openai_responses.request import echo_fields
from cliproxy_cli.formats.openai_responses.response import response_object

_CLIENT_EOF: Final = ir.ErrorInfo(502, "stream ended before completion", "server_error")


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


def render_stream(request: ir.Request) -> ResponsesStreamRenderer:
    return ResponsesStreamRenderer(request)
