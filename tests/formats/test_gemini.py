"""Gemini generateContent (+ Cloud Code envelope): fixtures, round trips, streams, properties."""

from __future__ import annotations

import base64
import copy
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.genai import types as genai
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats import gemini, ir, schema
from cliproxy_cli.formats.gemini import _wire
from cliproxy_cli.formats.sse import SSEDecoder
from tests.formats.validate_gemini import GeminiStreamInvalid, validate_stream

DATA = Path(__file__).parent.parent / "data" / "gemini"
GEMINI_SIG = ir.Signature(ir.Format.GEMINI, "Z3NpZw==")
CLAUDE_SIG = ir.Signature(ir.Format.ANTHROPIC, "claude-sig")
NO_REQUEST = ir.Request(model="", messages=())
REQUEST_FIXTURES = ["request_genai_sdk.json", "request_gemini_cli_turn.json",
                    "request_gemini_cli_followup.json", "request_gemini_cli_router.json",
                    "request_parallel_no_ids.json"]
RESPONSE_FIXTURES = ["response_text.json", "response_tool_call.json", "response_blocked.json",
                     "response_recitation.json"]


def load(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


def sse_events(name: str) -> list[Any]:
    decoder = SSEDecoder()
    return [*decoder.feed((DATA / name).read_bytes()), *decoder.close()]


def parse_sse(name: str, envelope: bool = False) -> list[ir.StreamEvent]:
    parser = gemini.parse_stream(envelope)
    events = [e for event in sse_events(name) for e in parser.feed(event)]
    return [*events, *parser.close()]


def reparse(raw: bytes) -> list[ir.StreamEvent]:
    decoder, parser = SSEDecoder(), gemini.parse_stream()
    events = [e for ev in [*decoder.feed(raw), *decoder.close()] for e in parser.feed(ev)]
    return [*events, *parser.close()]


def render_all(events: list[ir.StreamEvent], request: ir.Request = NO_REQUEST,
               envelope: bool = False) -> bytes:
    renderer = gemini.render_stream(request, envelope)
    return b"".join(renderer.feed(e) for e in events) + renderer.close()


def validate_request_body(body: dict[str, Any]) -> None:
    """Every rendered request field must pass google-genai's strict (extra='forbid') models."""
    for content in body["contents"]:
        genai.Content.model_validate(content)
    if "systemInstruction" in body:
        genai.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        genai.Tool.model_validate(tool)
    if "toolConfig" in body:
        genai.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        genai.GenerationConfig.model_validate(body["generationConfig"])


# --- documented round-trip normalisations (see gemini/request.py) --------------------------------


def lower_types(node: Any) -> Any:
    if isinstance(node, list):
        return [lower_types(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: lower_types(sub) for name, sub in value.items()}
        elif key == "type" and isinstance(value, str):
            out[key] = value.lower()
        else:
            out[key] = lower_types(value)
    return out


def normalise_request(body: dict[str, Any]) -> dict[str, Any]:
    """What a Gemini → IR → Gemini round trip is documented to change."""
    body = copy.deepcopy(body)
    body.pop("model", None)
    contents: list[dict[str, Any]] = []
    for content in body["contents"]:
        role = "model" if content.get("role") == "model" else "user"
        parts = [_normalise_part(part, role) for part in content["parts"]]
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({**content, "role": role, "parts": parts})
    body["contents"] = contents
    for tool in body.get("tools", []):
        for decl in tool.get("functionDeclarations", []):
            for key in ("parameters", "parametersJsonSchema"):
                if key in decl:
                    decl[key] = lower_types(decl[key])
    config = body.get("generationConfig", {})
    if "responseJsonSchema" in config:
        config["responseJsonSchema"] = lower_types(config["responseJsonSchema"])
    return body


def _normalise_part(part: dict[str, Any], role: str) -> dict[str, Any]:
    part = dict(part)
    if "inlineData" in part:
        blob = part["inlineData"]
        part["inlineData"] = {"mimeType": blob.get("mimeType", blob.get("mime_type")),
                              "data": _wire.std_base64(blob["data"])}
    if role == "model" and "functionCall" in part:
        part.setdefault("thoughtSignature", _wire.SENTINEL)
    return part


# --- requests: golden fixtures -------------------------------------------------------------------


def test_genai_sdk_request_maps_field_by_field() -> None:
    request = gemini.parse_request(load("request_genai_sdk.json"))
    assert request.source is ir.Format.GEMINI
    assert request.system == (ir.Text("You are a helpful assistant."),)
    (message,) = request.messages
    assert message.role is ir.Role.USER
    text, image = message.parts
    assert text == ir.Text("What is in this picture? Also check the weather in Paris.")
    assert isinstance(image, ir.Image)
    assert image.media_type == "image/png"
    assert "_" not in image.data and "/" in image.data  # URL-safe → standard base64
    (tool,) = request.tools
    assert tool.name == "get_weather"
    assert tool.parameters["type"] == "object"
    assert tool.parameters["properties"]["unit"] == {"type": ["string", "null"],
                                                     "enum": ["C", "F"]}
    assert tool.parameters["properties"]["days"]["type"] == "integer"
    assert request.tool_choice == ir.ToolChoice("auto")
    assert (request.temperature, request.top_p, request.max_tokens) == (0.2, 0.9, 256)
    assert request.stop == ("END",)
    assert request.extras["safetySettings"][0]["threshold"] == "BLOCK_ONLY_HIGH"


def test_gemini_cli_turn_keeps_json_schema_tools_and_thinking_level() -> None:
    request = gemini.parse_request(load("request_gemini_cli_turn.json"))
    assert [m.role for m in request.messages] == [ir.Role.USER, ir.Role.USER]
    assert [t.name for t in request.tools] == ["list_directory", "run_shell_command"]
    assert request.tools[0].parameters["additionalProperties"] is False
    assert request.reasoning == ir.ReasoningConfig(effort="high", include_thoughts=True)
    assert (request.temperature, request.top_p, request.top_k) == (1.0, 0.95, 64)
    body = gemini.render_request(request)
    assert len(body["contents"]) == 1  # consecutive user turns merged
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True,
                                                          "thinkingLevel": "HIGH"}
    assert "parametersJsonSchema" in body["tools"][0]["functionDeclarations"][0]


def test_gemini_cli_followup_pairs_call_and_response_by_id() -> None:
    request = gemini.parse_request(load("request_gemini_cli_followup.json"))
    _, model, result_turn = request.messages
    thought, call = model.parts
    assert isinstance(thought, ir.Reasoning) and thought.signature is not None
    assert thought.signature.format is ir.Format.GEMINI
    assert isinstance(call, ir.ToolCall)
    assert call.id == "run_shell_command_1795000000000_0"
    assert call.arguments == {"command": "echo hi", "description": "Print hi"}
    assert call.signature == ir.Signature(ir.Format.GEMINI, _wire.SENTINEL)
    (result,) = result_turn.parts
    assert isinstance(result, ir.ToolResult)
    assert (result.call_id, result.name, result.is_error) == (call.id, "run_shell_command", False)
    assert result.content[0].text.startswith("<untrusted_context>")  # type: ignore[union-attr]
    assert request.reasoning == ir.ReasoningConfig(budget=8192, include_thoughts=True)


def test_gemini_cli_router_response_schema_survives_upper_case_types() -> None:
    request = gemini.parse_request(load("request_gemini_cli_router.json"))
    fmt = request.response_format
    assert fmt is not None and fmt.kind == "json_schema" and fmt.schema is not None
    assert fmt.schema["properties"]["complexity_score"]["type"] == "integer"
    assert fmt.schema["required"] == ["complexity_reasoning", "complexity_score"]
    body = gemini.render_request(request)
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["complexity_reasoning"] == {
        "type": "string", "description": "Brief explanation for the score."}
    assert config["thinkingConfig"] == {"thinkingBudget": 512}


def test_snake_case_request_reads_every_field_and_renders_camel_case() -> None:
    raw = load("request_snake_case.json")
    request = gemini.parse_request(raw)
    assert request.system == (ir.Text("Be concise."),)
    assert request.messages[0].parts[1] == ir.Image(media_type="image/jpeg",
                                                    data="/9j/4AAQSkZJRg==")
    call = request.messages[1].parts[0]
    assert isinstance(call, ir.ToolCall)
    assert (call.id, call.name, call.arguments) == ("call_book_0", "book", {"people": 2})
    assert call.signature == ir.Signature(ir.Format.GEMINI, "c2lnLWJvb2s=")
    result = request.messages[2].parts[0]
    assert isinstance(result, ir.ToolResult)
    assert (result.call_id, result.name, result.content) == ("call_book_0", "book",
                                                             (ir.Text("booked"),))
    assert request.tool_choice == ir.ToolChoice("tool", "book")
    assert request.reasoning == ir.ReasoningConfig(budget=1024, include_thoughts=False)
    assert (request.max_tokens, request.top_k, request.stop) == (64, 20, ("STOP!",))
    assert request.response_format == ir.ResponseFormat("json_object")
    assert gemini.render_request(request) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Book a table"}, {"inlineData": {
                "mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "book", "args": {"people": 2}},
                                         "thoughtSignature": "c2lnLWJvb2s="}]},
            {"role": "user", "parts": [{"functionResponse": {
                "name": "book", "response": {"result": "booked"}}}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be concise."}]},
        "tools": [{"functionDeclarations": [{
            "name": "book", "description": "Book a table",
            "parametersJsonSchema": {"type": "object",
                                     "properties": {"people": {"type": "integer"}}}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                                 "allowedFunctionNames": ["book"]}},
        "generationConfig": {"maxOutputTokens": 64, "topK": 20, "stopSequences": ["STOP!"],
                             "responseMimeType": "application/json",
                             "thinkingConfig": {"thinkingBudget": 1024,
                                                "includeThoughts": False}},
    }


def test_parallel_calls_without_ids_pair_fifo_per_name() -> None:
    request = gemini.parse_request(load("request_parallel_no_ids.json"))
    user, model, results = request.messages
    assert [type(p) for p in user.parts] == [ir.Text, ir.Image]  # the PDF has no IR form
    assert user.parts[1] == ir.Image(
        media_type="image/jpeg", url="https://generativelanguage.googleapis.com/v1beta/files/abc123")
    calls = [p for p in model.parts if isinstance(p, ir.ToolCall)]
    assert [c.id for c in calls] == ["call_get_weather_0", "call_get_weather_1",
                                     "call_get_time_2"]
    assert calls[0].signature == ir.Signature(ir.Format.GEMINI, "Q2lnbmF0dXJlT25lVHdv")
    assert results.role is ir.Role.USER  # role "function"
    time, paris, rome = results.parts
    assert isinstance(time, ir.ToolResult) and time.call_id == "call_get_time_2"
    assert orjson.loads(time.content[0].text) == {"time": "21:00", "dst": False}  # type: ignore[union-attr]
    assert isinstance(paris, ir.ToolResult) and paris.call_id == "call_get_weather_0"
    assert paris.content == (ir.Text("18C sunny"),) and not paris.is_error
    assert isinstance(rome, ir.ToolResult) and rome.call_id == "call_get_weather_1"
    assert rome.content == (ir.Text("city not found"),) and rome.is_error
    assert request.tool_choice == ir.ToolChoice("auto")  # VALIDATED: kept raw in extras
    assert request.extras["cachedContent"] == "cachedContents/xyz789"


def test_cloud_code_envelope_unwraps_and_wraps() -> None:
    envelope = load("request_cloudcode_envelope.json")
    body, model, project = gemini.unwrap_request(envelope)
    assert (model, project) == ("gemini-2.5-pro", "moonlit-aurora-4x2k9")
    request = gemini.parse_request(body)
    assert request.reasoning == ir.ReasoningConfig(budget=-1, include_thoughts=True)
    assert request.extras["session_id"] == envelope["request"]["session_id"]
    rendered = gemini.render_request(request)
    assert rendered == envelope["request"]
    assert gemini.wrap_request(rendered, model, project) == {
        "model": model, "project": project, "request": rendered}


@pytest.mark.parametrize("name", [*REQUEST_FIXTURES, "request_snake_case.json"])
def test_rendered_request_passes_genai_models(name: str) -> None:
    validate_request_body(gemini.render_request(gemini.parse_request(load(name))))


@pytest.mark.parametrize("name", REQUEST_FIXTURES)
def test_request_round_trip_is_exact_modulo_documented_normalisations(name: str) -> None:
    raw = load(name)
    assert gemini.render_request(gemini.parse_request(raw)) == normalise_request(raw)


def test_count_tokens_request_shapes() -> None:
    contents = [{"role": "user", "parts": [{"text": "count me"}]}]
    for body in ({"contents": contents},
                 {"generateContentRequest": {"model": "models/gemini-2.5-pro",
                                             "contents": contents}},
                 {"request": {"model": "models/gemini-2.5-pro", "contents": contents}}):
        request = gemini.parse_count_tokens_request(body)
        assert request.messages == (ir.Message(ir.Role.USER, (ir.Text("count me"),)),)
    assert gemini.parse_count_tokens_request(
        {"generateContentRequest": {"model": "models/gemini-2.5-pro", "contents": contents}}
    ).model == "gemini-2.5-pro"
    assert gemini.wrap_count_tokens({"contents": contents}, "gemini-2.5-pro") == {
        "request": {"model": "models/gemini-2.5-pro", "contents": contents}}
    request = ir.Request(model="gemini-2.5-pro", system=(ir.Text("sys"),), messages=(
        ir.Message(ir.Role.USER, (ir.Text("count me"),)),))
    counted = gemini.render_count_tokens_request(request)
    assert counted == {"generateContentRequest": {
        "model": "models/gemini-2.5-pro", "contents": contents,
        "systemInstruction": {"parts": [{"text": "sys"}]}}}
    assert gemini.parse_count_tokens_request(counted).system == (ir.Text("sys"),)
    assert gemini.render_count_tokens_request(ir.Request(model="", messages=())) == {
        "contents": []}
    assert gemini.wrap_count_tokens(counted, "models/gemini-2.5-pro") == {
        "request": {"model": "models/gemini-2.5-pro", "contents": contents}}
    assert gemini.render_count_tokens(42) == {"totalTokens": 42}
    assert gemini.parse_count_tokens({"totalTokens": 42}) == 42
    assert gemini.parse_count_tokens({"response": {"totalTokens": 7}}) == 7
    assert gemini.parse_count_tokens({}) == 0


# --- requests from other formats -----------------------------------------------------------------


def foreign_request() -> ir.Request:
    return ir.Request(
        model="gemini-3-pro-preview",
        system=(ir.Text("You are terse."),),
        messages=(
            ir.Message(ir.Role.USER, (ir.Text("hi"),)),
            ir.Message(ir.Role.SYSTEM, (ir.Text("Environment: linux"),)),
            ir.Message(ir.Role.ASSISTANT, (
                ir.Reasoning("claude thinking", CLAUDE_SIG),
                ir.Reasoning("unsigned"),
                ir.Text("Let me check."),
                ir.ToolCall("toolu_01", "Bash", {"command": "ls"}),
                ir.ToolCall("toolu_02", "Read", {"path": "a"}, GEMINI_SIG),
            )),
            ir.Message(ir.Role.USER, (
                ir.ToolResult("toolu_01", (ir.Text("a.txt\n"),)),
                ir.ToolResult("toolu_02", (ir.Text('{"lines": 3}'),), name="Read"),
            )),
            ir.Message(ir.Role.USER, (ir.ToolResult("toolu_09", (ir.Text("boom"),),
                                                    is_error=True),
                                      ir.Text("continue"))),
            ir.Message(ir.Role.ASSISTANT, (ir.Reasoning("dropped", CLAUDE_SIG),)),
            ir.Message(ir.Role.USER, (ir.Image(media_type="image/png", data="iVBORw0KGgo="),
                                      ir.Image(url="data:image/jpeg;base64,/9j/4A"),
                                      ir.Image(url="https://example.org/cat.png",
                                               media_type="image/png"))),
        ),
        tools=(ir.Tool("Bash", "Run a command", {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "additionalProperties": False, "properties": {
                "command": {"type": "string"},
                "timeout": {"type": ["integer", "null"], "default": 60}},
            "required": ["command", "missing"]}), ir.Tool("NoArgs")),
        tool_choice=ir.ToolChoice("required"),
        max_tokens=1000, stop=("END",),
        reasoning=ir.ReasoningConfig(effort="high"),
        response_format=ir.ResponseFormat("json_schema", {"type": "object"}, name="x"),
        source=ir.Format.ANTHROPIC,
        extras={"metadata": {"user_id": "u"}},
    )


def test_foreign_request_renders_for_gemini() -> None:
    body = gemini.render_request(foreign_request())
    validate_request_body(body)
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."},
                                                   {"text": "Environment: linux"}]}
    user, model, results = body["contents"]
    assert user == {"role": "user", "parts": [{"text": "hi"}]}
    assert model["parts"] == [
        {"text": "Let me check."},
        {"functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "toolu_01"},
         "thoughtSignature": _wire.SENTINEL},
        {"functionCall": {"name": "Read", "args": {"path": "a"}, "id": "toolu_02"},
         "thoughtSignature": "Z3NpZw=="},
    ]
    assert results["parts"] == [
        {"functionResponse": {"name": "Bash", "response": {"result": "a.txt\n"},
                              "id": "toolu_01"}},
        {"functionResponse": {"name": "Read", "response": {"lines": 3}, "id": "toolu_02"}},
        {"functionResponse": {"name": "unknown", "response": {"error": "boom"},
                              "id": "toolu_09"}},
        {"text": "continue"},
        # the reasoning-only model turn vanished, so the user turns around it merged
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4A=="}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.org/cat.png"}},
    ]
    bash, no_args = body["tools"][0]["functionDeclarations"]
    assert bash["parameters"] == {
        "type": "object", "required": ["command"], "properties": {
            "command": {"type": "string"},
            "timeout": {"type": "integer", "nullable": True, "description": "Default: 60"}}}
    assert no_args == {"name": "NoArgs"}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["generationConfig"] == {
        "maxOutputTokens": 1000, "stopSequences": ["END"],
        "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
        "thinkingConfig": {"thinkingLevel": "HIGH", "includeThoughts": True}}
    assert "metadata" not in body  # foreign extras are dropped


