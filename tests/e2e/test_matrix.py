"""The translation matrix through a real server: every official SDK × every upstream family ×
stream/non-stream × {plain text, tool call, tool-result follow-up, image}.

Each client adapter speaks its SDK and normalises the reply to (text, tool calls); the fake
upstream marks every answer with its family, so a reply proves the request really crossed over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.conftest import CLIENT_KEY, Stack

PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
           "RU5ErkJggg==")
UPSTREAMS = {  # model → the family marker the fake answers with
    "claude-sonnet-4-6": "anthropic",
    "gemini-2.5-flash": "gemini",
    "gpt-5": "responses",
    "fake-chat-model": "chat",
}
TOOL = {"name": "run_shell", "description": "Run a shell command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                       "required": ["command"], "additionalProperties": False}}


@dataclass
class Result:
    text: str = ""
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # id, name, args


# --- adapters ---------------------------------------------------------------------------------


class ChatClient:
    def __init__(self, stack: Stack) -> None:
        self.c = openai.OpenAI(base_url=stack.proxy + "/v1", api_key=CLIENT_KEY, max_retries=0)

    def run(self, model: str, case: str, stream: bool) -> Result:
        user: Any = "TOOLTEST please" if case == "tool" else "describe"
        if case == "image":
            user = [{"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]
        messages: list[dict[str, Any]] = [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": user}]
        if case == "followup":
            messages = [
                {"role": "user", "content": "TOOLTEST please"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_abc", "type": "function",
                     "function": {"name": "run_shell", "arguments": '{"command": "echo hi"}'}}]},
                {"role": "tool", "tool_call_id": "call_abc", "content": "hi from tool"},
            ]
        kw: dict[str, Any] = {"model": model, "messages": messages,
                              "tools": [{"type": "function", "function": TOOL}]}
        if not stream:
            msg = self.c.chat.completions.create(**kw).choices[0].message
            return Result(msg.content or "", [(t.id, t.function.name, json.loads(t.function.arguments))
                                              for t in msg.tool_calls or []])
        res, calls = Result(), {}
        for chunk in self.c.chat.completions.create(**kw, stream=True):
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            res.text += delta.content or ""
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index, ["", "", ""])
                slot[0] = tc.id or slot[0]
                if tc.function:
                    slot[1] = tc.function.name or slot[1]
                    slot[2] += tc.function.arguments or ""
        res.calls = [(i, n, json.loads(a)) for i, n, a in calls.values()]
        return res


class ResponsesClient:
    def __init__(self, stack: Stack) -> None:
        self.c = openai.OpenAI(base_url=stack.proxy + "/v1", api_key=CLIENT_KEY, max_retries=0)

    def run(self, model: str, case: str, stream: bool) -> Result:
        content: list[dict[str, Any]] = [{"type": "input_text",
                                          "text": "TOOLTEST please" if case == "tool" else "describe"}]
        if case == "image":
            content.append({"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"})
        items: list[dict[str, Any]] = [{"role": "user", "content": content}]
        if case == "followup":
            items = [{"role": "user", "content": "TOOLTEST please"},
                     {"type": "function_call", "call_id": "call_abc", "name": "run_shell",
                      "arguments": '{"command": "echo hi"}'},
                     {"type": "function_call_output", "call_id": "call_abc",
                      "output": "hi from tool"}]
        kw: dict[str, Any] = {"model": model, "input": items, "instructions": "Be brief.",
                              "tools": [{"type": "function", **TOOL, "strict": False}]}
        if stream:
            with self.c.responses.stream(**kw) as s:
                resp = s.get_final_response()
        else:
            resp = self.c.responses.create(**kw)
        calls = [(o.call_id, o.name, json.loads(o.arguments)) for o in resp.output
                 if o.type == "function_call"]
        return Result(resp.output_text, calls)


class AnthropicClient:
    def __init__(self, stack: Stack) -> None:
        self.c = anthropic.Anthropic(base_url=stack.proxy, api_key=CLIENT_KEY, max_retries=0)

    def run(self, model: str, case: str, stream: bool) -> Result:
        content: Any = "TOOLTEST please" if case == "tool" else "describe"
        if case == "image":
            content = [{"type": "text", "text": "describe"},
                       {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                    "data": PNG_B64}}]
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        if case == "followup":
            messages = [
                {"role": "user", "content": "TOOLTEST please"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_abc",
                                                   "name": "run_shell",
                                                   "input": {"command": "echo hi"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_abc",
                                              "content": "hi from tool"}]},
            ]
        kw: dict[str, Any] = {"model": model, "max_tokens": 256, "system": "Be brief.",
                              "messages": messages,
                              "tools": [{"name": TOOL["name"], "description": TOOL["description"],
                                         "input_schema": TOOL["parameters"]}]}
        if stream:
            with self.c.messages.stream(**kw) as s:
                msg = s.get_final_message()
        else:
            msg = self.c.messages.create(**kw)
        text = "".join(b.text for b in msg.content if b.type == "text")
        calls = [(b.id, b.name, dict(b.input)) for b in msg.content if b.type == "tool_use"]
        return Result(text, calls)


class GeminiClient:
    def __init__(self, stack: Stack) -> None:
        self.c = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(
            base_url=stack.proxy, api_version="v1beta",
            retry_options=gtypes.HttpRetryOptions(attempts=1)))

    def run(self, model: str, case: str, stream: bool) -> Result:
        parts: list[gtypes.Part] = [gtypes.Part(text="TOOLTEST please" if case == "tool"
                                                else "describe")]
        if case == "image":
            import base64

            parts.append(gtypes.Part.from_bytes(data=base64.b64decode(PNG_B64),
                                                mime_type="image/png"))
        contents = [gtypes.Content(role="user", parts=parts)]
        if case == "followup":
            contents = [
                gtypes.Content(role="user", parts=[gtypes.Part(text="TOOLTEST please")]),
                gtypes.Content(role="model", parts=[gtypes.Part(function_call=gtypes.FunctionCall(
                    id="call_abc", name="run_shell", args={"command": "echo hi"}))]),
                gtypes.Content(role="user", parts=[gtypes.Part(
                    function_response=gtypes.FunctionResponse(
                        id="call_abc", name="run_shell", response={"output": "hi from tool"}))]),
            ]
        config = gtypes.GenerateContentConfig(
            system_instruction="Be brief.",
            tools=[gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
                name=TOOL["name"], description=TOOL["description"],
                parameters_json_schema=TOOL["parameters"])])],
            automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
        )
        responses = (list(self.c.models.generate_content_stream(model=model, contents=contents,
                                                                config=config))
                     if stream else
                     [self.c.models.generate_content(model=model, contents=contents,
                                                     config=config)])
        res = Result()
        for r in responses:
            for cand in r.candidates or []:
                for p in (cand.content.parts if cand.content else None) or []:
                    if p.text and not p.thought:
                        res.text += p.text
                    if p.function_call:
                        res.calls.append((p.function_call.id or "", p.function_call.name or "",
                                          dict(p.function_call.args or {})))
        return res


CLIENTS = {"openai_chat": ChatClient, "openai_responses": ResponsesClient,
           "anthropic": AnthropicClient, "gemini": GeminiClient}


@pytest.fixture(scope="module")
def clients(stack: Stack) -> Iterator[dict[str, Any]]:
    made = {name: make(stack) for name, make in CLIENTS.items()}
    yield made
    for adapter in made.values():
        adapter.c.close()


@pytest.mark.parametrize("case", ["text", "tool", "followup", "image"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", list(UPSTREAMS))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_matrix(clients: dict[str, Any], stack: Stack, client: str, model: str, stream: bool,
                case: str) -> None:
    family = UPSTREAMS[model]
    result = clients[client].run(model, case, stream)
    if case == "tool":
        assert len(result.calls) == 1, result
        call_id, name, args = result.calls[0]
        assert name == "run_shell" and args == {"command": "echo hi"}
        assert call_id or client == "gemini"
    elif case == "followup":
        assert result.text == f"{family} got tool result: hi from tool"
        assert result.calls == []
    elif case == "image":
        assert result.text == f"{family} says: describe [image]"
    else:
        assert result.text == f"{family} says: describe"
    sent = stack.fake.requests[-1]
    assert sent.body is not None
