"""A strict checker for OpenAI Responses SSE streams (stdlib + orjson; imported by other tests).

Invariants: every frame is ``event: <type>`` + ``data: <json>`` with the JSON ``type`` equal to
the event name; ``sequence_number`` counts 0, 1, 2, …; ``response.created`` comes first and every
lifecycle event carries the same response id; ``output_index`` is dense in ``added`` order; every
content/summary part, delta and done refers to an open item by its ``item_id``; ``*.done`` texts
equal the concatenated deltas; every ``added`` item gets its ``done``; exactly one terminal event
(``response.completed`` / ``incomplete`` / ``failed``) ends the stream, an ``error`` event only
right before ``response.failed``; the terminal ``output`` equals the done items in order and
completed/incomplete responses carry consistent usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_LIFECYCLE = ("response.created", "response.in_progress", "response.queued", *_TERMINAL)
_TERMINAL_STATUS = {"response.completed": "completed", "response.incomplete": "incomplete",
                    "response.failed": "failed"}


def _check(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _frames(raw: bytes) -> list[dict[str, Any]]:
    text = raw.decode("utf-8")
    _check(text.endswith("\n\n"), "the stream must end with a blank line")
    events = []
    for frame in text.split("\n\n")[:-1]:
        lines = [line for line in frame.split("\n") if not line.startswith(":")]
        if not lines:
            continue
        _check(len(lines) == 2, f"a frame is one event line and one data line: {frame!r}")
        _check(lines[0].startswith("event: "), f"missing event line: {frame!r}")
        _check(lines[1].startswith("data: "), f"missing data line: {frame!r}")
        payload = orjson.loads(lines[1][6:])
        _check(isinstance(payload, dict), "data must be a JSON object")
        _check(payload.get("type") == lines[0][7:], f"event name != type: {frame!r}")
        events.append(payload)
    return events


@dataclass
class _Item:
    id: str
    type: str
    parts: list[list[Any]] = field(default_factory=list)  # [text, done] per content part
    summary: list[list[Any]] = field(default_factory=list)  # [text, done] per summary part
    args: str = ""
    args_done: str | None = None
    done: bool = False


@dataclass
class _State:
    response_id: str | None = None
    items: list[_Item] = field(default_factory=list)
    done_items: dict[int, Any] = field(default_factory=dict)
    terminal: dict[str, Any] | None = None
    pending_error: bool = False


def _item(state: _State, event: dict[str, Any], kind: str | None = None) -> _Item:
    index = event.get("output_index")
    if not isinstance(index, int) or not 0 <= index < len(state.items):
        raise AssertionError(f"{event['type']}: unknown output_index {index}")
    item = state.items[index]
    _check(not item.done, f"{event['type']}: item {item.id} is already done")
    if "item_id" in event or kind is not None:
        _check(event.get("item_id") == item.id, f"{event['type']}: item_id != {item.id}")
    if kind is not None:
        _check(item.type == kind, f"{event['type']}: item {item.id} is a {item.type}")
    return item


def _part(parts: list[list[Any]], index: Any, what: str) -> list[Any]:
    _check(isinstance(index, int) and 0 <= index < len(parts), f"unknown {what} {index}")
    part = parts[index]
    _check(not part[1], f"{what} {index} is already done")
    return part


def _on_lifecycle(state: _State, event: dict[str, Any]) -> None:
    response = event.get("response")
    if not isinstance(response, dict):
        raise AssertionError(f"{event['type']} without a response object")
    _check(response.get("object") == "response", "response.object must be 'response'")
    if state.response_id is None:
        _check(event["type"] == "response.created", "response.created must come first")
        state.response_id = response.get("id")
        _check(isinstance(state.response_id, str) and state.response_id, "response id missing")
    _check(response.get("id") == state.response_id, "the response id changed mid-stream")


def _on_item_added(state: _State, event: dict[str, Any]) -> None:
    item = event.get("item")
    if not isinstance(item, dict):
        raise AssertionError("output_item.added without an item")
    _check(event.get("output_index") == len(state.items), "output_index is not dense")
    _check(item.get("id") not in {i.id for i in state.items}, "duplicate item id")
    _check(isinstance(item.get("id"), str) and item.get("type"), "item needs an id and a type")
    state.items.append(_Item(item["id"], item["type"]))


def _on_part_added(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "message")
    _check(event.get("content_index") == len(item.parts), "content_index is not dense")
    _check(event["part"].get("text", "") == "", "a content part starts empty")
    item.parts.append(["", False])


def _on_text_delta(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "message")
    _check(isinstance(event.get("delta"), str), "delta must be a string")
    _part(item.parts, event.get("content_index"), "content part")[0] += event["delta"]


def _on_text_done(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "message")
    part = _part(item.parts, event.get("content_index"), "content part")
    _check(event.get("text") == part[0], "output_text.done text != concatenated deltas")


def _on_part_done(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "message")
    part = _part(item.parts, event.get("content_index"), "content part")
    _check(event["part"].get("text") == part[0], "content_part.done text != deltas")
    part[1] = True


def _on_summary_added(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "reasoning")
    _check(event.get("summary_index") == len(item.summary), "summary_index is not dense")
    item.summary.append(["", False])


def _on_summary_delta(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "reasoning")
    _part(item.summary, event.get("summary_index"), "summary part")[0] += event["delta"]


def _on_summary_text_done(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "reasoning")
    part = _part(item.summary, event.get("summary_index"), "summary part")
    _check(event.get("text") == part[0], "reasoning_summary_text.done text != deltas")


def _on_summary_part_done(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "reasoning")
    part = _part(item.summary, event.get("summary_index"), "summary part")
    _check(event["part"].get("text") == part[0], "reasoning_summary_part.done text != deltas")
    part[1] = True


def _on_args_delta(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "function_call")
    _check(item.args_done is None, "arguments delta after arguments done")
    item.args += event["delta"]


def _on_args_done(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event, "function_call")
    arguments = event.get("arguments")
    _check(arguments == item.args or item.args == "",
           "function_call_arguments.done != concatenated deltas")
    item.args_done = arguments


def _check_done_item(item: _Item, done: dict[str, Any]) -> None:
    _check(done.get("id") == item.id and done.get("type") == item.type, "item identity changed")
    if item.type == "message":
        _check(all(p[1] for p in item.parts), "message done with an open content part")
        texts = [c.get("text", c.get("refusal")) for c in done.get("content", [])]
        _check(texts == [p[0] for p in item.parts], "message item text != streamed parts")
    elif item.type == "reasoning":
        _check(all(p[1] for p in item.summary), "reasoning done with an open summary part")
        texts = [s.get("text") for s in done.get("summary", [])]
        _check(texts == [p[0] for p in item.summary], "reasoning summary != streamed parts")
    elif item.type == "function_call":
        _check(item.args_done is not None, "function_call done before arguments done")
        _check(done.get("arguments") == item.args_done, "function_call arguments changed")
        _check(isinstance(done.get("call_id"), str) and done["call_id"], "call_id missing")


def _on_item_done(state: _State, event: dict[str, Any]) -> None:
    item = _item(state, event)
    _check_done_item(item, event["item"])
    item.done = True
    state.done_items[event["output_index"]] = event["item"]


def _on_error(state: _State, event: dict[str, Any]) -> None:
    _check(isinstance(event.get("message"), str), "error event without a message")
    _check("code" in event, "error event without a code")
    state.pending_error = True


def _on_terminal(state: _State, event: dict[str, Any]) -> None:
    _on_lifecycle(state, event)
    response = event["response"]
    _check(response.get("status") == _TERMINAL_STATUS[event["type"]], "terminal status mismatch")
    _check(all(i.done for i in state.items), "an added item never got its done")
    output = [state.done_items[i] for i in sorted(state.done_items)]
    _check(response.get("output") == output, "terminal output != the done items")
    if event["type"] == "response.failed":
        error = response.get("error")
        _check(isinstance(error, dict) and isinstance(error.get("message"), str),
               "response.failed needs error.message")
        return
    usage = response.get("usage")
    _check(isinstance(usage, dict), "a finished response carries usage")
    _check(usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"],
           "total_tokens != input + output")
    if event["type"] == "response.incomplete":
        _check(response["incomplete_details"]["reason"], "incomplete_details.reason missing")


_HANDLERS = {
    "response.output_item.added": _on_item_added,
    "response.content_part.added": _on_part_added,
    "response.output_text.delta": _on_text_delta,
    "response.output_text.done": _on_text_done,
    "response.content_part.done": _on_part_done,
    "response.reasoning_summary_part.added": _on_summary_added,
    "response.reasoning_summary_text.delta": _on_summary_delta,
    "response.reasoning_summary_text.done": _on_summary_text_done,
    "response.reasoning_summary_part.done": _on_summary_part_done,
    "response.function_call_arguments.delta": _on_args_delta,
    "response.function_call_arguments.done": _on_args_done,
    "response.output_item.done": _on_item_done,
    "error": _on_error,
}


def validate_stream(raw: bytes) -> list[dict[str, Any]]:
    """Check a Responses SSE stream; returns the decoded event payloads in order."""
    events = _frames(raw)
    state = _State()
    for n, event in enumerate(events):
        kind = event["type"]
        _check(event.get("sequence_number") == n, f"sequence_number {n} expected: {event}")
        _check(state.terminal is None, f"{kind} after the terminal event")
        if state.pending_error:
            _check(kind == "response.failed", "an error event must be followed by failed")
        if n == 0:
            _check(kind == "response.created", "the stream must start with response.created")
        if kind in _TERMINAL:
            _on_terminal(state, event)
            state.terminal = event
        elif kind in _LIFECYCLE:
            _on_lifecycle(state, event)
        else:
            _check(state.response_id is not None, f"{kind} before response.created")
            handler = _HANDLERS.get(kind)
            _check(handler is not None, f"unexpected event type {kind}")
            handler(state, event)  # type: ignore[misc]
    _check(state.terminal is not None, "the stream has no terminal event")
    return events