@pytest.mark.parametrize(("config", "expected"), [
    (ir.ReasoningConfig(budget=2048), {"thinkingBudget": 2048, "includeThoughts": True}),
    (ir.ReasoningConfig(budget=0), {"thinkingBudget": 0}),
    (ir.ReasoningConfig(effort="none"), {"thinkingBudget": 0}),
    (ir.ReasoningConfig(effort="auto"), {"thinkingBudget": -1, "includeThoughts": True}),
    (ir.ReasoningConfig(effort="minimal"), {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
    (ir.ReasoningConfig(effort="xhigh", include_thoughts=False),
     {"thinkingLevel": "XHIGH", "includeThoughts": False}),
    (ir.ReasoningConfig(effort="low", budget=1024),
     {"thinkingBudget": 1024, "includeThoughts": True}),  # never both for a foreign request
])
def test_thinking_config_rule(config: ir.ReasoningConfig, expected: dict[str, Any]) -> None:
    request = ir.Request(model="m", messages=(), reasoning=config)
    assert gemini.render_request(request)["generationConfig"]["thinkingConfig"] == expected


@pytest.mark.parametrize(("choice", "expected"), [
    (ir.ToolChoice("auto"), {"mode": "AUTO"}),
    (ir.ToolChoice("none"), {"mode": "NONE"}),
    (ir.ToolChoice("required"), {"mode": "ANY"}),
    (ir.ToolChoice("tool", "f"), {"mode": "ANY", "allowedFunctionNames": ["f"]}),
])
def test_tool_choice_rule(choice: ir.ToolChoice, expected: dict[str, Any]) -> None:
    body = gemini.render_request(ir.Request(model="m", messages=(), tool_choice=choice))
    assert body["toolConfig"] == {"functionCallingConfig": expected}
    assert gemini.parse_request(body).tool_choice == choice


def test_response_format_kinds() -> None:
    for fmt, expected in ((ir.ResponseFormat("json_object"), {"responseMimeType":
                                                              "application/json"}),
                          (ir.ResponseFormat("text"), {"responseMimeType": "text/plain"})):
        body = gemini.render_request(ir.Request(model="m", messages=(), response_format=fmt))
        assert body["generationConfig"] == expected
        assert gemini.parse_request(body).response_format == fmt


# --- hostile requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    [], "x", None, {}, {"contents": "hi"}, {"contents": ["hi"]},
    {"contents": [{"role": 1, "parts": []}]},
    {"contents": [{"parts": "text"}]},
    {"contents": [{"parts": ["text"]}]},
    {"contents": [{"parts": [{"text": 5}]}]},
    {"contents": [{"parts": [{"functionCall": "ls"}]}]},
    {"contents": [{"parts": [{"functionCall": {"args": {}}}]}]},
    {"contents": [{"parts": [{"functionCall": {"name": 3}}]}]},
    {"contents": [{"parts": [{"functionResponse": {"name": ["x"]}}]}]},
    {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": 1}}]}]},
    {"contents": [{"parts": [{"text": "x", "thoughtSignature": 12}]}]},
    {"contents": [], "systemInstruction": 7},
    {"contents": [], "tools": {"functionDeclarations": []}},
    {"contents": [], "tools": [{"functionDeclarations": [{"description": "no name"}]}]},
    {"contents": [], "tools": [{"functionDeclarations": [{"name": "f", "parameters": "{}"}]}]},
    {"contents": [], "toolConfig": []},
    {"contents": [], "toolConfig": {"functionCallingConfig": {"allowedFunctionNames": [1]}}},
    {"contents": [], "generationConfig": []},
    {"contents": [], "generationConfig": {"maxOutputTokens": "lots"}},
    {"contents": [], "generationConfig": {"maxOutputTokens": True}},
    {"contents": [], "generationConfig": {"maxOutputTokens": 1.5}},
    {"contents": [], "generationConfig": {"temperature": "hot"}},
    {"contents": [], "generationConfig": {"stopSequences": [1]}},
    {"contents": [], "generationConfig": {"thinkingConfig": {"includeThoughts": "yes"}}},
    {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": "x"}}},
    {"contents": [], "generationConfig": {"responseMimeType": "application/json",
                                          "responseJsonSchema": []}},
])
def test_malformed_requests_raise_format_error(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        gemini.parse_request(body)


def test_lenient_request_inputs_parse() -> None:
    request = gemini.parse_request({"contents": [
        {"parts": []},
        {"role": "model", "parts": [{}, {"weird": 1},
                                    {"functionCall": {"name": "f", "args": "[1, 2]"}},
                                    {"functionCall": {"name": "g", "args": None}},
                                    {"functionCall": {"name": "h", "args": "{\"a\": 1}"}}]},
        {"role": "alien", "parts": [{"functionResponse": {"name": "zz", "response": "plain"}}]},
        {"parts": [{"functionResponse": {"id": "nope", "response": None}}]},
    ]})
    empty, model, alien, orphan = request.messages
    assert empty.parts == () and empty.role is ir.Role.USER
    calls = [p for p in model.parts if isinstance(p, ir.ToolCall)]
    assert [c.arguments for c in calls] == [{"value": [1, 2]}, {}, {"a": 1}]
    assert len(model.extras[_wire.OPAQUE_PARTS]) == 2
    assert alien.role is ir.Role.USER
    result = alien.parts[0]
    assert isinstance(result, ir.ToolResult) and result.content == (ir.Text("plain"),)
    assert result.call_id == "call_zz_3"
    lone = orphan.parts[0]
    assert isinstance(lone, ir.ToolResult) and (lone.call_id, lone.content) == ("nope", ())
    body = gemini.render_request(request)
    validate_request_body({**body, "contents": [
        c for c in body["contents"] if all(p for p in c["parts"])]})
    assert body["contents"][-1]["parts"][-1]["functionResponse"] == {
        "name": "unknown", "response": {}, "id": "nope"}


def test_multimodal_function_response_round_trips_and_renders_siblings_for_others() -> None:
    raw = {"contents": [
        {"role": "model", "parts": [{"functionCall": {"id": "s1", "name": "shot", "args": {}},
                                     "thoughtSignature": "c2ln"}]},
        {"role": "user", "parts": [{"functionResponse": {
            "id": "s1", "name": "shot", "response": {"output": "captured"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}}]},
    ]}
    request = gemini.parse_request(raw)
    result = request.messages[1].parts[0]
    assert isinstance(result, ir.ToolResult)
    assert result.content == (ir.Text("captured"),
                              ir.Image(media_type="image/png", data="iVBORw0KGgo="))
    assert gemini.render_request(request) == raw
    foreign = gemini.render_request(ir.Request(model="m", messages=(
        ir.Message(ir.Role.USER, (result,)),)))
    assert foreign["contents"][0]["parts"] == [
        {"functionResponse": {"name": "shot", "response": {"result": "captured"}, "id": "s1"}},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]


def test_empty_text_with_signature_is_a_bare_signature() -> None:
    parts = [{"text": "Done."}, {"text": "", "thoughtSignature": "c2ln"},
             {"thoughtSignature": "c2lnMg=="}]
    raw: dict[str, Any] = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                        "index": 0}],
        "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 1},
        "modelVersion": "m", "responseId": "r"}
    response = gemini.parse_response(raw)
    assert [type(p) for p in response.parts] == [ir.Text, ir.Reasoning, ir.Reasoning]
    assert all(p.signature is not None for p in response.parts[1:])  # type: ignore[union-attr]
    assert gemini.render_response(response, NO_REQUEST) == raw
    history = gemini.render_request(ir.Request(model="m", messages=(
        ir.Message(ir.Role.ASSISTANT, response.parts),), source=ir.Format.GEMINI))
    assert history["contents"][0]["parts"] == parts
    foreign = gemini.render_request(ir.Request(model="m", messages=(
        ir.Message(ir.Role.ASSISTANT, (ir.Reasoning("", GEMINI_SIG),)),)))
    assert foreign["contents"][0]["parts"] == [{"text": "", "thoughtSignature": "Z3NpZw=="}]


# --- responses -----------------------------------------------------------------------------------


def test_text_response_maps_field_by_field() -> None:
    response = gemini.parse_response(load("response_text.json"))
    thought, text = response.parts
    assert thought == ir.Reasoning("**Looking at the image**\nA single pixel.")
    assert isinstance(text, ir.Text) and text.text.startswith("The picture")
    assert text.signature is not None and text.signature.format is ir.Format.GEMINI
    assert response.stop_reason is ir.StopReason.END_TURN
    assert response.usage == ir.Usage(input_tokens=270, output_tokens=51, cached_tokens=200,
                                      reasoning_tokens=40)
    assert (response.id, response.model) == ("Xk8oaZ2uHqGmvdIPs6W1iQ4", "gemini-2.5-flash")
    assert response.extras["createTime"] == "2026-11-24T10:00:00.123456Z"


def test_tool_call_response_is_tool_use_with_minted_ids() -> None:
    response = gemini.parse_response(load("response_tool_call.json"))
    first, second = response.parts
    assert isinstance(first, ir.ToolCall) and isinstance(second, ir.ToolCall)
    assert first.id.startswith("call_") and first.id != second.id
    assert first.signature == ir.Signature(ir.Format.GEMINI,
                                           "FH2kDklDYdf3zx/c28RKdLMnWTin6RMEjKEvr8Tm")
    assert second.arguments == {"city": "Rome", "unit": "C"}
    assert response.stop_reason is ir.StopReason.TOOL_USE
    assert response.usage.output_tokens == 85 and response.usage.reasoning_tokens == 61


def test_blocked_prompt_is_content_filter() -> None:
    response = gemini.parse_response(load("response_blocked.json"))
    assert response.parts == () and response.stop_reason is ir.StopReason.CONTENT_FILTER
    assert response.usage == ir.Usage(input_tokens=8)


@pytest.mark.parametrize(("native", "calls", "expected"), [
    ("STOP", False, ir.StopReason.END_TURN), ("STOP", True, ir.StopReason.TOOL_USE),
    ("MAX_TOKENS", True, ir.StopReason.MAX_TOKENS), ("SAFETY", False,
                                                     ir.StopReason.CONTENT_FILTER),
    ("RECITATION", False, ir.StopReason.CONTENT_FILTER),
    ("BLOCKLIST", False, ir.StopReason.CONTENT_FILTER),
    ("PROHIBITED_CONTENT", False, ir.StopReason.CONTENT_FILTER),
    ("SPII", False, ir.StopReason.CONTENT_FILTER),
    ("MALFORMED_FUNCTION_CALL", False, ir.StopReason.ERROR),
    ("OTHER", False, ir.StopReason.ERROR), ("SOMETHING_NEW", False, ir.StopReason.END_TURN),
    (None, False, ir.StopReason.END_TURN),
])
def test_finish_reasons(native: str | None, calls: bool, expected: ir.StopReason) -> None:
    parts: list[dict[str, Any]] = [{"text": "x"}]
    if calls:
        parts.append({"functionCall": {"name": "f", "args": {}}})
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if native:
        candidate["finishReason"] = native
    assert gemini.parse_response({"candidates": [candidate]}).stop_reason is expected


@pytest.mark.parametrize("name", RESPONSE_FIXTURES)
def test_response_round_trip_is_exact(name: str) -> None:
    raw = load(name)
    rendered = gemini.render_response(gemini.parse_response(raw), NO_REQUEST)
    assert rendered == raw
    genai.GenerateContentResponse.model_validate(rendered)


def test_cloud_code_response_unwraps_and_round_trips() -> None:
    raw = load("response_max_tokens_cloudcode.json")
    inner = gemini.unwrap_response(raw)
    response = gemini.parse_response(raw)
    assert response.stop_reason is ir.StopReason.MAX_TOKENS
    rendered = gemini.render_response(response, NO_REQUEST)
    assert rendered == inner
    assert gemini.wrap_response(rendered) == {"response": inner}
    assert gemini.unwrap_response({"error": {"code": 1}}) == {"error": {"code": 1}}


def test_foreign_response_renders_for_gemini() -> None:
    response = ir.Response(
        id="msg_01", model="claude-sonnet-4-5", created=0,
        parts=(ir.Reasoning("hmm", CLAUDE_SIG), ir.Reasoning("", CLAUDE_SIG, redacted=True),
               ir.Text("Checking."), ir.ToolCall("toolu_1", "Bash", {"command": "ls"}),
               ir.Image(media_type="image/png", data="iVBORw0KGgo="),
               ir.ToolResult("srv_1", (ir.Text("server tool output"),))),
        stop_reason=ir.StopReason.TOOL_USE,
        usage=ir.Usage(input_tokens=100, output_tokens=30, cached_tokens=80,
                       reasoning_tokens=10),
        source=ir.Format.ANTHROPIC, extras={"container": "x"},
    )
    request = ir.Request(model="gemini-via-claude", messages=())
    rendered = gemini.render_response(response, request)
    genai.GenerateContentResponse.model_validate(rendered)
    assert rendered == {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "hmm", "thought": True}, {"text": "Checking."},
            {"functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "toolu_1"}},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20,
                          "totalTokenCount": 130, "cachedContentTokenCount": 80,
                          "thoughtsTokenCount": 10},
        "modelVersion": "gemini-via-claude", "responseId": "msg_01",
    }


