"""Each provider's refresh_token grant against a MockTransport fake speaking the vendor's shapes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from cliproxy_cli.accounts.identity import codex_identity
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import OAuthError, TokenRevokedError
from cliproxy_cli.oauth.clients import CLAUDE, CODEX, GOOGLE, IFLOW, QWEN
from cliproxy_cli.oauth.grants import REFRESH_GRANTS

NOW = 1_760_000_000.0
OLD_REFRESH = "FAKE-old-refresh-token-0001"
ENDPOINTS = resolve_endpoints({}, environ={})

Handler = Callable[[httpx.Request], httpx.Response]


class FakeAuthServer:
    """Answers by ``METHOD URL-without-query``; records every request."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.copy_with(query=None)}"
        if key not in self.routes:
            return httpx.Response(404, json={"error": "not_found"})
        return self.routes[key](request)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def fake_jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.fake-signature"


def account(provider: ProviderName, **changes: Any) -> Account:
    return Account(id=f"{provider}-user", provider=provider, email="old@example.com", **changes)


def bundle(**changes: Any) -> TokenBundle:
    return TokenBundle(access_token="FAKE-old-access-token-0001", refresh_token=OLD_REFRESH,
                       **changes)


async def run_grant(
    provider: ProviderName, server: FakeAuthServer, acc: Account, tokens: TokenBundle
) -> tuple[Account, TokenBundle]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        return await REFRESH_GRANTS[provider](client, ENDPOINTS, acc, tokens, now=NOW)


@pytest.mark.anyio
async def test_google_refresh_posts_form_with_client_secret_and_keeps_refresh_token() -> None:
    server = FakeAuthServer({"POST https://oauth2.googleapis.com/token": lambda r: httpx.Response(
        200, json={"access_token": "ya29.FAKE-new", "expires_in": 3599, "token_type": "Bearer",
                   "scope": " ".join(GOOGLE.scopes)})})
    acc, tokens = await run_grant(ProviderName.GEMINI, server, account(ProviderName.GEMINI),
                                  bundle())
    (request,) = server.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {"grant_type": "refresh_token", "refresh_token": OLD_REFRESH,
                             "client_id": GOOGLE.client_id, "client_secret": GOOGLE.client_secret}
    assert tokens.access_token == "ya29.FAKE-new"
    assert tokens.refresh_token == OLD_REFRESH  # Google does not rotate it: keep the old one
    assert acc.expires_at == NOW + 3599
    assert acc.last_refresh_at == NOW


@pytest.mark.anyio
async def test_google_refresh_uses_the_client_an_imported_file_recorded() -> None:
    server = FakeAuthServer({"POST https://oauth2.googleapis.com/token": lambda r: httpx.Response(
        200, json={"access_token": "ya29.FAKE-new", "expires_in": 3599})})
    tokens = bundle(extra={"client_id": "other.apps.googleusercontent.com",
                           "client_secret": "GOCSPX-FAKE-other"})
    await run_grant(ProviderName.GEMINI, server, account(ProviderName.GEMINI), tokens)
    body = form(server.requests[0])
    assert body["client_id"] == "other.apps.googleusercontent.com"
    assert body["client_secret"] == "GOCSPX-FAKE-other"


@pytest.mark.anyio
async def test_claude_refresh_posts_json_and_takes_rotated_token_and_email() -> None:
    answer = {"token_type": "Bearer", "access_token": "sk-ant-oat01-FAKE-new",
              "expires_in": 28800, "refresh_token": "sk-ant-ort01-FAKE-new",
              "scope": "user:inference user:profile",
              "organization": {"uuid": "org-fake", "name": "Fake Org"},
              "account": {"uuid": "acct-fake", "email_address": "new@example.com"}}
    server = FakeAuthServer({"POST https://console.anthropic.com/v1/oauth/token":
                             lambda r: httpx.Response(200, json=answer)})
    acc, tokens = await run_grant(ProviderName.CLAUDE, server, account(ProviderName.CLAUDE),
                                  bundle())
    (request,) = server.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert json.loads(request.content) == {"client_id": CLAUDE.client_id,
                                           "grant_type": "refresh_token",
                                           "refresh_token": OLD_REFRESH}
    assert (tokens.access_token, tokens.refresh_token) == ("sk-ant-oat01-FAKE-new",
                                                           "sk-ant-ort01-FAKE-new")
    assert acc.email == "new@example.com"
    assert acc.expires_at == NOW + 28800


