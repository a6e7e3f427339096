"""Anthropic Messages format: golden fixtures, round trips, cross-family rendering, streams.

Round-trip normalisations (``render_request(parse_request(x)) == x`` except for these):
- ``role:"system"`` messages are folded into ``system`` as text blocks (the API rejects them);
- a missing ``max_tokens`` becomes 32000 (the API requires it; count-tokens bodies keep none
  through ``render_count_tokens_request``);
- empty text blocks and messages left without content are dropped;
- consecutive same-role messages are merged and tool results moved first in their user message;
- a tool ``description`` of ``""`` is omitted; a missing ``input_schema`` becomes an empty object;
- unsigned ``thinking`` blocks (empty signature) are dropped.
Responses always carry both cache usage fields.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx2
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats import anthropic as fmt
from cliproxy_cli.formats import ir
from cliproxy_cli.formats.sse import SSEDecoder, SSEEvent
from tests.formats.validate_anthropic import StreamInvalidError, validate_stream

DATA = Path(__file__).parent.parent / "data" / "anthropic"
A = ir.Format.ANTHROPIC
EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
EMPTY_REQUEST = ir.Request(model="", messages=())
T = TypeVar("T")


def of(cls: type[T], value: object) -> T:
    assert isinstance(value, cls), value
    return value


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def sse_events(name: str) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed((DATA / name).read_bytes()) + decoder.close()


def parse_sse(name: str) -> list[ir.StreamEvent]:
    parser = fmt.parse_stream()
    out: list[ir.StreamEvent] = []
    for event in sse_events(name):
        out.extend(parser.feed(event))
    return out + parser.close()


def render_events(events: list[ir.StreamEvent], model: str = "claude-x") -> bytes:
    renderer = fmt.render_stream(ir.Request(model=model, messages=()))
    return b"".join(renderer.feed(e) for e in events) + renderer.close()


def sdk_final_message(raw: bytes) -> dict[str, Any]:
    """Run rendered SSE through the official SDK's streaming helper; the message it built."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    transport = httpx2.MockTransport(answer)
    with httpx2.Client(transport=transport) as http:
        client = anthropic.Anthropic(api_key="k", base_url="http://test", http_client=http,
                                     max_retries=0)
        with client.messages.stream(model="m", max_tokens=8,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            return stream.get_final_message().model_dump()


def foreign(**fields: Any) -> ir.Request:
    base: dict[str, Any] = {"model": "claude-sonnet-4-5", "messages": (), "source":
                            ir.Format.OPENAI_CHAT}
    base.update(fields)
    return ir.Request(**base)


def user(*parts: ir.Part) -> ir.Message:
    return ir.Message(ir.Role.USER, parts)


def assistant(*parts: ir.Part) -> ir.Message:
    return ir.Message(ir.Role.ASSISTANT, parts)


# --- requests: golden fixtures -----------------------------------------------------------------


def test_claude_code_request_parses_field_by_field():
    req = fmt.parse_request(load("request_claude_code.json"))
    assert req.source is A
    assert (req.model, req.max_tokens, req.stream) == ("claude-opus-5-5", 128000, True)
    assert [of(ir.Text, p).text[:20] for p in req.system] == [
        "x-anthropic-billing-", "You are Claude Code,", "You are an interacti"]
    assert req.system[0].extras == {}
    assert req.system[1].extras == {"cache_control": {"type": "ephemeral"}}
    roles = [m.role for m in req.messages]
    assert roles == [ir.Role.USER, ir.Role.SYSTEM, ir.Role.ASSISTANT, ir.Role.USER]
    assert req.messages[0].parts[2] == ir.Text("Run echo hi", extras={"cache_control":
                                                                       {"type": "ephemeral"}})
    assert req.messages[1].parts == (ir.Text("<env>\nWorking directory: /tmp/work\nPlatform: "
                                             "linux\n</env>"),)
    thinking, text, call = req.messages[2].parts
    assert thinking == ir.Reasoning("The user wants me to run a command.",
                                    ir.Signature(A, "EqQBCkYIBxgCKkBsig1=="))
    assert text == ir.Text("I'll run it.")
    assert call == ir.ToolCall("toolu_01A09q90qw90lq917835lq9", "Bash",
                               {"command": "echo hi", "description": "Print hi"})
    (result,) = req.messages[3].parts
    assert isinstance(result, ir.ToolResult)
    assert (result.call_id, result.name, result.is_error) == (call.id, "Bash", False)
    assert of(ir.Text, result.content[0]).text.startswith("hi\n\n<system-reminder>")
    assert result.extras["cache_control"] == {"type": "ephemeral"}
    assert [t.name for t in req.tools] == ["Bash", "Read", "ToolSearch", "DeferredToolPlaceholder"]
    assert req.tools[0].parameters["required"] == ["command"]
    assert req.tools[3].extras == {"defer_loading": True}
    assert req.reasoning == ir.ReasoningConfig(effort="medium", include_thoughts=False)
    assert req.user.startswith('{"device_id"')
    assert req.extras["context_management"]["edits"][0]["type"] == "clear_thinking_20251015"
    assert req.extras["output_config"] == {"effort": "medium"}


def test_claude_code_request_renders_back_with_system_message_folded():
    body = load("request_claude_code.json")
    out = fmt.render_request(fmt.parse_request(body))
    system_message = body["messages"].pop(1)
    body["system"].append({"type": "text", "text": system_message["content"]})
    assert out == body


def test_sdk_request_parses_and_round_trips():
    body = load("request_sdk_basic.json")
    req = fmt.parse_request(body)
    assert req.system == (ir.Text("Be brief."),)
    assert req.messages[0].parts == (ir.Text("What is the weather in Paris?"),)
    results = [of(ir.ToolResult, p) for p in req.messages[2].parts[:2]]
    assert [(r.call_id, r.name) for r in results] == [("toolu_01", "get_weather"),
                                                      ("toolu_02", "get_time")]
    assert results[1].content == (ir.Text("14:05"),)
    assert req.tool_choice == ir.ToolChoice("required")
    assert req.parallel_tool_calls is False
    assert (req.temperature, req.top_p, req.top_k) == (0.7, 0.9, 40)
    assert req.stop == ("\n\nHuman:",)
    assert (req.stream, req.user, req.reasoning) == (False, "user-42", None)
    assert req.tools[1].description == ""
    assert fmt.render_request(req) == body


def test_blocks_request_carries_what_the_ir_cannot_express():
    body = load("request_blocks.json")
    req = fmt.parse_request(body)
    first = req.messages[0]
    assert first.parts[0] == ir.Image(media_type="image/png", data=body["messages"][0]["content"]
                                      [0]["source"]["data"])
    assert first.parts[1] == ir.Image(url="https://example.com/cat.jpg",
                                      extras={"cache_control": {"type": "ephemeral"}})
    assert [pos for pos, _ in first.extras["_blocks"]] == [2, 3]
    reply = req.messages[1]
    assert reply.parts[0] == ir.Reasoning(redacted=True, signature=ir.Signature(
        A, "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"))
    assert reply.parts[1].extras["citations"][0]["type"] == "char_location"
    assert [b["type"] for _, b in reply.extras["_blocks"]] == ["server_tool_use",
                                                               "web_search_tool_result"]
    result = req.messages[2].parts[0]
    assert isinstance(result, ir.ToolResult)
    assert (result.is_error, result.name) == (True, "lookup")
    assert [type(p).__name__ for p in result.content] == ["Text", "Image"]
    assert result.extras["_blocks"] == [[2, {"type": "tool_reference", "tool_name": "lookup_v2"}]]
    assert [t.name for t in req.tools] == ["lookup", "lookup_v2"]
    assert req.tools[1].extras == {"type": "custom", "strict": True}
    assert [pos for pos, _ in req.extras["_server_tools"]] == [1, 3]
    assert req.reasoning == ir.ReasoningConfig(budget=8000)
    assert req.response_format is not None and req.response_format.kind == "json_schema"
    assert req.parallel_tool_calls is True
    assert {"mcp_servers", "container", "service_tier", "output_config"} <= set(req.extras)
    assert fmt.render_request(req) == body


def test_count_tokens_body_parses_and_renders_without_generation_fields():
    body = load("request_count_tokens.json")
    req = fmt.parse_request(body)
    assert req.max_tokens is None
    assert fmt.render_request(req)["max_tokens"] == 32000
    assert fmt.render_count_tokens_request(req) == body
    assert fmt.render_count_tokens(42) == {"input_tokens": 42}
    assert fmt.parse_count_tokens({"input_tokens": 42}) == 42
    with pytest.raises(ir.FormatError):
        fmt.parse_count_tokens({"input_tokens": "42"})


def test_thinking_variants_parse():
    def reasoning(thinking: Any, **more: Any) -> ir.ReasoningConfig | None:
        body = {"model": "m", "messages": [], "thinking": thinking, **more}
        return fmt.parse_request(body).reasoning

    assert reasoning({"type": "disabled"}) == ir.ReasoningConfig(effort="none")
    assert reasoning({"type": "adaptive"}) == ir.ReasoningConfig(effort="auto")
    assert reasoning({"type": "enabled"}) == ir.ReasoningConfig(effort="auto")
    assert reasoning({"type": "enabled", "budget_tokens": 31999, "display": "summarized"}) == \
        ir.ReasoningConfig(budget=31999, include_thoughts=True)
    assert reasoning({"type": "adaptive"}, output_config={"effort": "max"}) == \
        ir.ReasoningConfig(effort="xhigh")
    assert reasoning({"type": "disabled"}, output_config={"effort": "high"}) == \
        ir.ReasoningConfig(effort="none")
    assert reasoning({"type": "someday"}) is None
    assert reasoning(None, output_config={"effort": "low"}) == ir.ReasoningConfig(effort="low")


def test_unknown_thinking_type_survives_same_family():
    body = {"model": "m", "max_tokens": 10, "messages": [], "thinking": {"type": "someday"}}
    assert fmt.render_request(fmt.parse_request(body)) == body


# --- requests: rendering from other families ---------------------------------------------------


def test_foreign_request_renders_valid_anthropic_shape():
    req = foreign(
        system=(ir.Text("be brief", extras={"cache_control": {"type": "ephemeral"}}),),
        messages=(
            user(ir.Text("hi")),
            ir.Message(ir.Role.SYSTEM, (ir.Text("mid-conversation rule"),)),
            user(ir.Text("more"), ir.Image(media_type="image/png", data="AAAA"),
                 ir.Image(url="data:image/jpeg;base64,BBBB"), ir.Image(url="https://x/y.png")),
            assistant(ir.Reasoning("unsigned thoughts"),
                      ir.Reasoning("gemini thoughts", ir.Signature(ir.Format.GEMINI, "g")),
                      ir.Text(""),
                      ir.ToolCall("functions.get:0", "get", {"a": 1}),
                      ir.ToolCall("call_ok-1", "get", {"a": 2})),
            user(ir.Text("after")),
            user(ir.ToolResult("call_ok-1", (ir.Text("2"),)),
                 ir.ToolResult("functions.get:0", (ir.Text("1"),), is_error=True)),
        ),
        tools=(ir.Tool("get", "Get", {"type": "object", "properties": {"a": {"type": "integer"}}},
                       extras={"strict": True}),),
        tool_choice=ir.ToolChoice("required"),
        extras={"seed": 7},
    )
    body = fmt.render_request(req)
    assert body["system"] == [{"type": "text", "text": "be brief"},
                              {"type": "text", "text": "mid-conversation rule"}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    first = body["messages"][0]["content"]
    assert [b["type"] for b in first] == ["text", "text", "image", "image", "image"]
    assert [b["source"] for b in first[2:]] == [
        {"type": "base64", "media_type": "image/png", "data": "AAAA"},
        {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"},
        {"type": "url", "url": "https://x/y.png"}]
    calls = body["messages"][1]["content"]
    assert [b["type"] for b in calls] == ["tool_use", "tool_use"]
    sanitized = calls[0]["id"]
    assert sanitized.startswith("functions_get_0_") and sanitized != "functions_get_0"
    last = body["messages"][2]["content"]
    assert [b["type"] for b in last] == ["tool_result", "tool_result", "text"]
    assert [b["tool_use_id"] for b in last[:2]] == ["call_ok-1", sanitized]
    assert last[1]["is_error"] is True and "is_error" not in last[0]
    assert body["tools"] == [{"name": "get", "description": "Get", "input_schema":
                              {"type": "object", "properties": {"a": {"type": "integer"}}}}]
    assert body["tool_choice"] == {"type": "any"}
    assert body["max_tokens"] == 32000
    assert "seed" not in body and "thinking" not in body


def test_tool_use_id_sanitising_keeps_distinct_ids_distinct():
    req = foreign(messages=(assistant(ir.ToolCall("a.b", "f", {}), ir.ToolCall("a:b", "f", {})),))
    ids = [b["id"] for b in fmt.render_request(req)["messages"][0]["content"]]
    assert len(set(ids)) == 2
    assert all(c.isalnum() or c in "_-" for i in ids for c in i)


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking", "limit"),
    [
        (ir.ReasoningConfig(effort="high"), None, {"type": "enabled", "budget_tokens": 24576},
         32000),
        (ir.ReasoningConfig(effort="xhigh"), None, {"type": "enabled", "budget_tokens": 31999},
         32000),
        (ir.ReasoningConfig(effort="high"), 4096, {"type": "enabled", "budget_tokens": 4095}, 4096),
        (ir.ReasoningConfig(budget=500), 800, {"type": "enabled", "budget_tokens": 1024}, 1824),
        (ir.ReasoningConfig(effort="auto"), 20000, {"type": "enabled", "budget_tokens": 8192},
         20000),
        (ir.ReasoningConfig(budget=-1), None, {"type": "enabled", "budget_tokens": 8192}, 32000),
        (ir.ReasoningConfig(effort="none"), None, {"type": "disabled"}, 32000),
        (ir.ReasoningConfig(budget=0), 100, {"type": "disabled"}, 100),
    ],
)
def test_reasoning_renders_as_thinking(reasoning, max_tokens, thinking, limit):
    body = fmt.render_request(foreign(messages=(user(ir.Text("q")),), reasoning=reasoning,
                                      max_tokens=max_tokens))
    assert body["thinking"] == thinking
    assert body["max_tokens"] == limit


def test_auto_reasoning_from_anthropic_renders_adaptive():
    req = ir.Request(model="m", messages=(), reasoning=ir.ReasoningConfig(effort="auto"), source=A)
    assert fmt.render_request(req)["thinking"] == {"type": "adaptive"}


def test_same_family_reasoning_change_rerenders_thinking_and_effort():
    req = fmt.parse_request(load("request_claude_code.json"))
    body = fmt.render_request(replace(req, reasoning=ir.ReasoningConfig(effort="high")))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert body["output_config"] == {"effort": "high"}
    body = fmt.render_request(replace(req, reasoning=None))
    assert "thinking" not in body and "output_config" not in body


def test_thinking_dropped_when_tool_choice_forces_a_tool():
    tools = (ir.Tool("f"),)
    for choice in (ir.ToolChoice("required"), ir.ToolChoice("tool", "f")):
        body = fmt.render_request(foreign(tools=tools, tool_choice=choice,
                                          reasoning=ir.ReasoningConfig(effort="high")))
        assert "thinking" not in body
    body = fmt.render_request(foreign(tools=tools, tool_choice=ir.ToolChoice("auto"),
                                      reasoning=ir.ReasoningConfig(effort="high")))
    assert body["thinking"]["type"] == "enabled"


def test_thinking_dropped_when_last_tool_turn_has_no_signed_thinking():
    messages = (user(ir.Text("q")), assistant(ir.Reasoning("foreign"), ir.ToolCall("c1", "f", {})),
                user(ir.ToolResult("c1", (ir.Text("r"),))))
    body = fmt.render_request(foreign(messages=messages,
                                      reasoning=ir.ReasoningConfig(effort="low")))
    assert "thinking" not in body
    signed = (messages[0], assistant(ir.Reasoning("t", ir.Signature(A, "sig")),
                                     ir.ToolCall("c1", "f", {})), messages[2])
    body = fmt.render_request(foreign(messages=signed, reasoning=ir.ReasoningConfig(effort="low")))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "t",
                                                 "signature": "sig"}


def test_sampling_fixed_for_thinking_and_for_newer_models():
    body = fmt.render_request(foreign(temperature=0.5, top_p=0.9, top_k=5))
    assert (body["temperature"], "top_p" in body, body["top_k"]) == (0.5, False, 5)
    body = fmt.render_request(foreign(temperature=0.5, top_k=5, stop=("  ", "END"),
                                      reasoning=ir.ReasoningConfig(effort="low")))
    assert "temperature" not in body and "top_k" not in body
    assert body["stop_sequences"] == ["END"]
    body = fmt.render_request(foreign(top_p=0.97, reasoning=ir.ReasoningConfig(effort="low")))
    assert body["top_p"] == 0.97


def test_tool_choice_variants():
    tools = (ir.Tool("f"),)
    assert fmt.render_request(foreign(tools=tools, parallel_tool_calls=False))["tool_choice"] == \
        {"type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in fmt.render_request(foreign(tools=tools, parallel_tool_calls=True))
    assert fmt.render_request(foreign(tools=tools, tool_choice=ir.ToolChoice("tool")))[
        "tool_choice"] == {"type": "any"}
    assert fmt.render_request(foreign(tools=tools, tool_choice=ir.ToolChoice("none"),
                                      parallel_tool_calls=False))["tool_choice"] == {"type": "none"}
    assert "tool_choice" not in fmt.render_request(foreign(tool_choice=ir.ToolChoice("auto")))


def test_response_format_and_user_render():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = fmt.render_request(foreign(response_format=ir.ResponseFormat("json_schema", schema),
                                      user="u1"))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert body["metadata"] == {"user_id": "u1"}
    body = fmt.render_request(foreign(response_format=ir.ResponseFormat("json_object")))
    assert "output_config" not in body


def test_foreign_tool_schema_gets_an_object_type():
    body = fmt.render_request(foreign(tools=(ir.Tool("f", parameters={"properties": {}}),)))
    assert body["tools"][0]["input_schema"] == {"type": "object", "properties": {}}


def test_redacted_and_signed_reasoning_render_in_history():
    sig = ir.Signature(A, "data")
    parts = (ir.Reasoning(redacted=True, signature=sig),
             ir.Reasoning(signature=ir.Signature(A, "redacted_thinking:blob")),
             ir.Reasoning(redacted=True, signature=ir.Signature(ir.Format.OPENAI_RESPONSES, "x")),
             ir.Text("ok"))
    body = fmt.render_request(foreign(messages=(assistant(*parts),)))
    assert body["messages"][0]["content"] == [
        {"type": "redacted_thinking", "data": "data"},
        {"type": "redacted_thinking", "data": "blob"},
        {"type": "text", "text": "ok"}]


def test_empty_messages_are_dropped():
    body = fmt.render_request(foreign(messages=(user(ir.Text("a")), assistant(ir.Reasoning("x")),
                                                user(ir.Text("b")))))
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                             {"type": "text", "text": "b"}]}]