@pytest.mark.parametrize(("stop", "native"), [
    (ir.StopReason.MAX_TOKENS, "MAX_TOKENS"), (ir.StopReason.CONTENT_FILTER, "SAFETY"),
    (ir.StopReason.END_TURN, "STOP"), (ir.StopReason.STOP_SEQUENCE, "STOP"),
    (ir.StopReason.ERROR, "OTHER"), (ir.StopReason.PAUSE, "STOP"),
])
def test_rendered_finish_reason(stop: ir.StopReason, native: str) -> None:
    response = ir.Response(id="", model="m", parts=(), stop_reason=stop)
    rendered = gemini.render_response(response, NO_REQUEST)
    assert rendered["candidates"][0]["finishReason"] == native
    assert rendered["responseId"]  # minted when empty


@pytest.mark.parametrize("body", [[], "x", {"candidates": "no"}, {"candidates": [3]},
                                  {"error": {"code": 500}},
                                  {"candidates": [{"content": {"parts": [{"text": 1}]}}]}])
def test_malformed_responses_raise_format_error(body: Any) -> None:
    with pytest.raises(ir.FormatError):
        gemini.parse_response(body)


# --- errors --------------------------------------------------------------------------------------


def test_parse_error_reads_google_envelope_and_retry_info() -> None:
    error = gemini.parse_error(429, load("error_429.json"))
    assert (error.status, error.type, error.code) == (429, "rate_limit_error",
                                                      "RESOURCE_EXHAUSTED")
    assert error.message.startswith("You exceeded") and error.retry_after == 37.0


