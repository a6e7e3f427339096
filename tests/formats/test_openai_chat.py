"""OpenAI Chat Completions ⇄ IR: golden fixtures, round trips, streams, errors, legacy completions.

Documented round-trip normalisations (``render_request(parse_request(x))`` differs from ``x``):
- a content array holding exactly one plain text part renders as a string; ``content: []``
  and ``null`` user content render as ``""``; an assistant ``content: ""`` next to tool calls
  renders as ``null`` (and ``null`` without tool calls as ``""``);
- ``stop: ["x"]`` renders as ``"x"``; ``stop: []``, ``stream: false``, an empty ``user`` and an
  empty function ``description`` are dropped;
- ``stream: true`` always gets ``stream_options: {"include_usage": true}`` (usage accounting);
  other ``stream_options`` keys are dropped;
- a function without ``parameters`` gets ``{"type": "object", "properties": {}}``; a tool call
  without ``type`` gets ``"function"``; a missing ``json_schema.name`` becomes ``"response"``;
- ``tool_choice`` and ``parallel_tool_calls`` are dropped when there are no tools;
- ``reasoning`` (OpenRouter) in a response renders as ``reasoning_content``;
- a response always carries ``prompt_tokens_details.cached_tokens`` and
  ``completion_tokens_details.reasoning_tokens``, ``total_tokens`` is recomputed, and a
  ``stop`` finish next to tool calls becomes ``tool_calls``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from cliproxy_cli.formats import ir
from cliproxy_cli.formats import openai_chat as chat
from cliproxy_cli.formats.sse import SSEDecoder, SSEEvent
from tests.formats.validate_openai_chat import validate_stream

DATA = Path(__file__).parent.parent / "data" / "openai_chat"
REQUEST_FIXTURES = sorted(p.name for p in DATA.glob("request_*.json"))
STREAM_FIXTURES = sorted(p.name for p in DATA.glob("stream_*.sse"))
EMPTY_REQUEST = ir.Request(model="", messages=())


def load(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


def sse(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.close()


def parse_sse(raw: bytes) -> list[ir.StreamEvent]:
    parser = chat.parse_stream()
    out: list[ir.StreamEvent] = []
    for event in sse(raw):
        out.extend(parser.feed(event))
    return out + parser.close()


def render_events(events: list[ir.StreamEvent], request: ir.Request = EMPTY_REQUEST,
                  close: bool = True) -> bytes:
    renderer = chat.render_stream(request)
    raw = b"".join(renderer.feed(e) for e in events)
    return raw + renderer.close() if close else raw


def sdk_client(raw: bytes) -> openai.OpenAI:
    """An OpenAI client whose every request gets ``raw`` back as an event stream."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=raw, headers={"content-type": "text/event-stream"})

    return openai.OpenAI(api_key="k", base_url="http://proxy/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def sdk_chunks(raw: bytes) -> list[Any]:
    with sdk_client(raw) as client:
        return list(client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True))


# --- requests: golden fixtures -----------------------------------------------------------------


def test_sdk_request_hoists_the_system_message() -> None:
    request = chat.parse_request(load("request_sdk_basic.json"))
    assert request.source is ir.Format.OPENAI_CHAT
    assert request.model == "gpt-4o-mini"
    assert request.system == (ir.Text("You are a terse assistant."),)
    assert request.messages == (ir.Message(ir.Role.USER, (ir.Text("Say hello."),)),)
    assert request.max_tokens == 64
    assert request.extras == {}


def test_agent_request_maps_every_field() -> None:
    request = chat.parse_request(load("request_agent_tools.json"))
    assert request.system == (ir.Text("be brief"),)
    user, assistant, results = request.messages
    assert user.parts == (
        ir.Text("what is in this image?"),
        ir.Image(media_type="image/png", data="iVBORw0KGgo=",
                 extras={"image_url": {"detail": "auto"}}),
    )
    assert assistant.role is ir.Role.ASSISTANT
    assert assistant.parts == (
        ir.Reasoning("The user wants the weather."),
        ir.ToolCall("call_1", "get_weather", {"city": "Paris"}),
    )
    assert results.role is ir.Role.USER
    assert results.parts == (ir.ToolResult("call_1", (ir.Text("18C sunny"),), "get_weather"),)
    (tool,) = request.tools
    assert tool.name == "get_weather"
    assert tool.description == "Current weather for a city"
    assert tool.parameters["required"] == ["city"]
    assert tool.extras == {"function": {"strict": False}}
    assert request.tool_choice == ir.ToolChoice("auto")
    assert request.parallel_tool_calls is True
    assert request.temperature == 0.7 and request.top_p == 1.0
    assert request.max_tokens == 1024
    assert request.stop == ("\n\n", "END")
    assert request.reasoning == ir.ReasoningConfig(effort="medium")
    assert request.response_format == ir.ResponseFormat("json_schema", {"type": "object"},
                                                        "weather", True)
    assert request.stream is True and request.include_usage is True
    assert request.user == "user-1234"
    assert {k: v for k, v in request.extras.items() if k != "_chat"} == {
        "n": 1, "seed": 42, "metadata": {"session": "abc"}}


def test_parallel_history_pairs_results_and_keeps_roles() -> None:
    request = chat.parse_request(load("request_parallel_history.json"))
    assert request.system == (
        ir.Text("You are a coding agent."),
        ir.Text("Environment: linux", extras={"cache_control": {"type": "ephemeral"}}),
    )
    user, assistant, results, reminder, follow_up = request.messages
    assert user.parts == (ir.Text("List files in /tmp and /var in parallel."),)
    assert [p.arguments for p in assistant.parts if isinstance(p, ir.ToolCall)] == [
        {"path": "/tmp"}, {"path": "/var"}]  # noqa: S108
    assert results.parts == (
        ir.ToolResult("call_a", (ir.Text("a.txt\nb.txt"),), "ls"),
        ir.ToolResult("call_b", (ir.Text("log"), ir.Text("cache")), "ls"),
    )
    assert reminder == ir.Message(ir.Role.SYSTEM, (ir.Text("Reminder: be careful with rm."),))
    assert follow_up.extras == {"name": "alice"}
    assert [t.name for t in request.tools] == ["ls"]
    assert request.tool_choice == ir.ToolChoice("tool", "ls")
    assert request.stop == ("STOP",)
    assert request.reasoning == ir.ReasoningConfig(effort="high")
    assert request.response_format == ir.ResponseFormat("json_object")
    assert request.extras["presence_penalty"] == 0.5
    assert request.extras["prediction"] == {"type": "content", "content": "x"}


def test_multimodal_request_keeps_unknown_parts_out_of_the_ir() -> None:
    request = chat.parse_request(load("request_multimodal.json"))
    user, assistant, _ = request.messages
    assert user.parts == (
        ir.Text("Compare these."),
        ir.Image(url="https://example.com/cat.png"),
        ir.Image(media_type="image/jpeg", data="/9j/4AAQ",
                 extras={"image_url": {"detail": "high"}}),
    )
    assert [pos for pos, _ in user.extras["_parts"]] == [2, 4]
    assert assistant.parts == (ir.Text("One is a cat."),)
    assert request.temperature == 0.0 and request.top_k == 20


