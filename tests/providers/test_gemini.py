"""Gemini provider: the Code Assist envelope for Google accounts (URLs, headers, project), the
API-key shape, and classification from Google's status and structured details."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.providers.base import UpstreamCall
from cliproxy_cli.providers.gemini import GeminiProvider

NOW = 1_760_000_000.0
ENDPOINTS = resolve_endpoints({}, environ={})
PROVIDER = GeminiProvider(clock=lambda: NOW)
ACCOUNT = Account("gemini-u-p", ProviderName.GEMINI, email="u@example.com",
                  project_id="my-proj-123")
OAUTH = Credential("gemini-u-p", "gemini", "oauth", account=ACCOUNT)
API_KEY = Credential("gemini-api-key:0:abcd", "gemini", "api_key", api_key="AIza-key")
SECRET = TokenBundle(access_token="ya29.access", refresh_token="1//r")
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]}}


def _build(*, cred: Credential = OAUTH, stream: bool = False, action: Any = "generate",
           body: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    call = UpstreamCall(cred, dict(body or BODY, model="ignored"), "gemini-2.5-pro", stream, {},
                        SECRET if cred.kind == "oauth" else None, action)
    req = PROVIDER.build(call, ENDPOINTS)
    return req, json.loads(req.body)


def test_code_assist_generate_envelope_and_headers() -> None:
    req, body = _build()
    assert req.url == "https://cloudcode-pa.googleapis.com/v1internal:generateContent"
    assert req.envelope is True and req.stream is False
    assert body == {"model": "gemini-2.5-pro", "project": "my-proj-123",
                    "request": BODY}
    h = req.headers
    assert h["authorization"] == "Bearer ya29.access"
    assert h["user-agent"] == "google-api-nodejs-client/9.15.1"
    assert h["x-goog-api-client"] == "gl-node/22.17.0"
    assert h["client-metadata"].startswith("ideType=IDE_UNSPECIFIED")
    assert "x-goog-api-key" not in h


def test_code_assist_stream_url() -> None:
    req, body = _build(stream=True)
    assert req.url == "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"
    assert req.stream is True and req.headers["accept"] == "text/event-stream"
    assert body["project"] == "my-proj-123"


def test_code_assist_count_tokens_envelope() -> None:
    req, body = _build(action="count_tokens",
                       body={"contents": BODY["contents"], "safetySettings": []})
    assert req.url == "https://cloudcode-pa.googleapis.com/v1internal:countTokens"
    assert body == {"request": {"model": "models/gemini-2.5-pro", "contents": BODY["contents"]}}


def test_an_account_without_project_fails_over_with_a_hint() -> None:
    cred = Credential("gemini-x", "gemini", "oauth",
                      account=Account("gemini-x", ProviderName.GEMINI))
    with pytest.raises(UpstreamError) as caught:
        PROVIDER.build(UpstreamCall(cred, dict(BODY), "gemini-2.5-pro", False, {}, SECRET),
                       ENDPOINTS)
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.hint is not None and "login gemini" in caught.value.hint


def test_code_assist_endpoint_override() -> None:
    endpoints = resolve_endpoints({}, environ={"CLIPROXY_ENDPOINT_GEMINI_CODE_ASSIST": "http://f/g"})
    call = UpstreamCall(OAUTH, dict(BODY), "gemini-2.5-pro", False, {}, SECRET)
    assert PROVIDER.build(call, endpoints).url == "http://f/g/v1internal:generateContent"


def test_api_key_request_uses_the_header_not_the_url() -> None:
    req, body = _build(cred=API_KEY, stream=True)
    assert req.url == ("https://generativelanguage.googleapis.com/v1beta/models/"
                       "gemini-2.5-pro:streamGenerateContent?alt=sse")
    assert req.headers["x-goog-api-key"] == "AIza-key"
    assert "key=" not in req.url and req.envelope is False
    assert "model" not in body


# -- classification ------------------------------------------------------------------------


def _google(code: int, status: str, details: list[dict[str, Any]] | None = None,
            message: str = "m") -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status,
                                 "details": details or []}}).encode()


def test_retry_info_gives_the_retry_after() -> None:
    err = PROVIDER.classify(429, {}, _google(429, "RESOURCE_EXHAUSTED", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
         "metadata": {"quotaResetDelay": "373.801628ms"}},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17.5s"}]))
    assert err.kind is ErrorKind.QUOTA
    assert err.retry_after == pytest.approx(17.5)


def test_quota_reset_delay_then_timestamp() -> None:
    err = PROVIDER.classify(429, {}, _google(429, "RESOURCE_EXHAUSTED", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
         "metadata": {"quotaResetDelay": "1m30s"}}]))
    assert err.retry_after == pytest.approx(90)
    err = PROVIDER.classify(429, {}, _google(429, "RESOURCE_EXHAUSTED", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
         "metadata": {"quotaResetTimeStamp": "2025-10-09T09:23:20Z"}}]))
    assert err.retry_after == pytest.approx(1_760_001_800 - NOW)


def test_message_delay_is_only_a_last_resort() -> None:
    err = PROVIDER.classify(429, {}, _google(429, "RESOURCE_EXHAUSTED",
                                             message="Your quota will reset after 42s."))
    assert err.retry_after == 42


def test_model_capacity_exhausted_is_transient_not_quota() -> None:
    err = PROVIDER.classify(429, {}, _google(429, "RESOURCE_EXHAUSTED", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
         "reason": "MODEL_CAPACITY_EXHAUSTED"}]))
    assert err.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(("status", "gstatus", "kind"), [
    (401, "UNAUTHENTICATED", ErrorKind.AUTH),
    (403, "PERMISSION_DENIED", ErrorKind.AUTH),
    (400, "INVALID_ARGUMENT", ErrorKind.BAD_REQUEST),
    (404, "NOT_FOUND", ErrorKind.BAD_REQUEST),
    (500, "INTERNAL", ErrorKind.TRANSIENT),
    (503, "UNAVAILABLE", ErrorKind.TRANSIENT),
    (429, "RESOURCE_EXHAUSTED", ErrorKind.QUOTA),
])
def test_classification_from_google_status(status: int, gstatus: str, kind: ErrorKind) -> None:
    err = PROVIDER.classify(status, {}, _google(status, gstatus))
    assert err.kind is kind


def test_a_json_array_error_body_is_read() -> None:
    body = json.dumps([{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "m"}}])
    assert PROVIDER.classify(429, {}, body.encode()).kind is ErrorKind.QUOTA


def test_thinking_level_becomes_a_budget_for_gemini_2_models() -> None:
    cred = Credential("k", "gemini", "api_key", api_key="key-123456789")
    client_body = {"contents": [], "session_id": "s",
                   "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH",
                                                           "includeThoughts": True}}}
    endpoints = resolve_endpoints({}, environ={})
    for model, expected in (("gemini-2.5-pro", {"thinkingBudget": 24576, "includeThoughts": True}),
                            ("gemini-3-pro-preview", {"thinkingLevel": "HIGH",
                                                      "includeThoughts": True})):
        req = GeminiProvider().build(UpstreamCall(cred, dict(client_body), model, False), endpoints)
        sent = json.loads(req.body)
        assert sent["generationConfig"]["thinkingConfig"] == expected
        assert "session_id" not in sent
    assert client_body["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "HIGH"