@pytest.mark.parametrize(("status", "body", "expected"), [
    (500, None, ir.ErrorInfo(500, "upstream error (HTTP 500)", "server_error")),
    (502, b"<html>Bad Gateway</html>", ir.ErrorInfo(502, "<html>Bad Gateway</html>",
                                                    "server_error")),
    (400, '{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}',
     ir.ErrorInfo(400, "bad", "invalid_request_error", "INVALID_ARGUMENT")),
    (200, [{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}],
     ir.ErrorInfo(503, "overloaded", "overloaded_error", "UNAVAILABLE")),
    (0, {"error": {"message": "x", "status": "PERMISSION_DENIED"}},
     ir.ErrorInfo(403, "x", "permission_error", "PERMISSION_DENIED")),
    (401, {"error": "nope"}, ir.ErrorInfo(401, "nope", "authentication_error")),
    (404, {"unexpected": True}, ir.ErrorInfo(404, "upstream error (HTTP 404)",
                                             "not_found_error")),
    (429, {"response": {"error": {"code": 429, "message": "slow", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
         "metadata": {"quotaResetDelay": "1.5s"}}]}}},
     ir.ErrorInfo(429, "slow", "rate_limit_error", retry_after=1.5)),
])
def test_parse_error_never_crashes(status: int, body: Any, expected: ir.ErrorInfo) -> None:
    assert gemini.parse_error(status, body) == expected


