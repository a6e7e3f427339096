"""Hostile inputs for every format: whatever a client or an upstream sends, a parser either maps
it or raises ``ir.FormatError`` (never another exception), and what it maps renders into a body
every family's own parser accepts.

Hand-made cases: empty parts and content lists, missing tool ids, non-object and invalid-JSON
tool arguments, null content, unknown part types, unknown stream event types, truncated SSE,
interleaved tool-call deltas, a tool result whose call is missing, a ``functionResponse`` with no
name, huge text; plus fuzzing of wrong types into valid bodies, responses and stream events.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats import aggregate, ir, sse
from cliproxy_cli.formats.registry import FORMATS
from tests.formats.strategies import event_sequences, requests, responses
from tests.formats.test_cross import (
    ALL,
    ANTHROPIC,
    CHAT,
    GEMINI,
    RESPONSES,
    VALIDATORS,
    _check_target_body,
    read_stream,
    render_events,
    translate,
    wire,
)

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(fmt: ir.Format, body: Any) -> ir.Request:
    return FORMATS[fmt].parse_request(body)


def everywhere(request: ir.Request, check: bool = True) -> dict[ir.Format, ir.Request]:
    """``request`` rendered into every family (the bodies checked against the wire rules a
    parser does not notice, unless the input itself breaks them) and parsed back there."""
    out = {}
    for target in ALL:
        body = wire(FORMATS[target].render_request(request))
        if check:
            _check_target_body(body, target)
        out[target] = FORMATS[target].parse_request(body)
    return out


def parts(request: ir.Request, kind: type) -> list[Any]:
    return [p for m in request.messages for p in m.parts if isinstance(p, kind)]


def assert_paired(request: ir.Request) -> None:
    """Every call has an id, every result answers a call made before it."""
    seen: set[str] = set()
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, ir.ToolCall):
                assert part.id, part
                seen.add(part.id)
            elif isinstance(part, ir.ToolResult):
                assert part.call_id in seen, (part, seen)


def texts(request: ir.Request) -> list[str]:
    return [p.text for p in parts(request, ir.Text) if p.text]


# --- one conversation in each family's words: helpers to build hostile variants -----------------


def _chat(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **extra}


def _anthropic(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 100, "messages": list(messages), **extra}


def _responses(*items: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "input": list(items), **extra}


def _gemini(*contents: Any, **extra: Any) -> dict[str, Any]:
    return {"contents": list(contents), **extra}


U = {"role": "user", "content": "hi"}
GU = {"role": "user", "parts": [{"text": "hi"}]}

# --- empty parts / content lists, null content ----------------------------------------------

EMPTY_AND_NULL: list[tuple[ir.Format, Any]] = [
    (CHAT, _chat(U, {"role": "user", "content": []}, {"role": "assistant", "content": []},
                 {"role": "assistant", "content": None}, {"role": "user", "content": None},
                 {"role": "system", "content": []}, {"role": "user", "content": ""})),
    (CHAT, _chat(U, {"role": "assistant", "content": None, "tool_calls": []},
                 {"role": "assistant", "content": None,
                  "tool_calls": [{"id": "c1", "type": "function",
                                  "function": {"name": "f", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": "c1", "content": None})),
    (ANTHROPIC, _anthropic(U, {"role": "assistant", "content": []},
                           {"role": "user", "content": None}, {"role": "assistant", "content": ""},
                           system=[])),
    (ANTHROPIC, _anthropic(U, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": []}]})),
    (RESPONSES, _responses({"role": "user", "content": []}, {"role": "assistant", "content": None},
                           {"type": "message", "role": "user", "content": ""},
                           {"type": "reasoning", "summary": []}, instructions="")),
    (RESPONSES, _responses({"role": "user", "content": "hi"},
                           {"type": "function_call", "call_id": "c1", "name": "f",
                            "arguments": ""},
                           {"type": "function_call_output", "call_id": "c1", "output": None},
                           {"type": "function_call_output", "call_id": "c1", "output": []})),
    (RESPONSES, _responses(input=None)),
    (GEMINI, _gemini({"role": "user", "parts": []}, {"role": "model", "parts": None},
                     {"role": "user"}, {"parts": [{"text": ""}]}, GU,
                     systemInstruction={"parts": []})),
    (GEMINI, _gemini(GU, {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                     {"role": "user", "parts": [{"functionResponse": {"name": "f"}}]})),
]


@pytest.mark.parametrize(("fmt", "body"), EMPTY_AND_NULL, ids=lambda v: str(v)[:30])
def test_empty_and_null_content_parse_and_render_everywhere(fmt: ir.Format, body: Any) -> None:
    request = parse(fmt, body)
    for target, back in everywhere(request).items():
        assert texts(back) == texts(request), target
        assert_paired(back)


# --- missing tool ids -------------------------------------------------------------------------

MISSING_IDS: list[tuple[ir.Format, Any]] = [
    (CHAT, _chat(U, {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "content": "one"}, {"role": "tool", "tool_call_id": "", "content": "two"})),
    (RESPONSES, _responses({"role": "user", "content": "hi"},
                           {"type": "function_call", "name": "f", "arguments": "{}"},
                           {"type": "function_call", "id": "fc_2", "name": "g", "arguments": "{}"},
                           {"type": "function_call_output", "output": "one"},
                           {"type": "function_call_output", "output": "two"})),
    (ANTHROPIC, _anthropic(U, {"role": "assistant", "content": [
        {"type": "tool_use", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "content": "one"}]})),
    (GEMINI, _gemini(GU, {"role": "model", "parts": [
        {"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {"r": 2}}},
                                   {"functionResponse": {"name": "f", "response": {"r": 1}}}]})),
]


def _answers(request: ir.Request) -> set[tuple[str, Any]]:
    """(name of the call answered, result text) for every tool result; JSON compared parsed."""
    names = {c.id: c.name for c in parts(request, ir.ToolCall)}
    out = set()
    for result in parts(request, ir.ToolResult):
        text = "\n".join(c.text for c in result.content if isinstance(c, ir.Text))
        try:
            value: Any = orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            value = text
        out.add((names.get(result.call_id, result.name), value))
    return out


@pytest.mark.parametrize(("fmt", "body"), MISSING_IDS, ids=lambda v: str(v)[:30])
def test_missing_tool_ids_still_pair_calls_and_results(fmt: ir.Format, body: Any) -> None:
    request = parse(fmt, body)
    if fmt is not ANTHROPIC:  # Anthropic keeps the empty id (its tool_result has none either)
        assert_paired(request)
    answers = _answers(request)
    assert len(answers) == len(parts(request, ir.ToolResult))
    for target, back in everywhere(request).items():
        assert [c.name for c in parts(back, ir.ToolCall)] == [
            c.name for c in parts(request, ir.ToolCall)], target
        assert_paired(back)
        assert _answers(back) == answers, target


def test_gemini_function_responses_without_ids_pair_by_name_across_targets() -> None:
    request = parse(GEMINI, MISSING_IDS[-1][1])
    by_name = {r.name: orjson.loads(r.content[0].text) for r in parts(request, ir.ToolResult)}
    assert by_name == {"f": {"r": 1}, "g": {"r": 2}}
    for target, back in everywhere(request).items():
        names = {c.id: c.name for c in parts(back, ir.ToolCall)}
        got = {names[r.call_id]: orjson.loads(r.content[0].text)
               for r in parts(back, ir.ToolResult)}
        assert got == by_name, target


# --- a tool result whose call is missing; a functionResponse with no name ----------------------

ORPHANS: list[tuple[ir.Format, Any]] = [
    (CHAT, _chat(U, {"role": "tool", "tool_call_id": "ghost", "content": "late"})),
    (CHAT, _chat(U, {"role": "tool", "content": "late"})),
    (RESPONSES, _responses({"role": "user", "content": "hi"},
                           {"type": "function_call_output", "call_id": "ghost", "output": "late"})),
    (ANTHROPIC, _anthropic({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "ghost", "content": "late"}]})),
    (GEMINI, _gemini({"role": "user", "parts": [
        {"functionResponse": {"name": "ghost", "response": {"result": "late"}}}]})),
    (GEMINI, _gemini({"role": "user", "parts": [
        {"functionResponse": {"response": {"result": "late"}}}]})),
]


@pytest.mark.parametrize(("fmt", "body"), ORPHANS, ids=lambda v: str(v)[:30])
def test_a_result_without_its_call_parses_and_renders_everywhere(fmt: ir.Format,
                                                                  body: Any) -> None:
    request = parse(fmt, body)
    (result,) = parts(request, ir.ToolResult)
    assert result.call_id
    # The orphan is passed on as sent: the upstream rejects it as the client's own API would.
    for target, back in everywhere(request, check=False).items():
        (again,) = parts(back, ir.ToolResult)
        assert [c.text for c in again.content] == ["late"], target
        if not fmt is target is GEMINI:  # an id Gemini did not send is minted again there
            assert again.call_id == result.call_id, target


def test_a_function_response_with_no_name_answers_the_oldest_unanswered_call() -> None:
    body = _gemini(GU, {"role": "model", "parts": [
        {"functionCall": {"name": "first", "args": {}}},
        {"functionCall": {"name": "second", "args": {}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "second", "response": {"result": "2"}}},
            {"functionResponse": {"response": {"result": "1"}}}]})
    request = parse(GEMINI, body)
    results = {r.name: r.content[0].text for r in parts(request, ir.ToolResult)}
    assert results == {"first": "1", "second": "2"}
    assert_paired(request)
    for target, back in everywhere(request).items():
        names = {c.id: c.name for c in parts(back, ir.ToolCall)}
        assert {names[r.call_id]: r.content[0].text for r in parts(back, ir.ToolResult)} == (
            results), target
        body_out = FORMATS[target].render_request(request)
        if target is GEMINI:
            responses_out = [p["functionResponse"] for c in body_out["contents"]
                             for p in c["parts"] if "functionResponse" in p]
            assert [r["name"] for r in responses_out] == ["second", "first"]


# --- non-object and invalid-JSON tool arguments --------------------------------------------------

_BAD_ARGS: list[tuple[Any, dict[str, Any]]] = [
    ("not json", {"value": "not json"}), ("[1, 2]", {"value": [1, 2]}), ("3", {"value": 3}),
    ("", {}), ("null", {}), ('"text"', {"value": "text"}), ('{"a": 1', {"value": '{"a": 1'}),
]


def _with_args(fmt: ir.Format, raw: Any) -> Any:
    if fmt is CHAT:
        return _chat(U, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": raw}}]})
    if fmt is RESPONSES:
        return _responses({"role": "user", "content": "hi"},
                          {"type": "function_call", "call_id": "c1", "name": "f",
                           "arguments": raw})
    if fmt is ANTHROPIC:
        return _anthropic(U, {"role": "assistant", "content": [
            {"type": "tool_use", "id": "c1", "name": "f", "input": raw}]})
    return _gemini(GU, {"role": "model", "parts": [{"functionCall": {"name": "f", "args": raw}}]})


@pytest.mark.parametrize("fmt", ALL, ids=str)
@pytest.mark.parametrize(("raw", "expected"), _BAD_ARGS, ids=repr)
def test_bad_tool_arguments_become_objects_everywhere(fmt: ir.Format, raw: Any,
                                                      expected: dict[str, Any]) -> None:
    request = parse(fmt, _with_args(fmt, raw))
    (call,) = parts(request, ir.ToolCall)
    assert dict(call.arguments) == expected  # ir.coerce_arguments, whatever the family
    for target, back in everywhere(request).items():
        (again,) = parts(back, ir.ToolCall)
        assert dict(again.arguments) == dict(call.arguments), target


@pytest.mark.parametrize("fmt", ALL, ids=str)
@pytest.mark.parametrize("raw", [[1, 2], 3, None, True, {"ok": [1]}], ids=repr)
def test_non_object_argument_values_become_objects(fmt: ir.Format, raw: Any) -> None:
    request = parse(fmt, _with_args(fmt, raw))
    (call,) = parts(request, ir.ToolCall)
    assert isinstance(call.arguments, dict)
    for target, back in everywhere(request).items():
        assert parts(back, ir.ToolCall)[0].arguments == call.arguments, target


# --- unknown part types ------------------------------------------------------------------------

UNKNOWN_PARTS: list[tuple[ir.Format, Any, Callable[[dict[str, Any]], bool]]] = [
    (CHAT, _chat({"role": "user", "content": [
        {"type": "text", "text": "hi"}, {"type": "input_audio", "input_audio": {"data": "AA=="}},
        {"type": "file", "file": {"file_id": "f1"}}]}),
     lambda b: b["messages"][0]["content"][1]["type"] == "input_audio"),
    (ANTHROPIC, _anthropic({"role": "user", "content": [
        {"type": "text", "text": "hi"},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
        {"type": "brand_new", "x": 1}]}),
     lambda b: [c["type"] for c in b["messages"][0]["content"]] == ["text", "document",
                                                                   "brand_new"]),
    (RESPONSES, _responses({"role": "user", "content": [
        {"type": "input_text", "text": "hi"}, {"type": "input_file", "file_id": "f1"},
        {"type": "input_audio", "data": "AA=="}]}, {"type": "web_search_call", "id": "ws_1"}),
     lambda b: b["input"][0]["content"][1]["type"] == "input_file"
     and b["input"][1]["type"] == "web_search_call"),
    (GEMINI, _gemini({"role": "user", "parts": [
        {"text": "hi"}, {"executableCode": {"language": "PYTHON", "code": "1"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "AA=="}}, {"mystery": {}}]}),
     lambda b: [next(iter(p)) for p in b["contents"][0]["parts"]] == [
         "text", "executableCode", "inlineData", "mystery"]),
]


@pytest.mark.parametrize(("fmt", "body", "kept"), UNKNOWN_PARTS, ids=lambda v: str(v)[:20])
def test_unknown_part_types_survive_their_family_and_drop_elsewhere(
        fmt: ir.Format, body: Any, kept: Callable[[dict[str, Any]], bool]) -> None:
    request = parse(fmt, body)
    assert texts(request) == ["hi"]
    assert kept(wire(FORMATS[fmt].render_request(request)))
    for target, back in everywhere(request).items():
        assert texts(back) == ["hi"], target


# --- wrong types: FormatError, never another exception ------------------------------------------

_NOT_OBJECTS: tuple[Any, ...] = (None, [], "text", 3, True)
WRONG_TYPES: list[tuple[ir.Format, Any]] = [
    *((fmt, body) for fmt in ALL for body in _NOT_OBJECTS),
    (CHAT, {"messages": "hi"}), (CHAT, {"messages": [3]}), (CHAT, {"messages": [{"role": 1}]}),
    (CHAT, _chat({"role": "user", "content": 3})),
    (CHAT, _chat({"role": "user", "content": [{"type": "text", "text": 3}]})),
    (CHAT, _chat({"role": "user", "content": [3]})),
    (CHAT, _chat({"role": "assistant", "tool_calls": {"id": "x"}})),
    (CHAT, _chat({"role": "assistant", "tool_calls": [{"function": "f"}]})),
    (CHAT, _chat({"role": "tool", "tool_call_id": 5, "content": "x"})),
    (CHAT, _chat(U, tools=[{"type": "function", "function": {"name": 3}}])),
    (CHAT, _chat(U, max_tokens="10")), (CHAT, _chat(U, temperature="hot")),
    (CHAT, _chat(U, stop=[1])), (CHAT, _chat(U, stream="yes")),
    (ANTHROPIC, {"messages": []}), (ANTHROPIC, _anthropic({"role": "robot", "content": "x"})),
    (ANTHROPIC, _anthropic({"role": "user", "content": 3})),
    (ANTHROPIC, _anthropic({"role": "user", "content": [{"type": "text"}]})),
    (ANTHROPIC, _anthropic({"role": "user", "content": [{"text": "no type"}]})),
    (ANTHROPIC, _anthropic({"role": "user", "content": [{"type": "image", "source": "x"}]})),
    (ANTHROPIC, _anthropic({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]})),
    (ANTHROPIC, _anthropic(U, tools=[{"name": 3}])), (ANTHROPIC, _anthropic(U, tools={})),
    (ANTHROPIC, _anthropic(U, max_tokens="many")), (ANTHROPIC, _anthropic(U, thinking="on")),
    (ANTHROPIC, _anthropic(U, tool_choice={"type": "sometimes"})),
    (ANTHROPIC, _anthropic(U, stop_sequences="END")), (ANTHROPIC, _anthropic(U, metadata=[])),
    (RESPONSES, {"input": "hi"}), (RESPONSES, _responses(3)),
    (RESPONSES, {"model": "m", "input": 3}),
    (RESPONSES, _responses({"role": "wizard", "content": "x"})),
    (RESPONSES, _responses({"role": "user", "content": [{"type": "input_text", "text": 3}]})),
    (RESPONSES, _responses({"type": "function_call", "name": 3})),
    (RESPONSES, _responses({"type": "function_call_output", "output": "x"})),
    (RESPONSES, _responses(tools=[{"type": "function", "name": 3}])),
    (RESPONSES, _responses(tools=[{"type": "function", "name": "f", "parameters": []}])),
    (RESPONSES, _responses(max_output_tokens=1.5)), (RESPONSES, _responses(reasoning="high")),
    (RESPONSES, _responses(text={"format": "json"})), (RESPONSES, _responses(tool_choice=3)),
    (GEMINI, {"contents": "hi"}), (GEMINI, {}), (GEMINI, _gemini(3)),
    (GEMINI, _gemini({"role": "user", "parts": "hi"})),
    (GEMINI, _gemini({"role": "user", "parts": [3]})),
    (GEMINI, _gemini({"role": "user", "parts": [{"text": 3}]})),
    (GEMINI, _gemini({"role": "model", "parts": [{"functionCall": {"args": {}}}]})),
    (GEMINI, _gemini({"role": "model", "parts": [{"functionCall": "f"}]})),
    (GEMINI, _gemini({"role": "user", "parts": [{"functionResponse": {"name": 3}}]})),
    (GEMINI, _gemini({"role": "user", "parts": [{"inlineData": {"mimeType": 3}}]})),
    (GEMINI, _gemini(GU, tools=[{"functionDeclarations": [{"name": "f", "parameters": 3}]}])),
    (GEMINI, _gemini(GU, generationConfig={"maxOutputTokens": "lots"})),
    (GEMINI, _gemini(GU, generationConfig={"thinkingConfig": {"includeThoughts": "yes"}})),
    (GEMINI, _gemini(GU, toolConfig={"functionCallingConfig": {"mode": 3}})),
    (GEMINI, _gemini(GU, systemInstruction=3)),
]


@pytest.mark.parametrize(("fmt", "body"), WRONG_TYPES, ids=lambda v: str(v)[:40])
def test_wrong_types_raise_format_error(fmt: ir.Format, body: Any) -> None:
    with pytest.raises(ir.FormatError):
        parse(fmt, body)


_JUNK = st.one_of(
    # Numbers stay below 2**63: a count beyond that would not encode as JSON again (not fixed:
    # no upstream sends one, and a client's only reaches a 500 through its own absurd value).
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1e12, 1e12),
    st.text(max_size=4), st.lists(st.integers(0, 2), max_size=2),
    st.dictionaries(st.sampled_from(["type", "text", "role", "name", "id", "x"]),
                    st.text(max_size=3) | st.integers(0, 2), max_size=2),
)


def _slots(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((value, key))
            _slots(item, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.append((value, i))
            _slots(item, out)
    return out


@st.composite
def mutated(draw: st.DrawFn, body: Any) -> Any:
    """``body`` with one to three values replaced by junk of another type or removed."""
    body = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(body, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(_JUNK)
    return body


@pytest.mark.parametrize("fmt", ALL, ids=str)
@FUZZ
@given(data=st.data())
def test_mutated_requests_parse_or_raise_format_error(fmt: ir.Format,
                                                      data: st.DataObject) -> None:
    body = wire(FORMATS[fmt].render_request(data.draw(requests())))
    try:
        request = parse(fmt, data.draw(mutated(body)))
    except ir.FormatError:
        return
    for target in ALL:
        rendered = wire(FORMATS[target].render_request(request))
        try:
            FORMATS[target].parse_request(rendered)
        except ir.FormatError:
            # What parses renders into a body every family accepts, unless the client named a
            # function "" (every API rejects that; it is passed on for the upstream to say so).
            assert _nameless(request), target


def _nameless(request: ir.Request) -> bool:
    return any(not t.name for t in request.tools) or any(
        not p.name for p in parts(request, ir.ToolCall))


@pytest.mark.parametrize("fmt", ALL, ids=str)
@FUZZ
@given(data=st.data())
def test_mutated_responses_parse_or_raise_format_error(fmt: ir.Format,
                                                       data: st.DataObject) -> None:
    module = FORMATS[fmt]
    body = wire(module.render_response(data.draw(responses()), ir.Request("m", ())))
    try:
        response = module.parse_response(data.draw(mutated(body)))
    except ir.FormatError:
        return
    for target in ALL:
        rendered = wire(FORMATS[target].render_response(response, ir.Request("m", ())))
        try:
            FORMATS[target].parse_response(rendered)
        except ir.FormatError:
            # Responses keeps a nameless call (its own tests pin that); Gemini rejects one.
            assert any(isinstance(p, ir.ToolCall) and not p.name for p in response.parts)


# --- streams: unknown events, mutated events, truncation -----------------------------------------


def parse_bytes(raw: bytes, fmt: ir.Format) -> list[ir.StreamEvent]:
    decoder, parser = sse.SSEDecoder(), FORMATS[fmt].parse_stream()
    events: list[ir.StreamEvent] = []
    for event in decoder.feed(raw) + decoder.close():
        events += parser.feed(event)
    return events + parser.close()


def outcome(events: list[ir.StreamEvent]) -> Any:
    """The response a stream adds up to, or its error."""
    try:
        return aggregate.aggregate(events)
    except ir.FormatError as exc:
        return ("error", str(exc))


def _broken_arguments(events: list[ir.StreamEvent]) -> bool:
    """Whether a tool block that was stopped holds arguments that are not a JSON object (an
    upstream's garbage: a streaming renderer cannot take back fragments it already sent)."""
    args: dict[int, list[str]] = {}
    broken = False
    for event in events:
        if isinstance(event, ir.BlockStart) and event.kind == "tool_call":
            args[event.index] = []
        elif isinstance(event, ir.ToolArgsDelta) and event.index in args:
            args[event.index].append(event.fragment)
        elif isinstance(event, ir.BlockStop) and args.get(event.index):
            try:
                broken |= not isinstance(orjson.loads("".join(args[event.index])), dict)
            except orjson.JSONDecodeError:
                broken = True
    return broken


def assert_renders_everywhere(events: list[ir.StreamEvent]) -> None:
    broken = _broken_arguments(events)
    for target in ALL:
        raw = render_events(events, target)
        try:
            VALIDATORS[target](raw)
        except (orjson.JSONDecodeError, AssertionError) as exc:
            # Only Anthropic checks that tool input joins to an object; garbage stays garbage.
            if not (broken and target is ANTHROPIC):
                raise
            assert isinstance(exc, orjson.JSONDecodeError) or "join to an object" in str(exc)


_GARBAGE = [
    b": keep-alive\n\n", b"event: ping\ndata: {\"type\": \"ping\"}\n\n",
    b"data: {\"type\": \"mystery.event\", \"x\": 1}\n\n", b"event: mystery\ndata: {}\n\n",
    b"data: not json\n\n", b"data: [1, 2]\n\n", b"data: 42\n\n", b"data: \n\n",
    b"retry: 100\n\n", b"id: 7\n\n",
]


def _frames(raw: bytes) -> list[bytes]:
    return [f + b"\n\n" for f in raw.split(b"\n\n") if f]


@pytest.mark.parametrize("fmt", ALL, ids=str)
@FUZZ
@given(events=event_sequences(ends=("stop",)), data=st.data())
def test_unknown_stream_events_are_ignored(fmt: ir.Format, events: list[ir.StreamEvent],
                                           data: st.DataObject) -> None:
    frames = _frames(render_events(events, fmt))
    noisy = [frames[0]]
    for frame in frames[1:]:
        noisy += data.draw(st.lists(st.sampled_from(_GARBAGE), max_size=2))
        noisy.append(frame)
    clean = outcome(parse_bytes(b"".join(frames), fmt))
    heard = parse_bytes(b"".join(noisy), fmt)
    assert outcome(heard) == clean
    assert_renders_everywhere(heard)


@pytest.mark.parametrize("fmt", ALL, ids=str)
@FUZZ
@given(events=event_sequences(), data=st.data())
def test_mutated_stream_events_never_break_the_parser(fmt: ir.Format,
                                                      events: list[ir.StreamEvent],
                                                      data: st.DataObject) -> None:
    frames = []
    for frame in _frames(render_events(events, fmt)):
        head, _, payload = frame.rstrip(b"\n").rpartition(b"data: ")
        try:
            decoded = orjson.loads(payload)
        except orjson.JSONDecodeError:
            frames.append(frame)
            continue
        if data.draw(st.integers(0, 3)) == 0:
            decoded = data.draw(mutated(decoded))
        frames.append(head + b"data: " + orjson.dumps(decoded) + b"\n\n")
    heard = parse_bytes(b"".join(frames), fmt)
    assert isinstance(heard[-1], ir.MessageStop | ir.StreamError)
    assert_renders_everywhere(heard)


@pytest.mark.parametrize("fmt", ALL, ids=str)
@FUZZ
@given(events=event_sequences(ends=("stop",)), data=st.data())
def test_truncated_streams_end_in_an_error_and_stay_valid_everywhere(
        fmt: ir.Format, events: list[ir.StreamEvent], data: st.DataObject) -> None:
    raw = render_events(events, fmt)
    cut = data.draw(st.integers(0, len(raw) - 1))
    heard = parse_bytes(raw[:cut], fmt)
    assert heard, "a cut stream still reports something"
    # A cut after the terminal event (in its trailer, before [DONE]) still ends cleanly, with
    # everything said (a Chat usage chunk may be what was cut).
    assert isinstance(heard[-1], ir.StreamError | ir.MessageStop)
    if isinstance(heard[-1], ir.MessageStop):
        full = aggregate.aggregate(parse_bytes(raw, fmt))
        got = aggregate.aggregate(heard)
        assert (got.parts, got.stop_reason) == (full.parts, full.stop_reason)
    assert_renders_everywhere(heard)
    for target in ALL:
        content = read_stream(translate(raw[:cut], fmt, target), target)
        assert content.ended == ("stop" if isinstance(heard[-1], ir.MessageStop) else "error")


# --- interleaved tool-call deltas ----------------------------------------------------------------


def _chat_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return sse.encode(orjson.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1,
                                    "model": "m", "choices": [{"index": 0, "delta": delta,
                                                               "finish_reason": finish}]}))


