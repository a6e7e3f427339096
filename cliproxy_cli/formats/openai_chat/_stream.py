"""Chat Completions SSE chunks ⇄ IR stream events.

Parsing infers blocks: text and reasoning deltas open, continue and close blocks as they
alternate; each tool call (keyed by ``tool_calls[].index``, or by a changed ``id``) is a block
opened on its first named fragment (a call that never gets a name is dropped) and closed at
``finish_reason``. The finish reason is held
until ``[DONE]`` (or a usage chunk after it), so the trailing ``include_usage`` chunk lands in
``MessageStop``.

Rendering: a role chunk, ``delta.content`` / ``delta.reasoning_content`` / ``delta.tool_calls``
chunks (dense tool ordinals), one finish chunk, the usage chunk when the client asked for it,
then ``data: [DONE]``. An error is one ``data: {"error": …}`` chunk and the stream ends there
without ``[DONE]``, as the reference does: the OpenAI SDK raises ``APIError`` on the chunk, and a
client that ignores it still sees an unterminated stream rather than a clean finish.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_chat._common import (
    dumps,
    error_envelope,
    finish_reason,
    int_of,
    parse_error_body,
    parse_usage,
    render_usage,
    stop_reason,
    str_of,
)
from cliproxy_cli.formats.sse import SSEEvent, encode

_EOF_ERROR: Final = ir.ErrorInfo(502, "upstream stream ended before completion", "server_error")
_DONE: Final = b"data: [DONE]\n\n"


def _delta_text(value: Any) -> str:
    """A delta field as text: a string, or a list of strings / ``{"text"}`` objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            item if isinstance(item, str) else str_of(item, "text") if isinstance(item, dict)
            else ""
            for item in value
        )
    return ""


class _Call:
    __slots__ = ("args", "block", "id", "name")

    def __init__(self, call_id: str, name: str) -> None:
        self.id = call_id
        self.name = name
        self.block: int | None = None
        self.args = ""  # fragments that arrived before the name (then the block can open)


class ChatStreamParser:
    """Upstream Chat chunks in, IR events out; state is the open blocks and the held finish."""

    __slots__ = ("_all", "_calls", "_done", "_finish", "_finished", "_last_key", "_next", "_open",
                 "_saw_call", "_started", "_usage")

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._next = 0
        self._open: tuple[int, str] | None = None
        self._calls: dict[Any, _Call] = {}
        self._all: list[_Call] = []
        self._last_key: Any = None
        self._saw_call = False
        self._finish: Any = None
        self._finished = False
        self._usage: ir.Usage | None = None

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]:
        data = event.data.strip()
        if self._done or not data:
            return []
        if data == "[DONE]":
            return self._end()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error"):
            self._done = True
            return [ir.StreamError(parse_error_body(0, chunk))]
        return self._chunk(chunk)

    def close(self) -> list[ir.StreamEvent]:
        if self._done:
            return []
        if self._finished:
            return self._end()
        self._done = True
        out: list[ir.StreamEvent] = []
        self._close_blocks(out)
        out.append(ir.StreamError(_EOF_ERROR))
        return out

    # --- chunks --------------------------------------------------------------------------------

    def _chunk(self, chunk: dict[str, Any]) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if not self._started:
            self._start(chunk, out)
        was_finished = self._finished
        choices = chunk.get("choices")
        if isinstance(choices, list) and not was_finished:
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    self._choice(choice, out)
                    break
        raw_usage = chunk.get("usage")
        usage = parse_usage(raw_usage) if raw_usage else None
        if usage is not None:
            self._usage = usage
            out.append(ir.UsageUpdate(usage))
            if was_finished:
                out.extend(self._end())
        return out

    def _start(self, chunk: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        self._started = True
        out.append(ir.MessageStart(str_of(chunk, "id"), str_of(chunk, "model"),
                                   created=int_of(chunk, "created")))

    def _choice(self, choice: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict) and delta:
            if "reasoning_content" in delta or "reasoning" in delta:
                reasoning = _delta_text(delta.get("reasoning_content")) or _delta_text(
                    delta.get("reasoning"))
                if reasoning:
                    self._text("reasoning", reasoning, out)
            content = delta.get("content")
            if content.__class__ is not str:  # the usual case is a plain string
                content = _delta_text(content) or _delta_text(delta.get("refusal"))
            elif not content and "refusal" in delta:
                content = _delta_text(delta.get("refusal"))
            if content:
                self._text("text", content, out)
            calls = delta.get("tool_calls")
            if calls:
                for fragment in calls if isinstance(calls, list) else ():
                    if isinstance(fragment, dict):
                        self._tool(fragment, out)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._finish = reason
            self._finished = True
            self._close_blocks(out)

    # --- blocks --------------------------------------------------------------------------------

    def _alloc(self) -> int:
        self._next += 1
        return self._next - 1

    def _close_text(self, out: list[ir.StreamEvent]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._open[0]))
            self._open = None

    def _text(self, kind: str, text: str, out: list[ir.StreamEvent]) -> None:
        if self._open is None or self._open[1] != kind:
            self._close_text(out)
            index = self._alloc()
            out.append(ir.BlockStart(index, "text" if kind == "text" else "reasoning"))
            self._open = (index, kind)
        index = self._open[0]
        out.append(ir.TextDelta(index, text) if kind == "text" else ir.ReasoningDelta(index, text))

    def _tool(self, fragment: Mapping[str, Any], out: list[ir.StreamEvent]) -> None:
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        raw_args = function.get("arguments")
        args = raw_args if isinstance(raw_args, str) else "" if raw_args is None else dumps(
            raw_args)
        call = self._call(fragment.get("index"), str_of(fragment, "id"), str_of(function, "name"))
        if call.block is None:
            call.args += args
            if call.name:
                self._open_call(call, out)
        elif args:
            out.append(ir.ToolArgsDelta(call.block, args))

    def _call(self, index: Any, call_id: str, name: str) -> _Call:
        """The call a fragment belongs to. Some upstreams reuse ``index`` 0 for every parallel
        call, so a different ``id`` under a known index starts a new call."""
        key: Any = index if isinstance(index, int) and not isinstance(index, bool) else None
        if key is None:
            key = f"id:{call_id}" if call_id else self._last_key
        call = self._calls.get(key)
        if call is None or (call_id and call.id and call_id != call.id):
            call = self._calls[key] = _Call(call_id, name)
            self._all.append(call)
        self._last_key = key
        call.id = call.id or call_id
        call.name = call.name or name
        return call

    def _open_call(self, call: _Call, out: list[ir.StreamEvent]) -> None:
        self._close_text(out)
        call.block = self._alloc()
        self._saw_call = True
        out.append(ir.BlockStart(call.block, "tool_call", call.id or ir.new_id("call_"),
                                 call.name))
        if call.args:
            out.append(ir.ToolArgsDelta(call.block, call.args))
            call.args = ""

    def _close_blocks(self, out: list[ir.StreamEvent]) -> None:
        """Closes every open block; a call whose name never came is dropped (no client could
        run it)."""
        self._close_text(out)
        for index in sorted(c.block for c in self._all if c.block is not None):
            out.append(ir.BlockStop(index))
        self._calls = {}
        self._all = []
        self._last_key = None

    def _end(self) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if not self._started:
            self._start({}, out)
        self._close_blocks(out)
        self._done = True
        out.append(ir.MessageStop(stop_reason(self._finish, self._saw_call), self._usage))
        return out


