"""Same format in and out, through a real server, driven by the official SDKs."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.conftest import CLIENT_KEY, Stack

_OPEN: list[object] = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _OPEN:
        _OPEN.pop().close()  # type: ignore[attr-defined]


def _openai(stack: Stack) -> openai.OpenAI:
    client = openai.OpenAI(base_url=stack.proxy + "/v1", api_key=CLIENT_KEY, max_retries=0)
    _OPEN.append(client)
    return client


def _anthropic(stack: Stack) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=stack.proxy, api_key=CLIENT_KEY, max_retries=0)
    _OPEN.append(client)
    return client


def _genai(stack: Stack) -> genai.Client:
    client = genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(
        base_url=stack.proxy, api_version="v1beta",
        retry_options=gtypes.HttpRetryOptions(attempts=1)))
    _OPEN.append(client)
    return client


def test_anthropic_messages_pass_through(stack: Stack) -> None:
    msg = _anthropic(stack).messages.create(
        model="claude-sonnet-4-6", max_tokens=64,
        messages=[{"role": "user", "content": "hello there"}])
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "anthropic says: hello there"
    assert msg.usage.input_tokens == 11
    sent = stack.fake.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-fake-claude"
    assert CLIENT_KEY not in str(sent.headers)
    assert sent.body["model"] == "claude-sonnet-4-6"


def test_anthropic_messages_stream_pass_through(stack: Stack) -> None:
    with _anthropic(stack).messages.stream(
        model="claude-sonnet-4-6", max_tokens=64,
        messages=[{"role": "user", "content": "stream me"}],
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "anthropic says: stream me"
    assert final.stop_reason == "end_turn"
    assert stack.fake.requests[-1].body["stream"] is True


def test_anthropic_unknown_fields_pass_untouched(stack: Stack) -> None:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 16, "context_management": {"edits": []},
            "messages": [{"role": "user", "content": "x"}], "some_future_field": {"a": [1, 2]}}
    r = httpx.post(stack.proxy + "/v1/messages?beta=true", json=body,
                   headers={"x-api-key": CLIENT_KEY, "anthropic-beta": "claude-code-20250219"})
    assert r.status_code == 200
    sent = stack.fake.requests[-1]
    assert sent.body["some_future_field"] == {"a": [1, 2]}
    assert sent.body["context_management"] == {"edits": []}
    assert sent.headers["anthropic-beta"] == "claude-code-20250219"


def test_openai_chat_pass_through(stack: Stack) -> None:
    resp = _openai(stack).chat.completions.create(
        model="fake-chat-model", messages=[{"role": "user", "content": "hi chat"}])
    assert resp.choices[0].message.content == "chat says: hi chat"
    assert resp.usage is not None and resp.usage.total_tokens == 18
    sent = stack.fake.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-fake-compat"


def test_openai_chat_stream_pass_through(stack: Stack) -> None:
    stream = _openai(stack).chat.completions.create(
        model="fake-chat-model", messages=[{"role": "user", "content": "hi stream"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "chat says: hi stream"
    assert chunks[-1].usage is not None


def test_openai_chat_alias_sends_upstream_name(stack: Stack) -> None:
    _openai(stack).chat.completions.create(
        model="chat-alias", messages=[{"role": "user", "content": "alias"}])
    assert stack.fake.requests[-1].body["model"] == "upstream-name"


def test_openai_responses_pass_through(stack: Stack) -> None:
    resp = _openai(stack).responses.create(model="gpt-5", input="hello responses")
    assert resp.output_text == "responses says: hello responses"
    sent = stack.fake.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == "Bearer sk-fake-codex"


def test_openai_responses_stream_pass_through(stack: Stack) -> None:
    with _openai(stack).responses.stream(model="gpt-5", input="stream responses") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == "responses says: stream responses"
    assert final.status == "completed"


def test_gemini_generate_pass_through(stack: Stack) -> None:
    client = _genai(stack)
    resp = client.models.generate_content(model="gemini-2.5-flash", contents="hello gemini")
    assert resp.text == "gemini says: hello gemini"
    sent = stack.fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == "fake-gemini-key"
    assert "key=" not in sent.query


def test_gemini_stream_pass_through(stack: Stack) -> None:
    client = _genai(stack)
    chunks = list(client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="stream gemini"))
    assert "".join(c.text or "" for c in chunks) == "gemini says: stream gemini"
    assert stack.fake.requests[-1].query == "alt=sse"


def test_gemini_count_tokens_uses_upstream(stack: Stack) -> None:
    client = _genai(stack)
    resp = client.models.count_tokens(model="gemini-2.5-flash", contents="count me")
    assert resp.total_tokens and resp.total_tokens > 0
    assert stack.fake.requests[-1].path.endswith(":countTokens")


def test_anthropic_count_tokens_uses_upstream(stack: Stack) -> None:
    resp = _anthropic(stack).messages.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "count"}])
    assert resp.input_tokens > 0
    assert stack.fake.requests[-1].path == "/v1/messages/count_tokens"


def test_model_lists(stack: Stack) -> None:
    ids = {m.id for m in _openai(stack).models.list()}
    assert {"claude-sonnet-4-6", "gemini-2.5-flash", "gpt-5", "fake-chat-model"} <= ids
    anth = {m.id for m in _anthropic(stack).models.list()}
    assert "claude-sonnet-4-6" in anth
    client = _genai(stack)  # keep it referenced: a dropped genai Client closes the pager's HTTP client
    names = {m.name for m in client.models.list()}
    assert "models/gemini-2.5-flash" in names


@pytest.mark.parametrize("family", ["chat", "anthropic", "gemini"])
def test_round_robin_across_entries(tmp_path, family: str) -> None:
    from tests.e2e.conftest import api_key_config, start_stack

    def two_keys(upstream: str) -> dict:
        cfg = api_key_config(upstream)
        cfg["claude-api-key"].append({"api-key": "sk-ant-fake-second", "base-url": upstream})
        cfg["gemini-api-key"].append({"api-key": "fake-gemini-second", "base-url": upstream})
        cfg["openai-compatibility"][0]["api-key-entries"].append({"api-key": "sk-compat-2"})
        return cfg

    gen = start_stack(tmp_path, two_keys)
    s = next(gen)
    gclient = _genai(s)
    try:
        for _ in range(4):
            if family == "chat":
                _openai(s).chat.completions.create(
                    model="fake-chat-model", messages=[{"role": "user", "content": "x"}])
            elif family == "anthropic":
                _anthropic(s).messages.create(
                    model="claude-sonnet-4-6", max_tokens=8,
                    messages=[{"role": "user", "content": "x"}])
            else:
                gclient.models.generate_content(model="gemini-2.5-flash", contents="x")
        header = {"chat": "authorization", "anthropic": "x-api-key",
                  "gemini": "x-goog-api-key"}[family]
        keys = [r.headers[header] for r in s.fake.requests]
        assert len(set(keys)) == 2
        assert keys[0] != keys[1] and keys[0] == keys[2]
    finally:
        gen.close()


@pytest.mark.parametrize("model", ["fake-chat-model", "claude-sonnet-4-6"])
def test_legacy_completions_through_the_chat_path(stack: Stack, model: str) -> None:
    client = _openai(stack)
    done = client.completions.create(model=model, prompt="complete me", max_tokens=16)
    family = "chat" if model == "fake-chat-model" else "anthropic"
    assert done.object == "text_completion"
    assert done.choices[0].text == f"{family} says: complete me"
    chunks = list(client.completions.create(model=model, prompt="stream me", max_tokens=16,
                                            stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == f"{family} says: stream me"