def _fragment(index: int, args: str, call_id: str = "", name: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if call_id:
        out |= {"id": call_id, "type": "function"}
        out["function"]["name"] = name
    return out


CHAT_INTERLEAVED = b"".join([
    _chat_chunk({"role": "assistant", "content": ""}),
    _chat_chunk({"tool_calls": [_fragment(0, "", "call_a", "alpha")]}),
    _chat_chunk({"tool_calls": [_fragment(1, '{"b"', "call_b", "beta")]}),
    _chat_chunk({"tool_calls": [_fragment(0, '{"a": ')]}),
    _chat_chunk({"tool_calls": [_fragment(1, ": 2}"), _fragment(0, "1}")]}),
    _chat_chunk({}, "tool_calls"), b"data: [DONE]\n\n",
])
# Some OpenAI-compatible upstreams send every parallel call under index 0, told apart by id.
CHAT_SAME_INDEX = b"".join([
    _chat_chunk({"role": "assistant"}),
    _chat_chunk({"tool_calls": [_fragment(0, '{"a": 1}', "call_a", "alpha")]}),
    _chat_chunk({"tool_calls": [_fragment(0, '{"b": 2}', "call_b", "beta")]}),
    _chat_chunk({}, "tool_calls"), b"data: [DONE]\n\n",
])


def _responses_events(*events: dict[str, Any]) -> bytes:
    return b"".join(sse.encode(orjson.dumps({**e, "sequence_number": n}), e["type"])
                    for n, e in enumerate(events))


def _call_item(n: int, status: str, arguments: str = "") -> dict[str, Any]:
    return {"id": f"fc_{n}", "type": "function_call", "status": status, "call_id": f"call_{n}",
            "name": ["alpha", "beta"][n], "arguments": arguments}


_RESPONSE = {"id": "resp_1", "object": "response", "model": "m", "output": []}
RESPONSES_INTERLEAVED = _responses_events(
    {"type": "response.created", "response": {**_RESPONSE, "status": "in_progress"}},
    {"type": "response.output_item.added", "output_index": 0, "item": _call_item(0, "in_progress")},
    {"type": "response.output_item.added", "output_index": 1, "item": _call_item(1, "in_progress")},
    {"type": "response.function_call_arguments.delta", "output_index": 1, "item_id": "fc_1",
     "delta": '{"b": '},
    {"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_0",
     "delta": '{"a": 1'},
    {"type": "response.function_call_arguments.delta", "output_index": 1, "item_id": "fc_1",
     "delta": "2}"},
    {"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_0",
     "delta": "}"},
    {"type": "response.output_item.done", "output_index": 1,
     "item": _call_item(1, "completed", '{"b": 2}')},
    {"type": "response.output_item.done", "output_index": 0,
     "item": _call_item(0, "completed", '{"a": 1}')},
    {"type": "response.completed", "response": {
        **_RESPONSE, "status": "completed",
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}}},
)