@pytest.mark.parametrize("name", REQUEST_FIXTURES)
def test_request_fixture_round_trips(name: str) -> None:
    body = load(name)
    assert chat.render_request(chat.parse_request(body)) == body


@pytest.mark.parametrize(("body", "rendered"), [
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
     {"model": "", "messages": [{"role": "user", "content": "hi"}]}),
    ({"model": "m", "messages": [], "stop": ["x"], "stream": False, "user": ""},
     {"model": "m", "messages": [], "stop": "x"}),
    ({"model": "m", "messages": [], "stop": []}, {"model": "m", "messages": []}),
    ({"model": "m", "messages": [], "stream": True},
     {"model": "m", "messages": [], "stream": True, "stream_options": {"include_usage": True}}),
    ({"model": "m", "messages": [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "c", "function": {"name": "f", "arguments": ""}}]}]},
     {"model": "m", "messages": [{"role": "assistant", "content": None, "tool_calls": [
         {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}]}]}),
    ({"model": "m", "messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]},
     {"model": "m", "messages": [], "tools": [{"type": "function", "function": {
         "name": "f", "parameters": {"type": "object", "properties": {}}}}]}),
    ({"model": "m", "messages": [], "tool_choice": "none", "parallel_tool_calls": False},
     {"model": "m", "messages": []}),
    ({"model": "m", "messages": [{"role": "user", "content": None}]},
     {"model": "m", "messages": [{"role": "user", "content": ""}]}),
])
def test_request_normalisations(body: dict[str, Any], rendered: dict[str, Any]) -> None:
    assert chat.render_request(chat.parse_request(body)) == rendered


def test_max_tokens_spelling_is_kept_for_chat_and_plain_for_others() -> None:
    both = {"model": "m", "messages": [], "max_tokens": 10, "max_completion_tokens": 20}
    request = chat.parse_request(both)
    assert request.max_tokens == 20
    assert chat.render_request(request) == both
    foreign = chat.render_request(ir.Request("m", (), max_tokens=20, source=ir.Format.GEMINI))
    assert foreign == {"model": "m", "messages": [], "max_tokens": 20}


def test_tool_message_without_id_pairs_with_the_oldest_open_call() -> None:
    request = chat.parse_request({"model": "m", "messages": [
        {"role": "assistant", "tool_calls": [
            {"function": {"name": "a", "arguments": "{}"}},
            {"function": {"name": "b", "arguments": "[1, 2]"}},
        ]},
        {"role": "tool", "content": "ra"},
        {"role": "tool", "content": "rb"},
        {"role": "tool", "tool_call_id": "unknown", "name": "legacy", "content": "rc"},
    ]})
    calls, results = request.messages
    assert [(p.id, p.name, p.arguments) for p in calls.parts if isinstance(p, ir.ToolCall)] == [
        ("call_0_0", "a", {}), ("call_0_1", "b", {"value": [1, 2]})]
    assert [(r.call_id, r.name) for r in results.parts if isinstance(r, ir.ToolResult)] == [
        ("call_0_0", "a"), ("call_0_1", "b"), ("unknown", "legacy")]