@pytest.mark.anyio
async def test_codex_refresh_sends_scope_and_reads_identity_from_new_id_token() -> None:
    id_token = fake_jwt({"email": "codex@example.com", "https://api.openai.com/auth": {
        "chatgpt_account_id": "acct-1111", "chatgpt_plan_type": "pro"}})
    server = FakeAuthServer({"POST https://auth.openai.com/oauth/token": lambda r: httpx.Response(
        200, json={"id_token": id_token, "access_token": "eyFAKE-new-access",
                   "refresh_token": "rt_FAKE-new", "expires_in": 864000})})
    acc, tokens = await run_grant(ProviderName.CODEX, server, account(ProviderName.CODEX),
                                  bundle(id_token="old.id.token"))
    (request,) = server.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {"client_id": CODEX.client_id, "grant_type": "refresh_token",
                             "refresh_token": OLD_REFRESH, "scope": "openid profile email"}
    assert tokens.id_token == id_token
    assert tokens.refresh_token == "rt_FAKE-new"
    assert (acc.email, acc.account_id, acc.plan) == ("codex@example.com", "acct-1111", "pro")


def test_codex_identity_tolerates_garbage() -> None:
    assert codex_identity("not-a-jwt") == {"email": "", "account_id": "", "plan": ""}
    assert codex_identity("a.!!!.c")["email"] == ""


@pytest.mark.anyio
async def test_qwen_refresh_updates_resource_url() -> None:
    server = FakeAuthServer({"POST https://chat.qwen.ai/api/v1/oauth2/token":
                             lambda r: httpx.Response(200, json={
                                 "access_token": "FAKE-qwen-new", "token_type": "Bearer",
                                 "refresh_token": "FAKE-qwen-refresh-new",
                                 "resource_url": "portal2.qwen.ai", "expires_in": 21600})})
    acc, tokens = await run_grant(ProviderName.QWEN, server,
                                  account(ProviderName.QWEN, resource_url="portal.qwen.ai"),
                                  bundle())
    (request,) = server.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {"grant_type": "refresh_token", "refresh_token": OLD_REFRESH,
                             "client_id": QWEN.client_id}
    assert acc.resource_url == "portal2.qwen.ai"
    assert tokens.refresh_token == "FAKE-qwen-refresh-new"


@pytest.mark.anyio
async def test_qwen_refresh_without_resource_url_keeps_the_old_one() -> None:
    server = FakeAuthServer({"POST https://chat.qwen.ai/api/v1/oauth2/token":
                             lambda r: httpx.Response(200, json={
                                 "access_token": "FAKE-qwen-new", "expires_in": 21600})})
    acc, _ = await run_grant(ProviderName.QWEN, server,
                             account(ProviderName.QWEN, resource_url="portal.qwen.ai"), bundle())
    assert acc.resource_url == "portal.qwen.ai"


def iflow_server(userinfo: Handler) -> FakeAuthServer:
    return FakeAuthServer({
        "POST https://iflow.cn/oauth/token": lambda r: httpx.Response(200, json={
            "access_token": "FAKE-iflow-new", "refresh_token": "FAKE-iflow-refresh-new",
            "expires_in": 172800, "token_type": "bearer", "scope": "read"}),
        "GET https://iflow.cn/api/oauth/getUserInfo": userinfo,
    })


@pytest.mark.anyio
async def test_iflow_refresh_uses_basic_auth_then_refetches_the_api_key() -> None:
    server = iflow_server(lambda r: httpx.Response(200, json={
        "success": True, "data": {"apiKey": "sk-FAKE-new-key", "email": "", "phone": "138"}}))
    acc, tokens = await run_grant(ProviderName.IFLOW, server, account(ProviderName.IFLOW),
                                  bundle(api_key="sk-FAKE-old-key"))
    token_request, info_request = server.requests
    expected = base64.b64encode(f"{IFLOW.client_id}:{IFLOW.client_secret}".encode()).decode()
    assert token_request.headers["authorization"] == f"Basic {expected}"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(token_request) == {"grant_type": "refresh_token", "refresh_token": OLD_REFRESH,
                                   "client_id": IFLOW.client_id,
                                   "client_secret": IFLOW.client_secret}
    assert info_request.method == "GET"
    assert info_request.url.params["accessToken"] == "FAKE-iflow-new"
    assert tokens.api_key == "sk-FAKE-new-key"
    assert tokens.refresh_token == "FAKE-iflow-refresh-new"
    assert acc.expires_at == NOW + 172800