def test_foreign_blocks_the_api_rejects_in_a_role_are_dropped():
    body = fmt.render_request(foreign(messages=(
        user(ir.Text("q"), ir.ToolCall("c0", "f", {})),
        assistant(ir.Image(url="https://x/generated.png"), ir.Text("here"),
                  ir.ToolResult("c0", (ir.Text("r"),))),
    )))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "here"}]}]


def test_same_family_string_content_merges_with_blocks():
    body = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
        {"role": "user", "content": ""}]}
    out = fmt.render_request(fmt.parse_request(body))
    assert out["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "first"}, {"type": "text", "text": "second"}]}]


def test_same_family_thinking_is_clamped_only_when_max_tokens_no_longer_fits():
    req = fmt.parse_request({"model": "m", "max_tokens": 32000, "messages": [],
                             "thinking": {"type": "enabled", "budget_tokens": 31999,
                                          "display": "omitted"}})
    assert fmt.render_request(req)["thinking"]["budget_tokens"] == 31999
    body = fmt.render_request(replace(req, max_tokens=8000))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 7999, "display": "omitted"}
    assert body["max_tokens"] == 8000


def test_same_family_display_follows_include_thoughts():
    req = fmt.parse_request({"model": "m", "max_tokens": 5000, "messages": [],
                             "thinking": {"type": "enabled", "budget_tokens": 2000}})
    changed = replace(req, reasoning=ir.ReasoningConfig(budget=3000, include_thoughts=False))
    assert fmt.render_request(changed)["thinking"] == {"type": "enabled", "budget_tokens": 3000,
                                                       "display": "omitted"}