def test_invalid_argument_text_is_wrapped_and_kept_verbatim_for_chat() -> None:
    body = {"model": "m", "messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}
    request = chat.parse_request(body)
    (call,) = request.messages[0].parts
    assert isinstance(call, ir.ToolCall) and call.arguments == {"value": "{oops"}
    assert chat.render_request(request) == body
    foreign = chat.render_request(ir.Request("m", (ir.Message(ir.Role.ASSISTANT, (call,)),)))
    assert foreign["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"value":"{oops"}'


def test_edited_arguments_win_over_the_kept_text() -> None:
    body = {"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]}]}
    request = chat.parse_request(body)
    call = request.messages[0].parts[0]
    assert isinstance(call, ir.ToolCall)
    edited = ir.Message(ir.Role.ASSISTANT, (ir.ToolCall("c", "f", {"a": 2}, extras=call.extras),))
    out = chat.render_request(ir.Request("m", (edited,), source=ir.Format.OPENAI_CHAT))
    assert out["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"a":2}'


def test_legacy_function_role_round_trips_as_user_text() -> None:
    body = {"model": "m", "messages": [
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "42"}]}
    request = chat.parse_request(body)
    assert request.messages[1] == ir.Message(ir.Role.USER, (ir.Text("42"),),
                                             {"role": "function", "name": "f"})
    assert chat.render_request(request) == body


# --- requests: rendering from other formats ----------------------------------------------------


def test_render_foreign_request_drops_extras_and_reshapes_history() -> None:
    sig = ir.Signature(ir.Format.ANTHROPIC, "sig")
    request = ir.Request(
        model="qwen3-coder-plus",
        system=(ir.Text("block one", extras={"cache_control": {"type": "ephemeral"}}),
                ir.Text("block two")),
        messages=(
            ir.Message(ir.Role.USER, (ir.Text("hi", extras={"cache_control": {}}),)),
            ir.Message(ir.Role.SYSTEM, (ir.Text("env: linux"),)),
            ir.Message(ir.Role.ASSISTANT, (
                ir.Reasoning("think", signature=sig),
                ir.Reasoning("", signature=sig, redacted=True),
                ir.Text("Let me "),
                ir.ToolCall("toolu_1", "Bash", {"command": "ls"}, signature=sig),
                ir.Text("check."),
                ir.ToolCall("toolu_2", "Read", {"path": "a"}),
            )),
            ir.Message(ir.Role.USER, (
                ir.ToolResult("toolu_1", (ir.Text("out"), ir.Text("more")), "Bash", is_error=True),
                ir.ToolResult("toolu_2", (ir.Image("image/png", "AAAA"), ir.Text("seen")), "Read"),
                ir.Text("continue"),
            )),
        ),
        tools=(ir.Tool("Bash", "run", {"type": "object"}, extras={"cache_control": {}}),),
        tool_choice=ir.ToolChoice("required"),
        reasoning=ir.ReasoningConfig(budget=-1),
        stream=True,
        source=ir.Format.ANTHROPIC,
        extras={"metadata": {"user_id": "u"}},
    )
    assert chat.render_request(request) == {
        "model": "qwen3-coder-plus",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "block one"},
                                           {"type": "text", "text": "block two"}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "env: linux"},
            {"role": "assistant", "content": "Let me check.", "reasoning_content": "think",
             "tool_calls": [
                 {"id": "toolu_1", "type": "function",
                  "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
                 {"id": "toolu_2", "type": "function",
                  "function": {"name": "Read", "arguments": '{"path":"a"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "out\n\nmore"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "seen"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "continue"}]},
        ],
        "tools": [{"type": "function", "function": {"name": "Bash", "description": "run",
                                                    "parameters": {"type": "object"}}}],
        "tool_choice": "required",
        "reasoning_effort": "medium",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_split_parallel_calls_from_other_formats_merge_into_one_assistant_turn() -> None:
    request = ir.Request("m", (
        ir.Message(ir.Role.ASSISTANT, (ir.Text("a"), ir.ToolCall("c1", "f", {}))),
        ir.Message(ir.Role.ASSISTANT, (ir.ToolCall("c2", "g", {}),)),
        ir.Message(ir.Role.USER, (ir.ToolResult("c1", ()), ir.ToolResult("c2", ()))),
        ir.Message(ir.Role.ASSISTANT, (ir.Text("done"),)),
        ir.Message(ir.Role.ASSISTANT, (ir.Text("really"),)),
    ), source=ir.Format.OPENAI_RESPONSES)
    messages = chat.render_request(request)["messages"]
    assert [(m["role"], len(m.get("tool_calls", ()))) for m in messages] == [
        ("assistant", 2), ("tool", 0), ("tool", 0), ("assistant", 0), ("assistant", 0)]


@pytest.mark.parametrize(("config", "effort"), [
    (ir.ReasoningConfig(effort="auto"), "medium"),
    (ir.ReasoningConfig(budget=0), "none"),
    (ir.ReasoningConfig(budget=2000), "medium"),
    (ir.ReasoningConfig(budget=30000), "xhigh"),
    (ir.ReasoningConfig(effort="low", budget=99999), "low"),
    (ir.ReasoningConfig(include_thoughts=True), None),
])
def test_reasoning_config_renders_as_effort(config: ir.ReasoningConfig, effort: str | None) -> None:
    body = chat.render_request(ir.Request("m", (), reasoning=config))
    assert body.get("reasoning_effort") == effort


def test_render_tool_choice_and_response_format_from_ir() -> None:
    body = chat.render_request(ir.Request(
        "m", (), tools=(ir.Tool("f"),), tool_choice=ir.ToolChoice("tool", "f"),
        parallel_tool_calls=False, stop=("a", "b"), top_k=5, temperature=1.0,
        response_format=ir.ResponseFormat("json_schema", {"type": "object"}, strict=False)))
    assert body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert body["parallel_tool_calls"] is False
    assert body["stop"] == ["a", "b"] and body["top_k"] == 5 and body["temperature"] == 1.0
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "response", "schema": {"type": "object"}, "strict": False}}


def test_images_render_as_data_urls_or_urls() -> None:
    message = ir.Message(ir.Role.USER, (ir.Image(data="QUJD"), ir.Image(url="https://x/y.png")))
    body = chat.render_request(ir.Request("m", (message,)))
    assert body["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]


# --- requests: hostile input -------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    [],
    "messages",
    {},
    {"messages": None},
    {"messages": {"role": "user"}},
    {"messages": ["hi"]},
    {"messages": [{"content": "no role"}]},
    {"messages": [{"role": "robot", "content": "x"}]},
    {"messages": [{"role": "user", "content": 42}]},
    {"messages": [{"role": "user", "content": ["text"]}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
    {"messages": [{"role": "assistant", "tool_calls": {"id": "x"}}]},
    {"messages": [{"role": "assistant", "tool_calls": ["x"]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "x", "function": "f"}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": 3}}]}]},
    {"messages": [{"role": "tool", "tool_call_id": 5, "content": "x"}]},
    {"messages": [], "model": 7},
    {"messages": [], "tools": {"a": 1}},
    {"messages": [], "tools": ["f"]},
    {"messages": [], "tools": [{"type": "function"}]},
    {"messages": [], "tools": [{"type": "function", "function": {"description": "no name"}}]},
    {"messages": [], "tools": [{"function": {"name": "f", "parameters": "{}"}}]},
    {"messages": [], "tool_choice": "always"},
    {"messages": [], "tool_choice": 1},
    {"messages": [], "temperature": "hot"},
    {"messages": [], "temperature": True},
    {"messages": [], "max_tokens": 1.5},
    {"messages": [], "max_completion_tokens": "10"},
    {"messages": [], "stop": [1]},
    {"messages": [], "stream": "yes"},
    {"messages": [], "stream_options": True},
    {"messages": [], "reasoning_effort": 3},
    {"messages": [], "response_format": "json"},
    {"messages": [], "response_format": {"type": "yaml"}},
    {"messages": [], "response_format": {"type": "json_schema"}},
    {"messages": [], "parallel_tool_calls": "no"},
    {"messages": [], "user": 1},
])
def test_malformed_request_raises_format_error(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        chat.parse_request(body)


def test_odd_but_valid_request_values_are_accepted() -> None:
    request = chat.parse_request({
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": "https://x/a.png"},
                                         {"text": "typeless part"}]},
            {"role": "assistant", "content": None},
            {"role": "assistant", "reasoning_content": None, "content": ""},
        ],
        "max_tokens": 100.0,
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
        "reasoning_effort": "maximum",
    })
    assert request.messages[0].parts == (ir.Image(url="https://x/a.png"),)
    assert request.messages[1].parts == () and request.messages[2].parts == ()
    assert request.max_tokens == 100
    assert request.tool_choice is None and request.reasoning is None
    assert request.extras["tool_choice"]["type"] == "allowed_tools"
    assert request.extras["reasoning_effort"] == "maximum"


# --- requests: properties ----------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
_ident = st.text("abcdefghij_", min_size=1, max_size=8)
_image = st.one_of(
    st.builds(ir.Image, media_type=st.sampled_from(["image/png", "image/jpeg"]),
              data=st.text("ABCDEFGH+/", min_size=4, max_size=8)),
    st.builds(ir.Image, url=st.sampled_from(["https://example.com/a.png", "http://x/b.gif"])),
)
_args = st.dictionaries(_ident, st.one_of(st.integers(-(2**53), 2**53), _text, st.booleans()),
                        max_size=3)
_media = st.lists(st.one_of(st.builds(ir.Text, _text), _image), min_size=1, max_size=3)


@st.composite
def _turns(draw: st.DrawFn) -> list[ir.Message]:
    messages = [ir.Message(ir.Role.USER, tuple(draw(_media)))]
    for turn in range(draw(st.integers(0, 3))):
        parts: list[ir.Part] = []
        if draw(st.booleans()):
            parts.append(ir.Reasoning(draw(_text)))
        if draw(st.booleans()):
            parts.append(ir.Text(draw(_text)))
        names = draw(st.lists(_ident, max_size=3))
        calls = [ir.ToolCall(f"call_{turn}_{i}", n, draw(_args)) for i, n in enumerate(names)]
        messages.append(ir.Message(ir.Role.ASSISTANT, (*parts, *calls)))
        if calls:
            results = [ir.ToolResult(c.id, (ir.Text(draw(_text)),) if draw(st.booleans()) else (),
                                     c.name) for c in calls]
            messages.append(ir.Message(ir.Role.USER, tuple(results)))
        follow = draw(st.sampled_from([ir.Role.USER, ir.Role.SYSTEM]))
        messages.append(ir.Message(follow, tuple(draw(_media))))
    return messages


@st.composite
def ir_requests(draw: st.DrawFn) -> ir.Request:
    tools = tuple(draw(st.lists(st.builds(
        ir.Tool, _ident, st.one_of(st.just(""), _text),
        st.just({"type": "object", "properties": {"x": {"type": "string"}}})), max_size=2)))
    stream = draw(st.booleans())
    choice = draw(st.one_of(st.none(), st.builds(ir.ToolChoice, st.sampled_from(
        ["auto", "none", "required"])), st.builds(ir.ToolChoice, st.just("tool"), _ident)))
    schema = st.builds(ir.ResponseFormat, st.just("json_schema"), st.just({"type": "object"}),
                       _ident, st.one_of(st.none(), st.booleans()))
    return ir.Request(
        model=draw(_ident),
        system=tuple(draw(st.lists(st.builds(ir.Text, _text), max_size=2))),
        messages=tuple(draw(_turns())),
        tools=tools,
        tool_choice=choice if tools else None,
        parallel_tool_calls=draw(st.one_of(st.none(), st.booleans())) if tools else None,
        max_tokens=draw(st.one_of(st.none(), st.integers(1, 100000))),
        temperature=draw(st.one_of(st.none(), st.floats(0, 2))),
        top_p=draw(st.one_of(st.none(), st.floats(0, 1))),
        top_k=draw(st.one_of(st.none(), st.integers(1, 100))),
        stop=tuple(draw(st.lists(_text, max_size=3))),
        reasoning=draw(st.one_of(st.none(), st.builds(ir.ReasoningConfig, st.sampled_from(
            ["none", "minimal", "low", "medium", "high", "xhigh"])))),
        response_format=draw(st.one_of(st.none(), st.builds(ir.ResponseFormat, st.sampled_from(
            ["text", "json_object"])), schema)),
        stream=stream,
        include_usage=stream,
        user=draw(st.one_of(st.just(""), _ident)),
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ir_requests())
def test_rendered_ir_request_parses_back_to_the_same_content(request: ir.Request) -> None:
    body = chat.render_request(request)
    parsed = chat.parse_request(orjson.loads(orjson.dumps(body)))
    assert _fields(parsed, drop_extras=True) == _fields(request, drop_extras=True) | {
        "source": ir.Format.OPENAI_CHAT}
    assert chat.render_request(parsed) == body


def _fields(request: ir.Request, drop_extras: bool = False) -> dict[str, Any]:
    out = {name: getattr(request, name) for name in ir.Request.__dataclass_fields__}
    if drop_extras:
        out.pop("extras")
    return out


# --- responses ---------------------------------------------------------------------------------


def test_text_response_golden() -> None:
    body = load("response_text.json")
    response = chat.parse_response(body)
    assert response.id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert response.model == "gpt-4o-2024-08-06" and response.created == 1741569952
    assert response.parts == (ir.Text("Hello! How can I assist you today?"),)
    assert response.stop_reason is ir.StopReason.END_TURN
    assert response.usage == ir.Usage(19, 10)
    assert response.extras["system_fingerprint"] == "fp_fc9f1d7035"
    rendered = chat.render_response(response, EMPTY_REQUEST)
    assert rendered == body
    ChatCompletion.model_validate(rendered)


def test_tool_call_response_golden() -> None:
    body = load("response_tool_calls.json")
    response = chat.parse_response(body)
    assert response.parts == (ir.ToolCall("call_w1", "get_weather", {"city": "Paris"}),
                              ir.ToolCall("call_w2", "get_weather", {"city": "Tokyo"}))
    assert response.stop_reason is ir.StopReason.TOOL_USE
    assert response.usage == ir.Usage(120, 40, cached_tokens=100)
    rendered = chat.render_response(response, ir.Request("alias-model", ()))
    assert rendered == body | {"model": "alias-model"}
    ChatCompletion.model_validate(rendered)


def test_reasoning_response_golden() -> None:
    body = load("response_reasoning_deepseek.json")
    response = chat.parse_response(body)
    assert response.parts == (ir.Reasoning("Compare 9.11 and 9.8 digit by digit."),
                              ir.Text("9.11 is smaller than 9.8."))
    assert response.stop_reason is ir.StopReason.MAX_TOKENS
    assert response.usage == ir.Usage(16, 200, reasoning_tokens=150)
    rendered = chat.render_response(response, EMPTY_REQUEST)
    assert rendered["choices"][0]["message"] == body["choices"][0]["message"]
    assert rendered["usage"] == body["usage"] | {
        "prompt_tokens_details": {"cached_tokens": 0}}  # documented normalisation
    ChatCompletion.model_validate(rendered)


def test_foreign_response_renders_chat_shapes() -> None:
    response = ir.Response(
        id="msg_01", model="claude-sonnet-4-5",
        parts=(ir.Reasoning("step", signature=ir.Signature(ir.Format.ANTHROPIC, "s")),
               ir.Reasoning("", redacted=True, signature=ir.Signature(ir.Format.ANTHROPIC, "r")),
               ir.Reasoning("step two"),
               ir.ToolCall("toolu_9", "Bash", {"command": "ls"})),
        stop_reason=ir.StopReason.TOOL_USE,
        usage=ir.Usage(100, 20, cached_tokens=60, cache_creation_tokens=10, reasoning_tokens=5),
        created=1700000000, source=ir.Format.ANTHROPIC, extras={"container": None},
    )
    rendered = chat.render_response(response, ir.Request("my-alias", ()))
    assert rendered == {
        "id": "msg_01", "object": "chat.completion", "created": 1700000000, "model": "my-alias",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
            "role": "assistant", "content": None, "reasoning_content": "step\n\nstep two",
            "tool_calls": [{"id": "toolu_9", "type": "function",
                            "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                  "prompt_tokens_details": {"cached_tokens": 60},
                  "completion_tokens_details": {"reasoning_tokens": 5}},
    }
    ChatCompletion.model_validate(rendered)


def test_response_without_id_or_text_gets_fresh_id_and_empty_content() -> None:
    rendered = chat.render_response(
        ir.Response("", "m", (ir.Image("image/png", "AAAA"),), ir.StopReason.ERROR), EMPTY_REQUEST)
    assert rendered["id"].startswith("chatcmpl-")
    message = rendered["choices"][0]["message"]
    assert message["content"] == ""
    assert message["images"] == [{"type": "image_url", "index": 0,
                                  "image_url": {"url": "data:image/png;base64,AAAA"}}]
    assert rendered["choices"][0]["finish_reason"] == "stop"
    ChatCompletion.model_validate(rendered)


@pytest.mark.parametrize(("raw", "calls", "stop"), [
    ("stop", False, ir.StopReason.END_TURN),
    ("stop", True, ir.StopReason.TOOL_USE),
    (None, True, ir.StopReason.TOOL_USE),
    ("length", False, ir.StopReason.MAX_TOKENS),
    ("length", True, ir.StopReason.MAX_TOKENS),
    ("tool_calls", True, ir.StopReason.TOOL_USE),
    ("function_call", True, ir.StopReason.TOOL_USE),
    ("content_filter", False, ir.StopReason.CONTENT_FILTER),
    ("insufficient_system_resource", False, ir.StopReason.END_TURN),
])
def test_finish_reason_mapping(raw: str | None, calls: bool, stop: ir.StopReason) -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "x"}
    if calls:
        message["tool_calls"] = [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]
    response = chat.parse_response({"choices": [{"message": message, "finish_reason": raw}]})
    assert response.stop_reason is stop


@pytest.mark.parametrize(("stop", "calls", "finish"), [
    (ir.StopReason.END_TURN, False, "stop"),
    (ir.StopReason.END_TURN, True, "tool_calls"),
    (ir.StopReason.STOP_SEQUENCE, False, "stop"),
    (ir.StopReason.MAX_TOKENS, True, "length"),
    (ir.StopReason.TOOL_USE, True, "tool_calls"),
    (ir.StopReason.TOOL_USE, False, "stop"),
    (ir.StopReason.CONTENT_FILTER, False, "content_filter"),
    (ir.StopReason.PAUSE, False, "stop"),
])
def test_finish_reason_rendering(stop: ir.StopReason, calls: bool, finish: str) -> None:
    parts: tuple[ir.Part, ...] = (ir.ToolCall("c", "f", {}),) if calls else (ir.Text("x"),)
    rendered = chat.render_response(ir.Response("r", "m", parts, stop), EMPTY_REQUEST)
    assert rendered["choices"][0]["finish_reason"] == finish


def test_unusual_response_shapes_parse() -> None:
    response = chat.parse_response({
        "id": 5, "created": "now",
        "choices": [
            {"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                         "reasoning": "why",
                         "images": [{"type": "image_url", "image_url": {"url": "https://i/1.png"}}],
                         "tool_calls": [{"type": "function", "function": {"name": "f",
                                                                          "arguments": None}}]},
             "finish_reason": "tool_calls"},
            {"index": 1, "message": {"content": "second"}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2.0, "prompt_cache_hit_tokens": 1,
                  "output_tokens_details": {"reasoning_tokens": 1}},
    })
    assert response.id == "" and response.created == 0
    reasoning, text_a, text_b, image, call = response.parts
    assert reasoning == ir.Reasoning("why") and (text_a, text_b) == (ir.Text("a"), ir.Text("b"))
    assert image == ir.Image(url="https://i/1.png")
    assert isinstance(call, ir.ToolCall) and call.id.startswith("call_") and call.arguments == {}
    assert response.usage == ir.Usage(3, 2, cached_tokens=1, reasoning_tokens=1)
    rendered = chat.render_response(response, EMPTY_REQUEST)
    assert rendered["choices"][1] == {"index": 1, "message": {"content": "second"},
                                      "finish_reason": "stop"}
    assert rendered["choices"][0]["message"]["reasoning_content"] == "why"


def test_empty_choices_parse_to_an_empty_response() -> None:
    response = chat.parse_response({"id": "x", "choices": []})
    assert response.parts == () and response.stop_reason is ir.StopReason.END_TURN


@pytest.mark.parametrize("body", [
    "text", [], {"choices": {}}, {"choices": ["x"]}, {"choices": [{"message": "hi"}]},
    {"choices": [{"message": {"tool_calls": {}}}]},
    {"choices": [{"message": {"tool_calls": [{"function": []}]}}]},
    {"error": {"message": "quota exceeded", "type": "insufficient_quota"}},
])
def test_malformed_response_raises_format_error(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        chat.parse_response(body)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error_type", "code"), [
    (400, "invalid_request_error", None),
    (401, "authentication_error", "invalid_api_key"),
    (403, "permission_error", "insufficient_quota"),
    (404, "invalid_request_error", "model_not_found"),
    (413, "invalid_request_error", None),
    (429, "rate_limit_error", "rate_limit_exceeded"),
    (500, "server_error", "internal_server_error"),
    (503, "server_error", "internal_server_error"),
    (529, "server_error", "internal_server_error"),
])
def test_render_error_maps_status(status: int, error_type: str, code: str | None) -> None:
    assert chat.render_error(ir.ErrorInfo(status, "boom")) == {
        "error": {"message": "boom", "type": error_type, "param": None, "code": code}}


def test_render_error_keeps_given_type_and_code() -> None:
    envelope = chat.render_error(ir.ErrorInfo(429, "q", "insufficient_quota", "quota"))
    assert envelope["error"] | {} == {"message": "q", "type": "insufficient_quota", "param": None,
                                      "code": "quota"}


@pytest.mark.parametrize(("status", "body", "expected"), [
    (400, {"error": {"message": "bad", "type": "invalid_request_error", "param": "x",
                     "code": "bad_param"}},
     ir.ErrorInfo(400, "bad", "invalid_request_error", "bad_param")),
    (429, b'{"error": {"message": "slow down", "type": "rate_limit_error", "code": null}}',
     ir.ErrorInfo(429, "slow down", "rate_limit_error", "")),
    (401, '{"error": "invalid token"}', ir.ErrorInfo(401, "invalid token", "authentication_error")),
    (502, "<html>Bad Gateway</html>",
     ir.ErrorInfo(502, "<html>Bad Gateway</html>", "server_error")),
    (503, None, ir.ErrorInfo(503, "upstream error (HTTP 503)", "overloaded_error")),
    (500, [{"error": {"code": 500, "message": "internal", "status": "INTERNAL"}}],
     ir.ErrorInfo(500, "internal", "server_error")),
    (404, {"type": "error", "error": {"type": "not_found_error", "message": "no model"}},
     ir.ErrorInfo(404, "no model", "not_found_error")),
    (0, {"error": {"message": "later", "code": 429}},
     ir.ErrorInfo(429, "later", "rate_limit_error")),
    (0, {"error": {"message": "x", "type": "insufficient_quota"}},
     ir.ErrorInfo(429, "x", "insufficient_quota")),
    (418, 12, ir.ErrorInfo(418, "upstream error (HTTP 418)", "invalid_request_error")),
])
def test_parse_error_reads_any_body(status: int, body: Any, expected: ir.ErrorInfo) -> None:
    assert chat.parse_error(status, body) == expected


# --- stream parsing ----------------------------------------------------------------------------


def test_text_stream_parses_with_trailing_usage_in_message_stop() -> None:
    usage = ir.Usage(19, 3, cached_tokens=8)
    assert parse_sse((DATA / "stream_text.sse").read_bytes()) == [
        ir.MessageStart("chatcmpl-st1", "gpt-4o-2024-08-06", created=1741570000),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "Hel"),
        ir.TextDelta(0, "lo!"),
        ir.BlockStop(0),
        ir.UsageUpdate(usage),
        ir.MessageStop(ir.StopReason.END_TURN, usage),
    ]


def test_tool_stream_parses_reasoning_text_and_interleaved_parallel_calls() -> None:
    usage = ir.Usage(50, 30, reasoning_tokens=5)
    assert parse_sse((DATA / "stream_tools.sse").read_bytes()) == [
        ir.MessageStart("chatcmpl-qw1", "qwen3-coder-plus", created=1700000001),
        ir.BlockStart(0, "reasoning"),
        ir.ReasoningDelta(0, "Need two "),
        ir.ReasoningDelta(0, "lookups."),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Checking."),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", "call_p", "get_weather"),
        ir.ToolArgsDelta(2, '{"city":'),
        ir.BlockStart(3, "tool_call", "call_t", "get_weather"),
        ir.ToolArgsDelta(3, '{"city"'),
        ir.ToolArgsDelta(2, '"Paris"}'),
        ir.ToolArgsDelta(3, ':"Tokyo"}'),
        ir.BlockStop(2),
        ir.BlockStop(3),
        ir.UsageUpdate(usage),
        ir.MessageStop(ir.StopReason.TOOL_USE, usage),
    ]


def test_error_chunk_becomes_stream_error_and_ends_parsing() -> None:
    events = parse_sse((DATA / "stream_error.sse").read_bytes())
    assert events[-1] == ir.StreamError(ir.ErrorInfo(
        429, "Rate limit reached for requests", "rate_limit_error", "rate_limit_exceeded"))
    assert events[:3] == [ir.MessageStart("chatcmpl-e1", "glm-4.6", created=1700000002),
                          ir.BlockStart(0, "text"), ir.TextDelta(0, "Partial")]


def test_truncated_stream_closes_blocks_then_reports_502() -> None:
    events = parse_sse((DATA / "stream_truncated.sse").read_bytes())
    assert events[1:] == [
        ir.BlockStart(0, "text"), ir.TextDelta(0, "Half a sen"), ir.BlockStop(0),
        ir.BlockStart(1, "tool_call", "call_x", "run"), ir.ToolArgsDelta(1, '{"cmd":'),
        ir.BlockStop(1),
        ir.StreamError(ir.ErrorInfo(502, "upstream stream ended before completion",
                                    "server_error")),
    ]


def test_reused_index_with_new_id_starts_a_new_call() -> None:
    events = parse_sse((DATA / "stream_reused_index.sse").read_bytes())
    assert events[1:] == [
        ir.BlockStart(0, "tool_call", "call_one", "read"), ir.ToolArgsDelta(0, '{"path":"a"}'),
        ir.BlockStart(1, "tool_call", "call_two", "read"), ir.ToolArgsDelta(1, '{"path":"b"}'),
        ir.BlockStart(2, "reasoning"), ir.ReasoningDelta(2, "after thought"),
        ir.BlockStop(2), ir.BlockStop(0), ir.BlockStop(1),
        ir.MessageStop(ir.StopReason.TOOL_USE, None),
    ]


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {"id": "c", "model": "m", "created": 1,
                            "choices": [{"index": 0, "delta": delta or {},
                                         "finish_reason": finish}]}
    return orjson.dumps(body | extra).decode()


def feed_all(*data: str, close: bool = True) -> list[ir.StreamEvent]:
    parser = chat.parse_stream()
    out = [e for d in data for e in parser.feed(SSEEvent(d))]
    return out + parser.close() if close else out


def test_finish_then_eof_without_done_completes_normally() -> None:
    events = feed_all(_chunk({"content": "x"}), _chunk(finish="length"))
    assert events[-1] == ir.MessageStop(ir.StopReason.MAX_TOKENS, None)
    assert not any(isinstance(e, ir.StreamError) for e in events)


def test_done_without_finish_ends_the_turn() -> None:
    events = feed_all(_chunk({"content": "x"}), "[DONE]", _chunk({"content": "late"}))
    assert events[-2:] == [ir.BlockStop(0), ir.MessageStop(ir.StopReason.END_TURN, None)]


def test_bare_done_still_opens_and_closes_the_message() -> None:
    assert feed_all("[DONE]") == [ir.MessageStart("", ""),
                                  ir.MessageStop(ir.StopReason.END_TURN, None)]


def test_empty_upstream_stream_is_an_error() -> None:
    assert feed_all() == [ir.StreamError(ir.ErrorInfo(
        502, "upstream stream ended before completion", "server_error"))]


def test_usage_on_every_chunk_is_cumulative_and_last_wins() -> None:
    u1 = {"prompt_tokens": 5, "completion_tokens": 1}
    u2 = {"prompt_tokens": 5, "completion_tokens": 2}
    events = feed_all(_chunk({"content": "a"}, usage=u1), _chunk(finish="stop", usage=u2),
                      "[DONE]")
    updates = [e for e in events if isinstance(e, ir.UsageUpdate)]
    assert [u.usage.output_tokens for u in updates] == [1, 2]
    assert events[-1] == ir.MessageStop(ir.StopReason.END_TURN, ir.Usage(5, 2))


def test_name_arriving_after_the_first_fragment_opens_the_call_then() -> None:
    events = feed_all(
        _chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": "{\"a\""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ":1}"}}]}),
        _chunk({"tool_calls": [{"function": {"arguments": {"not": "text"}}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        _chunk(finish="tool_calls"), "[DONE]")
    assert events[1:] == [  # the call at index 1 never got a name: dropped
        ir.BlockStart(0, "tool_call", "c1", "f"), ir.ToolArgsDelta(0, '{"a":1}'),
        ir.ToolArgsDelta(0, '{"not":"text"}'),
        ir.BlockStop(0),
        ir.MessageStop(ir.StopReason.TOOL_USE, None),
    ]


def test_garbage_and_unknown_events_are_ignored() -> None:
    events = feed_all(
        "", "not json", "[1, 2]", '"text"', "null",
        _chunk({"content": ["a", {"text": "b"}, {"type": "image"}, 3]}),
        orjson.dumps({"choices": "x", "usage": "y"}).decode(),
        orjson.dumps({"choices": [None, {"index": 1, "delta": {"content": "other choice"}},
                                  {"delta": "bad", "finish_reason": 7}]}).decode(),
        _chunk({"refusal": "no", "tool_calls": ["x", {"index": True}]}, finish="content_filter"),
        "[DONE]")
    texts = [e.text for e in events if isinstance(e, ir.TextDelta)]
    assert texts == ["ab", "no"]
    assert not any(isinstance(e, ir.BlockStart) and e.kind == "tool_call" for e in events)
    assert events[-1] == ir.MessageStop(ir.StopReason.CONTENT_FILTER, None)


def test_event_named_error_with_error_body_is_a_stream_error() -> None:
    parser = chat.parse_stream()
    events = parser.feed(SSEEvent('{"error": {"message": "overloaded", "type": "server_error"}}',
                                  event="error"))
    assert events == [ir.StreamError(ir.ErrorInfo(500, "overloaded", "server_error"))]
    assert parser.feed(SSEEvent(_chunk({"content": "x"}))) == [] and parser.close() == []


# --- stream rendering --------------------------------------------------------------------------

TOOL_EVENTS: list[ir.StreamEvent] = [
    ir.MessageStart("msg_1", "claude-x", created=1700000000),
    ir.BlockStart(0, "reasoning"), ir.ReasoningDelta(0, "think"),
    ir.SignatureDelta(0, ir.Signature(ir.Format.ANTHROPIC, "s")), ir.BlockStop(0),
    ir.BlockStart(1, "text"), ir.TextDelta(1, "Hi"), ir.TextDelta(1, ""), ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", "toolu_a", "f"), ir.ToolArgsDelta(2, '{"x":'),
    ir.BlockStart(3, "tool_call", "toolu_b", "g"), ir.ToolArgsDelta(3, "{}"),
    ir.ToolArgsDelta(2, "1}"), ir.ToolArgsDelta(2, ""), ir.BlockStop(2), ir.BlockStop(3),
    ir.UsageUpdate(ir.Usage(10, 1)),
    ir.MessageStop(ir.StopReason.TOOL_USE, ir.Usage(10, 5, cached_tokens=2)),
]


def test_render_stream_golden() -> None:
    raw = render_events(TOOL_EVENTS, ir.Request("alias", (), include_usage=True))
    chunks = validate_stream(raw)
    head = {"id": "msg_1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "alias"}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return head | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    assert chunks == [
        choice({"role": "assistant", "content": ""}),
        choice({"reasoning_content": "think"}),
        choice({"content": "Hi"}),
        choice({"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function",
                                "function": {"name": "f", "arguments": ""}}]}),
        choice({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
        choice({"tool_calls": [{"index": 1, "id": "toolu_b", "type": "function",
                                "function": {"name": "g", "arguments": ""}}]}),
        choice({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        choice({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        choice({}, "tool_calls"),
        head | {"choices": [], "usage": {
            "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 0}}},
    ]
    assert raw.endswith(b"data: [DONE]\n\n")
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)


def test_render_stream_without_include_usage_has_no_usage_chunk() -> None:
    chunks = validate_stream(render_events(TOOL_EVENTS))
    assert all(chunk["choices"] for chunk in chunks)
    assert chunks[0]["model"] == "claude-x"


def test_render_stream_with_no_blocks() -> None:
    raw = render_events([ir.MessageStart("", "m"), ir.MessageStop(ir.StopReason.END_TURN)],
                        ir.Request("m", (), include_usage=True))
    chunks = validate_stream(raw)
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None, "stop"]
    assert chunks[-1]["usage"]["total_tokens"] == 0


@pytest.mark.parametrize("cut", [0, 1, 5, 10, 12, 17])
def test_render_stream_error_at_any_point(cut: int) -> None:
    error = ir.StreamError(ir.ErrorInfo(529, "Overloaded", "overloaded_error"))
    raw = render_events([*TOOL_EVENTS[:cut], error, ir.TextDelta(1, "ignored")])
    chunks = validate_stream(raw)
    assert chunks[-1] == {"error": {"message": "Overloaded", "type": "server_error",
                                    "param": None, "code": "internal_server_error"}}
    assert b"[DONE]" not in raw


@pytest.mark.parametrize("cut", [0, 3, 9])
def test_render_stream_close_without_stop_ends_with_an_error(cut: int) -> None:
    chunks = validate_stream(render_events(TOOL_EVENTS[:cut]))
    assert chunks[-1]["error"]["message"] == "upstream stream ended before completion"


def test_render_stream_without_message_start_still_opens_with_a_role_chunk() -> None:
    chunks = validate_stream(render_events([ir.BlockStart(0, "text"), ir.TextDelta(0, "x"),
                                            ir.MessageStop(ir.StopReason.MAX_TOKENS)]))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_sdk_reads_rendered_stream() -> None:
    raw = render_events(TOOL_EVENTS, ir.Request("alias", (), include_usage=True))
    chunks = sdk_chunks(raw)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hi"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_sdk_stream_helper_accumulates_rendered_tool_calls() -> None:
    raw = render_events(TOOL_EVENTS, ir.Request("alias", (), include_usage=True))
    with sdk_client(raw) as client, client.chat.completions.stream(
            model="m", messages=[{"role": "user", "content": "x"}]) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Hi"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("toolu_a", "f", '{"x":1}'), ("toolu_b", "g", "{}")]
    assert final.choices[0].finish_reason == "tool_calls"


def test_sdk_raises_api_error_on_rendered_in_stream_error() -> None:
    raw = render_events([*TOOL_EVENTS[:7], ir.StreamError(ir.ErrorInfo(429, "slow down"))])
    with pytest.raises(openai.APIError, match="slow down") as caught:
        sdk_chunks(raw)
    assert caught.value.body == {"message": "slow down", "type": "rate_limit_error",
                                 "param": None, "code": "rate_limit_exceeded"}


@pytest.mark.parametrize("name", STREAM_FIXTURES)
def test_stream_fixture_parse_render_parse_keeps_content(name: str) -> None:
    first = parse_sse((DATA / name).read_bytes())
    raw = render_events(first, ir.Request("", (), include_usage=True))
    for chunk in validate_stream(raw):
        if "error" not in chunk:
            ChatCompletionChunk.model_validate(chunk)
    assert _content(parse_sse(raw)) == _content(first)


def _content(events: list[ir.StreamEvent]) -> dict[str, Any]:
    """What a client ends up with: texts, tool calls in order, the end, the usage."""
    kinds: dict[int, str] = {}
    out: dict[str, Any] = {"text": "", "reasoning": "", "calls": [], "end": None}
    for event in events:
        if isinstance(event, ir.BlockStart):
            kinds[event.index] = event.kind
            if event.kind == "tool_call":
                out["calls"].append([event.tool_id, event.tool_name, ""])
                kinds[event.index] = f"tool{len(out['calls']) - 1}"
        elif isinstance(event, ir.TextDelta):
            out["text"] += event.text
        elif isinstance(event, ir.ReasoningDelta):
            out["reasoning"] += event.text
        elif isinstance(event, ir.ToolArgsDelta):
            out["calls"][int(kinds[event.index][4:])][2] += event.fragment
        elif isinstance(event, ir.MessageStop):
            out["end"] = (event.stop_reason, event.usage or ir.Usage())
        elif isinstance(event, ir.StreamError):
            out["end"] = event.error.message
    return out


# --- stream properties -------------------------------------------------------------------------


@st.composite
def ir_event_sequences(draw: st.DrawFn) -> list[ir.StreamEvent]:
    """Any valid IR sequence: dense block indices, deltas of open blocks in any interleaving,
    usage updates anywhere, then MessageStop, a StreamError, or nothing (renderer close)."""
    events: list[ir.StreamEvent] = [ir.MessageStart(draw(st.sampled_from(["", "id1"])), "m")]
    kinds = draw(st.lists(st.sampled_from(["text", "reasoning", "tool_call"]), max_size=6))
    opened: list[int] = []
    next_index = 0
    while next_index < len(kinds) or opened:
        action = draw(st.sampled_from(["start", "delta", "delta", "stop", "usage"]))
        if (action == "start" and next_index < len(kinds)) or not opened:
            kind = kinds[next_index]
            name = draw(_ident) if kind == "tool_call" else ""
            tool_id = draw(st.sampled_from(["", f"call_z{next_index}"])) if name else ""
            events.append(ir.BlockStart(next_index, kind, tool_id, name))  # type: ignore[arg-type]
            opened.append(next_index)
            next_index += 1
        elif action == "delta":
            index = draw(st.sampled_from(opened))
            text = draw(st.text(max_size=6))
            kind = kinds[index]
            events.append(ir.TextDelta(index, text) if kind == "text" else ir.ReasoningDelta(
                index, text) if kind == "reasoning" else ir.ToolArgsDelta(index, text))
        elif action == "stop":
            index = draw(st.sampled_from(opened))
            opened.remove(index)
            events.append(ir.BlockStop(index))
        elif action == "usage":
            events.append(ir.UsageUpdate(ir.Usage(draw(st.integers(0, 99)), draw(
                st.integers(0, 99)))))
    ending = draw(st.sampled_from(["stop", "error", "none"]))
    if ending == "stop":
        events.append(ir.MessageStop(draw(st.sampled_from(list(ir.StopReason)))))
    elif ending == "error":
        cut = draw(st.integers(0, len(events)))
        events = [*events[:cut], ir.StreamError(ir.ErrorInfo(draw(st.sampled_from(
            [400, 429, 500, 503])), "failed"))]
    return events


@settings(max_examples=60, deadline=None)
@given(ir_event_sequences(), st.booleans())
def test_any_ir_sequence_renders_a_valid_stream(events: list[ir.StreamEvent], usage: bool) -> None:
    raw = render_events(events, ir.Request("", (), include_usage=usage))
    validate_stream(raw)
    expected = _content(events)
    got = _content(parse_sse(raw))
    assert got["text"] == expected["text"] and got["reasoning"] == expected["reasoning"]
    assert [c[1:] for c in got["calls"]] == [c[1:] for c in expected["calls"]]
    assert all(want[0] in ("", have[0]) for want, have in zip(expected["calls"], got["calls"],
                                                                  strict=True))


def check_ir_sequence(events: list[ir.StreamEvent]) -> None:
    """The IR contract a stream parser owes: MessageStart first (unless it fails at once),
    dense indices, deltas only on open blocks of their kind, one terminal event, last."""
    assert events, "no events"
    kinds: dict[int, str] = {}
    opened: set[int] = set()
    terminal = [i for i, e in enumerate(events) if isinstance(e, ir.MessageStop | ir.StreamError)]
    assert terminal == [len(events) - 1], events
    if not isinstance(events[0], ir.StreamError):
        assert isinstance(events[0], ir.MessageStart), events
    for event in events[1:]:
        assert not isinstance(event, ir.MessageStart)
        if isinstance(event, ir.BlockStart):
            assert event.index == len(kinds)
            kinds[event.index] = event.kind
            opened.add(event.index)
            if event.kind == "tool_call":
                assert event.tool_id
        elif isinstance(event, ir.BlockStop):
            opened.remove(event.index)
        elif isinstance(event, ir.TextDelta | ir.ReasoningDelta | ir.ToolArgsDelta):
            assert event.index in opened
            want = {ir.TextDelta: "text", ir.ReasoningDelta: "reasoning",
                    ir.ToolArgsDelta: "tool_call"}[type(event)]
            assert kinds[event.index] == want
        elif isinstance(event, ir.MessageStop):
            assert not opened


_fragments = st.fixed_dictionaries({}, optional={
    "index": st.sampled_from([0, 1, 2, None, "x"]),
    "id": st.sampled_from(["a", "b", "", None]),
    "function": st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["f", "", None]),
        "arguments": st.one_of(st.text(max_size=4), st.none(), st.just({"k": 1}))}),
})
_deltas = st.fixed_dictionaries({}, optional={
    "role": st.just("assistant"),
    "content": st.one_of(st.text(max_size=4), st.none()),
    "reasoning_content": st.one_of(st.text(max_size=4), st.none()),
    "reasoning": st.text(max_size=3),
    "tool_calls": st.lists(_fragments, max_size=2),
})
_upstream_chunks = st.one_of(
    st.builds(lambda d, f: _chunk(d, f), _deltas,
              st.sampled_from([None, None, None, "stop", "length", "tool_calls", "weird"])),
    st.builds(lambda u: orjson.dumps({"choices": [], "usage": u}).decode(), st.fixed_dictionaries(
        {"prompt_tokens": st.integers(0, 9), "completion_tokens": st.integers(0, 9)})),
    st.sampled_from(["[DONE]", "garbage", '{"error": {"message": "x"}}', "{}"]),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_upstream_chunks, max_size=12))
def test_parser_turns_any_chunk_sequence_into_a_valid_ir_sequence(data: list[str]) -> None:
    events = feed_all(*data)
    check_ir_sequence(events)
    validate_stream(render_events(events))


@pytest.mark.parametrize("name", STREAM_FIXTURES)
def test_parser_output_for_fixtures_is_a_valid_ir_sequence(name: str) -> None:
    check_ir_sequence(parse_sse((DATA / name).read_bytes()))


# --- legacy completions ------------------------------------------------------------------------


def test_completions_request_becomes_one_user_message() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test", "max_tokens": 7,
            "temperature": 0, "top_p": 1, "n": 1, "stream": True,
            "stream_options": {"include_usage": True}, "stop": "\n", "logprobs": 2, "echo": True,
            "suffix": "x", "best_of": 2, "seed": 1, "user": "u"}
    chat_body = chat.completions_request_to_chat(body)
    assert chat_body == {
        "model": "gpt-3.5-turbo-instruct",
        "messages": [{"role": "user", "content": "Say this is a test"}],
        "max_tokens": 7, "temperature": 0, "top_p": 1, "n": 1, "stream": True,
        "stream_options": {"include_usage": True}, "stop": "\n", "seed": 1, "user": "u",
        "logprobs": True, "top_logprobs": 2,
    }
    request = chat.parse_request(chat_body)
    assert request.messages[0].parts == (ir.Text("Say this is a test"),)
    assert request.stream and request.include_usage


@pytest.mark.parametrize(("prompt", "content"), [
    (["line one", "line two"], "line one\nline two"), ("", "Complete this:"),
    (None, "Complete this:"), ([], "Complete this:"),
])
def test_completions_prompt_forms(prompt: Any, content: str) -> None:
    body = chat.completions_request_to_chat({"model": "m", "prompt": prompt})
    assert body["messages"] == [{"role": "user", "content": content}]


@pytest.mark.parametrize("body", [{"prompt": [1, 2, 3]}, {"prompt": 5}, "prompt"])
def test_completions_token_prompts_are_rejected(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        chat.completions_request_to_chat(body)


def test_chat_response_becomes_a_text_completion() -> None:
    body = chat.render_response(chat.parse_response(load("response_reasoning_deepseek.json")),
                                EMPTY_REQUEST)
    completion = chat.chat_response_to_completions(body)
    assert completion == {
        "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e", "object": "text_completion",
        "created": 1705651092, "model": "deepseek-reasoner",
        "choices": [{"text": "9.11 is smaller than 9.8.", "index": 0, "logprobs": None,
                     "finish_reason": "length"}],
        "usage": body["usage"],
    }
    Completion.model_validate(completion)
    tools = chat.chat_response_to_completions(load("response_tool_calls.json"))
    assert tools["choices"][0] | {} == {"text": "", "index": 0, "logprobs": None,
                                        "finish_reason": "stop"}
    Completion.model_validate(tools)


def test_chat_chunks_become_completion_chunks() -> None:
    chunks = validate_stream(render_events(TOOL_EVENTS, ir.Request("m", (), include_usage=True)))
    converted = [chat.chat_chunk_to_completions(c) for c in chunks]
    kept = [c for c in converted if c is not None]
    assert [c["choices"][0]["text"] if c["choices"] else None for c in kept] == ["Hi", "", None]
    assert kept[1]["choices"][0]["finish_reason"] == "stop"
    assert kept[2]["usage"]["total_tokens"] == 15
    assert all(c["object"] == "text_completion" and c["id"] == "msg_1" for c in kept)
    Completion.model_validate(kept[1])
    error = {"error": {"message": "x", "type": "server_error"}}
    assert chat.chat_chunk_to_completions(error) == error


def test_sdk_reads_converted_completion_stream() -> None:
    events = [*TOOL_EVENTS[:9], ir.MessageStop(ir.StopReason.END_TURN)]
    chunks = validate_stream(render_events(events, ir.Request("m", ())))
    raw = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in map(
        chat.chat_chunk_to_completions, chunks) if c is not None) + b"data: [DONE]\n\n"
    with sdk_client(raw) as client:
        stream = client.completions.create(model="m", prompt="p", stream=True)
        assert "".join(c.choices[0].text for c in stream if c.choices) == "Hi"


def test_registry_lists_this_module() -> None:
    registry = pytest.importorskip("cliproxy_cli.formats.registry")  # siblings may be pending
    assert registry.FORMATS[ir.Format.OPENAI_CHAT] is chat
