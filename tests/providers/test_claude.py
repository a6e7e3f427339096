"""Claude provider: OAuth request shape (URL, headers, Claude Code system prompt, body tweaks),
the API-key shape, and error classification with the unified rate-limit reset headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import ErrorKind
from cliproxy_cli.providers.base import UpstreamCall
from cliproxy_cli.providers.claude import CLAUDE_CODE_SYSTEM, ClaudeProvider

NOW = 1_760_000_000.0
ENDPOINTS = resolve_endpoints({}, environ={})
PROVIDER = ClaudeProvider(clock=lambda: NOW)
ACCOUNT = Account("claude-user-example.com", ProviderName.CLAUDE, email="user@example.com")
OAUTH = Credential("claude-user-example.com", "claude", "oauth", account=ACCOUNT)
API_KEY = Credential("claude-api-key:0:abcd", "claude", "api_key", api_key="sk-ant-api03-key")
SECRET = TokenBundle(access_token="sk-ant-oat01-access", refresh_token="sk-ant-ort01-r")


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "x", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
            **extra}


def _build(body: dict[str, Any], *, cred: Credential = OAUTH, stream: bool = False,
           headers: dict[str, str] | None = None, action: Any = "generate",
           model: str = "claude-sonnet-4-6") -> tuple[Any, dict[str, Any]]:
    call = UpstreamCall(cred, body, model, stream, headers or {},
                        SECRET if cred.kind == "oauth" else None, action)
    req = PROVIDER.build(call, ENDPOINTS)
    return req, json.loads(req.body)


def test_oauth_request_uses_bearer_oauth_beta_and_claude_code_headers() -> None:
    req, body = _build(_body(), stream=True)
    assert req.url == "https://api.anthropic.com/v1/messages?beta=true"
    assert req.stream is True
    h = req.headers
    assert h["authorization"] == "Bearer sk-ant-oat01-access"
    assert "x-api-key" not in h
    betas = h["anthropic-beta"].split(",")
    assert "oauth-2025-04-20" in betas and "claude-code-20250219" in betas
    assert "prompt-caching-2024-07-31" in betas
    assert h["anthropic-version"] == "2023-06-01"
    assert h["user-agent"].startswith("claude-cli/")
    assert h["x-app"] == "cli"
    assert h["accept"] == "text/event-stream"
    assert body["model"] == "claude-sonnet-4-6" and body["stream"] is True


def test_client_betas_are_kept_and_get_the_oauth_beta_appended() -> None:
    req, _ = _build(_body(), headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert req.headers["anthropic-beta"].split(",") == [
        "context-1m-2025-08-07", "oauth-2025-04-20", "prompt-caching-2024-07-31"]


def test_body_betas_move_into_the_header() -> None:
    req, body = _build(_body(betas=["files-api-2025-04-14"]))
    assert "betas" not in body
    assert "files-api-2025-04-14" in req.headers["anthropic-beta"].split(",")
    assert "oauth-2025-04-20" in req.headers["anthropic-beta"]


@pytest.mark.parametrize("system", [
    "Be brief.",
    [{"type": "text", "text": "Be brief."}],
])
def test_claude_code_prompt_comes_first_and_the_client_system_is_kept(system: Any) -> None:
    _, body = _build(_body(system=system))
    assert body["system"][0] == {"type": "text", "text": CLAUDE_CODE_SYSTEM}
    assert body["system"][1]["text"] == "Be brief."
    assert len(body["system"]) == 2


def test_missing_system_becomes_the_claude_code_prompt() -> None:
    _, body = _build(_body())
    assert body["system"][0]["text"] == CLAUDE_CODE_SYSTEM


def test_an_existing_claude_code_prompt_is_not_repeated() -> None:
    system = [{"type": "text", "text": CLAUDE_CODE_SYSTEM}, {"type": "text", "text": "more"}]
    _, body = _build(_body(system=system))
    assert [b["text"] for b in body["system"]] == [CLAUDE_CODE_SYSTEM, "more"]


def test_real_claude_code_passes_its_own_system_and_headers() -> None:
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
              {"type": "text", "text": CLAUDE_CODE_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    ua = "claude-cli/2.1.330 (external, sdk-cli)"
    req, body = _build(_body(system=system),
                       headers={"user-agent": ua, "x-claude-code-session-id": "s-1",
                                "x-stainless-package-version": "0.128.0"})
    assert body["system"] == system
    assert req.headers["user-agent"] == ua
    assert req.headers["x-claude-code-session-id"] == "s-1"
    assert req.headers["x-stainless-package-version"] == "0.128.0"


def test_sdk_user_agents_are_not_forwarded_on_oauth() -> None:
    req, _ = _build(_body(), headers={"user-agent": "Anthropic/Python 0.60.0"})
    assert req.headers["user-agent"].startswith("claude-cli/")


def test_haiku_3_5_gets_no_claude_code_prompt() -> None:
    _, body = _build(_body(system="s"), model="claude-3-5-haiku-20241022")
    assert body["system"] == "s"


def test_oauth_adds_a_stable_user_id_and_cache_breakpoints() -> None:
    messages = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "two"}]
    tools = [{"name": "a", "input_schema": {"type": "object"}},
             {"name": "b", "input_schema": {"type": "object"}}]
    _, body = _build({"model": "x", "max_tokens": 8, "messages": messages, "tools": tools})
    assert body["metadata"]["user_id"].startswith("user_")
    _, again = _build({"model": "x", "max_tokens": 8, "messages": [dict(m) for m in messages]})
    assert again["metadata"]["user_id"] == body["metadata"]["user_id"]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["tools"][0]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"][2]["content"] == "two"


def test_client_cache_control_and_user_id_are_left_alone() -> None:
    system = [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]
    _, body = _build(_body(system=system, metadata={"user_id": "mine"},
                           tools=[{"name": "a", "input_schema": {"type": "object"}}]))
    assert body["metadata"] == {"user_id": "mine"}
    assert "cache_control" not in body["tools"][0]


def test_forced_tool_choice_drops_thinking() -> None:
    _, body = _build(_body(tool_choice={"type": "any"},
                           thinking={"type": "enabled", "budget_tokens": 2048}))
    assert "thinking" not in body
    _, kept = _build(_body(tool_choice={"type": "auto"},
                           thinking={"type": "enabled", "budget_tokens": 2048}))
    assert kept["thinking"]["budget_tokens"] == 2048


def test_count_tokens_oauth_url_and_prompt() -> None:
    req, body = _build({"model": "x", "messages": [{"role": "user", "content": "hi"}]},
                       action="count_tokens")
    assert req.url == "https://api.anthropic.com/v1/messages/count_tokens?beta=true"
    assert req.stream is False
    assert "stream" not in body and "metadata" not in body
    assert body["system"][0]["text"] == CLAUDE_CODE_SYSTEM


def test_claude_api_endpoint_override_is_used() -> None:
    endpoints = resolve_endpoints({}, environ={"CLIPROXY_ENDPOINT_CLAUDE_API": "http://fake/a"})
    call = UpstreamCall(OAUTH, _body(), "claude-sonnet-4-6", False, {}, SECRET)
    assert PROVIDER.build(call, endpoints).url == "http://fake/a/v1/messages?beta=true"


def test_api_key_request_is_unchanged_pass_through() -> None:
    req, body = _build(_body(system="s"), cred=API_KEY,
                       headers={"anthropic-beta": "claude-code-20250219"})
    assert req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers["x-api-key"] == "sk-ant-api03-key"
    assert "authorization" not in req.headers
    assert req.headers["anthropic-beta"] == "claude-code-20250219"
    assert body["system"] == "s" and "metadata" not in body


# -- classification ------------------------------------------------------------------------


def _err(etype: str, message: str = "m") -> bytes:
    return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()


def test_429_reads_the_unified_reset_header() -> None:
    err = PROVIDER.classify(429, {"anthropic-ratelimit-unified-status": "rejected",
                                  "anthropic-ratelimit-unified-reset": str(int(NOW) + 1800)},
                            _err("rate_limit_error"))
    assert err.kind is ErrorKind.QUOTA
    assert err.retry_after == pytest.approx(1800)


def test_429_falls_back_to_the_rejected_window_reset() -> None:
    headers = {"anthropic-ratelimit-unified-status": "rejected",
               "anthropic-ratelimit-unified-5h-status": "allowed",
               "anthropic-ratelimit-unified-5h-reset": str(int(NOW) + 60),
               "anthropic-ratelimit-unified-7d-status": "rejected",
               "anthropic-ratelimit-unified-7d-reset": str(int(NOW) + 7200)}
    err = PROVIDER.classify(429, headers, _err("rate_limit_error"))
    assert err.retry_after == pytest.approx(7200)
    claimed = PROVIDER.classify(
        429, {**headers, "anthropic-ratelimit-unified-representative-claim": "five_hour"},
        _err("rate_limit_error"))
    assert claimed.retry_after == pytest.approx(60)


def test_retry_after_header_wins() -> None:
    err = PROVIDER.classify(429, {"retry-after": "42",
                                  "anthropic-ratelimit-unified-reset": str(int(NOW) + 900)},
                            _err("rate_limit_error"))
    assert err.retry_after == 42


@pytest.mark.parametrize(("status", "etype", "kind"), [
    (401, "authentication_error", ErrorKind.AUTH),
    (403, "permission_error", ErrorKind.AUTH),
    (429, "rate_limit_error", ErrorKind.QUOTA),
    (529, "overloaded_error", ErrorKind.TRANSIENT),
    (500, "api_error", ErrorKind.TRANSIENT),
    (400, "invalid_request_error", ErrorKind.BAD_REQUEST),
    (404, "not_found_error", ErrorKind.BAD_REQUEST),
    (401, "invalid_request_error", ErrorKind.AUTH),  # the status is never downgraded
])
def test_classification_from_status_and_error_type(status: int, etype: str,
                                                   kind: ErrorKind) -> None:
    err = PROVIDER.classify(status, {}, _err(etype, "something"))
    assert err.kind is kind
    assert err.status == status and err.provider == "claude"
    assert "something" in err.message


def test_429_without_any_hint_has_no_retry_after() -> None:
    assert PROVIDER.classify(429, {}, _err("rate_limit_error")).retry_after is None


def test_auth_errors_carry_the_login_hint() -> None:
    err = PROVIDER.classify(401, {}, _err("authentication_error"))
    assert err.hint is not None and "cliproxy login claude" in err.hint


def test_nested_client_objects_are_copied_not_edited() -> None:
    """The pipeline shallow-copies the inbound body and may replay it on another account."""
    tool = {"name": "a", "input_schema": {"type": "object"}}
    block = {"type": "text", "text": "one"}
    first_user = {"role": "user", "content": [block]}
    system = [{"type": "text", "text": "s"}]
    metadata: dict[str, Any] = {}
    body = {"model": "x", "max_tokens": 8, "tools": [tool], "system": system,
            "metadata": metadata, "messages": [first_user, {"role": "assistant", "content": "ok"},
                                               {"role": "user", "content": "two"}]}
    _build(dict(body))
    assert tool == {"name": "a", "input_schema": {"type": "object"}}
    assert block == {"type": "text", "text": "one"} and first_user["content"] == [block]
    assert system == [{"type": "text", "text": "s"}] and metadata == {}
