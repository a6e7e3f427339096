"""Codex provider: the ChatGPT backend dialect for OAuth accounts (headers, required and dropped
fields, always a stream), the API-key shape, and classification with the reset times."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import ErrorKind
from cliproxy_cli.providers.base import UpstreamCall
from cliproxy_cli.providers.codex import CodexProvider

NOW = 1_760_000_000.0
ENDPOINTS = resolve_endpoints({}, environ={})
PROVIDER = CodexProvider(clock=lambda: NOW)
ACCOUNT = Account("codex-user-example.com", ProviderName.CODEX, email="user@example.com",
                  account_id="00000000-1111-2222-3333-444444444444")
OAUTH = Credential("codex-user-example.com", "codex", "oauth", account=ACCOUNT)
API_KEY = Credential("codex-api-key:0:abcd", "codex", "api_key", api_key="sk-key",
                     base_url="https://relay.example/v1")
SECRET = TokenBundle(access_token="eyJaccess", refresh_token="rt_r")


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "x", "input": [{"type": "message", "role": "user",
                                     "content": [{"type": "input_text", "text": "hi"}]}], **extra}


def _build(body: dict[str, Any], *, cred: Credential = OAUTH, stream: bool = False,
           headers: dict[str, str] | None = None) -> tuple[Any, dict[str, Any]]:
    call = UpstreamCall(cred, body, "gpt-5", stream, headers or {},
                        SECRET if cred.kind == "oauth" else None)
    req = PROVIDER.build(call, ENDPOINTS)
    return req, json.loads(req.body)


def test_oauth_request_url_and_headers() -> None:
    req, _ = _build(_body())
    assert req.url == "https://chatgpt.com/backend-api/codex/responses"
    h = req.headers
    assert h["authorization"] == "Bearer eyJaccess"
    assert h["chatgpt-account-id"] == "00000000-1111-2222-3333-444444444444"
    assert h["originator"] == "codex_cli_rs"
    assert h["user-agent"].startswith("codex_cli_rs/")
    assert h["version"] and h["session_id"]
    assert h["accept"] == "text/event-stream"


def test_oauth_always_streams_even_for_a_non_stream_client() -> None:
    req, body = _build(_body(stream=False), stream=False)
    assert req.stream is True
    assert body["stream"] is True


def test_required_fields_are_set_and_unsupported_ones_dropped() -> None:
    _, body = _build(_body(max_output_tokens=100, temperature=0.2, top_p=0.9,
                           previous_response_id="resp_1", service_tier="auto", user="u",
                           safety_identifier="s", prompt_cache_retention="24h", store=True))
    assert body["store"] is False
    assert body["instructions"] == ""
    for key in ("max_output_tokens", "temperature", "top_p", "previous_response_id",
                "service_tier", "user", "safety_identifier", "prompt_cache_retention"):
        assert key not in body
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["model"] == "gpt-5"


def test_instructions_and_include_from_the_client_are_kept() -> None:
    _, body = _build(_body(instructions="Be brief.", include=["file_search_call.results"]))
    assert body["instructions"] == "Be brief."
    assert body["include"] == ["file_search_call.results", "reasoning.encrypted_content"]


def test_string_input_and_system_roles_become_the_codex_dialect() -> None:
    _, body = _build({"model": "x", "input": "hello"})
    assert body["input"] == [{"type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": "hello"}]}]
    _, body = _build(_body(input=[{"role": "system", "content": "rules"},
                                  {"role": "user", "content": "hi"}]))
    assert [i["role"] for i in body["input"]] == ["developer", "user"]


def test_prompt_cache_key_becomes_the_session_headers() -> None:
    req, _ = _build(_body(prompt_cache_key="pck-1"))
    assert req.headers["session_id"] == "pck-1"
    assert req.headers["conversation_id"] == "pck-1"


def test_a_real_codex_cli_keeps_its_own_identity_headers() -> None:
    req, _ = _build(_body(), headers={"originator": "codex_exec", "user-agent": "codex_exec/0.169",
                                      "session-id": "s-9"})
    assert req.headers["originator"] == "codex_exec"
    assert req.headers["user-agent"] == "codex_exec/0.169"
    assert req.headers["session_id"] == "s-9"
    sdk, _ = _build(_body(), headers={"user-agent": "OpenAI/Python 2.0"})
    assert sdk.headers["user-agent"].startswith("codex_cli_rs/")


def test_codex_api_endpoint_override_is_used() -> None:
    endpoints = resolve_endpoints({"codex.api": "http://fake/backend-api/codex"}, environ={})
    call = UpstreamCall(OAUTH, _body(), "gpt-5", False, {}, SECRET)
    assert PROVIDER.build(call, endpoints).url == "http://fake/backend-api/codex/responses"


def test_api_key_request_follows_the_client() -> None:
    req, body = _build(_body(max_output_tokens=100), cred=API_KEY, stream=False)
    assert req.url == "https://relay.example/v1/responses"
    assert req.stream is False and body["stream"] is False
    assert body["max_output_tokens"] == 100 and "store" not in body
    assert req.headers["authorization"] == "Bearer sk-key"
    assert "chatgpt-account-id" not in req.headers


# -- classification ------------------------------------------------------------------------


def test_usage_limit_reached_reads_resets_at() -> None:
    body = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                      "plan_type": "plus", "resets_at": int(NOW) + 3000,
                      "resets_in_seconds": 2999}}
    err = PROVIDER.classify(429, {}, json.dumps(body).encode())
    assert err.kind is ErrorKind.QUOTA
    assert err.retry_after == pytest.approx(3000)


def test_usage_limit_reached_reads_resets_in_seconds() -> None:
    body = {"error": {"type": "usage_limit_reached", "resets_in_seconds": 1234}}
    assert PROVIDER.classify(429, {}, json.dumps(body).encode()).retry_after == 1234


def test_codex_rate_limit_headers_give_the_reset_of_the_spent_window() -> None:
    headers = {"x-codex-primary-used-percent": "100", "x-codex-primary-reset-after-seconds": "600",
               "x-codex-secondary-used-percent": "40",
               "x-codex-secondary-reset-after-seconds": "90000"}
    err = PROVIDER.classify(429, headers, b'{"error": {"type": "usage_limit_reached"}}')
    assert err.retry_after == 600


def test_usage_not_included_is_quota_with_a_hint() -> None:
    err = PROVIDER.classify(429, {}, b'{"error": {"type": "usage_not_included"}}')
    assert err.kind is ErrorKind.QUOTA and err.hint is not None and "plan" in err.hint


@pytest.mark.parametrize(("status", "error", "kind"), [
    (401, {"code": "token_expired", "type": "invalid_request_error"}, ErrorKind.AUTH),
    (403, {"message": "forbidden"}, ErrorKind.AUTH),
    (400, {"type": "invalid_request_error", "code": "context_length_exceeded"},
     ErrorKind.BAD_REQUEST),
    (500, {"type": "server_error"}, ErrorKind.TRANSIENT),
    (503, {"type": "server_error"}, ErrorKind.TRANSIENT),
    (429, {"code": "rate_limit_exceeded"}, ErrorKind.QUOTA),
])
def test_classification(status: int, error: dict[str, Any], kind: ErrorKind) -> None:
    assert PROVIDER.classify(status, {}, json.dumps({"error": error}).encode()).kind is kind


def test_chatgpt_detail_bodies_are_read() -> None:
    err = PROVIDER.classify(400, {}, b'{"detail": "Unsupported parameter: temperature"}')
    assert err.kind is ErrorKind.BAD_REQUEST
    assert "Unsupported parameter" in err.message


def test_nested_client_objects_are_copied_not_edited() -> None:
    """The pipeline shallow-copies the inbound body and may replay it on another account."""
    item = {"role": "system", "content": "rules"}
    include = ["file_search_call.results"]
    _, body = _build(_body(input=[item], include=include))
    assert item["role"] == "system" and include == ["file_search_call.results"]
    assert body["input"][0]["role"] == "developer"
