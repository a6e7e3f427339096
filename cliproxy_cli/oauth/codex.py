"""`cliproxy login codex`: OpenAI OAuth (ChatGPT plans), PKCE S256, loopback callback on 1455.

Facts (anchor §4.4): extra authorize params ``prompt=login``, ``id_token_add_organizations=true``,
``codex_cli_simplified_flow=true``; a form token exchange; identity from the ``id_token`` claims,
decoded without verification (it came straight from the token endpoint over TLS): ``email``
(required), ``https://api.openai.com/auth`` → ``chatgpt_account_id`` and ``chatgpt_plan_type``.
"""

from __future__ import annotations

import time
from typing import Any, Final

import httpx

from cliproxy_cli.accounts.identity import jwt_claims as decode_claims
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle, make_account_id
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import OAuthError
from cliproxy_cli.oauth.clients import CODEX
from cliproxy_cli.oauth.flow import (
    VENDORS,
    Clock,
    LoginOptions,
    LoginResult,
    LoginUI,
    browser_login,
    expires_at,
    request_json,
    require_token,
    with_query,
)
from cliproxy_cli.oauth.pkce import Pkce, make_pkce, make_state

VENDOR = VENDORS[ProviderName.CODEX]
AUTH_CLAIM: Final = "https://api.openai.com/auth"


def authorize_url(base: str, *, redirect_uri: str, pkce: Pkce, state: str) -> str:
    return with_query(base, {
        "client_id": CODEX.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(CODEX.scopes),
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
        "prompt": "login",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
    })


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified. A malformed token is an OAuthError."""
    claims = decode_claims(token) if token.count(".") == 2 else {}
    if not claims:
        raise OAuthError("OpenAI's id_token is not a readable JWT", hint="log in again")
    return claims


async def login(
    options: LoginOptions,
    ui: LoginUI,
    *,
    endpoints: EndpointTable,
    client: httpx.AsyncClient,
    clock: Clock = time.time,
) -> LoginResult:
    pkce, state = make_pkce(), make_state()
    authorization, redirect = await browser_login(
        CODEX, options, ui, endpoints=endpoints, authorize="codex.authorize", vendor=VENDOR,
        state=state,
        build_url=lambda uri: authorize_url(endpoints.url("codex.authorize"), redirect_uri=uri,
                                            pkce=pkce, state=state),
    )
    with ui.status("Exchanging the code for tokens…"):
        data = await request_json(
            client, "POST", endpoints.url("codex.token"), vendor=VENDOR, step="token exchange",
            data={"grant_type": "authorization_code", "client_id": CODEX.client_id,
                  "code": authorization.code, "redirect_uri": redirect,
                  "code_verifier": pkce.verifier},
            headers={"Accept": "application/json"},
        )
    access = require_token(data, vendor=VENDOR)
    id_token = data.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OAuthError("OpenAI's token answer has no id_token", hint="log in again")
    claims = jwt_claims(id_token)
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise OAuthError("OpenAI's id_token names no email", hint="log in again")
    auth = claims.get(AUTH_CLAIM)
    auth = auth if isinstance(auth, dict) else {}
    account = Account(
        id=make_account_id(ProviderName.CODEX, email),
        provider=ProviderName.CODEX,
        label=options.label or email,
        email=email,
        account_id=str(auth.get("chatgpt_account_id") or ""),
        plan=str(auth.get("chatgpt_plan_type") or ""),
        expires_at=expires_at(data, clock),
        source="login",
    )
    bundle = TokenBundle(access_token=access, refresh_token=str(data.get("refresh_token") or ""),
                         id_token=id_token)
    return LoginResult(account, bundle)