# --- requests: hostile input -------------------------------------------------------------------

_OK: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _with(**fields: Any) -> dict[str, Any]:
    return {**_OK, **fields}


def _message(content: Any, role: Any = "user") -> dict[str, Any]:
    return _with(messages=[{"role": role, "content": content}])


@pytest.mark.parametrize(
    "body",
    [
        [], "text", None, {"messages": []}, {"model": 1, "messages": []}, {"model": "m"},
        _with(messages={}), _with(messages=["hi"]), _message("hi", role="tool"),
        _message("hi", role=["user"]), _message(5), _message([5]), _message([{"text": "x"}]),
        _message([{"type": "text", "text": 5}]), _message([{"type": "text"}]),
        _message([{"type": "image", "source": "x"}]),
        _message([{"type": "image", "source": {"type": "base64", "data": 5}}]),
        _message([{"type": "tool_use", "id": "t", "input": {}}]),
        _message([{"type": "tool_use", "id": 5, "name": "f"}]),
        _message([{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]),
        _message([{"type": "tool_result", "tool_use_id": "t", "content": 5}]),
        _message([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}]),
        _message([{"type": "redacted_thinking"}]),
        _message([{"type": "thinking", "thinking": ["x"]}]),
        _with(system=5), _with(system=[{"type": "text", "text": None}]), _with(system=["x"]),
        _with(tools={}), _with(tools=["f"]), _with(tools=[{"description": "x"}]),
        _with(tool_choice={"type": "sometimes"}), _with(tool_choice={"type": ["any"]}),
        _with(tool_choice=5),
        _with(thinking="on"), _with(thinking={"type": "enabled", "budget_tokens": "8000"}),
        _with(max_tokens="10"), _with(max_tokens=1.5), _with(temperature=True),
        _with(top_p="0.9"), _with(top_k=2.5), _with(stop_sequences="END"),
        _with(stop_sequences=[1]), _with(stream="yes"), _with(metadata="u"),
    ],
)
def test_malformed_requests_raise_format_error(body):
    with pytest.raises(ir.FormatError):
        fmt.parse_request(body)