# An item's done event without its output_index still finds the item (by id), not a new one.
RESPONSES_DONE_WITHOUT_INDEX = RESPONSES_INTERLEAVED.replace(
    b'"type":"response.output_item.done","output_index":1',
    b'"type":"response.output_item.done","output_index":null')


@pytest.mark.parametrize(("fmt", "raw"), [
    (CHAT, CHAT_INTERLEAVED), (CHAT, CHAT_SAME_INDEX), (RESPONSES, RESPONSES_INTERLEAVED),
    (RESPONSES, RESPONSES_DONE_WITHOUT_INDEX),
], ids=["chat", "chat-same-index", "responses", "responses-done-without-index"])
def test_interleaved_tool_call_deltas_keep_each_call_whole(fmt: ir.Format, raw: bytes) -> None:
    assert raw is not RESPONSES_DONE_WITHOUT_INDEX or b'"output_index":null' in raw
    response = aggregate.aggregate(parse_bytes(raw, fmt))
    calls = sorted((p.id, p.name, dict(p.arguments)) for p in response.parts
                   if isinstance(p, ir.ToolCall))
    assert calls == [("call_a" if fmt is CHAT else "call_0", "alpha", {"a": 1}),
                     ("call_b" if fmt is CHAT else "call_1", "beta", {"b": 2})]
    assert response.stop_reason is ir.StopReason.TOOL_USE
    for target in ALL:
        got = read_stream(translate(raw, fmt, target), target)
        assert sorted(got.calls) == calls, target
        assert got.ended == "stop"


# --- huge text ---------------------------------------------------------------------------------

HUGE = "All work and no play makes Jack a dull boy. " * 25_000  # 1.1 MB


@pytest.mark.parametrize("fmt", ALL, ids=str)
def test_huge_text_crosses_every_family_intact(fmt: ir.Format) -> None:
    request = ir.Request("m", (ir.Message(ir.Role.USER, (ir.Text(HUGE),)),),
                         system=(ir.Text(HUGE[:1000]),))
    parsed = parse(fmt, wire(FORMATS[fmt].render_request(request)))
    for target, back in everywhere(parsed).items():
        assert texts(back) == [HUGE], target
    events: list[ir.StreamEvent] = [
        ir.MessageStart("m1", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, HUGE),
        ir.TextDelta(0, HUGE[:10]), ir.BlockStop(0), ir.MessageStop(ir.StopReason.END_TURN)]
    raw = render_events(events, fmt)
    for target in ALL:
        assert read_stream(translate(raw, fmt, target, chunk=65536), target).text_emitted == (
            HUGE + HUGE[:10]), target