@pytest.mark.parametrize(("error", "expected"), [
    (ir.ErrorInfo(400, "bad"), {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}),
    (ir.ErrorInfo(401, "who"), {"code": 401, "message": "who", "status": "UNAUTHENTICATED"}),
    (ir.ErrorInfo(403, "no"), {"code": 403, "message": "no", "status": "PERMISSION_DENIED"}),
    (ir.ErrorInfo(404, "?"), {"code": 404, "message": "?", "status": "NOT_FOUND"}),
    (ir.ErrorInfo(429, "slow", retry_after=2.5),
     {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED", "details": [
         {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}),
    (ir.ErrorInfo(500, "oops"), {"code": 500, "message": "oops", "status": "INTERNAL"}),
    (ir.ErrorInfo(503, "busy"), {"code": 503, "message": "busy", "status": "UNAVAILABLE"}),
    (ir.ErrorInfo(504, "late"), {"code": 504, "message": "late", "status":
                                 "DEADLINE_EXCEEDED"}),
    (ir.ErrorInfo(529, "over"), {"code": 529, "message": "over", "status": "UNAVAILABLE"}),
    (ir.ErrorInfo(400, "pre", code="FAILED_PRECONDITION"),
     {"code": 400, "message": "pre", "status": "FAILED_PRECONDITION"}),
    (ir.ErrorInfo(418, "tea"), {"code": 418, "message": "tea", "status": "INVALID_ARGUMENT"}),
])
def test_render_error(error: ir.ErrorInfo, expected: dict[str, Any]) -> None:
    assert gemini.render_error(error) == {"error": expected}
    assert gemini.parse_error(error.status, gemini.render_error(error)).message == error.message


# --- stream parsing ------------------------------------------------------------------------------


def test_text_stream_with_usage_only_on_the_last_chunk() -> None:
    assert parse_sse("stream_text.sse") == [
        ir.MessageStart("sse-text-1", "gemini-2.5-flash"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "Hello"),
        ir.UsageUpdate(ir.Usage(input_tokens=5)),
        ir.TextDelta(0, ", world"),
        ir.TextDelta(0, "!"),
        ir.UsageUpdate(ir.Usage(input_tokens=5, output_tokens=3)),
        ir.BlockStop(0),
        ir.MessageStop(ir.StopReason.END_TURN, ir.Usage(input_tokens=5, output_tokens=3)),
    ]


def test_thinking_and_tool_stream() -> None:
    events = parse_sse("stream_thinking_tool.sse")
    paris_id = next(e.tool_id for e in events if isinstance(e, ir.BlockStart) and e.index == 2)
    assert paris_id.startswith("call_")
    final = ir.Usage(input_tokens=40, output_tokens=45, reasoning_tokens=20)
    assert events == [
        ir.MessageStart("sse-tool-1", "gemini-3-pro-preview"),
        ir.BlockStart(0, "reasoning"),
        ir.ReasoningDelta(0, "**Planning**\nI should check the weather"),
        ir.UsageUpdate(ir.Usage(input_tokens=40, output_tokens=12, reasoning_tokens=12)),
        ir.ReasoningDelta(0, " in both cities."),
        ir.UsageUpdate(ir.Usage(input_tokens=40, output_tokens=20, reasoning_tokens=20)),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Let me look that up."),
        ir.UsageUpdate(ir.Usage(input_tokens=40, output_tokens=25, reasoning_tokens=20)),
        ir.SignatureDelta(1, ir.Signature(ir.Format.GEMINI,
                                          "J4zAgRsNKhmBO/iHGfVKThOd+kbpQi0M+qeiiy9t")),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", paris_id, "get_weather"),
        ir.ToolArgsDelta(2, '{"city":"Paris"}'),
        ir.SignatureDelta(2, ir.Signature(ir.Format.GEMINI, "CiwBVKhc7+call/sig==")),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", "fc-rome", "get_weather"),
        ir.ToolArgsDelta(3, '{"city":"Rome"}'),
        ir.BlockStop(3),
        ir.UsageUpdate(final),
        ir.MessageStop(ir.StopReason.TOOL_USE, final),
    ]


def test_cloud_code_stream_unwraps_every_chunk() -> None:
    events = parse_sse("stream_cloudcode.sse", envelope=True)
    assert events[0] == ir.MessageStart("cc-sse-1", "gemini-2.5-pro")
    assert [e.text for e in events if isinstance(e, ir.TextDelta)] == ["Hi", " there"]
    assert events[-1] == ir.MessageStop(ir.StopReason.END_TURN,
                                        ir.Usage(input_tokens=3, output_tokens=2))


def test_in_stream_error_becomes_stream_error() -> None:
    events = parse_sse("stream_error.sse")
    assert events[-2:] == [ir.TextDelta(0, "Partial"), ir.StreamError(ir.ErrorInfo(
        503, "The model is overloaded. Please try again later.", "overloaded_error",
        "UNAVAILABLE"))]


def test_truncated_stream_closes_blocks_then_errors() -> None:
    events = parse_sse("stream_truncated.sse")
    assert events[-2:] == [ir.BlockStop(0), ir.StreamError(ir.ErrorInfo(
        502, "upstream stream ended before completion", "server_error"))]


def test_stream_parser_tolerates_noise() -> None:
    parser = gemini.parse_stream()
    noise = ["", "[DONE]", "not json", "42", '{"candidates": "x"}',
             '{"candidates": [{"content": {"parts": [1, {"inlineData": {}}, {"text": 3}]}}]}',
             '{"usageMetadata": {"promptTokenCount": 4}}',
             '[{"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]}]',
             '{"candidates": [{"content": {"parts": [{"text": "after the end"}]}}]}']
    events = [e for data in noise for e in parser.feed(SSEDecoder().feed(
        f"data: {data}\n\n".encode())[0] if data else _empty_event())]
    assert events[0] == ir.MessageStart("", "")
    assert ir.TextDelta(0, "a") in events
    assert events[-1] == ir.MessageStop(ir.StopReason.END_TURN, ir.Usage(input_tokens=4))
    assert parser.close() == []


def _empty_event() -> Any:
    from cliproxy_cli.formats.sse import SSEEvent
    return SSEEvent("")


def test_blocked_stream_without_candidates_is_content_filter() -> None:
    raw = b'data: {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": ' \
          b'{"promptTokenCount": 3, "totalTokenCount": 3}}\n\n'
    events = reparse(raw)
    assert events[-1] == ir.MessageStop(ir.StopReason.CONTENT_FILTER, ir.Usage(input_tokens=3))


# --- stream rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stream_text.sse", "stream_thinking_tool.sse",
                                  "stream_cloudcode.sse", "stream_error.sse",
                                  "stream_truncated.sse"])