def test_tolerated_oddities_parse():
    req = fmt.parse_request(_message(None))
    assert req.messages[0].parts == ()
    req = fmt.parse_request(_message([
        {"type": "tool_use", "name": "f", "input": "[1, 2]"},
        {"type": "tool_use", "id": "t2", "name": "g", "input": "not json"},
        {"type": "tool_use", "id": "t3", "name": "h"},
        {"type": "brand_new_block", "x": 1},
    ], role="assistant"))
    first, second, third = req.messages[0].parts
    assert first == ir.ToolCall("", "f", {"value": [1, 2]})
    assert of(ir.ToolCall, second).arguments == {"value": "not json"}
    assert of(ir.ToolCall, third).arguments == {}
    assert req.messages[0].extras["_blocks"] == [[3, {"type": "brand_new_block", "x": 1}]]
    body = fmt.render_request(req)
    assert body["messages"][0]["content"][3] == {"type": "brand_new_block", "x": 1}
    assert body["messages"][0]["content"][0]["id"].startswith("toolu_")
    assert fmt.parse_request(_with(tool_choice="auto")).tool_choice == ir.ToolChoice("auto")
    assert fmt.parse_request(_message([])).messages[0].parts == ()


# --- responses ---------------------------------------------------------------------------------


def test_tool_use_response_parses_field_by_field():
    resp = fmt.parse_response(load("response_tool_use.json"))
    assert (resp.id, resp.model, resp.source) == ("msg_01XFDUDYJgAACzvnptvVoYEL",
                                                  "claude-sonnet-4-5-20250929", A)
    thinking, text, call = resp.parts
    assert of(ir.Reasoning, thinking).signature == ir.Signature(
        A, "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")
    assert text == ir.Text("Let me check the weather.")
    assert call == ir.ToolCall("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather",
                               {"city": "Paris", "unit": "celsius"})
    assert resp.stop_reason is ir.StopReason.TOOL_USE
    assert resp.usage == ir.Usage(input_tokens=112, output_tokens=50, cached_tokens=80,
                                  cache_creation_tokens=20)
    assert resp.extras == {"_usage": {"service_tier": "standard"}}