@pytest.mark.anyio
async def test_iflow_userinfo_failure_keeps_old_key_and_new_tokens() -> None:
    server = iflow_server(lambda r: httpx.Response(200, json={"success": False, "data": None}))
    _, tokens = await run_grant(ProviderName.IFLOW, server, account(ProviderName.IFLOW),
                                bundle(api_key="sk-FAKE-old-key"))
    assert tokens.api_key == "sk-FAKE-old-key"
    assert tokens.refresh_token == "FAKE-iflow-refresh-new"


@pytest.mark.anyio
async def test_iflow_http_200_without_access_token_is_an_oauth_error() -> None:
    server = FakeAuthServer({"POST https://iflow.cn/oauth/token": lambda r: httpx.Response(
        200, json={"success": False, "code": "500", "message": "server busy"})})
    with pytest.raises(OAuthError, match="without an access token"):
        await run_grant(ProviderName.IFLOW, server, account(ProviderName.IFLOW), bundle())


TOKEN_URLS = {
    ProviderName.GEMINI: "https://oauth2.googleapis.com/token",
    ProviderName.CLAUDE: "https://console.anthropic.com/v1/oauth/token",
    ProviderName.CODEX: "https://auth.openai.com/oauth/token",
    ProviderName.QWEN: "https://chat.qwen.ai/api/v1/oauth2/token",
    ProviderName.IFLOW: "https://iflow.cn/oauth/token",
}


@pytest.mark.anyio
@pytest.mark.parametrize(("provider", "status", "body"), [
    (ProviderName.GEMINI, 400, {"error": "invalid_grant",
                                "error_description": "Token has been expired or revoked."}),
    (ProviderName.CLAUDE, 400, {"error": "invalid_grant",
                                "error_description": f"Refresh token {OLD_REFRESH} not found"}),
    (ProviderName.CODEX, 401, {"error": {"message": "Your refresh token has already been used",
                                         "type": "invalid_request_error",
                                         "code": "refresh_token_reused"}}),
    (ProviderName.QWEN, 400, {"error": "invalid_request",
                              "error_description": "Invalid refresh token or client_id"}),
    (ProviderName.IFLOW, 401, {"error": "invalid_grant"}),
])
async def test_rejected_refresh_token_raises_token_revoked(
    provider: ProviderName, status: int, body: dict[str, object]
) -> None:
    server = FakeAuthServer({f"POST {TOKEN_URLS[provider]}":
                             lambda r: httpx.Response(status, json=body)})
    with pytest.raises(TokenRevokedError) as caught:
        await run_grant(provider, server, account(provider), bundle())
    assert caught.value.hint == f"run `cliproxy login {provider}`"
    assert OLD_REFRESH not in str(caught.value)
    assert "not found" not in str(caught.value)  # descriptions are never quoted


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "body"), [
    (500, {"error": "server_error"}),
    (503, None),
    (400, {"error": "invalid_request", "error_description": "missing grant_type"}),
    (401, {"error": "invalid_client", "error_description": f"client for {OLD_REFRESH}"}),
    (400, {"error": f"weird-{OLD_REFRESH}"}),
    (429, {"error": {"type": "rate_limit_error", "message": "slow down"}}),
])
async def test_other_failures_are_oauth_errors_without_secrets(
    status: int, body: dict[str, object] | None
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>upstream down</html>")
        return httpx.Response(status, json=body)

    server = FakeAuthServer({f"POST {TOKEN_URLS[ProviderName.CLAUDE]}": answer})
    with pytest.raises(OAuthError) as caught:
        await run_grant(ProviderName.CLAUDE, server, account(ProviderName.CLAUDE), bundle())
    assert not isinstance(caught.value, TokenRevokedError)
    assert f"HTTP {status}" in str(caught.value)
    assert OLD_REFRESH not in str(caught.value)


@pytest.mark.anyio
async def test_missing_refresh_token_fails_without_calling_the_vendor() -> None:
    server = FakeAuthServer({})
    with pytest.raises(OAuthError, match="no refresh token"):
        await run_grant(ProviderName.CLAUDE, server, account(ProviderName.CLAUDE),
                        TokenBundle(access_token="FAKE-only-access"))
    assert server.requests == []


def test_every_provider_has_a_grant() -> None:
    assert set(REFRESH_GRANTS) == {str(p) for p in ProviderName}