def test_parse_then_render_stream_is_valid_and_reparses_the_same(name: str) -> None:
    events = parse_sse(name, envelope=True)
    raw = render_all(events)
    decoded = validate_stream(raw)
    for chunk in decoded:
        if "error" not in chunk:
            genai.GenerateContentResponse.model_validate(chunk)
    assert summarise(reparse(raw)) == summarise(events)


def test_render_stream_golden() -> None:
    events: list[ir.StreamEvent] = [
        ir.MessageStart("resp-1", "upstream-model"),
        ir.BlockStart(0, "reasoning"), ir.ReasoningDelta(0, "think"),
        ir.SignatureDelta(0, GEMINI_SIG), ir.BlockStop(0),
        ir.BlockStart(1, "text"), ir.TextDelta(1, "Hi"), ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", "call_1", "ls"), ir.ToolArgsDelta(2, '{"d"'),
        ir.ToolArgsDelta(2, ':"."}'), ir.SignatureDelta(2, CLAUDE_SIG), ir.BlockStop(2),
        ir.UsageUpdate(ir.Usage(input_tokens=3, output_tokens=9, reasoning_tokens=4)),
        ir.MessageStop(ir.StopReason.TOOL_USE),
    ]
    request = ir.Request(model="gemini-client-model", messages=())
    raw = render_all(events, request)
    chunks = [orjson.loads(line[6:]) for line in raw.split(b"\n\n") if line]
    tail = {"modelVersion": "gemini-client-model", "responseId": "resp-1"}

    def chunk(parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
        candidate.update(extra.pop("candidate", {}))
        return {"candidates": [candidate], **extra, **tail}

    assert chunks == [
        chunk([{"text": "think", "thought": True}]),
        chunk([{"text": "", "thoughtSignature": "Z3NpZw==", "thought": True}]),
        chunk([{"text": "Hi"}]),
        chunk([{"functionCall": {"name": "ls", "args": {"d": "."}, "id": "call_1"}}]),
        chunk([{"text": ""}], candidate={"finishReason": "STOP"}, usageMetadata={
            "promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 12,
            "thoughtsTokenCount": 4}),
    ]
    assert raw.endswith(b"\n\n") and b"\r" not in raw


def test_render_stream_envelope_wraps_chunks_but_not_errors() -> None:
    raw = render_all([ir.MessageStart("r", "m"), ir.BlockStart(0, "text"),
                      ir.TextDelta(0, "x"), ir.StreamError(ir.ErrorInfo(429, "slow"))],
                     envelope=True)
    events = validate_stream(raw, envelope=True)
    assert events[0]["candidates"][0]["content"]["parts"] == [{"text": "x"}]
    assert events[-1] == {"error": {"code": 429, "message": "slow",
                                    "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(GeminiStreamInvalid):
        validate_stream(raw)


def test_render_stream_edge_sequences() -> None:
    empty = validate_stream(render_all([ir.MessageStart("", ""),
                                        ir.MessageStop(ir.StopReason.END_TURN)]))
    assert len(empty) == 1 and empty[0]["responseId"]
    closed = validate_stream(render_all([ir.MessageStart("r", "m"), ir.BlockStart(0, "text"),
                                         ir.TextDelta(0, "half")]))
    assert closed[-1]["error"]["status"] == "UNAVAILABLE"
    assert validate_stream(render_all([]))[0]["error"]["code"] == 502
    unopened = validate_stream(render_all([ir.ToolArgsDelta(5, "[1]"), ir.BlockStop(5),
                                           ir.MessageStop(ir.StopReason.MAX_TOKENS)]))
    assert unopened[0]["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "", "args": {"value": [1]}}}]
    assert unopened[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    pending = validate_stream(render_all([ir.BlockStart(0, "tool_call", "c", "f"),
                                          ir.ToolArgsDelta(0, "{}"),
                                          ir.MessageStop(ir.StopReason.TOOL_USE)]))
    assert pending[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "f"
    renderer = gemini.render_stream(NO_REQUEST)
    renderer.feed(ir.MessageStop(ir.StopReason.END_TURN))
    assert renderer.feed(ir.TextDelta(0, "late")) == b"" and renderer.close() == b""


@pytest.mark.parametrize("raw", [
    b"", b"data: {}\n", b"event: x\ndata: {}\n\n", b"data: [1]\n\n", b"data: nope\n\n",
    b'data: {"candidates": []}\n\n',
    b'data: {"candidates": [{"finishReason": "STOP"}]}\n\n'
    b'data: {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {}}\n\n',
    b'data: {"candidates": [{"finishReason": "STOP"}]}\n\n',
    b'data: {"error": {"code": "x", "message": "m", "status": "S"}}\n\n',
    b'data: {"candidates": [{"content": {"role": "user", "parts": []}}]}\n\n',
    b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "a", '
    b'"functionCall": {"name": "f"}}]}, "finishReason": "STOP"}], "usageMetadata": {}}\n\n',
    b'data: {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {}}\n\n'
    b'data: {"candidates": []}\n\n',
])
def test_validator_rejects_broken_streams(raw: bytes) -> None:
    with pytest.raises(GeminiStreamInvalid):
        validate_stream(raw)


def summarise(events: list[ir.StreamEvent]) -> dict[str, Any]:
    """What a Gemini stream carries, independent of block boundaries and minted ids."""
    calls: dict[int, list[Any]] = {}
    out: dict[str, Any] = {"text": "", "reasoning": "", "calls": [], "end": None}
    for event in events:
        if isinstance(event, ir.TextDelta):
            out["text"] += event.text
        elif isinstance(event, ir.ReasoningDelta):
            out["reasoning"] += event.text
        elif isinstance(event, ir.BlockStart) and event.kind == "tool_call":
            calls[event.index] = [event.tool_name, "", None]
        elif isinstance(event, ir.ToolArgsDelta):
            calls.setdefault(event.index, ["", "", None])[1] += event.fragment
        elif isinstance(event, ir.SignatureDelta) and event.index in calls:
            calls[event.index][2] = _wire.gemini_signature(event.signature)
        elif isinstance(event, ir.BlockStop) and event.index in calls:
            name, args, signature = calls.pop(event.index)
            out["calls"].append((name, ir.coerce_arguments(args), signature))
        elif isinstance(event, ir.MessageStop):
            out["end"] = (event.stop_reason, event.usage or ir.Usage())
        elif isinstance(event, ir.StreamError):
            out["end"] = ("error", event.error.message)
    return out


# --- properties ----------------------------------------------------------------------------------

_texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1,
                 max_size=12)
_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), _texts)
_args = st.dictionaries(_names, st.one_of(_json_scalars, st.lists(_json_scalars, max_size=3)),
                        max_size=3)
_base64 = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
_gemini_sig = st.builds(ir.Signature, st.just(ir.Format.GEMINI), _base64)
_any_sig = st.one_of(st.none(), _gemini_sig,
                     st.builds(ir.Signature, st.just(ir.Format.ANTHROPIC), _texts))


@st.composite
def _results(draw: st.DrawFn) -> ir.ToolResult:
    text = draw(st.one_of(_texts.filter(lambda t: not t.lstrip().startswith("{")),
                          st.dictionaries(_names, st.integers(-99, 99), min_size=1, max_size=3).map(
                              lambda d: orjson.dumps(d).decode())))
    return ir.ToolResult(draw(st.sampled_from(["c1", "c2", "c3", "toolu_x"])), (ir.Text(text),),
                         draw(st.sampled_from(["", "f"])), draw(st.booleans()))


_user_parts = st.one_of(
    st.builds(ir.Text, _texts),
    st.builds(ir.Image, st.just("image/png"), st.just("iVBORw0KGgo=")),
    st.builds(ir.Image, media_type=st.just("image/png"),
              url=st.just("https://example.org/a.png")),
    _results(),
)
_model_parts = st.one_of(
    st.builds(ir.Text, _texts, _any_sig),
    st.builds(ir.Reasoning, _texts, _any_sig),
    st.builds(ir.ToolCall, st.sampled_from(["c1", "c2", "c3"]), _names, _args, _any_sig),
)
_messages = st.one_of(
    st.builds(ir.Message, st.just(ir.Role.USER), st.lists(_user_parts, max_size=3).map(tuple)),
    st.builds(ir.Message, st.just(ir.Role.ASSISTANT),
              st.lists(_model_parts, max_size=3).map(tuple)),
    st.builds(ir.Message, st.just(ir.Role.SYSTEM),
              st.lists(st.builds(ir.Text, _texts), max_size=2).map(tuple)),
)
_schemas = st.builds(
    lambda props, required: {"type": "object", "properties": props,
                             "required": [n for n in required if n in props]},
    st.dictionaries(_names, st.sampled_from([{"type": "string"}, {"type": "integer"},
                                             {"type": "array", "items": {"type": "string"}}]),
                    max_size=3),
    st.lists(_names, max_size=2),
)
_requests = st.builds(
    ir.Request,
    model=st.just("gemini-x"),
    messages=st.lists(_messages, max_size=5).map(tuple),
    system=st.lists(st.builds(ir.Text, _texts), max_size=2).map(tuple),
    tools=st.lists(st.builds(ir.Tool, _names, st.sampled_from(["", "does things"]), _schemas),
                   max_size=2, unique_by=lambda t: t.name).map(tuple),
    tool_choice=st.one_of(st.none(), st.builds(ir.ToolChoice, st.sampled_from(
        ["auto", "none", "required"])), st.builds(ir.ToolChoice, st.just("tool"), _names)),
    max_tokens=st.one_of(st.none(), st.integers(1, 10_000)),
    temperature=st.one_of(st.none(), st.floats(0, 2)),
    top_k=st.one_of(st.none(), st.integers(1, 100)),
    stop=st.lists(_texts, max_size=2).map(tuple),
    reasoning=st.one_of(st.none(), st.builds(
        ir.ReasoningConfig, effort=st.one_of(st.none(), st.sampled_from(
            ["none", "minimal", "low", "medium", "high", "xhigh", "auto"])),
        include_thoughts=st.one_of(st.none(), st.booleans())),
        st.builds(ir.ReasoningConfig, budget=st.integers(-1, 30_000))),
    response_format=st.one_of(st.none(), st.sampled_from([
        ir.ResponseFormat("json_object"), ir.ResponseFormat("text"),
        ir.ResponseFormat("json_schema", {"type": "object", "properties": {
            "a": {"type": "string"}}})])),
    source=st.sampled_from([None, ir.Format.OPENAI_CHAT, ir.Format.ANTHROPIC]),
)


def _expected_messages(request: ir.Request) -> list[tuple[ir.Role, list[Any]]]:
    names = {p.id: p.name for m in request.messages for p in m.parts
             if isinstance(p, ir.ToolCall)}
    out: list[tuple[ir.Role, list[Any]]] = []
    for message in request.messages:
        if message.role is ir.Role.SYSTEM:
            continue
        parts = [k for p in message.parts if (k := _key(p, names)) is not None]
        if not parts:
            continue
        if out and out[-1][0] is message.role:
            out[-1][1].extend(parts)
        else:
            out.append((message.role, parts))
    return out


def _key(part: ir.Part, names: dict[str, str]) -> Any:
    signature = _wire.gemini_signature(getattr(part, "signature", None))
    if isinstance(part, ir.Text):
        return ("text", part.text, signature)
    if isinstance(part, ir.Reasoning):
        return ("reasoning", part.text, signature) if signature else None
    if isinstance(part, ir.Image):
        return ("image", part.media_type, part.data, part.url)
    if isinstance(part, ir.ToolCall):
        return ("call", part.id, part.name, dict(part.arguments), signature or _wire.SENTINEL)
    assert isinstance(part, ir.ToolResult)
    name = part.name or names.get(part.call_id) or "unknown"
    return ("result", part.call_id, name, part.is_error, _wire.texts(part.content))


def _expected_reasoning(config: ir.ReasoningConfig | None) -> ir.ReasoningConfig | None:
    if config is None:
        return None
    levels = {"minimal", "low", "medium", "high", "xhigh"}
    effort = config.effort if config.budget is None and config.effort in levels else None
    budget = config.budget if config.budget is not None else (
        {"none": 0, "auto": -1}.get(config.effort or ""))
    on = (budget if budget is not None else 1) != 0
    include = config.include_thoughts if config.include_thoughts is not None else (
        True if on and (effort or budget is not None) else None)
    if effort is None and budget is None and include is None:
        return None
    return ir.ReasoningConfig(effort=effort, budget=budget, include_thoughts=include)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests)
def test_any_ir_request_renders_into_a_body_that_parses_back(request: ir.Request) -> None:
    body = gemini.render_request(request)
    validate_request_body(body)
    back = gemini.parse_request(orjson.loads(orjson.dumps(body)))
    names = {p.id: p.name for m in back.messages for p in m.parts if isinstance(p, ir.ToolCall)}
    assert [(m.role, [_key(p, names) for p in m.parts]) for m in back.messages] == \
        _expected_messages(request)
    system = [*request.system, *(p for m in request.messages if m.role is ir.Role.SYSTEM
                                 for p in m.parts)]
    assert back.system == tuple(system)
    assert [(t.name, t.description) for t in back.tools] == [
        (t.name, t.description) for t in request.tools]
    for tool, parsed in zip(request.tools, back.tools, strict=True):
        cleaned = schema.clean_for_gemini(tool.parameters)
        expected = schema.to_json_schema(cleaned) if cleaned.get("properties") else (
            ir.Tool("x").parameters)
        assert parsed.parameters == expected
    assert back.tool_choice == request.tool_choice
    assert (back.max_tokens, back.temperature, back.top_k, back.stop) == (
        request.max_tokens, request.temperature, request.top_k, request.stop)
    assert back.reasoning == _expected_reasoning(request.reasoning)
    assert back.response_format == request.response_format
    assert gemini.render_request(back) == body  # rendering is a fixed point


_block_kinds: st.SearchStrategy[ir.BlockKind] = st.sampled_from(["text", "reasoning",
                                                                  "tool_call"])


@st.composite
def _event_sequences(draw: st.DrawFn) -> list[ir.StreamEvent]:
    kinds = draw(st.lists(_block_kinds, max_size=5))
    blocks: list[list[ir.StreamEvent]] = []
    for index, kind in enumerate(kinds):
        events: list[ir.StreamEvent] = [ir.BlockStart(
            index, kind, *((f"call_{index}", draw(_names)) if kind == "tool_call" else ()))]
        if kind == "tool_call":
            text = orjson.dumps(draw(_args)).decode()
            cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=3)))
            bounds = [0, *cuts, len(text)]
            events += [ir.ToolArgsDelta(index, text[a:b]) for a, b in itertools.pairwise(bounds)]
        else:
            delta = ir.TextDelta if kind == "text" else ir.ReasoningDelta
            events += [delta(index, t) for t in draw(st.lists(_texts, max_size=3))]
        signature = draw(_any_sig)
        if signature is not None:
            events.append(ir.SignatureDelta(index, signature))
        blocks.append([*events, ir.BlockStop(index)])
    merged: list[ir.StreamEvent] = [ir.MessageStart(draw(st.sampled_from(["", "r1"])), "m")]
    started = 0
    while any(blocks):
        ready = [i for i, b in enumerate(blocks[:started + 1]) if b]
        choice = draw(st.sampled_from(ready))
        merged.append(blocks[choice].pop(0))
        started = max(started, choice + 1)
        if draw(st.integers(0, 9)) == 0:
            merged.append(ir.UsageUpdate(ir.Usage(draw(st.integers(0, 99)),
                                                  draw(st.integers(0, 99)))))
    ending = draw(st.sampled_from(["stop", "error", "cut", "error-early"]))
    if ending == "stop":
        merged.append(ir.MessageStop(draw(st.sampled_from(list(ir.StopReason))),
                                     draw(st.one_of(st.none(), st.just(ir.Usage(7, 5))))))
    elif ending == "error":
        merged.append(ir.StreamError(ir.ErrorInfo(draw(st.sampled_from([429, 500, 503])), "x")))
    elif ending == "error-early":
        merged = [*merged[:draw(st.integers(0, len(merged)))],
                  ir.StreamError(ir.ErrorInfo(500, "boom"))]
    return merged


