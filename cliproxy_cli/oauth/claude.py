"""`cliproxy login claude`: Anthropic OAuth (Claude Pro/Max), PKCE S256, loopback callback.

Facts (anchor §4.3): authorize with ``code=true``; a JSON token exchange; the code may come as
``code#state`` (Claude's manual-code page shows it so), split before the exchange; the account's
email is ``account.email_address`` in the token answer and is required.
"""

from __future__ import annotations

import time

import httpx

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle, make_account_id
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import OAuthError
from cliproxy_cli.oauth.clients import CLAUDE
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

VENDOR = VENDORS[ProviderName.CLAUDE]


def authorize_url(base: str, *, redirect_uri: str, pkce: Pkce, state: str) -> str:
    return with_query(base, {
        "code": "true",
        "client_id": CLAUDE.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(CLAUDE.scopes),
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
        "state": state,
    })


def split_code(code: str, state: str) -> tuple[str, str]:
    """``code#state`` → (code, state); the part after ``#`` must be this login's state."""
    bare, _, tail = code.partition("#")
    if tail and tail != state:
        raise OAuthError("the pasted Claude code belongs to another login (its state differs)",
                         hint="start the login again and paste the newest code")
    return bare, state


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
        CLAUDE, options, ui, endpoints=endpoints, authorize="claude.authorize", vendor=VENDOR,
        state=state,
        build_url=lambda uri: authorize_url(endpoints.url("claude.authorize"), redirect_uri=uri,
                                            pkce=pkce, state=state),
    )
    code, state = split_code(authorization.code, state)
    with ui.status("Exchanging the code for tokens…"):
        data = await request_json(
            client, "POST", endpoints.url("claude.token"), vendor=VENDOR, step="token exchange",
            json={"code": code, "state": state, "grant_type": "authorization_code",
                  "client_id": CLAUDE.client_id, "redirect_uri": redirect,
                  "code_verifier": pkce.verifier},
            headers={"Accept": "application/json"},
        )
    access = require_token(data, vendor=VENDOR)
    account_info = data.get("account")
    email = account_info.get("email_address") if isinstance(account_info, dict) else None
    if not isinstance(email, str) or not email:
        raise OAuthError(
            "Claude's token answer named no account email (account.email_address)",
            hint="log in again; if it persists, the account may not have Claude Pro/Max",
        )
    account = Account(
        id=make_account_id(ProviderName.CLAUDE, email),
        provider=ProviderName.CLAUDE,
        label=options.label or email,
        email=email,
        expires_at=expires_at(data, clock),
        source="login",
    )
    bundle = TokenBundle(access_token=access, refresh_token=str(data.get("refresh_token") or ""),
                         token_type=str(data.get("token_type") or "Bearer"))
    return LoginResult(account, bundle)