def test_server_tool_response_keeps_blocks_and_native_stop_reason():
    resp = fmt.parse_response(load("response_server_tools.json"))
    assert resp.parts[0] == ir.Reasoning(redacted=True, signature=ir.Signature(
        A, "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"))
    assert resp.parts[1].extras["citations"][0]["type"] == "web_search_result_location"
    assert [pos for pos, _ in resp.extras["_blocks"]] == [1, 2]
    assert resp.stop_reason is ir.StopReason.MAX_TOKENS
    assert resp.extras["_stop_reason"] == "model_context_window_exceeded"
    assert resp.usage.reasoning_tokens == 400
    assert resp.extras["container"] is None


@pytest.mark.parametrize("name", ["response_tool_use.json", "response_server_tools.json",
                                  "response_stop_sequence.json"])
def test_responses_round_trip_and_validate_with_sdk(name):
    body = load(name)
    out = fmt.render_response(fmt.parse_response(body), EMPTY_REQUEST)
    assert out == body
    anthropic.types.Message.model_validate(out)


@pytest.mark.parametrize(
    ("native", "stop"),
    [("end_turn", ir.StopReason.END_TURN), ("max_tokens", ir.StopReason.MAX_TOKENS),
     ("stop_sequence", ir.StopReason.STOP_SEQUENCE), ("tool_use", ir.StopReason.TOOL_USE),
     ("pause_turn", ir.StopReason.PAUSE), ("refusal", ir.StopReason.CONTENT_FILTER),
     (None, ir.StopReason.END_TURN), ("brand_new", ir.StopReason.END_TURN)],
)
def test_stop_reasons_parse(native, stop):
    body = {"id": "m", "content": [], "stop_reason": native, "usage": {}}
    assert fmt.parse_response(body).stop_reason is stop


def test_foreign_response_renders_for_anthropic_clients():
    resp = ir.Response(
        id="",
        model="gpt-5",
        parts=(ir.Reasoning("visible thoughts", ir.Signature(ir.Format.GEMINI, "g")),
               ir.Reasoning(redacted=True, signature=ir.Signature(ir.Format.OPENAI_RESPONSES, "e")),
               ir.Text("", extras={"x": 1}), ir.Text("answer", extras={"annotations": []}),
               ir.Image(data="AAAA"), ir.ToolCall("", "f", {"a": 1})),
        stop_reason=ir.StopReason.END_TURN,
        usage=ir.Usage(input_tokens=100, output_tokens=30, cached_tokens=60, reasoning_tokens=10),
        source=ir.Format.OPENAI_CHAT,
        extras={"system_fingerprint": "fp"},
    )
    out = fmt.render_response(resp, foreign(model="claude-alias"))
    message = anthropic.types.Message.model_validate(out)
    assert message.id.startswith("msg_") and message.model == "claude-alias"
    assert [b["type"] for b in out["content"]] == ["thinking", "text", "tool_use"]
    assert out["content"][0] == {"type": "thinking", "thinking": "visible thoughts",
                                 "signature": ""}
    assert out["content"][1] == {"type": "text", "text": "answer"}
    assert out["content"][2]["id"].startswith("toolu_")
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {"input_tokens": 40, "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 60, "output_tokens": 30,
                            "output_tokens_details": {"thinking_tokens": 10}}
    assert "system_fingerprint" not in out


@pytest.mark.parametrize(("stop", "native"), [
    (ir.StopReason.CONTENT_FILTER, "refusal"), (ir.StopReason.PAUSE, "pause_turn"),
    (ir.StopReason.ERROR, "end_turn"), (ir.StopReason.STOP_SEQUENCE, "stop_sequence"),
])
def test_stop_reasons_render(stop, native):
    resp = ir.Response("r", "m", (ir.Text("x"),), stop, "END" if native == "stop_sequence" else "")
    out = fmt.render_response(resp, EMPTY_REQUEST)
    assert out["stop_reason"] == native
    anthropic.types.Message.model_validate(out)


def test_malformed_responses_raise_format_error():
    bodies: list[Any] = [[], {"type": "error", "error": {}}, {"content": 5}, {"content": [5]}]
    for body in bodies:
        with pytest.raises(ir.FormatError):
            fmt.parse_response(body)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "native"),
    [(400, "invalid_request_error", "invalid_request_error"),
     (401, "authentication_error", "authentication_error"),
     (403, "permission_error", "permission_error"), (404, "", "not_found_error"),
     (404, "invalid_request_error", "not_found_error"),
     (413, "request_too_large", "request_too_large"), (429, "", "rate_limit_error"),
     (500, "server_error", "api_error"), (529, "", "overloaded_error"),
     (503, "overloaded_error", "overloaded_error"), (503, "", "api_error"),
     (502, "server_error", "api_error"), (422, "", "invalid_request_error"),
     (402, "", "billing_error"), (504, "", "timeout_error")],
)
def test_render_error_maps_status_and_type(status, kind, native):
    assert fmt.render_error(ir.ErrorInfo(status, "boom", kind)) == {
        "type": "error", "error": {"type": native, "message": "boom"}}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
         ir.ErrorInfo(529, "Overloaded", "overloaded_error")),
        (500, {"type": "error", "error": {"type": "api_error", "message": "Internal"}},
         ir.ErrorInfo(500, "Internal", "server_error", "api_error")),
        (402, b'{"type":"error","error":{"type":"billing_error","message":"pay"}}',
         ir.ErrorInfo(402, "pay", "permission_error", "billing_error")),
        (429, {"error": {"message": "slow down", "type": "rate_limit_error",
                         "code": "rate_limit_exceeded"}},
         ir.ErrorInfo(429, "slow down", "rate_limit_error", "rate_limit_exceeded")),
        (403, [{"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}],
         ir.ErrorInfo(403, "denied", "permission_error")),
        (502, "<html>bad gateway</html>", ir.ErrorInfo(502, "<html>bad gateway</html>",
                                                       "server_error")),
        (503, None, ir.ErrorInfo(503, "Service Unavailable", "overloaded_error")),
        (404, b"\xff\xfe", ir.ErrorInfo(404, "\ufffd\ufffd", "not_found_error")),
        (400, {"error": "bad thing"}, ir.ErrorInfo(400, "bad thing", "invalid_request_error")),
        (418, 42, ir.ErrorInfo(418, "I'm a Teapot", "invalid_request_error")),
        (999, {}, ir.ErrorInfo(999, "HTTP 999", "server_error")),
    ],
)
def test_parse_error_reads_any_body(status, body, expected):
    assert fmt.parse_error(status, body) == expected


