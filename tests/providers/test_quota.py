"""fetch_quota against recorded-shape answers of each vendor's usage endpoint (MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.providers.quota import QuotaReport, QuotaWindow, codex_usage_url, fetch_quota

NOW = 1_760_000_000.0
ENDPOINTS = resolve_endpoints({}, environ={})
BUNDLE = TokenBundle(access_token="tok-1", refresh_token="r")


class StubVendor:
    """Answers one canned response and records the requests."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)


async def _fetch(stub: Callable[[httpx.Request], httpx.Response], account: Account) -> QuotaReport:
    async with httpx.AsyncClient(transport=httpx.MockTransport(stub)) as client:
        return await fetch_quota(client, ENDPOINTS, account, BUNDLE, now=NOW)


def _iso(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@pytest.mark.anyio
async def test_claude_usage_windows() -> None:
    stub = StubVendor(200, {
        "five_hour": {"utilization": 61.0, "resets_at": "2025-10-09T12:59:59.571404+00:00"},
        "seven_day": {"utilization": 22.0, "resets_at": "2025-10-14T09:59:59+00:00"},
        "seven_day_opus": {"utilization": 0, "resets_at": None},
        "seven_day_oauth_apps": None,
        "extra_usage": {"is_enabled": False, "monthly_limit": None, "used_credits": None,
                        "utilization": None},
    })
    report = await _fetch(stub, Account("c", ProviderName.CLAUDE))
    assert report.provider == "claude" and report.known
    assert report.windows == (
        QuotaWindow("5h", used_percent=61.0,
                    resets_at=_iso("2025-10-09T12:59:59.571404+00:00")),
        QuotaWindow("7d", used_percent=22.0, resets_at=_iso("2025-10-14T09:59:59+00:00")),
        QuotaWindow("7d opus", used_percent=0.0, resets_at=None),
    )
    sent = stub.requests[0]
    assert sent.method == "GET" and str(sent.url) == "https://api.anthropic.com/api/oauth/usage"
    assert sent.headers["authorization"] == "Bearer tok-1"
    assert sent.headers["anthropic-beta"] == "oauth-2025-04-20"


@pytest.mark.anyio
async def test_codex_usage_windows_and_plan() -> None:
    stub = StubVendor(200, {
        "plan_type": "plus",
        "rate_limit": {"allowed": True, "limit_reached": False,
                       "primary_window": {"used_percent": 25, "limit_window_seconds": 18000,
                                          "reset_after_seconds": 1200,
                                          "reset_at": int(NOW) + 1200},
                       "secondary_window": {"used_percent": 10, "limit_window_seconds": 604800,
                                            "reset_after_seconds": 86400}},
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
    })
    account = Account("x", ProviderName.CODEX, account_id="acct-1")
    report = await _fetch(stub, account)
    assert report.plan == "plus" and report.note == ""
    assert report.windows == (QuotaWindow("5h", used_percent=25.0, resets_at=NOW + 1200),
                              QuotaWindow("7d", used_percent=10.0, resets_at=NOW + 86400))
    sent = stub.requests[0]
    assert str(sent.url) == "https://chatgpt.com/backend-api/wham/usage"
    assert sent.headers["chatgpt-account-id"] == "acct-1"
    assert sent.headers["authorization"] == "Bearer tok-1"


@pytest.mark.anyio
async def test_codex_limit_reached_is_noted() -> None:
    stub = StubVendor(200, {"plan_type": "pro", "rate_limit": {
        "limit_reached": True,
        "primary_window": {"used_percent": 100, "limit_window_seconds": 3600}}})
    report = await _fetch(stub, Account("x", ProviderName.CODEX))
    assert report.windows == (QuotaWindow("primary", used_percent=100.0),)
    assert "limit reached" in report.note


def test_codex_usage_url_is_derived_from_the_codex_endpoint() -> None:
    overridden = resolve_endpoints({"codex.api": "http://fake:1/backend-api/codex"}, environ={})
    assert codex_usage_url(overridden) == "http://fake:1/backend-api/wham/usage"
    assert codex_usage_url(ENDPOINTS) == "https://chatgpt.com/backend-api/wham/usage"


@pytest.mark.anyio
async def test_gemini_quota_buckets() -> None:
    stub = StubVendor(200, {"buckets": [
        {"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingAmount": "80",
         "remainingFraction": 0.8, "resetTime": "2025-10-10T00:00:00Z"},
        {"modelId": "gemini-2.5-flash", "tokenType": "INPUT_TOKENS", "remainingFraction": 1},
    ]})
    report = await _fetch(stub, Account("g", ProviderName.GEMINI, project_id="my-proj"))
    assert report.windows == (
        QuotaWindow("gemini-2.5-pro", used_percent=20.0, remaining=80.0,
                    resets_at=_iso("2025-10-10T00:00:00+00:00")),
        QuotaWindow("gemini-2.5-flash (input_tokens)", used_percent=0.0),
    )
    sent = stub.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == "https://cloudcode-pa.googleapis.com/v1internal:retrieveUserQuota"
    assert json.loads(sent.content) == {"project": "my-proj"}
    assert sent.headers["user-agent"] == "google-api-nodejs-client/9.15.1"


@pytest.mark.anyio
async def test_gemini_without_project_is_unknown_and_calls_nothing() -> None:
    stub = StubVendor(500, {})
    report = await _fetch(stub, Account("g", ProviderName.GEMINI))
    assert not report.known and "project" in report.note and stub.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("provider", [ProviderName.QWEN, ProviderName.IFLOW])
async def test_providers_without_an_endpoint_report_unknown(provider: ProviderName) -> None:
    stub = StubVendor(500, {})
    report = await _fetch(stub, Account("a", provider))
    assert report == QuotaReport(str(provider), (), report.note)
    assert report.note.startswith("unknown") and stub.requests == []


@pytest.mark.anyio
async def test_a_stale_token_raises_a_classified_auth_error() -> None:
    stub = StubVendor(401, {"type": "error", "error": {"type": "authentication_error",
                                                       "message": "OAuth token has expired"}})
    with pytest.raises(UpstreamError) as caught:
        await _fetch(stub, Account("c", ProviderName.CLAUDE))
    assert caught.value.kind is ErrorKind.AUTH and caught.value.provider == "claude"


@pytest.mark.anyio
async def test_an_unreachable_vendor_is_transient() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamError) as caught:
        await _fetch(down, Account("x", ProviderName.CODEX))
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "chatgpt.com" in caught.value.message and "tok-1" not in caught.value.message
