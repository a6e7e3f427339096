"""A strict validator for Anthropic Messages SSE streams (stdlib + orjson only).

Invariants: every event is ``event: NAME`` + one ``data:`` line whose JSON ``type`` is NAME;
``message_start`` first; blocks numbered densely from 0, each started, deltaed with its own
delta types and stopped before the next starts (never interleaved); tool input fragments join to a
JSON object; one ``message_delta`` after the last block; exactly one ``message_stop``, last. An
``error`` event ends the stream instead (nothing may follow it).
"""

from __future__ import annotations

from typing import Any

import orjson

_DELTAS = {
    "text": {"text_delta", "citations_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "redacted_thinking": set(),
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
}
_STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                 "model_context_window_exceeded"}


class StreamInvalidError(AssertionError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise StreamInvalidError(message)


def _obj(value: Any, what: str) -> dict[str, Any]:
    _check(isinstance(value, dict), f"{what} must be an object")
    return value  # type: ignore[no-any-return]


def _decode(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    text = raw.decode("utf-8")
    _check(text.endswith("\n\n"), "stream must end with a blank line")
    events: list[tuple[str, dict[str, Any]]] = []
    for chunk in text[:-2].split("\n\n"):
        lines = chunk.split("\n")
        _check(len(lines) == 2, f"an event is one event: line and one data: line, got {lines!r}")
        _check(lines[0].startswith("event: "), f"missing event name: {lines[0]!r}")
        _check(lines[1].startswith("data: "), f"missing data line: {lines[1]!r}")
        name, data = lines[0][7:], orjson.loads(lines[1][6:])
        _check(isinstance(data, dict) and data.get("type") == name,
               f"event {name} carries type {data.get('type') if isinstance(data, dict) else data}")
        events.append((name, data))
    return events


def _check_usage(usage: dict[str, Any], where: str) -> None:
    for key, value in usage.items():
        if key.endswith("_tokens"):
            _check(isinstance(value, int) and value >= 0, f"{where}: {key} must be a count")


def _check_start(data: dict[str, Any]) -> None:
    message = _obj(data.get("message"), "message_start.message")
    _check(message.get("type") == "message" and message.get("role") == "assistant",
           "message_start.message must be an assistant message")
    _check(isinstance(message.get("id"), str) and message["id"] != "", "message id required")
    _check(isinstance(message.get("model"), str), "message model must be a string")
    _check(message.get("content") == [], "message_start content must be empty")
    usage = _obj(message.get("usage"), "message_start usage")
    _check_usage(usage, "message_start")
    _check(isinstance(usage.get("input_tokens"), int), "message_start usage.input_tokens")
    _check(isinstance(usage.get("output_tokens"), int), "message_start usage.output_tokens")


class _State:
    def __init__(self) -> None:
        self.next_index = 0
        self.open: tuple[int, str] | None = None
        self.args = ""
        self.delta_seen = False
        self.stopped = False


def _block_start(state: _State, data: dict[str, Any]) -> None:
    _check(state.open is None, f"block {data.get('index')} started while {state.open} is open")
    _check(not state.delta_seen, "content block after message_delta")
    _check(data.get("index") == state.next_index,
           f"block index {data.get('index')}, expected {state.next_index}")
    block = _obj(data.get("content_block"), "content_block")
    _check(isinstance(block.get("type"), str), "content_block.type must be a string")
    kind = block["type"]
    if kind == "tool_use":
        _check(isinstance(block.get("id"), str) and block["id"] != "", "tool_use id required")
        _check(isinstance(block.get("name"), str), "tool_use name required")
        _check(block.get("input") == {}, "tool_use starts with empty input")
    if kind == "thinking":
        _check(isinstance(block.get("signature"), str), "thinking start needs a signature string")
    if kind == "redacted_thinking":
        _check(isinstance(block.get("data"), str) and block["data"] != "", "redacted data")
    state.open = (state.next_index, kind)
    state.next_index += 1
    state.args = ""


def _current(state: _State, data: dict[str, Any], what: str) -> tuple[int, str]:
    current = state.open
    _check(current is not None and data.get("index") == current[0],
           f"{what} for block {data.get('index')} while {current} is open")
    return current  # type: ignore[return-value]


def _block_delta(state: _State, data: dict[str, Any]) -> None:
    _, block_type = _current(state, data, "delta")
    delta = _obj(data.get("delta"), "delta")
    kind = str(delta.get("type"))
    _check(kind in _DELTAS.get(block_type, {kind}),
           f"{kind} is not a delta of a {block_type} block")
    field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature",
             "input_json_delta": "partial_json"}.get(kind)
    if field:
        _check(isinstance(delta.get(field), str), f"{kind}.{field} must be a string")
    if kind == "input_json_delta":
        state.args += delta["partial_json"]


def _block_stop(state: _State, data: dict[str, Any]) -> None:
    _, block_type = _current(state, data, "stop")
    if block_type == "tool_use" and state.args:
        _check(isinstance(orjson.loads(state.args), dict), "tool input must join to an object")
    state.open = None


def _message_delta(state: _State, data: dict[str, Any]) -> None:
    _check(state.open is None, "message_delta while a block is open")
    _check(not state.delta_seen, "more than one message_delta")
    delta = _obj(data.get("delta"), "message_delta.delta")
    _check(delta.get("stop_reason") in _STOP_REASONS, f"stop_reason {delta.get('stop_reason')}")
    _check(delta.get("stop_sequence") is None or isinstance(delta["stop_sequence"], str),
           "stop_sequence must be null or a string")
    usage = _obj(data.get("usage"), "message_delta usage")
    _check_usage(usage, "message_delta")
    _check(isinstance(usage.get("output_tokens"), int), "message_delta output_tokens")
    state.delta_seen = True


def _error(data: dict[str, Any]) -> None:
    error = _obj(data.get("error"), "error.error")
    _check(isinstance(error.get("type"), str) and isinstance(error.get("message"), str),
           "error needs a type and a message")


_HANDLERS = {
    "content_block_start": _block_start,
    "content_block_delta": _block_delta,
    "content_block_stop": _block_stop,
    "message_delta": _message_delta,
}


def validate_stream(raw: bytes) -> list[dict[str, Any]]:
    """Check ``raw`` against the invariants above; return the decoded ``data`` objects."""
    events = _decode(raw)
    _check(bool(events), "empty stream")
    state = _State()
    for position, (name, data) in enumerate(events):
        last = position == len(events) - 1
        if name == "error":
            _error(data)
            _check(last, "events after an error")
            continue
        if position == 0:
            _check(name == "message_start", f"first event is {name}, not message_start")
            _check_start(data)
            continue
        _check(name != "message_start", "a second message_start")
        if name == "ping":
            continue
        if name == "message_stop":
            _check(state.delta_seen, "message_stop without message_delta")
            _check(last, "events after message_stop")
            continue
        _check(name in _HANDLERS, f"unknown event {name}")
        _HANDLERS[name](state, data)
    final = events[-1][0]
    _check(final in ("message_stop", "error"), f"stream ends with {final}")
    return [data for _, data in events]