# --- stream parsing ----------------------------------------------------------------------------


def test_stream_with_thinking_and_tool_use_parses():
    events = parse_sse("stream_thinking_tool.sse")
    sig = ir.Signature(A, "EqQBCgIYAhIM1gbcDa9GJwZA2b3h")
    usage_start = ir.Usage(input_tokens=2520, output_tokens=2, cached_tokens=2048)
    final = replace(usage_start, output_tokens=89)
    assert events == [
        ir.MessageStart("msg_014p7gG3wDgGV9EUtLvnow3U", "claude-sonnet-4-5-20250929", usage_start),
        ir.BlockStart(0, "reasoning"),
        ir.ReasoningDelta(0, "Let me think"), ir.ReasoningDelta(0, " about it."),
        ir.SignatureDelta(0, sig), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, "Okay, let's check"),
        ir.TextDelta(1, " the weather."), ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        ir.ToolArgsDelta(2, '{"location":'), ir.ToolArgsDelta(2, ' "San Francisco, CA"}'),
        ir.BlockStop(2),
        ir.UsageUpdate(final),
        ir.MessageStop(ir.StopReason.TOOL_USE, final),
    ]


def test_stream_skips_server_blocks_and_renumbers():
    events = parse_sse("stream_server_tool.sse")
    starts = [e for e in events if isinstance(e, ir.BlockStart)]
    assert starts == [ir.BlockStart(0, "reasoning"), ir.BlockStart(1, "text")]
    assert ir.SignatureDelta(0, ir.Signature(A, "redacted_thinking:EmwKAhgBEgy3va3pzix")) in events
    assert [e for e in events if isinstance(e, ir.TextDelta)] == [ir.TextDelta(1, "It is sunny.")]
    assert not any(isinstance(e, ir.ToolArgsDelta) for e in events)
    stop = events[-1]
    assert isinstance(stop, ir.MessageStop)
    assert stop.usage == ir.Usage(input_tokens=10682, output_tokens=510)


def test_stream_error_event_becomes_stream_error():
    events = parse_sse("stream_error.sse")
    assert events[-1] == ir.StreamError(ir.ErrorInfo(529, "Overloaded", "overloaded_error"))
    assert sum(isinstance(e, ir.StreamError) for e in events) == 1


def test_truncated_stream_closes_blocks_and_reports():
    events = parse_sse("stream_truncated.sse")
    assert events[-2:] == [ir.BlockStop(0), ir.StreamError(fmt.stream.ENDED_EARLY)]


def test_stream_parser_ignores_garbage_and_events_after_stop():
    parser = fmt.parse_stream()
    assert parser.feed(SSEEvent("not json", "message_start")) == []
    assert parser.feed(SSEEvent("[1]", "")) == []
    assert parser.feed(SSEEvent('{"type":"brand_new"}', "brand_new")) == []
    assert parser.feed(SSEEvent('{"type":"ping"}', "ping")) == []
    out = parser.feed(SSEEvent('{"type":"content_block_delta","index":0,"delta":{}}'))
    assert out == []
    out = parser.feed(SSEEvent('{"type":"content_block_start","index":"x"}'))
    assert out == []
    out = parser.feed(SSEEvent('{"type":"content_block_start","index":0,'
                               '"content_block":{"type":"text","text":"pre"}}'))
    assert out == [ir.MessageStart("", ""), ir.BlockStart(0, "text"), ir.TextDelta(0, "pre")]
    out = parser.feed(SSEEvent('{"type":"message_stop"}'))
    assert out == [ir.BlockStop(0), ir.MessageStop(ir.StopReason.END_TURN)]
    assert parser.feed(SSEEvent('{"type":"message_start","message":{}}')) == []
    assert parser.close() == []


def test_stream_parser_close_without_anything_reports():
    assert fmt.parse_stream().close() == [ir.StreamError(fmt.stream.ENDED_EARLY)]


# --- stream rendering --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stream_thinking_tool.sse", "stream_server_tool.sse"])
def test_parsed_streams_render_back_and_the_sdk_accepts_them(name):
    raw = render_events(parse_sse(name))
    events = validate_stream(raw)
    for data in events:
        EVENT.validate_python(data)
    message = sdk_final_message(raw)
    assert message["model"] == "claude-x"
    assert message["stop_reason"] in ("tool_use", "end_turn")


def test_thinking_tool_stream_round_trips_to_the_same_message():
    message = sdk_final_message(render_events(parse_sse("stream_thinking_tool.sse")))
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][0]["signature"] == "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"
    assert message["content"][2]["input"] == {"location": "San Francisco, CA"}
    usage = message["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"], usage["output_tokens"]) == \
        (472, 2048, 89)


def test_redacted_thinking_renders_as_a_redacted_block():
    message = sdk_final_message(render_events(parse_sse("stream_server_tool.sse")))
    assert message["content"][0] == {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}


def test_interleaved_parallel_tool_calls_are_serialised():
    events: list[ir.StreamEvent] = [
        ir.MessageStart("chatcmpl-1", "gpt-5"),
        ir.BlockStart(0, "text"), ir.TextDelta(0, "Calling"),
        ir.BlockStart(1, "tool_call", "call_a", "get"),
        ir.ToolArgsDelta(1, '{"city":'),
        ir.BlockStart(2, "tool_call", "call_b", "get"),
        ir.ToolArgsDelta(2, '{"city":'), ir.TextDelta(0, " tools"),
        ir.ToolArgsDelta(1, '"Paris"}'), ir.ToolArgsDelta(2, '"Rome"}'),
        ir.BlockStop(2), ir.BlockStop(0), ir.BlockStop(1),
        ir.MessageStop(ir.StopReason.TOOL_USE, ir.Usage(10, 5)),
    ]
    raw = render_events(events)
    validate_stream(raw)
    message = sdk_final_message(raw)
    assert message["id"] == "chatcmpl-1"
    assert message["content"][0]["text"] == "Calling tools"
    assert [(b["id"], b["input"]) for b in message["content"][1:]] == [
        ("call_a", {"city": "Paris"}), ("call_b", {"city": "Rome"})]


