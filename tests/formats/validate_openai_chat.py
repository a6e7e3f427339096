"""A strict checker for Chat Completions SSE as a client sees it (stdlib + orjson only).

``validate_stream(raw)`` asserts the invariants of the OpenAI idiom and returns the decoded
chunks (``[DONE]`` excluded, an error chunk included):

- every event is ``data: <json object>`` or ``data: [DONE]``, with no ``event:`` names;
- every chunk has the same ``id``, ``object == "chat.completion.chunk"``, an int ``created`` and
  a string ``model``; the first one carries ``delta.role == "assistant"``;
- tool-call fragments use dense ordinals: a new ``index`` is the next one, its first fragment
  carries ``id``, ``type: "function"`` and ``function.name`` (with string ``arguments``), later
  fragments only ``function.arguments`` strings;
- the stream ends either with exactly one finish chunk (a known ``finish_reason``), at most one
  usage chunk (``choices: []``) after it, and ``[DONE]`` last; or with one error chunk
  ``{"error": {"message", "type", "code"}}`` and nothing after it (no finish chunk at all).
"""

from __future__ import annotations

from typing import Any

import orjson

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def _events(raw: bytes) -> list[str]:
    text = raw.decode("utf-8")
    assert text.endswith("\n\n"), "stream must end with a blank line"
    out = []
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        assert len(lines) == 1 and lines[0].startswith("data: "), f"bad SSE event: {block!r}"
        out.append(lines[0][len("data: "):])
    return out


def _check_error(chunk: dict[str, Any]) -> None:
    error = chunk["error"]
    assert set(chunk) == {"error"}, chunk
    assert isinstance(error, dict), chunk
    assert isinstance(error.get("message"), str) and error["message"], chunk
    assert isinstance(error.get("type"), str) and error["type"], chunk
    assert "code" in error, chunk


def _check_envelope(chunk: dict[str, Any], first: dict[str, Any]) -> None:
    assert chunk.get("object") == "chat.completion.chunk", chunk
    assert isinstance(chunk.get("id"), str) and chunk["id"], chunk
    assert chunk["id"] == first["id"], "chunk ids differ"
    assert isinstance(chunk.get("created"), int), chunk
    assert isinstance(chunk.get("model"), str), chunk
    assert isinstance(chunk.get("choices"), list), chunk


def _check_usage(usage: Any) -> None:
    assert isinstance(usage, dict), usage
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert isinstance(usage.get(key), int) and usage[key] >= 0, usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"], usage


class _State:
    def __init__(self) -> None:
        self.tools: dict[int, str] = {}
        self.finished = False
        self.usage_chunks = 0

    def tool_fragment(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index")
        assert isinstance(index, int), fragment
        function = fragment.get("function")
        assert isinstance(function, dict), fragment
        if index not in self.tools:
            assert index == len(self.tools), f"tool index {index} is not the next ordinal"
            assert isinstance(fragment.get("id"), str) and fragment["id"], fragment
            assert fragment.get("type") == "function", fragment
            assert isinstance(function.get("name"), str), fragment
            assert isinstance(function.get("arguments"), str), fragment
            self.tools[index] = fragment["id"]
        else:
            assert "id" not in fragment and "name" not in function, fragment
            assert isinstance(function.get("arguments"), str), fragment

    def chunk(self, chunk: dict[str, Any]) -> None:
        choices = chunk["choices"]
        if not choices:
            assert self.finished, "usage chunk before the finish chunk"
            _check_usage(chunk.get("usage"))
            self.usage_chunks += 1
            assert self.usage_chunks == 1, "more than one usage chunk"
            return
        assert not self.finished, "chunk after the finish chunk"
        assert len(choices) == 1 and choices[0].get("index") == 0, chunk
        choice = choices[0]
        delta = choice.get("delta")
        assert isinstance(delta, dict), chunk
        for key in ("content", "reasoning_content"):
            assert delta.get(key) is None or isinstance(delta[key], str), chunk
        for fragment in delta.get("tool_calls") or ():
            self.tool_fragment(fragment)
        reason = choice.get("finish_reason")
        if reason is not None:
            assert reason in FINISH_REASONS, chunk
            self.finished = True


def validate_stream(raw: bytes) -> list[dict[str, Any]]:
    events = _events(raw)
    assert events, "empty stream"
    chunks: list[dict[str, Any]] = []
    state = _State()
    for position, data in enumerate(events):
        last = position == len(events) - 1
        if data == "[DONE]":
            assert last, "[DONE] is not last"
            assert state.finished, "[DONE] without a finish chunk"
            return chunks
        chunk = orjson.loads(data)
        assert isinstance(chunk, dict), data
        chunks.append(chunk)
        if "error" in chunk:
            _check_error(chunk)
            assert last, "events after the error chunk"
            assert not state.finished, "error chunk after the finish chunk"
            return chunks
        _check_envelope(chunk, chunks[0])
        if len(chunks) == 1:
            assert chunk["choices"] and chunk["choices"][0]["delta"].get("role") == "assistant"
        state.chunk(chunk)
    raise AssertionError("stream ends without [DONE] or an error chunk")
