"""OpenAI Responses ↔ IR: golden fixtures, same-family round trips, cross-family renders, the
openai SDK's own types and stream helper, hostile inputs, and hypothesis properties."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from cliproxy_cli.formats import ir
from cliproxy_cli.formats import openai_responses as fmt
from cliproxy_cli.formats.sse import SSEDecoder, SSEEvent
from tests.formats.validate_openai_responses import validate_stream

DATA = Path(__file__).parent.parent / "data" / "openai_responses"
OWN = ir.Format.OPENAI_RESPONSES
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
R, A, S = ir.Role.USER, ir.Role.ASSISTANT, ir.Role.SYSTEM


def load(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


def sig(value: str, family: ir.Format = OWN) -> ir.Signature:
    return ir.Signature(family, value)


def parse_sse(raw: bytes) -> list[ir.StreamEvent]:
    decoder, parser = SSEDecoder(), fmt.parse_stream()
    events: list[ir.StreamEvent] = []
    for sse_event in decoder.feed(raw) + decoder.close():
        events += parser.feed(sse_event)
    return events + parser.close()


def render_events(events: list[ir.StreamEvent], request: ir.Request | None = None,
                  close: bool = True) -> bytes:
    renderer = fmt.render_stream(request or ir.Request(model="", messages=()))
    raw = b"".join(renderer.feed(e) for e in events)
    return raw + renderer.close() if close else raw


def wire(body: Any) -> Any:
    """What the server would send: plain JSON (fails on anything orjson cannot encode)."""
    return orjson.loads(orjson.dumps(body))


# --- requests: golden fixtures -----------------------------------------------------------------


def test_codex_cli_request_hoists_developer_messages_and_merges_tool_turns() -> None:
    req = fmt.parse_request(load("request_codex_cli.json"))
    assert req.source is OWN and req.model == "gpt-5.1-codex" and req.stream is True
    assert [p.text for p in req.system if isinstance(p, ir.Text)] == [
        "You are Codex, a coding agent based on GPT-5. You and the user share the same "
        "workspace.",
        "<permissions instructions>\nFilesystem sandboxing: read-only.\n"
        "</permissions instructions>",
    ]
    assert [m.role for m in req.messages] == [R, R, A, R, A, R]
    reasoning, call = req.messages[2].parts
    assert reasoning == ir.Reasoning(
        "**Running the command**\n\nThe user wants me to run echo.",
        signature=sig("gAAAAABpQ2VuY3J5cHRlZC1yZWFzb25pbmc="),
        extras={"id": "rs_0a1b2c", "content": None})
    assert call == ir.ToolCall("call_Xy12", "exec_command",
                               {"cmd": "echo hi", "yield_time_ms": 1000},
                               extras={"id": "fc_0a1b2d"})
    (result,) = req.messages[3].parts
    assert isinstance(result, ir.ToolResult)
    assert (result.call_id, result.name) == ("call_Xy12", "exec_command")
    assert result.content == (ir.Text("Chunk ID: 5c1e\nWall time: 0.0102 seconds\nProcess exited "
                                      "with code 0\nOriginal token count: 1\nOutput:\nhi\n"),)
    assert req.messages[4].parts == (ir.Text("The command printed `hi`."),)
    assert req.messages[4].extras == {"id": "msg_0a1b2e"}
    assert [t.name for t in req.tools] == ["exec_command", "write_stdin", "view_image"]
    assert req.tools[0].extras == {"strict": False}
    assert req.tool_choice == ir.ToolChoice("auto") and req.parallel_tool_calls is True
    assert req.reasoning == ir.ReasoningConfig(summary="auto", include_thoughts=True)
    assert {k: v for k, v in req.extras.items() if not k.startswith("_")} == {
        "store": False, "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a7e4c-3f1d-7c22-9b0e-5d2a1f8e6c44",
        "client_metadata": {"session_id": "019a7e4c-3f1d-7c22-9b0e-5d2a1f8e6c44"}}
    assert [t["type"] for _, t in req.extras["_tools"]] == ["namespace", "web_search"]


def test_sdk_request_maps_every_option() -> None:
    req = fmt.parse_request(load("request_sdk_structured.json"))
    assert req.system == (ir.Text("You are a weather assistant. Answer in JSON."),)
    assert req.messages == (ir.Message(R, (ir.Text("What is the weather in Paris?"),)),)
    assert req.tools[0].name == "get_weather" and req.tools[0].extras == {"strict": True}
    assert req.tool_choice == ir.ToolChoice("tool", "get_weather")
    assert (req.parallel_tool_calls, req.max_tokens, req.temperature, req.top_p) == (
        False, 2048, 0.7, 0.9)
    assert req.reasoning == ir.ReasoningConfig(effort="low", summary="detailed",
                                               include_thoughts=True)
    schema = load("request_sdk_structured.json")["text"]["format"]["schema"]
    assert req.response_format == ir.ResponseFormat("json_schema", schema, "weather_report", True)
    assert req.user == "user-123"
    assert req.extras["text"] == {"verbosity": "low", "format": {"description": "A weather report"}}
    for key in ("metadata", "previous_response_id", "truncation", "service_tier", "store"):
        assert key in req.extras


def test_history_request_keeps_every_item_in_place() -> None:
    req = fmt.parse_request(load("request_history.json"))
    assert req.system == (ir.Text("Be concise."), ir.Text("Never reveal secrets."))
    assert [m.role for m in req.messages] == [R, A, R, A, S, R]
    text, png, url, file_image = req.messages[0].parts
    assert text == ir.Text("Compare these images and the file.")
    assert isinstance(png, ir.Image) and png.data.startswith("iVBORw0KGgo")
    assert png == ir.Image(media_type="image/png", data=png.data, extras={"detail": "high"})
    assert url == ir.Image(url="https://example.com/cat.jpg", extras={"detail": "auto"})
    assert file_image == ir.Image(extras={"file_id": "file-abc123", "detail": "low"})
    assert req.messages[0].extras["_unknown_parts"][0][1]["type"] == "input_file"
    reasoning, call_a, call_b = req.messages[1].parts
    assert reasoning == ir.Reasoning("", signature=sig("gAAAAAB-opaque-1"),
                                     extras={"id": "rs_hist1"})
    assert (call_a.id, call_b.id) == ("call_a", "call_b")  # type: ignore[union-attr]
    out_b, out_a = req.messages[2].parts
    assert out_b == ir.ToolResult("call_b", (ir.Text("21C cloudy"),), name="get_weather")
    assert isinstance(out_a, ir.ToolResult) and out_a.name == "get_weather"
    assert out_a.content == (ir.Text("18C sunny"),
                             ir.Image(url="https://example.com/paris.png"))
    answer, refusal = req.messages[3].parts
    assert isinstance(answer, ir.Text) and answer.extras["annotations"][0]["type"] == "url_citation"
    assert refusal == ir.Text("I can't share the file contents.", extras={"_type": "refusal"})
    assert req.messages[3].extras["phase"] == "final_answer"
    assert req.messages[3].extras["_after"][0]["type"] == "web_search_call"
    assert req.messages[4].parts == (ir.Text("Prefer metric units."),)
    assert req.messages[4].extras["_after"][0]["type"] == "item_reference"
    assert req.tool_choice == ir.ToolChoice("required")


def test_string_input_is_one_user_message() -> None:
    req = fmt.parse_request(load("request_string_input.json"))
    assert req.messages == (ir.Message(R, (ir.Text("Say hello"),)),)
    assert (req.max_tokens, req.stream, req.system) == (64, False, ())


def _typed_last_item(body: dict[str, Any]) -> dict[str, Any]:
    body["input"][-1] = {"type": "message", **body["input"][-1]}
    return body


def _string_input(body: dict[str, Any]) -> dict[str, Any]:
    body["input"] = [{"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": body["input"]}]}]
    del body["stream"]
    return body


# Documented normalisations (request.py docstring): typeless items get `type`, string input and
# content become typed parts, `stream: false` is omitted.
REQUEST_ROUND_TRIPS = {
    "request_codex_cli.json": lambda b: b,
    "request_sdk_structured.json": lambda b: b,
    "request_history.json": _typed_last_item,
    "request_string_input.json": _string_input,
}


@pytest.mark.parametrize("name", sorted(REQUEST_ROUND_TRIPS))
def test_request_round_trip_within_the_family(name: str) -> None:
    body = load(name)
    expected = REQUEST_ROUND_TRIPS[name](copy.deepcopy(body))
    assert wire(fmt.render_request(fmt.parse_request(body))) == expected


# --- requests: rendering IR from other families ------------------------------------------------


def _foreign_request(**overrides: Any) -> ir.Request:
    fields: dict[str, Any] = {
        "model": "gpt-5",
        "system": (ir.Text("be brief", extras={"cache_control": {"type": "ephemeral"}}),
                   ir.Text("second")),
        "messages": (
            ir.Message(R, (ir.Text("hi", extras={"cache_control": {"type": "ephemeral"}}),
                           ir.Image(media_type="image/png", data="AAAA"))),
            ir.Message(A, (ir.Reasoning("claude thinking", signature=sig("c", ir.Format.ANTHROPIC)),
                           ir.Reasoning("ours", signature=sig("enc")),
                           ir.Reasoning("unsigned"),
                           ir.Text("let me check"),
                           ir.ToolCall("toolu_1", "get_weather", {"city": "Paris"}))),
            ir.Message(R, (ir.ToolResult("toolu_1", (ir.Text("18C"),), name="get_weather",
                                         is_error=True), ir.Text("thanks"))),
            ir.Message(S, (ir.Text("mid system"),)),
            ir.Message(A, ()),
        ),
        "tools": (ir.Tool("get_weather", "desc", {"type": "object"},
                          extras={"cache_control": {"type": "ephemeral"}}),),
        "tool_choice": ir.ToolChoice("tool", "get_weather"),
        "reasoning": ir.ReasoningConfig(budget=8000, include_thoughts=True),
        "response_format": ir.ResponseFormat("json_object"),
        "max_tokens": 1000, "temperature": 0.5, "top_k": 40, "stop": ("END",),
        "source": ir.Format.ANTHROPIC, "extras": {"metadata": {"user_id": "u"}},
    }
    fields.update(overrides)
    return ir.Request(**fields)


def test_foreign_request_renders_a_clean_responses_body() -> None:
    body = wire(fmt.render_request(_foreign_request()))
    reasoning_id = body["input"][1].pop("id")
    assert reasoning_id.startswith("rs_")
    assert body == {
        "model": "gpt-5",
        "instructions": "be brief\n\nsecond",
        "input": [
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "hi"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA",
                 "detail": "auto"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "ours"}],
             "encrypted_content": "enc"},
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "let me check"}]},
            {"type": "function_call", "call_id": "toolu_1", "name": "get_weather",
             "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "thanks"}]},
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "mid system"}]},
        ],
        "tools": [{"type": "function", "name": "get_weather", "description": "desc",
                   "parameters": {"type": "object"}, "strict": False}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "reasoning": {"effort": "medium", "summary": "auto"},
        "text": {"format": {"type": "json_object"}},
        "max_output_tokens": 1000,
        "temperature": 0.5,
    }


@pytest.mark.parametrize(("config", "expected"), [
    (ir.ReasoningConfig(effort="auto"), {"effort": "medium"}),
    (ir.ReasoningConfig(effort="none"), {"effort": "none"}),
    (ir.ReasoningConfig(budget=0), {"effort": "none"}),
    (ir.ReasoningConfig(budget=-1, include_thoughts=True), {"effort": "medium", "summary": "auto"}),
    (ir.ReasoningConfig(budget=30000, include_thoughts=False), {"effort": "xhigh"}),
    (ir.ReasoningConfig(budget=1024, summary="concise"), {"effort": "low", "summary": "concise"}),
    (ir.ReasoningConfig(), {}),
])
def test_reasoning_config_renders_an_effort(config: ir.ReasoningConfig,
                                            expected: dict[str, Any]) -> None:
    body = fmt.render_request(ir.Request(model="m", messages=(), reasoning=config))
    assert body["reasoning"] == expected


def test_system_with_an_image_becomes_a_developer_message() -> None:
    image = ir.Image(url="https://x/y.png")
    body = fmt.render_request(ir.Request(model="m", messages=(), system=(ir.Text("a"), image)))
    assert "instructions" not in body
    assert body["input"] == [{"type": "message", "role": "developer", "content": [
        {"type": "input_text", "text": "a"},
        {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}]}]


def test_tool_result_with_an_image_renders_an_output_array() -> None:
    result = ir.ToolResult("c1", (ir.Text("see"), ir.Image(media_type="image/jpeg", data="QQ==")))
    body = fmt.render_request(ir.Request(model="m", messages=(ir.Message(R, (result,)),)))
    assert body["input"] == [{"type": "function_call_output", "call_id": "c1", "output": [
        {"type": "input_text", "text": "see"},
        {"type": "input_image", "image_url": "data:image/jpeg;base64,QQ==", "detail": "auto"}]}]


def test_same_family_request_edited_by_the_pipeline_falls_back_to_instructions() -> None:
    req = fmt.parse_request(load("request_codex_cli.json"))
    edited = ir.Request(**{**{f: getattr(req, f) for f in req.__dataclass_fields__},
                           "system": (*req.system, ir.Text("extra"))})
    body = fmt.render_request(edited)
    assert body["instructions"].endswith("\n\nextra")
    assert body["input"][0]["role"] == "user"


# --- requests: hostile input -------------------------------------------------------------------


def _m(**fields: Any) -> dict[str, Any]:
    return {"model": "m", **fields}


BAD_REQUESTS = [
    [], "text", {}, {"input": "hi"}, {"model": 5}, _m(input=5), _m(input=[5]),
    _m(input=[{"type": "message", "role": "tool", "content": "x"}]),
    _m(input=[{"type": "message", "content": "x"}]),
    _m(input=[{"role": "user", "content": 5}]), _m(input=[{"role": "user", "content": [5]}]),
    _m(input=[{"role": "user", "content": [{"type": "input_text", "text": 5}]}]),
    _m(input=[{"role": "user", "content": [{"type": "input_text"}]}]),
    _m(input=[{"role": "assistant", "content": [{"type": "refusal"}]}]),
    _m(input=[{"role": "user", "content": [{"type": "input_image", "image_url": 5}]}]),
    _m(input=[{"type": "function_call", "call_id": "c", "arguments": "{}"}]),
    _m(input=[{"type": "function_call_output", "output": "orphan"}]),
    _m(tools={}), _m(tools=[5]), _m(tools=[{"type": "function"}]),
    _m(tools=[{"type": "function", "name": "f", "parameters": "{}"}]),
    _m(tools=[{"type": "function", "name": "f", "description": 3}]),
    _m(tool_choice=5), _m(max_output_tokens="10"), _m(max_output_tokens=True),
    _m(max_output_tokens=1.5), _m(temperature="hot"), _m(top_p=[1]), _m(stream="yes"),
    _m(parallel_tool_calls="true"), _m(reasoning="high"), _m(text="json"),
    _m(text={"format": "json"}), _m(text={"format": {"type": "json_schema", "schema": []}}),
    _m(text={"format": {"type": "json_schema", "name": 3}}), _m(instructions=["a"]),
    _m(user=7),
]


@pytest.mark.parametrize("body", BAD_REQUESTS, ids=range(len(BAD_REQUESTS)))
def test_malformed_requests_raise_format_error(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        fmt.parse_request(body)


def test_lenient_inputs_parse_without_error() -> None:
    req = fmt.parse_request(_m(
        input=[
            {"type": "message", "role": "user", "content": None},
            {"type": "message", "role": "user", "content": []},
            {"type": "message", "role": "user", "content": [{"type": "input_audio", "x": 1}]},
            {"type": "function_call", "name": "f", "arguments": "[1, 2]"},
            {"type": "function_call", "name": "g", "arguments": "not json"},
            {"type": "function_call", "name": "h", "arguments": None},
            {"type": "function_call_output", "output": "for f"},
            {"type": "function_call_output", "call_id": "call_2", "output": {"ok": True}},
            {"type": "reasoning", "summary": "odd", "encrypted_content": None},
            {"type": "compaction", "encrypted_content": "zzz"},
            {},
        ],
        tool_choice={"type": "web_search"}, reasoning={"effort": "max", "summary": None},
        text={"format": {"type": "grammar", "definition": "x"}},
    ))
    calls = [p for m in req.messages for p in m.parts if isinstance(p, ir.ToolCall)]
    assert [(c.id, c.arguments) for c in calls] == [
        ("call_0", {"value": [1, 2]}), ("call_1", {"value": "not json"}), ("call_2", {})]
    results = [p for m in req.messages for p in m.parts if isinstance(p, ir.ToolResult)]
    assert [(r.call_id, r.name, r.content) for r in results] == [
        ("call_0", "f", (ir.Text("for f"),)), ("call_2", "h", (ir.Text('{"ok":true}'),))]
    assert req.tool_choice is None and req.extras["tool_choice"] == {"type": "web_search"}
    assert req.reasoning == ir.ReasoningConfig(include_thoughts=False)
    assert req.extras["reasoning"] == {"effort": "max"}
    assert req.response_format is None
    body = fmt.render_request(req)
    assert body["reasoning"] == {"effort": "max"}
    assert body["text"] == {"format": {"type": "grammar", "definition": "x"}}
    assert body["tool_choice"] == {"type": "web_search"}
    assert [i.get("type") for i in body["input"]][-2:] == ["compaction", None]


# --- responses -----------------------------------------------------------------------------------


def test_parse_response_with_reasoning_text_and_parallel_calls() -> None:
    resp = fmt.parse_response(load("response_tool_call.json"))
    assert (resp.id, resp.model, resp.created) == ("resp_68c1f0a2b3c4d5e6", "gpt-5-2025-08-07",
                                                   1757540000)
    first, second, text, call_p, call_t = resp.parts
    assert first == ir.Reasoning("**Checking the weather**", extras={"id": "rs_68c1f0a2aa"})
    assert second == ir.Reasoning("I should call the tool for both cities.",
                                  signature=sig("gAAAAABoyXJlYXNvbmluZy1ibG9i"),
                                  extras={"id": "rs_68c1f0a2aa"})
    assert text == ir.Text("Let me check both cities.", extras={
        "annotations": [], "logprobs": [],
        "_item": {"id": "msg_68c1f0a2bb", "status": "completed"}})
    assert call_p == ir.ToolCall("call_P1", "get_weather", {"city": "Paris"},
                                 extras={"id": "fc_68c1f0a2cc", "status": "completed"})
    assert isinstance(call_t, ir.ToolCall) and call_t.arguments == {"city": "Tokyo"}
    assert resp.stop_reason is ir.StopReason.TOOL_USE
    assert resp.usage == ir.Usage(input_tokens=312, output_tokens=148, cached_tokens=256,
                                  reasoning_tokens=64)
    assert dict(resp.extras) == {"billing": {"payer": "developer"}}


@pytest.mark.parametrize(("name", "stop"), [
    ("response_incomplete.json", ir.StopReason.MAX_TOKENS),
    ("response_content_filter.json", ir.StopReason.CONTENT_FILTER),
])
def test_incomplete_responses_map_their_reason(name: str, stop: ir.StopReason) -> None:
    assert fmt.parse_response(load(name)).stop_reason is stop


def test_refusal_and_unknown_output_items() -> None:
    resp = fmt.parse_response(load("response_content_filter.json"))
    (refusal,) = resp.parts
    assert refusal == ir.Text("I can't help with that.", extras={
        "_type": "refusal", "_item": {"id": "msg_ref1", "status": "incomplete"}})
    assert resp.extras["_items"][0][1]["type"] == "web_search_call"
    assert resp.usage == ir.Usage(input_tokens=40, output_tokens=7)


def test_parse_response_accepts_a_completed_event() -> None:
    body = load("response_incomplete.json")
    resp = fmt.parse_response({"type": "response.completed", "sequence_number": 9,
                               "response": body})
    assert resp.id == "resp_incomplete01"


@pytest.mark.parametrize("body", [[], "x", {"output": {}}, {"output": [5]}])
def test_malformed_responses_raise_format_error(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        fmt.parse_response(body)


def test_sparse_response_parses() -> None:
    resp = fmt.parse_response({"output": [{"type": "message", "content": [5, {"type": "x"}]},
                                          {"type": "function_call", "arguments": 7}],
                               "usage": {"input_tokens": "many"}, "created_at": 1.5e9})
    assert resp.parts == (ir.ToolCall("call_1", "", {"value": 7}),)
    assert resp.stop_reason is ir.StopReason.TOOL_USE and resp.created == 1500000000


def _fill_logprobs(body: dict[str, Any]) -> dict[str, Any]:
    for item in body["output"]:
        for part in item.get("content", []):
            if part.get("type") == "output_text":
                part.setdefault("logprobs", [])
    usage = body["usage"]
    usage.setdefault("input_tokens_details", {"cached_tokens": 0})
    usage["input_tokens_details"].setdefault("cache_write_tokens", 0)
    usage.setdefault("output_tokens_details", {"reasoning_tokens": 0})
    return body


@pytest.mark.parametrize("name", ["response_tool_call.json", "response_incomplete.json",
                                  "response_content_filter.json"])
def test_response_round_trip_within_the_family(name: str) -> None:
    body = load(name)
    out = wire(fmt.render_response(fmt.parse_response(body), ir.Request(model="", messages=())))
    expected = _fill_logprobs(copy.deepcopy(body))
    for key in ("id", "object", "created_at", "status", "incomplete_details", "model", "output",
                "usage"):
        assert out[key] == expected.get(key), key
    assert out.get("billing") == body.get("billing")
    assert "output_text" not in out
    SDKResponse.model_validate(out)


def _foreign_response(stop: ir.StopReason = ir.StopReason.MAX_TOKENS) -> ir.Response:
    return ir.Response(
        id="msg_01abc", model="claude-sonnet-4-5", created=1700000000, stop_reason=stop,
        parts=(ir.Reasoning("thinking…", signature=sig("claude", ir.Format.ANTHROPIC)),
               ir.Text("Hello", extras={"citations": []}), ir.Text(" world"),
               ir.ToolCall("toolu_9", "lookup", {"q": "x"}), ir.Image(url="https://x"),
               ir.Reasoning("more"), ir.Text("bye")),
        usage=ir.Usage(input_tokens=100, output_tokens=20, cached_tokens=80, reasoning_tokens=5),
        source=ir.Format.ANTHROPIC, extras={"stop_sequence": None},
    )


def test_foreign_response_renders_a_full_response_object() -> None:
    request = _foreign_request(model="gpt-5-alias")
    out = wire(fmt.render_response(_foreign_response(), request))
    assert out["output"] == [
        {"id": "rs_msg_01abc_0", "type": "reasoning",
         "summary": [{"type": "summary_text", "text": "thinking…"}]},
        {"id": "msg_msg_01abc_1", "type": "message", "status": "completed", "role": "assistant",
         "content": [
             {"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []},
             {"type": "output_text", "text": " world", "annotations": [], "logprobs": []}]},
        {"id": "fc_toolu_9", "type": "function_call", "status": "completed",
         "call_id": "toolu_9", "name": "lookup", "arguments": '{"q":"x"}'},
        {"id": "rs_msg_01abc_3", "type": "reasoning",
         "summary": [{"type": "summary_text", "text": "more"}]},
        {"id": "msg_msg_01abc_4", "type": "message", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "bye", "annotations": [], "logprobs": []}]},
    ]
    assert (out["id"], out["model"], out["created_at"]) == ("msg_01abc", "gpt-5-alias", 1700000000)
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out["usage"] == {"input_tokens": 100,
                            "input_tokens_details": {"cached_tokens": 80, "cache_write_tokens": 0},
                            "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5},
                            "total_tokens": 120}
    assert out["instructions"] == "be brief\n\nsecond" and out["max_output_tokens"] == 1000
    assert out["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert out["tools"][0]["strict"] is False and out["metadata"] == {}
    assert "stop_sequence" not in out and "output_text" not in out
    sdk = SDKResponse.model_validate(out)
    assert sdk.output_text == "Hello worldbye"


@pytest.mark.parametrize("stop", list(ir.StopReason))
def test_every_stop_reason_renders_an_sdk_valid_response(stop: ir.StopReason) -> None:
    out = wire(fmt.render_response(_foreign_response(stop), ir.Request(model="m", messages=())))
    SDKResponse.model_validate(out)
    expected = {ir.StopReason.MAX_TOKENS: "incomplete", ir.StopReason.CONTENT_FILTER: "incomplete",
                ir.StopReason.ERROR: "failed"}.get(stop, "completed")
    assert out["status"] == expected
    assert (out["error"] is not None) == (stop is ir.StopReason.ERROR)


@pytest.mark.parametrize("name", sorted(REQUEST_ROUND_TRIPS))
def test_request_echo_validates_with_the_sdk(name: str) -> None:
    request = fmt.parse_request(load(name))
    body = wire(fmt.render_response(ir.Response(id="", model="m", parts=(ir.Text("x"),)), request))
    SDKResponse.model_validate(body)
    assert body["tools"] == wire(fmt.render_request(request)).get("tools", [])
    for event in validate_stream(render_events(_rich_events(), request)):
        EVENT_ADAPTER.validate_python(event)


def test_empty_response_gets_a_fresh_id() -> None:
    out = fmt.render_response(ir.Response(id="", model="m", parts=()),
                              ir.Request(model="", messages=()))
    assert out["id"].startswith("resp_") and out["output"] == [] and out["model"] == "m"


# --- stream parsing (the Codex upstream) ---------------------------------------------------------


def test_parse_stream_reasoning_parts_then_text() -> None:
    usage = ir.Usage(input_tokens=5120, output_tokens=96, cached_tokens=4096, reasoning_tokens=48)
    assert parse_sse((DATA / "stream_codex_reasoning_text.sse").read_bytes()) == [
        ir.MessageStart("resp_0c1d2e3f", "gpt-5.1-codex", created=1757541000),
        ir.BlockStart(0, "reasoning"),
        ir.ReasoningDelta(0, "**Planning**"),
        ir.ReasoningDelta(0, "\n\nI will greet."),
        ir.BlockStop(0),
        ir.BlockStart(1, "reasoning"),
        ir.ReasoningDelta(1, "**Answer**"),
        ir.SignatureDelta(1, sig("gAAAAABo-enc-reasoning==")),
        ir.BlockStop(1),
        ir.BlockStart(2, "text"),
        ir.TextDelta(2, "Hello"),
        ir.TextDelta(2, " there!"),
        ir.BlockStop(2),
        ir.UsageUpdate(usage),
        ir.MessageStop(ir.StopReason.END_TURN, usage),
    ]


def test_parse_stream_parallel_tool_calls_use_done_arguments_without_deltas() -> None:
    usage = ir.Usage(input_tokens=800, output_tokens=40)
    assert parse_sse((DATA / "stream_codex_tool_calls.sse").read_bytes()) == [
        ir.MessageStart("resp_7a8b9c", "gpt-5.1-codex", created=1757541000),
        ir.BlockStart(0, "tool_call", "call_Ab1", "exec_command"),
        ir.ToolArgsDelta(0, '{"cmd":'),
        ir.ToolArgsDelta(0, '"ls -la"}'),
        ir.BlockStop(0),
        ir.BlockStart(1, "tool_call", "call_Cd2", "exec_command"),
        ir.ToolArgsDelta(1, '{"cmd":"pwd"}'),
        ir.BlockStop(1),
        ir.UsageUpdate(usage),
        ir.MessageStop(ir.StopReason.TOOL_USE, usage),
    ]


def test_parse_stream_incomplete() -> None:
    events = parse_sse((DATA / "stream_codex_incomplete.sse").read_bytes())
    assert events[-1] == ir.MessageStop(ir.StopReason.MAX_TOKENS,
                                        ir.Usage(input_tokens=9, output_tokens=2))


@pytest.mark.parametrize(("name", "error"), [
    ("stream_codex_failed.sse", ir.ErrorInfo(
        429, "Rate limit reached for gpt-5.1-codex. Please try again in 1.2s.", "rate_limit_error",
        "rate_limit_exceeded")),
    ("stream_codex_error_event.sse", ir.ErrorInfo(
        400, "Your input exceeds the context window of this model.", "invalid_request_error",
        "context_length_exceeded")),
    ("stream_codex_truncated.sse", ir.ErrorInfo(
        502, "upstream stream ended before completion", "server_error")),
])
def test_parse_stream_failures_end_in_a_stream_error(name: str, error: ir.ErrorInfo) -> None:
    events = parse_sse((DATA / name).read_bytes())
    assert events[-1] == ir.StreamError(error)
    assert sum(isinstance(e, ir.StreamError) for e in events) == 1
    starts = [e.index for e in events if isinstance(e, ir.BlockStart)]
    assert starts == [e.index for e in events if isinstance(e, ir.BlockStop)]


def _feed(parser: Any, *payloads: Any, event: str = "") -> list[ir.StreamEvent]:
    out: list[ir.StreamEvent] = []
    for payload in payloads:
        data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        out += parser.feed(SSEEvent(data, event))
    return out


def test_parse_stream_trusts_the_json_type_and_ignores_garbage() -> None:
    parser = fmt.parse_stream()
    created = {"type": "response.created", "response": {"id": "r1", "model": "m"}}
    assert _feed(parser, created, event="response.output_text.delta") == [
        ir.MessageStart("r1", "m")]
    assert _feed(parser, "not json", "[DONE]", "[1, 2]", "", {"type": 5}, {"type": "x.y"},
                 {"type": "response.output_text.delta", "output_index": 7, "delta": "lost"},
                 {"type": "response.output_item.added", "output_index": 0},
                 {"type": "response.output_item.added", "output_index": 0,
                  "item": {"type": "web_search_call", "id": "ws"}},
                 {"type": "response.function_call_arguments.delta", "output_index": 0,
                  "delta": "x"}) == []
    assert parser.close() == [ir.StreamError(ir.ErrorInfo(
        502, "upstream stream ended before completion", "server_error"))]
    assert parser.close() == [] and _feed(parser, created) == []


def test_parse_stream_survives_wrongly_typed_fields() -> None:
    parser = fmt.parse_stream()
    events = _feed(
        parser,
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "message", "id": "m"}},
        {"type": "response.content_part.added", "output_index": 0, "content_index": [1]},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": {},
         "delta": 1},
        {"type": "response.output_text.delta", "item_id": "m", "content_index": {},
         "delta": "x"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0,
         "summary_index": []},
        {"type": "response.output_item.added", "output_index": [0], "item": {"type": ["m"]}},
        {"type": "response.output_item.done", "output_index": {},
         "item": {"type": {}, "id": []}},
        {"type": "response.completed", "response": {"status": ["x"], "incomplete_details": 5,
                                                    "usage": [1], "output": "none"}},
    )
    assert events == [ir.MessageStart("", ""), ir.BlockStart(0, "text"), ir.TextDelta(0, "x"),
                      ir.BlockStop(0), ir.MessageStop(ir.StopReason.END_TURN)]
    resp = fmt.parse_response({"output": [{"type": ["x"]}], "status": {}})
    assert resp.parts == () and resp.extras["_items"] == ((0, {"type": ["x"]}),)


def test_module_is_a_registered_wire_format() -> None:
    from cliproxy_cli.formats.registry import FORMATS

    assert FORMATS[OWN] is fmt


def test_parse_stream_items_that_arrive_only_when_done() -> None:
    parser = fmt.parse_stream()
    events = _feed(
        parser,
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "message", "id": "m1", "content": []}},
        {"type": "response.output_item.done", "output_index": 0, "item": {
            "type": "message", "id": "m1", "content": [
                {"type": "output_text", "text": "a"}, {"type": "refusal", "refusal": "b"}]}},
        {"type": "response.output_item.done", "output_index": 1, "item": {
            "type": "reasoning", "id": "r1", "encrypted_content": "E",
            "summary": [{"type": "summary_text", "text": "x"},
                        {"type": "summary_text", "text": "y"}]}},
        {"type": "response.output_item.done", "output_index": 2, "item": {
            "type": "reasoning", "id": "r2", "summary": [], "encrypted_content": "F"}},
        {"type": "response.output_item.done", "output_index": 3, "item": {
            "type": "function_call", "id": "fc", "call_id": "c9", "name": "f",
            "arguments": "{}"}},
        {"type": "response.completed", "response": {"status": "completed"}},
    )
    assert events == [
        ir.MessageStart("", ""),
        ir.BlockStart(0, "text"), ir.TextDelta(0, "a"), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, "b"), ir.BlockStop(1),
        ir.BlockStart(2, "reasoning"), ir.ReasoningDelta(2, "x"), ir.BlockStop(2),
        ir.BlockStart(3, "reasoning"), ir.ReasoningDelta(3, "y"),
        ir.SignatureDelta(3, sig("E")), ir.BlockStop(3),
        ir.BlockStart(4, "reasoning"), ir.SignatureDelta(4, sig("F")), ir.BlockStop(4),
        ir.BlockStart(5, "tool_call", "c9", "f"), ir.ToolArgsDelta(5, "{}"), ir.BlockStop(5),
        ir.MessageStop(ir.StopReason.TOOL_USE),
    ]


def test_parse_stream_with_only_a_completed_event() -> None:
    body = load("response_tool_call.json")
    events = _feed(fmt.parse_stream(), {"type": "response.completed", "response": body})
    kinds = [e.kind for e in events if isinstance(e, ir.BlockStart)]
    assert kinds == ["reasoning", "reasoning", "text", "tool_call", "tool_call"]
    assert events[-1] == ir.MessageStop(ir.StopReason.TOOL_USE, fmt.parse_response(body).usage)


def test_parse_stream_text_done_without_deltas_and_reasoning_text() -> None:
    parser = fmt.parse_stream()
    events = _feed(
        parser,
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "reasoning", "id": "r", "summary": []}},
        {"type": "response.reasoning_text.delta", "item_id": "r", "output_index": 0,
         "content_index": 0, "delta": "raw"},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "reasoning", "id": "r", "summary": []}},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {"type": "message", "id": "m", "content": []}},
        {"type": "response.content_part.added", "item_id": "m", "output_index": 1,
         "content_index": 0, "part": {"type": "output_text", "text": ""}},
        {"type": "response.output_text.done", "item_id": "m", "output_index": 1,
         "content_index": 0, "text": "whole"},
        {"type": "response.content_part.done", "item_id": "m", "output_index": 1,
         "content_index": 0, "part": {"type": "output_text", "text": "whole"}},
        {"type": "error", "error": {"type": "server_error", "message": "boom"}},
    )
    assert events[1:] == [
        ir.BlockStart(0, "reasoning"), ir.ReasoningDelta(0, "raw"), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, "whole"), ir.BlockStop(1),
        ir.StreamError(ir.ErrorInfo(500, "boom", "server_error")),
    ]


# --- stream rendering ----------------------------------------------------------------------------


def _rich_events(stop: ir.StopReason = ir.StopReason.TOOL_USE) -> list[ir.StreamEvent]:
    usage = ir.Usage(input_tokens=10, output_tokens=5, cached_tokens=2, reasoning_tokens=1)
    return [
        ir.MessageStart("resp_abc", "upstream-model", created=123),
        ir.BlockStart(0, "reasoning"), ir.ReasoningDelta(0, "think"),
        ir.SignatureDelta(0, sig("ENC")), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, "Hel"), ir.TextDelta(1, "lo"), ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", "call_1", "f"), ir.ToolArgsDelta(2, '{"a":'),
        ir.BlockStart(3, "tool_call", "call_2", "g"), ir.ToolArgsDelta(3, "{}"),
        ir.ToolArgsDelta(2, "1}"), ir.BlockStop(3), ir.BlockStop(2),
        ir.UsageUpdate(usage), ir.MessageStop(stop, usage),
    ]


def test_render_stream_full_sequence() -> None:
    request = ir.Request(model="client-model", messages=(), max_tokens=50)
    events = validate_stream(render_events(_rich_events(), request))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed",
    ]
    final = events[-1]["response"]
    assert (final["id"], final["model"], final["created_at"]) == ("resp_abc", "client-model", 123)
    assert final["max_output_tokens"] == 50
    assert final["output"] == [
        {"id": "rs_abc_0", "type": "reasoning",
         "summary": [{"type": "summary_text", "text": "think"}], "encrypted_content": "ENC"},
        {"id": "msg_abc_1", "type": "message", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hello", "annotations": [],
                      "logprobs": []}]},
        {"id": "fc_call_1", "type": "function_call", "status": "completed", "call_id": "call_1",
         "name": "f", "arguments": '{"a":1}'},
        {"id": "fc_call_2", "type": "function_call", "status": "completed", "call_id": "call_2",
         "name": "g", "arguments": "{}"},
    ]
    assert final["usage"]["total_tokens"] == 15
    for event in events:
        EVENT_ADAPTER.validate_python(event)


@pytest.mark.parametrize(("stop", "terminal", "reason"), [
    (ir.StopReason.MAX_TOKENS, "response.incomplete", "max_output_tokens"),
    (ir.StopReason.CONTENT_FILTER, "response.incomplete", "content_filter"),
    (ir.StopReason.END_TURN, "response.completed", None),
    (ir.StopReason.ERROR, "response.failed", None),
])
def test_render_stream_terminal_events(stop: ir.StopReason, terminal: str,
                                       reason: str | None) -> None:
    events = validate_stream(render_events(_rich_events(stop)))
    assert events[-1]["type"] == terminal
    details = events[-1]["response"]["incomplete_details"]
    assert (details or {}).get("reason") == reason


def test_render_stream_drops_foreign_signatures() -> None:
    events = validate_stream(render_events([
        ir.BlockStart(0, "reasoning"), ir.SignatureDelta(0, sig("c", ir.Format.ANTHROPIC)),
        ir.BlockStop(0), ir.MessageStop(ir.StopReason.END_TURN)]))
    assert events[-1]["response"]["output"] == [
        {"id": events[-1]["response"]["output"][0]["id"], "type": "reasoning", "summary": []}]
    assert events[0]["response"]["id"].startswith("resp_")


def test_render_stream_error_midway_closes_items_then_fails() -> None:
    raw = render_events([
        ir.MessageStart("resp_e", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "par"),
        ir.StreamError(ir.ErrorInfo(429, "slow down", "rate_limit_error")),
        ir.TextDelta(0, "ignored")])
    events = validate_stream(raw)
    assert [e["type"] for e in events][-4:] == [
        "response.content_part.done", "response.output_item.done", "error", "response.failed"]
    assert events[-3]["item"]["status"] == "incomplete"
    assert events[-2] == {"type": "error", "sequence_number": events[-2]["sequence_number"],
                          "code": "rate_limit_error", "message": "slow down", "param": None,
                          "error": {"type": "rate_limit_error", "code": "rate_limit_error",
                                    "message": "slow down", "param": None}}
    assert events[-1]["response"]["error"] == {"code": "rate_limit_exceeded",
                                               "message": "slow down", "type": "rate_limit_error"}
    for event in events:
        EVENT_ADAPTER.validate_python(event)


def test_render_stream_close_without_stop_and_empty_streams() -> None:
    events = validate_stream(render_events([ir.MessageStart("r", "m"), ir.BlockStart(0, "text")]))
    assert events[-1]["type"] == "response.failed"
    events = validate_stream(render_events([]))
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "error",
                                           "response.failed"]
    events = validate_stream(render_events([ir.MessageStop(ir.StopReason.END_TURN)]))
    assert events[-1]["response"]["output"] == []
    renderer = fmt.render_stream(ir.Request(model="m", messages=()))
    renderer.feed(ir.MessageStop(ir.StopReason.END_TURN))
    assert renderer.feed(ir.TextDelta(0, "late")) == b"" and renderer.close() == b""


def _sdk_client(raw: bytes) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    return openai.OpenAI(api_key="k", base_url="http://proxy/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def test_openai_stream_helper_accepts_the_rendered_stream() -> None:
    raw = render_events(_rich_events(), ir.Request(model="gpt-x", messages=()))
    with _sdk_client(raw) as client, client.responses.stream(model="gpt-x", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["Hel", "lo"]
    assert final.output_text == "Hello" and final.status == "completed"
    calls = [(o.call_id, o.arguments) for o in final.output if o.type == "function_call"]
    assert calls == [("call_1", '{"a":1}'), ("call_2", "{}")]


def test_openai_sdk_raises_on_a_rendered_stream_error() -> None:
    raw = render_events([ir.MessageStart("resp_1", "m"),
                         ir.StreamError(ir.ErrorInfo(500, "upstream exploded", "server_error"))])
    with _sdk_client(raw) as client:
        stream = client.responses.create(model="m", input="hi", stream=True)
        with pytest.raises(openai.APIError, match="upstream exploded"):
            list(stream)


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.sse")))
def test_upstream_captures_survive_parse_render_parse(name: str) -> None:
    first = parse_sse((DATA / name).read_bytes())
    raw = render_events(first)
    validate_stream(raw)
    second = parse_sse(raw)

    def comparable(events: list[ir.StreamEvent]) -> list[Any]:
        return [(e.error.message, e.error.type) if isinstance(e, ir.StreamError) else e
                for e in events]

    assert comparable(second) == comparable(first)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "expected"), [
    (ir.ErrorInfo(400, "bad"), {"message": "bad", "type": "invalid_request_error",
                                "param": None, "code": None}),
    (ir.ErrorInfo(401, "who"), {"message": "who", "type": "authentication_error",
                                "param": None, "code": "invalid_api_key"}),
    (ir.ErrorInfo(404, "no model"), {"message": "no model", "type": "invalid_request_error",
                                     "param": None, "code": "model_not_found"}),
    (ir.ErrorInfo(429, "slow", "rate_limit_error", "usage_limit_reached"),
     {"message": "slow", "type": "rate_limit_error", "param": None,
      "code": "usage_limit_reached"}),
    (ir.ErrorInfo(529, "busy", "overloaded_error"),
     {"message": "busy", "type": "overloaded_error", "param": None,
      "code": "internal_server_error"}),
])
def test_render_error(error: ir.ErrorInfo, expected: dict[str, Any]) -> None:
    assert fmt.render_error(error) == {"error": expected}


@pytest.mark.parametrize(("status", "body", "expected"), [
    (400, {"error": {"message": "bad input", "type": "invalid_request_error", "param": "x",
                     "code": None}}, ir.ErrorInfo(400, "bad input", "invalid_request_error")),
    (429, b'{"error":{"type":"usage_limit_reached","message":"limit","resets_in_seconds":90}}',
     ir.ErrorInfo(429, "limit", "rate_limit_error", "usage_limit_reached", 90.0)),
    (401, '{"detail":"Unauthorized"}', ir.ErrorInfo(401, "Unauthorized", "authentication_error")),
    (403, {"detail": {"code": "deactivated", "message": "gone"}},
     ir.ErrorInfo(403, "gone", "permission_error", "deactivated")),
    (502, "<html>bad gateway</html>", ir.ErrorInfo(502, "<html>bad gateway</html>",
                                                  "server_error")),
    (500, None, ir.ErrorInfo(500, "upstream returned HTTP 500", "server_error")),
    (503, [{"error": {"code": 503, "message": "unavailable"}}],
     ir.ErrorInfo(503, "unavailable", "overloaded_error", "503")),
    (404, {"error": "model not found"}, ir.ErrorInfo(404, "model not found", "not_found_error")),
    (418, 42, ir.ErrorInfo(418, "upstream returned HTTP 418", "invalid_request_error")),
])
def test_parse_error(status: int, body: Any, expected: ir.ErrorInfo) -> None:
    assert fmt.parse_error(status, body) == expected


def test_huge_integers_in_arguments_still_render() -> None:
    call = ir.ToolCall("c", "f", {"n": 2**70})
    body = fmt.render_request(ir.Request(model="m", messages=(ir.Message(A, (call,)),)))
    assert body["input"][0]["arguments"] == '{"n":1180591620717411303424}'


# --- properties ----------------------------------------------------------------------------------

_text = st.text(max_size=12)
_name = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)
_args = st.dictionaries(_name, st.integers(-(2**63), 2**63 - 1) | _text | st.booleans(),
                        max_size=3)
_image = st.one_of(
    st.builds(ir.Image, media_type=st.sampled_from(["image/png", "image/jpeg"]),
              data=st.text(alphabet="ABCDabcd0123+/", min_size=4, max_size=12)),
    st.builds(ir.Image, url=st.sampled_from(["https://e.x/a.png", "https://e.x/b.jpg"])),
)
_content = st.lists(st.one_of(st.builds(ir.Text, _text), _image), min_size=1, max_size=3)


@st.composite
def _assistant(draw: st.DrawFn, calls: list[tuple[str, str]]) -> ir.Message:
    parts: list[ir.Part] = []
    parts += [ir.Reasoning(t, signature=sig(s)) for t, s in draw(
        st.lists(st.tuples(_text, st.text(min_size=1, max_size=6)), max_size=2))]
    parts += [ir.Text(t) for t in draw(st.lists(_text, max_size=2))]
    for _ in range(draw(st.integers(0 if parts else 1, 2))):
        call = (f"call_{len(calls)}", draw(_name))
        calls.append(call)
        parts.append(ir.ToolCall(call[0], call[1], draw(_args)))
    return ir.Message(A, tuple(parts))


@st.composite
def _results(draw: st.DrawFn, calls: list[tuple[str, str]]) -> ir.Message:
    if not calls:
        return ir.Message(R, tuple(draw(_content)))
    chosen = draw(st.lists(st.sampled_from(calls), min_size=1, max_size=3, unique=True))
    return ir.Message(R, tuple(
        ir.ToolResult(cid, tuple(draw(st.lists(st.one_of(st.builds(ir.Text, _text), _image),
                                               max_size=2))), name=name)
        for cid, name in chosen))


@st.composite
def ir_requests(draw: st.DrawFn) -> ir.Request:
    calls: list[tuple[str, str]] = []
    messages = [ir.Message(R, tuple(draw(_content)))]
    for kind in draw(st.lists(st.sampled_from(["user", "assistant", "system", "results"]),
                              max_size=5)):
        if kind == "user":
            messages.append(ir.Message(R, tuple(draw(_content))))
        elif kind == "system":
            messages.append(ir.Message(S, tuple(draw(_content))))
        elif kind == "assistant":
            messages.append(draw(_assistant(calls)))
        else:
            messages.append(draw(_results(calls)))
    tools = tuple(ir.Tool(n, draw(_text), {"type": "object", "properties": {}})
                  for n in draw(st.lists(_name, max_size=2, unique=True)))
    choice = draw(st.none() | st.builds(ir.ToolChoice, st.sampled_from(["auto", "none",
                                                                         "required"]))
                  | st.builds(ir.ToolChoice, st.just("tool"), _name))
    reasoning = draw(st.none() | st.builds(
        ir.ReasoningConfig, effort=st.sampled_from(["none", "minimal", "low", "medium", "high",
                                                    "xhigh"]),
        include_thoughts=st.none() | st.booleans()))
    response_format = draw(st.none() | st.builds(ir.ResponseFormat, st.sampled_from(
        ["text", "json_object"])) | st.builds(ir.ResponseFormat, st.just("json_schema"),
                                              st.just({"type": "object"}), _name,
                                              st.none() | st.booleans()))
    return ir.Request(
        model=draw(_name), messages=tuple(messages), system=tuple(
            ir.Text(t) for t in draw(st.lists(_text, max_size=2))),
        tools=tools, tool_choice=choice, parallel_tool_calls=draw(st.none() | st.booleans()),
        max_tokens=draw(st.none() | st.integers(1, 10**6)),
        temperature=draw(st.none() | st.floats(0, 2)), top_p=draw(st.none() | st.floats(0, 1)),
        reasoning=reasoning, response_format=response_format, stream=draw(st.booleans()),
        user=draw(_text), source=draw(st.sampled_from([None, ir.Format.ANTHROPIC])),
    )


def _flat(messages: tuple[ir.Message, ...]) -> list[Any]:
    out: list[Any] = []
    for m in messages:
        for p in m.parts:
            if isinstance(p, ir.Text):
                out.append((m.role, "text", p.text))
            elif isinstance(p, ir.Image):
                out.append((m.role, "image", p.media_type, p.data, p.url))
            elif isinstance(p, ir.Reasoning):
                out.append((m.role, "reasoning", p.text, p.signature))
            elif isinstance(p, ir.ToolCall):
                out.append((m.role, "call", p.id, p.name, dict(p.arguments)))
            elif isinstance(p, ir.ToolResult):
                has_image = any(isinstance(c, ir.Image) for c in p.content)
                content = _flat((ir.Message(m.role, p.content),)) if has_image else "\n\n".join(
                    c.text for c in p.content if isinstance(c, ir.Text))
                out.append((m.role, "result", p.call_id, p.name, content))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ir_requests())
def test_rendered_requests_parse_back_to_the_same_content(request: ir.Request) -> None:
    back = fmt.parse_request(wire(fmt.render_request(request)))
    assert _flat(back.messages) == _flat(request.messages)
    assert "\n\n".join(p.text for p in back.system if isinstance(p, ir.Text)) == "\n\n".join(
        p.text for p in request.system if isinstance(p, ir.Text))
    assert [(t.name, t.description, t.parameters) for t in back.tools] == [
        (t.name, t.description, t.parameters) for t in request.tools]
    assert (back.tool_choice, back.parallel_tool_calls, back.max_tokens, back.temperature,
            back.top_p, back.response_format, back.stream, back.user, back.model) == (
        request.tool_choice, request.parallel_tool_calls, request.max_tokens,
        request.temperature, request.top_p, request.response_format, request.stream,
        request.user, request.model)
    if request.reasoning is None:
        assert back.reasoning is None
    else:
        assert back.reasoning is not None and back.reasoning.effort == request.reasoning.effort
        assert back.reasoning.include_thoughts is bool(request.reasoning.include_thoughts)
    SDKResponse.model_validate(wire(fmt.render_response(
        ir.Response(id="", model="m", parts=()), request)))


_DELTAS: dict[ir.BlockKind, Any] = {"text": ir.TextDelta, "reasoning": ir.ReasoningDelta,
                                    "tool_call": ir.ToolArgsDelta}
_KINDS: list[ir.BlockKind] = ["reasoning", "text", "tool_call"]


@st.composite
def _block_scripts(draw: st.DrawFn) -> list[list[ir.StreamEvent]]:
    scripts = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(_KINDS), max_size=4))):
        script: list[ir.StreamEvent] = [ir.BlockStart(
            i, kind, *((f"call_{i}", draw(_name)) if kind == "tool_call" else ()))]
        script += [_DELTAS[kind](i, d) for d in draw(st.lists(_text, max_size=3))]
        if kind == "reasoning" and draw(st.booleans()):
            family = draw(st.sampled_from([OWN, ir.Format.ANTHROPIC, ir.Format.GEMINI]))
            script.append(ir.SignatureDelta(i, sig("s", family)))
        if draw(st.booleans()) or kind != "text":
            script.append(ir.BlockStop(i))
        scripts.append(script)
    return scripts


@st.composite
def ir_streams(draw: st.DrawFn) -> list[ir.StreamEvent]:
    events: list[ir.StreamEvent] = []
    if draw(st.booleans()):
        events.append(ir.MessageStart(draw(st.sampled_from(["", "resp_1", "msg_01x"])),
                                      draw(_name), created=draw(st.integers(0, 2**31))))
    scripts, cursor, next_start = draw(_block_scripts()), [], 0
    cursor = [0] * len(scripts)
    while True:
        ready = [i for i, s in enumerate(scripts) if cursor[i] < len(s)
                 and (cursor[i] > 0 or i == next_start)]
        if not ready:
            break
        i = draw(st.sampled_from(ready))
        next_start += cursor[i] == 0
        events.append(scripts[i][cursor[i]])
        cursor[i] += 1
    if draw(st.booleans()):
        events.append(ir.UsageUpdate(ir.Usage(draw(st.integers(0, 99)), draw(st.integers(0, 99)))))
    end = draw(st.sampled_from(["stop", "error", "none"]))
    if end == "stop":
        events.append(ir.MessageStop(draw(st.sampled_from(list(ir.StopReason)))))
    elif end == "error":
        cut = draw(st.integers(0, len(events)))
        events[cut:] = [ir.StreamError(ir.ErrorInfo(draw(st.sampled_from([429, 500, 502])),
                                                    draw(_text)))]
    return events


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ir_streams(), ir_requests())
def test_any_event_sequence_renders_a_valid_stream(events: list[ir.StreamEvent],
                                                   request: ir.Request) -> None:
    raw = render_events(events, request)
    for event in validate_stream(raw):
        EVENT_ADAPTER.validate_python(event)
    reparsed = parse_sse(raw)
    for delta in (ir.TextDelta, ir.ReasoningDelta):
        assert "".join(e.text for e in reparsed if isinstance(e, delta)) == "".join(
            e.text for e in events if isinstance(e, delta))