def parse_stream() -> ChatStreamParser:
    return ChatStreamParser()


# --- rendering ---------------------------------------------------------------------------------


class ChatStreamRenderer:
    """IR events in, Chat SSE bytes out, chunk by chunk."""

    __slots__ = ("_created", "_done", "_id", "_include_usage", "_model", "_ordinals",
                 "_started", "_usage")

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._include_usage = request.include_usage
        self._id = ""
        self._created = 0
        self._started = False
        self._done = False
        self._ordinals: dict[int, int] = {}
        self._usage: ir.Usage | None = None

    def feed(self, event: ir.StreamEvent) -> bytes:
        if self._done:
            return b""
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler else b""

    def close(self) -> bytes:
        if self._done:
            return b""
        return self._error(ir.StreamError(_EOF_ERROR))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return encode(orjson.dumps({
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }))

    def _ensure_started(self) -> bytes:
        if self._started:
            return b""
        return self._start(ir.MessageStart("", ""))

    def _start(self, event: ir.MessageStart) -> bytes:
        if self._started:
            return b""
        self._started = True
        self._id = event.id or ir.new_id("chatcmpl-")
        self._model = self._model or event.model
        self._created = event.created
        self._usage = event.usage
        return self._chunk({"role": "assistant", "content": ""})

    def _block_start(self, event: ir.BlockStart) -> bytes:
        if event.kind != "tool_call" or event.index in self._ordinals:
            return self._ensure_started()
        ordinal = self._ordinals[event.index] = len(self._ordinals)
        call = {
            "index": ordinal,
            "id": event.tool_id or ir.new_id("call_"),
            "type": "function",
            "function": {"name": event.tool_name, "arguments": ""},
        }
        return self._ensure_started() + self._chunk({"tool_calls": [call]})

    def _text(self, event: ir.TextDelta) -> bytes:
        if not event.text:
            return b""
        return self._ensure_started() + self._chunk({"content": event.text})

    def _reasoning(self, event: ir.ReasoningDelta) -> bytes:
        if not event.text:
            return b""
        return self._ensure_started() + self._chunk({"reasoning_content": event.text})

    def _args(self, event: ir.ToolArgsDelta) -> bytes:
        ordinal = self._ordinals.get(event.index)
        if ordinal is None or not event.fragment:
            return b""
        call = {"index": ordinal, "function": {"arguments": event.fragment}}
        return self._chunk({"tool_calls": [call]})

    def _usage_update(self, event: ir.UsageUpdate) -> bytes:
        self._usage = event.usage
        return b""

    def _stop(self, event: ir.MessageStop) -> bytes:
        out = self._ensure_started()
        out += self._chunk({}, finish_reason(event.stop_reason, bool(self._ordinals)))
        if self._include_usage:
            usage = event.usage or self._usage or ir.Usage()
            out += encode(orjson.dumps({
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": render_usage(usage),
            }))
        self._done = True
        return out + _DONE

    def _error(self, event: ir.StreamError) -> bytes:
        self._done = True
        return encode(orjson.dumps(error_envelope(event.error)))


_HANDLERS: Final[dict[type, Callable[[ChatStreamRenderer, Any], bytes]]] = {
    ir.MessageStart: ChatStreamRenderer._start,
    ir.BlockStart: ChatStreamRenderer._block_start,
    ir.TextDelta: ChatStreamRenderer._text,
    ir.ReasoningDelta: ChatStreamRenderer._reasoning,
    ir.ToolArgsDelta: ChatStreamRenderer._args,
    ir.UsageUpdate: ChatStreamRenderer._usage_update,
    ir.MessageStop: ChatStreamRenderer._stop,
    ir.StreamError: ChatStreamRenderer._error,
}


def render_stream(request: ir.Request) -> ChatStreamRenderer:
    return ChatStreamRenderer(request)