def test_message_stop_flushes_held_blocks():
    events: list[ir.StreamEvent] = [
        ir.BlockStart(0, "tool_call", "a", "f"), ir.BlockStart(1, "tool_call", "b", "f"),
        ir.ToolArgsDelta(1, "{}"), ir.MessageStop(ir.StopReason.END_TURN),
    ]
    raw = render_events(events)
    data = validate_stream(raw)
    assert [d["content_block"]["id"] for d in data if d["type"] == "content_block_start"] == \
        ["a", "b"]
    assert data[-2]["delta"]["stop_reason"] == "tool_use"


def test_zero_block_stream_still_ends_properly():
    data = validate_stream(render_events([ir.MessageStart("m1", ""),
                                          ir.MessageStop(ir.StopReason.MAX_TOKENS)]))
    assert [d["type"] for d in data] == ["message_start", "message_delta", "message_stop"]
    assert data[0]["message"]["model"] == "claude-x"
    assert data[1]["delta"]["stop_reason"] == "max_tokens"
    assert data[1]["usage"] == {"output_tokens": 0}
    data = validate_stream(render_events([ir.MessageStop(ir.StopReason.END_TURN)], model=""))
    assert data[0]["message"]["id"].startswith("msg_")


def test_error_mid_stream_renders_error_event_last():
    raw = render_events([ir.MessageStart("m", "x"), ir.BlockStart(0, "text"),
                         ir.TextDelta(0, "Hel"),
                         ir.StreamError(ir.ErrorInfo(529, "Overloaded", "overloaded_error")),
                         ir.TextDelta(0, "ignored")])
    data = validate_stream(raw)
    assert data[-1] == {"type": "error", "error": {"type": "overloaded_error",
                                                   "message": "Overloaded"}}
    assert raw.endswith(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                        b'"message":"Overloaded"}}\n\n')
    with pytest.raises(anthropic.APIStatusError):
        sdk_final_message(raw)


