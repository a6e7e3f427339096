"""`cliproxy login iflow`: iFlow browser OAuth (no PKCE), then the account's API key.

Facts (anchor §4.6): authorize ``?loginMethod=phone&type=phone&redirect=…&state=…&client_id=…``;
a form token exchange with the client secret in the body *and* HTTP Basic auth; then
``getUserInfo?accessToken=…`` → ``{success, data: {apiKey, email, phone}}``. ``apiKey`` is what
inference uses (required); the account is named by its email, else its phone number. iFlow
answers some failures with HTTP 200 and ``success: false``: those are read as refusals.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle, make_account_id
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import OAuthError
from cliproxy_cli.oauth.clients import IFLOW
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
    vendor_message,
    with_query,
)
from cliproxy_cli.oauth.pkce import make_state

VENDOR = VENDORS[ProviderName.IFLOW]
_REFUSED_HINT = ("the message above is iFlow's own; iFlow shut down its CLI service in April 2026, "
                 "so logins may no longer be possible")


def authorize_url(base: str, *, redirect_uri: str, state: str) -> str:
    return with_query(base, {
        "loginMethod": "phone",
        "type": "phone",
        "redirect": redirect_uri,
        "state": state,
        "client_id": IFLOW.client_id,
    })


def basic_auth() -> str:
    raw = f"{IFLOW.client_id}:{IFLOW.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _user_data(info: dict[str, Any]) -> dict[str, Any]:
    data = info.get("data")
    if info.get("success") is False or not isinstance(data, dict):
        said = vendor_message(info) or "no account data in the answer"
        raise OAuthError(f"iFlow refused to give the account's API key: {said}",
                         hint=_REFUSED_HINT)
    return data


async def login(
    options: LoginOptions,
    ui: LoginUI,
    *,
    endpoints: EndpointTable,
    client: httpx.AsyncClient,
    clock: Clock = time.time,
) -> LoginResult:
    state = make_state()
    authorization, redirect = await browser_login(
        IFLOW, options, ui, endpoints=endpoints, authorize="iflow.authorize", vendor=VENDOR,
        state=state,
        build_url=lambda uri: authorize_url(endpoints.url("iflow.authorize"), redirect_uri=uri,
                                            state=state),
    )
    with ui.status("Exchanging the code for tokens…"):
        token = await request_json(
            client, "POST", endpoints.url("iflow.token"), vendor=VENDOR, step="token exchange",
            hint=_REFUSED_HINT,
            data={"grant_type": "authorization_code", "code": authorization.code,
                  "redirect_uri": redirect, "client_id": IFLOW.client_id,
                  "client_secret": IFLOW.client_secret},
            headers={"Authorization": basic_auth(), "Accept": "application/json"},
        )
    access = require_token(token, vendor=VENDOR)
    with ui.status("Fetching the account's API key…"):
        # The vendor takes the token in the query; httpx's URL logging stays at WARNING.
        info = await request_json(
            client, "GET", endpoints.url("iflow.userinfo"), vendor=VENDOR, step="user info",
            hint=_REFUSED_HINT, params={"accessToken": access},
            headers={"Accept": "application/json"},
        )
    user = _user_data(info)
    api_key = user.get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise OAuthError("iFlow's user info has no apiKey for this account", hint=_REFUSED_HINT)
    email, phone = str(user.get("email") or ""), str(user.get("phone") or "")
    identity = email or phone
    if not identity:
        raise OAuthError("iFlow's user info names neither an email nor a phone number",
                         hint="log in again; if it persists, check the account on iflow.cn")
    account = Account(
        id=make_account_id(ProviderName.IFLOW, identity),
        provider=ProviderName.IFLOW,
        label=options.label or identity,
        email=email,
        expires_at=expires_at(token, clock),
        source="login",
    )
    bundle = TokenBundle(access_token=access, refresh_token=str(token.get("refresh_token") or ""),
                         api_key=api_key, token_type=str(token.get("token_type") or "Bearer"))
    return LoginResult(account, bundle)
