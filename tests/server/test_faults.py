"""Routing under faults, in process: an httpx.MockTransport upstream, an injected clock and sleep.

429 with Retry-After / body reset / an absurd hint, 500 then success elsewhere, connection
refused, bad requests that cool nothing, every account cooling (wait or 429 + Retry-After).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from cliproxy_cli.config import load_config, parse_config
from cliproxy_cli.routing.cooldown import MAX_HINT
from cliproxy_cli.server.app import create_app

pytestmark = pytest.mark.anyio
MODEL = "claude-sonnet-4-6"
BODY = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL,
      "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
      "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Upstream:
    """Answers per API key from a script: a list of (status, body, headers) or exceptions."""

    def __init__(self, scripts: dict[str, list[Any]]) -> None:
        self.scripts = scripts
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        self.calls.append(key)
        script = self.scripts.get(key) or [(200, OK, {})]
        step = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(step, Exception):
            raise step
        status, body, headers = step
        return httpx.Response(status, json=body, headers=headers)


def _err(status: int, etype: str, message: str = "x") -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}}


@asynccontextmanager
async def proxy(upstream: Upstream, keys: list[str], clock: Clock,
                **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    cfg, _ = parse_config({"claude-api-key": [{"api-key": k, "base-url": "http://up"}
                                              for k in keys],
                           "routing": {"strategy": "fill-first"}, **config})
    loaded = dataclasses.replace(load_config(), config=cfg)
    app = create_app(loaded, transport=httpx.MockTransport(upstream), clock=clock)
    app.state.runtime.sleep = clock.sleep
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://127.0.0.1") as client):
        yield client


async def test_429_with_retry_after_moves_to_next_account_and_cools() -> None:
    clock = Clock()
    up = Upstream({"k1": [(429, _err(429, "rate_limit_error"), {"retry-after": "120"}),
                          (200, OK, {})]})
    async with proxy(up, ["k1", "k2"], clock) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 200
        assert up.calls == ["k1", "k2"]
        up.calls.clear()
        await c.post("/v1/messages", json=BODY)
        assert up.calls == ["k2"]  # k1 still cooling
        clock.now += 121
        up.calls.clear()
        await c.post("/v1/messages", json=BODY)
        assert up.calls == ["k1"]  # healed


async def test_absurd_multi_day_hint_is_capped() -> None:
    clock = Clock()
    up = Upstream({"k1": [(429, _err(429, "rate_limit_error"), {"retry-after": str(9 * 86400)}),
                          (200, OK, {})]})
    async with proxy(up, ["k1", "k2"], clock) as c:
        await c.post("/v1/messages", json=BODY)
        cd = c._transport.app.state.runtime.state.cooldowns()  # type: ignore[attr-defined]
        (until,) = [v.until for (cid, _), v in cd.items()]
        assert until - clock.now == MAX_HINT


async def test_quota_reset_from_body_is_used() -> None:
    clock = Clock()
    reset = str(int(clock.now + 300))
    up = Upstream({"k1": [(429, _err(429, "rate_limit_error"),
                           {"anthropic-ratelimit-unified-reset": reset})]})
    async with proxy(up, ["k1"], clock, **{"max-retry-interval": 0}) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 429
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(r.headers["retry-after"]) <= 300


async def test_500_then_success_on_another_account() -> None:
    clock = Clock()
    up = Upstream({"k1": [(500, _err(500, "api_error"), {})]})
    async with proxy(up, ["k1", "k2"], clock) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 200 and up.calls == ["k1", "k2"]


async def test_connection_refused_is_retried_elsewhere() -> None:
    clock = Clock()
    up = Upstream({"k1": [httpx.ConnectError("refused")]})
    async with proxy(up, ["k1", "k2"], clock) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 200 and up.calls == ["k1", "k2"]


async def test_bad_request_is_returned_and_cools_nothing() -> None:
    clock = Clock()
    up = Upstream({"k1": [(400, _err(400, "invalid_request_error", "bad field"), {})]})
    async with proxy(up, ["k1", "k2"], clock) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 400 and "bad field" in r.text
        assert up.calls == ["k1"]
        assert c._transport.app.state.runtime.state.cooldowns() == {}  # type: ignore[attr-defined]


async def test_all_cooling_soon_waits_then_succeeds() -> None:
    clock = Clock()
    up = Upstream({"k1": [(429, _err(429, "rate_limit_error"), {"retry-after": "5"}),
                          (200, OK, {})]})
    async with proxy(up, ["k1"], clock) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 200
        assert clock.slept == [5.0]


async def test_all_cooling_long_gives_429_in_callers_format() -> None:
    clock = Clock()
    up = Upstream({k: [(429, _err(429, "rate_limit_error"), {"retry-after": "600"})]
                   for k in ("k1", "k2")})
    async with proxy(up, ["k1", "k2"], clock) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 429 and int(r.headers["retry-after"]) == 600
        chat = await c.post("/v1/chat/completions", json={
            "model": MODEL, "messages": [{"role": "user", "content": "x"}]})
        assert chat.status_code == 429
        assert chat.json()["error"]["type"] == "rate_limit_error"
        assert int(chat.headers["retry-after"]) == 600
        assert clock.slept == []


async def test_retries_bounded_by_request_retry() -> None:
    clock = Clock()
    up = Upstream({k: [(503, _err(503, "overloaded_error"), {})] for k in ("k1", "k2", "k3")})
    async with proxy(up, ["k1", "k2", "k3"], clock, **{"request-retry": 1}) as c:
        r = await c.post("/v1/messages", json=BODY)
        assert r.status_code == 503
        assert up.calls == ["k1", "k2"]


async def test_success_clears_the_cooldown() -> None:
    clock = Clock()
    up = Upstream({"k1": [(429, _err(429, "rate_limit_error"), {"retry-after": "1"}),
                          (200, OK, {})]})
    async with proxy(up, ["k1"], clock) as c:
        assert (await c.post("/v1/messages", json=BODY)).status_code == 200
        assert c._transport.app.state.runtime.state.cooldowns() == {}  # type: ignore[attr-defined]


async def test_subscription_wide_quota_cools_every_model_of_the_account() -> None:
    clock = Clock()
    up = Upstream({"k1": [(429, _err(429, "rate_limit_error"), {"retry-after": "60"}),
                          (200, OK, {})]})
    async with proxy(up, ["k1", "k2"], clock) as c:
        assert (await c.post("/v1/messages", json=BODY)).status_code == 200
        up.calls.clear()
        other = dict(BODY, model="claude-opus-4-6")
        assert (await c.post("/v1/messages", json=other)).status_code == 200
        assert up.calls == ["k2"]  # Anthropic's limit is per account, not per model


async def test_200_with_an_error_body_is_an_upstream_error_not_a_success() -> None:
    body = {"error": {"message": "upstream rate limit", "type": "rate_limit_error", "code": 429}}

    def chat_upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    cfg, _ = parse_config({"max-retry-interval": 0, "openai-compatibility": [{
        "name": "oc", "base-url": "http://up/v1", "models": [{"name": "m"}],
        "api-key-entries": [{"api-key": "only"}]}]})
    app = create_app(dataclasses.replace(load_config(), config=cfg),
                     transport=httpx.MockTransport(chat_upstream), clock=Clock())
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://127.0.0.1") as c):
        r = await c.post("/v1/chat/completions",
                         json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 429
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert app.state.runtime.state.cooldowns()  # the account rests like after a real 429