@settings(max_examples=80, deadline=None)
@given(_event_sequences())
def test_any_event_sequence_renders_a_valid_stream(events: list[ir.StreamEvent]) -> None:
    raw = render_all(events, ir.Request(model="client-model", messages=()))
    decoded = validate_stream(raw)
    for chunk in decoded:
        if "error" not in chunk:
            genai.GenerateContentResponse.model_validate(chunk)
            assert chunk["modelVersion"] == "client-model"
    got = summarise(reparse(raw))
    sent = summarise(events)
    if isinstance(events[-1], ir.StreamError) or not any(isinstance(e, ir.MessageStop)
                                                         for e in events):
        assert got["end"][0] == "error"
        return
    assert (got["text"], got["reasoning"]) == (sent["text"], sent["reasoning"])
    assert sorted(map(repr, got["calls"])) == sorted(map(repr, sent["calls"]))
    stop = next(e for e in events if isinstance(e, ir.MessageStop))
    native = {"MAX_TOKENS": ir.StopReason.MAX_TOKENS, "SAFETY": ir.StopReason.CONTENT_FILTER,
              "OTHER": ir.StopReason.ERROR}
    from cliproxy_cli.formats.gemini.response import RENDERED_FINISH
    expected = native.get(RENDERED_FINISH[stop.stop_reason], ir.StopReason.TOOL_USE
                          if got["calls"] else ir.StopReason.END_TURN)
    assert got["end"][0] is expected
