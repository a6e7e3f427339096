"""Qwen provider: the base URL (resource URL vs an overridden endpoint), QwenCode headers, the
stream tweaks, and classification of the daily quota."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.providers.base import UpstreamCall
from cliproxy_cli.providers.qwen import QwenProvider, api_base, seconds_to_beijing_midnight

# 2025-10-09 08:53:20 UTC = 16:53:20 in Beijing: 7 h 6 min 40 s to midnight there.
NOW = 1_760_000_000.0
ENDPOINTS = resolve_endpoints({}, environ={})
PROVIDER = QwenProvider(clock=lambda: NOW)
ACCOUNT = Account("qwen-me", ProviderName.QWEN, label="me", resource_url="portal.qwen.ai")
OAUTH = Credential("qwen-me", "qwen", "oauth", account=ACCOUNT)
SECRET = TokenBundle(access_token="qwen-access", refresh_token="qwen-refresh")
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def _build(body: dict[str, Any], *, stream: bool, endpoints: Any = ENDPOINTS,
           cred: Credential = OAUTH) -> tuple[Any, dict[str, Any]]:
    req = PROVIDER.build(UpstreamCall(cred, body, "coder-model", stream, {}, SECRET), endpoints)
    return req, json.loads(req.body)


def _messages(**extra: Any) -> dict[str, Any]:
    return {"model": "x", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_request_goes_to_the_resource_url_with_qwen_code_headers() -> None:
    req, body = _build(_messages(), stream=False)
    assert req.url == "https://portal.qwen.ai/v1/chat/completions"
    h = req.headers
    assert h["authorization"] == "Bearer qwen-access"
    assert h["user-agent"].startswith("QwenCode/")
    assert h["x-dashscope-authtype"] == "qwen-oauth"
    assert h["x-dashscope-useragent"] == h["user-agent"]
    assert h["accept"] == "application/json"
    assert body["model"] == "coder-model" and body["stream"] is False
    assert "tools" not in body and "stream_options" not in body


@pytest.mark.parametrize(("resource", "base"), [
    ("portal.qwen.ai", "https://portal.qwen.ai/v1"),
    ("https://dash.example/compatible-mode/v1", "https://dash.example/compatible-mode/v1"),
    ("", "https://portal.qwen.ai/v1"),
])
def test_api_base_from_the_resource_url(resource: str, base: str) -> None:
    account = Account("q", ProviderName.QWEN, resource_url=resource)
    assert api_base(account, ENDPOINTS) == base


def test_an_overridden_endpoint_wins_over_the_resource_url() -> None:
    endpoints = resolve_endpoints({}, environ={"CLIPROXY_ENDPOINT_QWEN_API": "http://fake/qwen/v1"})
    req, _ = _build(_messages(), stream=False, endpoints=endpoints)
    assert req.url == "http://fake/qwen/v1/chat/completions"


def test_stream_asks_for_usage_and_gets_the_dummy_tool_without_tools() -> None:
    req, body = _build(_messages(), stream=True)
    assert req.stream is True and req.headers["accept"] == "text/event-stream"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert [t["function"]["name"] for t in body["tools"]] == ["do_not_call_me"]
    _, empty = _build(_messages(tools=[]), stream=True)
    assert [t["function"]["name"] for t in empty["tools"]] == ["do_not_call_me"]


def test_client_tools_are_kept() -> None:
    _, body = _build(_messages(tools=[TOOL]), stream=True)
    assert body["tools"] == [TOOL]


def test_missing_token_is_an_auth_failure() -> None:
    with pytest.raises(UpstreamError) as caught:
        PROVIDER.build(UpstreamCall(OAUTH, _messages(), "coder-model", False, {},
                                    TokenBundle()), ENDPOINTS)
    assert caught.value.kind is ErrorKind.AUTH


# -- classification ------------------------------------------------------------------------


def test_beijing_midnight() -> None:
    assert seconds_to_beijing_midnight(NOW) == pytest.approx(7 * 3600 + 6 * 60 + 40)
    midnight = datetime(2025, 10, 9, 16, 0, tzinfo=UTC).timestamp()  # 00:00 in Beijing
    assert seconds_to_beijing_midnight(midnight) == 86400


@pytest.mark.parametrize("status", [403, 429])
def test_insufficient_quota_cools_until_beijing_midnight(status: int) -> None:
    body = {"error": {"code": "insufficient_quota", "message": "Free allocated quota exceeded.",
                      "type": "insufficient_quota"}}
    err = PROVIDER.classify(status, {}, json.dumps(body).encode())
    assert err.kind is ErrorKind.QUOTA
    assert err.retry_after == pytest.approx(seconds_to_beijing_midnight(NOW))


def test_rate_limit_uses_retry_after() -> None:
    body = {"error": {"code": "rate_limit_exceeded", "message": "slow down"}}
    err = PROVIDER.classify(429, {"retry-after": "7"}, json.dumps(body).encode())
    assert err.kind is ErrorKind.QUOTA and err.retry_after == 7


@pytest.mark.parametrize(("status", "error", "kind"), [
    (401, {"code": "invalid_api_key", "message": "bad"}, ErrorKind.AUTH),
    (400, {"code": "invalid_token", "message": "expired"}, ErrorKind.AUTH),
    (403, {"code": "access_denied", "message": "no"}, ErrorKind.AUTH),
    (400, {"code": "invalid_parameter", "message": "bad"}, ErrorKind.BAD_REQUEST),
    (500, {"code": "internal_error", "message": "oops"}, ErrorKind.TRANSIENT),
])
def test_classification(status: int, error: dict[str, Any], kind: ErrorKind) -> None:
    assert PROVIDER.classify(status, {}, json.dumps({"error": error}).encode()).kind is kind