def test_error_before_anything_and_close_without_stop():
    data = validate_stream(render_events([ir.StreamError(ir.ErrorInfo(429, "slow"))]))
    assert data == [{"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}]
    data = validate_stream(render_events([ir.MessageStart("m", "x"), ir.BlockStart(0, "text")]))
    assert data[-1]["error"] == {"type": "api_error",
                                 "message": "upstream stream ended before completion"}
    renderer = fmt.render_stream(EMPTY_REQUEST)
    renderer.feed(ir.MessageStop(ir.StopReason.END_TURN))
    assert renderer.close() == b""
    assert renderer.feed(ir.TextDelta(0, "late")) == b""


def test_reasoning_blocks_only_carry_anthropic_signatures():
    events: list[ir.StreamEvent] = [
        ir.BlockStart(0, "reasoning"), ir.ReasoningDelta(0, "gemini thought"),
        ir.SignatureDelta(0, ir.Signature(ir.Format.GEMINI, "g")), ir.BlockStop(0),
        ir.BlockStart(1, "reasoning"), ir.SignatureDelta(1, ir.Signature(ir.Format.GEMINI, "g")),
        ir.BlockStop(1),
        ir.BlockStart(2, "reasoning"), ir.SignatureDelta(2, ir.Signature(A, "sig")),
        ir.BlockStop(2),
        ir.BlockStart(3, "text"), ir.TextDelta(3, "hi"), ir.BlockStop(3),
        ir.MessageStop(ir.StopReason.END_TURN, ir.Usage(5, 2)),
    ]
    raw = render_events(events)
    data = validate_stream(raw)
    assert b"signature_delta" in raw and b'"g"' not in raw
    starts = [d for d in data if d["type"] == "content_block_start"]
    assert [(d["index"], d["content_block"]["type"]) for d in starts] == [
        (0, "thinking"), (1, "thinking"), (2, "text")]
    message = sdk_final_message(raw)
    assert [b.get("signature") for b in message["content"]] == ["", "sig", None]


# --- property tests ----------------------------------------------------------------------------

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_texts = st.text(min_size=1, max_size=12)
_ids = st.text(_ID_CHARS, min_size=1, max_size=10)
_names = st.text("abcdefgh_", min_size=1, max_size=8)
_args = st.dictionaries(st.text("abc", min_size=1, max_size=3),
                        st.one_of(st.integers(), st.text(max_size=4), st.booleans()), max_size=3)
_images = st.builds(lambda d: ir.Image(media_type="image/png", data=d),
                    st.text("ABCD", min_size=4, max_size=8))


@st.composite
def _user_message(draw: st.DrawFn) -> ir.Message:
    results = draw(st.lists(st.builds(
        lambda i, c, e: ir.ToolResult(i, tuple(c), is_error=e), _ids,
        st.lists(st.one_of(st.builds(ir.Text, _texts), _images), min_size=1, max_size=2),
        st.booleans()), max_size=2))
    rest = draw(st.lists(st.one_of(st.builds(ir.Text, _texts), _images), min_size=1, max_size=3))
    return user(*results, *rest)


@st.composite
def _assistant_message(draw: st.DrawFn) -> ir.Message:
    thinking = draw(st.lists(st.builds(lambda t, s: ir.Reasoning(t, ir.Signature(A, s)),
                                       _texts, _ids), max_size=1))
    text = draw(st.lists(st.builds(ir.Text, _texts), max_size=2))
    calls = draw(st.lists(st.builds(ir.ToolCall, _ids, _names, _args), max_size=2))
    return assistant(*thinking, *text, *calls) if (thinking or text or calls) else \
        assistant(ir.Text("ok"))


@st.composite
def _requests(draw: st.DrawFn) -> ir.Request:
    turns = draw(st.integers(1, 4))
    messages = [draw(_user_message()) if i % 2 == 0 else draw(_assistant_message())
                for i in range(turns)]
    tools = tuple(ir.Tool(n, d) for n, d in draw(st.lists(st.tuples(_names, st.text(max_size=6)),
                                                          max_size=2, unique_by=lambda t: t[0])))
    choice = draw(st.sampled_from([None, ir.ToolChoice("auto"), ir.ToolChoice("none")]))
    return ir.Request(
        model=draw(st.sampled_from(["claude-sonnet-4-5", "claude-x"])),
        messages=tuple(messages),
        system=tuple(draw(st.lists(st.builds(ir.Text, _texts), max_size=2))),
        tools=tools,
        tool_choice=choice if tools else None,
        max_tokens=draw(st.one_of(st.none(), st.integers(1, 100000))),
        temperature=draw(st.one_of(st.none(), st.floats(0, 1))),
        top_k=draw(st.one_of(st.none(), st.integers(1, 100))),
        stop=tuple(draw(st.lists(st.text("XYZ", min_size=1, max_size=3), max_size=2))),
        stream=draw(st.booleans()),
        user=draw(st.sampled_from(["", "u-1"])),
        source=draw(st.sampled_from([None, ir.Format.OPENAI_CHAT, ir.Format.GEMINI])),
    )


def _expected_messages(request: ir.Request) -> tuple[ir.Message, ...]:
    names: dict[str, str] = {}
    out = []
    for message in request.messages:
        parts = []
        for p in message.parts:
            if isinstance(p, ir.ToolCall):
                names[p.id] = p.name
            parts.append(replace(p, name=names.get(p.call_id, ""))
                         if isinstance(p, ir.ToolResult) else p)
        out.append(ir.Message(message.role, tuple(parts)))
    return tuple(out)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests())
def test_rendered_requests_parse_back_to_the_same_content(request):
    body = fmt.render_request(request)
    back = fmt.parse_request(json.loads(json.dumps(body)))
    assert tuple(ir.Message(m.role, m.parts) for m in back.messages) == \
        _expected_messages(request)
    assert back.system == request.system
    assert back.tools == tuple(replace(t, parameters=dict(t.parameters)) for t in request.tools)
    assert back.tool_choice == request.tool_choice
    assert back.max_tokens == (request.max_tokens or 32000)
    assert (back.temperature, back.top_k, back.stop) == (request.temperature, request.top_k,
                                                         request.stop)
    assert (back.stream, back.user, back.model) == (request.stream, request.user, request.model)


@st.composite
def _event_sequences(draw: st.DrawFn) -> tuple[list[ir.StreamEvent], list[tuple[str, str]]]:
    """Blocks with random content, their events randomly interleaved (starts in index order),
    then a random ending; also the ``(wire type, content)`` of each block that must appear
    (a reasoning block with neither text nor an Anthropic signature must not)."""
    specs: list[tuple[ir.BlockStart, list[ir.StreamEvent]]] = []
    for index in range(draw(st.integers(0, 4))):
        kind: ir.BlockKind = draw(st.sampled_from(["text", "reasoning", "tool_call"]))
        if kind == "tool_call":
            args = orjson_text(draw(_args))
            cuts = sorted(draw(st.lists(st.integers(0, len(args)), max_size=3)))
            pieces = [args[a:b] for a, b in zip([0, *cuts], [*cuts, len(args)], strict=True)]
            deltas: list[ir.StreamEvent] = [ir.ToolArgsDelta(index, p) for p in pieces]
            start = ir.BlockStart(index, kind, draw(_ids), draw(_names))
        else:
            make = ir.TextDelta if kind == "text" else ir.ReasoningDelta
            deltas = [make(index, t) for t in draw(st.lists(st.text(max_size=5), max_size=3))]
            if kind == "reasoning" and draw(st.booleans()):
                fam = draw(st.sampled_from([A, ir.Format.GEMINI]))
                deltas.append(ir.SignatureDelta(index, ir.Signature(fam, "s" + draw(_ids))))
            start = ir.BlockStart(index, kind)
        specs.append((start, [*deltas, ir.BlockStop(index)]))
    events: list[ir.StreamEvent] = []
    if draw(st.booleans()):
        events.append(ir.MessageStart(draw(st.sampled_from(["", "msg_1"])), "up", None))
    cursor = [-1] * len(specs)  # -1: not started
    started = 0
    while any(c < len(s[1]) for c, s in zip(cursor, specs, strict=True)):
        live = [i for i, c in enumerate(cursor) if 0 <= c < len(specs[i][1])]
        if started < len(specs):
            live.append(started)
        i = draw(st.sampled_from(live))
        if cursor[i] == -1:
            events.append(specs[i][0])
            started += 1
        else:
            events.append(specs[i][1][cursor[i]])
        cursor[i] += 1
        if draw(st.integers(0, 9)) == 0:
            events.append(ir.UsageUpdate(ir.Usage(draw(st.integers(0, 99)), 3)))
    ending = draw(st.sampled_from(["stop", "stop", "error", "none"]))
    if ending == "error":
        at = draw(st.integers(0, len(events)))
        events = [*events[:at], ir.StreamError(ir.ErrorInfo(500, "boom", "server_error"))]
    elif ending == "stop":
        stop = draw(st.sampled_from(list(ir.StopReason)))
        events.append(ir.MessageStop(stop, ir.Usage(7, 3, 2), "END"))
    wire = {"text": "text", "reasoning": "thinking", "tool_call": "tool_use"}
    expected = [(wire[s.kind], _content(d)) for s, d in specs if _visible(s, d)]
    return events, expected


def _visible(start: ir.BlockStart, events: list[ir.StreamEvent]) -> bool:
    if start.kind != "reasoning":
        return True
    return bool(_content(events)) or any(
        isinstance(e, ir.SignatureDelta) and e.signature.format is A for e in events)


def orjson_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _content(events: list[ir.StreamEvent]) -> str:
    out = []
    for e in events:
        if isinstance(e, ir.TextDelta | ir.ReasoningDelta):
            out.append(e.text)
        elif isinstance(e, ir.ToolArgsDelta):
            out.append(e.fragment)
    return "".join(out)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_event_sequences())
def test_any_event_sequence_renders_a_valid_stream(case):
    events, blocks = case
    raw = render_events(events)
    data = validate_stream(raw)
    for item in data:
        if item["type"] != "error":
            EVENT.validate_python(item)
    if not events or not isinstance(events[-1], ir.MessageStop):
        assert data[-1]["type"] == "error"
        return
    emitted: list[tuple[str, str]] = []
    for item in data:
        if item["type"] == "content_block_start":
            emitted.append((item["content_block"]["type"], ""))
        elif item["type"] == "content_block_delta":
            delta = item["delta"]
            piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            emitted[-1] = (emitted[-1][0], emitted[-1][1] + piece)
    assert emitted == blocks


def test_validator_rejects_interleaved_blocks():
    bad = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":'
           b'"message","role":"assistant","model":"x","content":[],"usage":{"input_tokens":0,'
           b'"output_tokens":0}}}\n\n'
           b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
           b'"content_block":{"type":"text","text":""}}\n\n'
           b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
           b'"content_block":{"type":"text","text":""}}\n\n')
    with pytest.raises(StreamInvalidError):
        validate_stream(bad)
